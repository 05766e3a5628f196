export type * from './datastore.ts';
export type * from './metadata-store.ts';
export type * from './compute-backend.ts';
export type * from './environment-resolver.ts';
export type * from './adapter-locator.ts';
