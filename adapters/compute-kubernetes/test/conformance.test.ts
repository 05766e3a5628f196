import { afterAll } from 'vitest';
import { computeBackendConformance } from '@tributary/conformance';
import { createKubernetesCompute } from '../src/index.ts';
import { startKubernetesEmulator } from '../src/testing/index.ts';

// The suite's jobs are `node -e ...` commands: the emulator runs each as a pod's container.
const emu = await startKubernetesEmulator({ stepMs: 5 });
afterAll(() => emu.stop());

computeBackendConformance({
  name: 'Kubernetes (wire-level emulator)',
  factory: () => createKubernetesCompute({ kubeconfig: emu.kubeconfigPath, image: 'node:20-slim', pollMs: 100 }),
  node: 'node',
  concurrentJobs: 10,
  properties: { numRuns: 4 },
});
