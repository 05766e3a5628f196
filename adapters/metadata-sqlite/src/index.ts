export { SqliteMetadataStore, createSqliteMetadataStore, type SqliteMetadataStoreOptions } from './sqlite-metadata-store.ts';
