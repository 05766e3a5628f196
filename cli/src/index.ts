/**
 * Tributary with the embedded default (local files + SQLite + local processes): the whole flow
 * API of `@tributary/core`, and `runFlow` that needs no configuration.
 * @packageDocumentation
 */
import './defaults.ts';

export * from '@tributary/core';
export { createFsDatastore, FsDatastore, type FsDatastoreOptions } from '@tributary/datastore-fs';
export { createSqliteMetadataStore, SqliteMetadataStore, type SqliteMetadataStoreOptions } from '@tributary/metadata-sqlite';
export { createLocalCompute, LocalCompute, type LocalComputeOptions } from '@tributary/compute-local';
// The inversify composition root is `tributary/container`: importing `tributary` does not load inversify.
