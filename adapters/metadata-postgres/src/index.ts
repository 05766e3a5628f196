export { PostgresMetadataStore, createPostgresMetadataStore, type PostgresMetadataStoreOptions } from './postgres-metadata-store.ts';
