/**
 * Conformance suites for Tributary's ports, for adapter authors and for this repository's own
 * adapters, plus the in-memory reference adapters the suites compare against.
 *
 * ```ts
 * import { datastoreConformance } from '@tributary/conformance';
 * datastoreConformance({ factory: () => createMyDatastore({ prefix: crypto.randomUUID() }) });
 * ```
 * @packageDocumentation
 */
export { datastoreConformance, type DatastoreConformanceOptions, type DatastoreInspector } from './datastore/datastore-conformance.ts';
export { metadataStoreConformance, type MetadataConformanceOptions, type MetadataInspector } from './metadata/metadata-conformance.ts';
export { computeBackendConformance, type ComputeConformanceOptions } from './compute/compute-conformance.ts';
export { environmentResolverConformance, type EnvironmentConformanceOptions } from './environment/environment-conformance.ts';
export type { PropertySettings } from './common.ts';
export { MemoryDatastore, createMemoryDatastore } from './reference/memory-datastore.ts';
export { MemoryMetadataStore, createMemoryMetadataStore } from './reference/memory-metadata-store.ts';
export { MemoryEnvironmentResolver, createMemoryEnvironmentResolver } from './reference/memory-environment-resolver.ts';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './testing/fault-proxy.ts';
