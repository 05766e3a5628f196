import { computeBackendConformance } from '@tributary/conformance';
import { createLocalCompute } from '../src/index.ts';

computeBackendConformance({ name: 'local processes', factory: () => createLocalCompute({ killGraceMs: 500 }) });
computeBackendConformance({
  name: 'local processes, one job per attempt (no IPC)',
  factory: () => createLocalCompute({ killGraceMs: 500, jobsOnly: true }),
});
