import { computeBackendConformance } from '@tributary/conformance';
import { createLocalCompute } from '../src/index.ts';

computeBackendConformance({ name: 'local processes', factory: () => createLocalCompute({ killGraceMs: 500 }) });
