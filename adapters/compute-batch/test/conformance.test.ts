import { afterAll } from 'vitest';
import { computeBackendConformance } from '@tributary/conformance';
import { createBatchCompute } from '../src/index.ts';
import { startBatchEmulator } from '../src/testing/index.ts';

// The suite's jobs are `node -e ...` commands: the emulator runs each as a job's container.
const emu = await startBatchEmulator({ stepMs: 5, maxVcpus: 16 });
afterAll(() => emu.stop());

computeBackendConformance({
  name: 'AWS Batch (wire-level emulator)',
  factory: () =>
    createBatchCompute({
      endpoint: emu.endpoint,
      region: emu.region,
      credentials: emu.credentials,
      queue: 'emu-queue',
      image: 'node:20-slim',
      pollMs: 100,
      minAttemptDurationSeconds: 1,
    }),
  node: 'node',
  concurrentJobs: 10,
  properties: { numRuns: 4 },
});
