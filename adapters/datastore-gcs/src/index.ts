export { GcsDatastore, createGcsDatastore, gcsOptionsFromUrl, type GcsDatastoreOptions } from './gcs-datastore.ts';
