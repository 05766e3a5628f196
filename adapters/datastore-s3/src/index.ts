export { S3Datastore, createS3Datastore, s3OptionsFromUrl, type S3DatastoreOptions } from './s3-datastore.ts';
