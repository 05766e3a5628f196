/**
 * One remote compute emulator (Kubernetes or AWS Batch) with an S3 emulator as the datastore, the
 * task bootstrap built once, and everything a library run or a CLI process needs to use them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBatchCompute, type BatchComputeOptions } from '@tributary/compute-batch';
import { startBatchEmulator } from '@tributary/compute-batch/testing';
import { createKubernetesCompute, type KubernetesComputeOptions } from '@tributary/compute-kubernetes';
import { startKubernetesEmulator } from '@tributary/compute-kubernetes/testing';
import { startS3Emulator, type S3Emulator } from '@tributary/datastore-s3/testing';
import type { ComputeBackend } from '../src/index.ts';
import { taskBootstrap } from '../src/cli/bootstrap-command.ts';

export type RemoteKind = 'kubernetes' | 'batch';
export type Fault = 'oom' | 'preempt' | 'stuck' | 'image-pull';

export interface RemoteHarness {
  kind: RemoteKind;
  s3: S3Emulator;
  /** A datastore URL on the S3 emulator (a fresh prefix per call). */
  datastore(prefix: string): string;
  /** A backend for library runs (`remoteCompute: { [kind]: h.compute() }`). */
  compute(extra?: Record<string, unknown>): ComputeBackend;
  /** Where the containers build step environments (`TRIBUTARY_ENVIRONMENTS_DIR` of every container). */
  containerEnvironments: string;
  /** Environment of a CLI process that runs steps on this emulator (plus the S3 credentials). */
  cliEnv: Record<string, string>;
  /** Every job spec the emulator received, as JSON text (for secret scans). */
  receivedText(): string;
  /** How many job creations the emulator received (Job / SubmitJob). */
  submissions(): number;
  /** Containers running now. */
  running(): number;
  requests(): Record<string, number>;
  resetCounts(): void;
  /** Inject a fault into the next `times` attempts of `step`. */
  inject(fault: Fault, step: string, times?: number): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

const LIMITS = 'forcePathStyle=true&conditionalPut=false&atomicOverwrite=false&prefixObjects=false';

/** The step a Job or Batch job belongs to, from what the adapters put on it. */
function stepOfK8sJob(job: any): string | undefined {
  return job?.metadata?.annotations?.['tributary.dev/step'] ?? job?.spec?.template?.metadata?.annotations?.['tributary.dev/step'];
}
function stepOfBatchJob(job: any): string | undefined {
  return job?.parameters?.['tributary.step'];
}

export async function startHarness(kind: RemoteKind): Promise<RemoteHarness> {
  const dir = mkdtempSync(join(tmpdir(), `tributary-${kind}-harness-`));
  const bootstrap = join(dir, 'task.mjs');
  const [s3] = await Promise.all([startS3Emulator(), taskBootstrap(bootstrap)]);
  await s3.createBucket('flows');
  // What the platform gives every container (an IAM role, IRSA): never what the orchestrator sends.
  const credentials = {
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  // The node's cache of step environments (a hostPath mount, say), shared by its containers.
  const platformEnv = { ...credentials, TRIBUTARY_ENVIRONMENTS_DIR: join(dir, 'container-environments') };
  const orchestratorEnv = { ...credentials };
  // The orchestrator (this test process, for library runs) reads and writes the datastore with its own credentials.
  Object.assign(process.env, orchestratorEnv);
  const datastore = (prefix: string) => `s3://flows/${prefix}?endpoint=${s3.endpoint}&${LIMITS}`;
  if (kind === 'kubernetes') {
    const emu = await startKubernetesEmulator({ stepMs: 10, containerEnv: platformEnv });
    const base: KubernetesComputeOptions = { kubeconfig: emu.kubeconfigPath, image: 'node:20-slim', bootstrap, pollMs: 200 };
    const faults: Record<Fault, string> = { oom: 'oom', preempt: 'evict', stuck: 'stuck-pending', 'image-pull': 'image-pull' };
    return {
      kind,
      s3,
      datastore,
      containerEnvironments: platformEnv.TRIBUTARY_ENVIRONMENTS_DIR,
      compute: (extra = {}) => createKubernetesCompute({ ...base, ...extra }),
      cliEnv: {
        ...orchestratorEnv,
        KUBECONFIG: emu.kubeconfigPath,
        TRIBUTARY_KUBERNETES_IMAGE: 'node:20-slim',
        TRIBUTARY_KUBERNETES_BOOTSTRAP: bootstrap,
      },
      receivedText: () => JSON.stringify(emu.received),
      submissions: () => emu.requests['create job'] ?? 0,
      running: () => emu.running,
      requests: () => ({ ...emu.requests }),
      resetCounts: () => emu.resetCounts(),
      inject: (fault, step, times = 1) =>
        emu.inject({ match: (job: unknown) => stepOfK8sJob(job) === step, fault: faults[fault] as never, times, afterMs: 150 }),
      clearFaults: () => emu.clearFaults(),
      stop: async () => {
        await emu.stop();
        await s3.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const emu = await startBatchEmulator({ stepMs: 10, maxVcpus: 4, containerEnv: platformEnv });
  const base: BatchComputeOptions = {
    endpoint: emu.endpoint,
    region: 'us-east-1',
    queue: 'emu-queue',
    image: 'node:20-slim',
    bootstrap,
    pollMs: 200,
    minAttemptDurationSeconds: 1,
  };
  const faults: Record<Fault, string> = { oom: 'oom', preempt: 'spot', stuck: 'stuck-runnable', 'image-pull': 'image-pull' };
  return {
    kind,
    s3,
    datastore,
    containerEnvironments: platformEnv.TRIBUTARY_ENVIRONMENTS_DIR,
    compute: (extra = {}) => createBatchCompute({ ...base, ...extra }),
    cliEnv: {
      ...orchestratorEnv,
      TRIBUTARY_BATCH_ENDPOINT: emu.endpoint,
      TRIBUTARY_BATCH_REGION: 'us-east-1',
      TRIBUTARY_BATCH_QUEUE: 'emu-queue',
      TRIBUTARY_BATCH_IMAGE: 'node:20-slim',
      TRIBUTARY_BATCH_BOOTSTRAP: bootstrap,
      TRIBUTARY_BATCH_POLL_MS: '200',
      TRIBUTARY_BATCH_MIN_ATTEMPT_SECONDS: '1',
    },
    receivedText: () => JSON.stringify(emu.received),
    submissions: () => emu.requests.SubmitJob ?? 0,
    running: () => emu.running,
    requests: () => ({ ...emu.requests }),
    resetCounts: () => emu.resetCounts(),
    inject: (fault, step, times = 1) =>
      emu.inject({ match: (job: unknown) => stepOfBatchJob(job) === step, fault: faults[fault] as never, times, afterMs: 150 }),
    clearFaults: () => emu.clearFaults(),
    stop: async () => {
      await emu.stop();
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
