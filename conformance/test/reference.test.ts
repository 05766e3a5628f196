import {
  datastoreConformance,
  environmentResolverConformance,
  metadataStoreConformance,
  MemoryDatastore,
  MemoryEnvironmentResolver,
  MemoryMetadataStore,
} from '../src/index.ts';

// The reference adapters define the contract; they must pass their own suites.
datastoreConformance({ name: 'memory (reference)', factory: () => new MemoryDatastore() });
metadataStoreConformance({ name: 'memory (reference)', factory: () => new MemoryMetadataStore() });
environmentResolverConformance({
  name: 'memory (reference)',
  factory: () => new MemoryEnvironmentResolver(),
  specs: [
    { kind: 'npm', packages: { zod: '3.23.8', lodash: '4.17.21' } },
    { kind: 'npm', packages: { zod: '3.23.8' } },
    { kind: 'pypi', packages: { numpy: '2.1.0' }, runtime: '3.11' },
  ],
  unsatisfiable: { kind: 'npm', packages: { zod: '0.0.0-missing' } },
});
