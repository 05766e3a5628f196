export { FsDatastore, createFsDatastore, type FsDatastoreOptions } from './fs-datastore.ts';
