export { createHttpMetadataStore, HttpMetadataStore, type HttpMetadataStoreOptions } from './http-metadata-store.ts';
export { httpMetadataOptionsFromUrl } from './options-from-url.ts';
export type { RetryPolicy } from './retry-policy.ts';
