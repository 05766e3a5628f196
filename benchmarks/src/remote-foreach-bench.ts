/**
 * A 100-split foreach on each remote compute emulator (Kubernetes, AWS Batch), the splits
 * submitted as one array job (Indexed Job / array job) or as one job per split, as Metaflow does.
 * Prints wall time and the API requests each took, by operation, with ratios measured in this
 * run. Asserts nothing. The emulators really run every container (a Node process each), with the
 * datastore on an S3 emulator.
 *
 *   pnpm --filter @tributary/benchmarks bench:remote
 *   BENCH_SPLITS=40 BENCH_MAX_WORKERS=8 ...
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTaskBootstrap, runFlow, type ComputeBackend } from 'tributary';
import { createBatchCompute } from '@tributary/compute-batch';
import { startBatchEmulator } from '@tributary/compute-batch/testing';
import { createKubernetesCompute } from '@tributary/compute-kubernetes';
import { startKubernetesEmulator } from '@tributary/compute-kubernetes/testing';
import { startS3Emulator } from '@tributary/datastore-s3/testing';
import { WideFlow } from './flows.ts';
import { printTable } from './table.ts';

const SPLITS = Number(process.env.BENCH_SPLITS ?? 100);
const MAX_WORKERS = Number(process.env.BENCH_MAX_WORKERS ?? 8);
const LIMITS = 'forcePathStyle=true&conditionalPut=false&atomicOverwrite=false&prefixObjects=false';

/** The same backend without launchArray: every split its own job. */
function perSplit(inner: ComputeBackend): ComputeBackend {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    ...(inner.taskEntry ? { taskEntry: inner.taskEntry } : {}),
    launch: (spec, options) => inner.launch(spec, options),
    close: () => inner.close(),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-remote-bench-'));
const bootstrap = join(dir, 'task.mjs');
const built = await buildTaskBootstrap({
  adapters: { createS3Datastore: '@tributary/datastore-s3' },
  resolveDir: dirname(fileURLToPath(import.meta.url)),
});
writeFileSync(bootstrap, built.code);
const s3 = await startS3Emulator();
await s3.createBucket('flows');
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  AWS_REGION: 'us-east-1',
});
const platformEnv = {
  AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  AWS_REGION: 'us-east-1',
};

interface Row {
  backend: string;
  mode: string;
  seconds: number;
  submits: number;
  status: number;
  total: number;
  detail: string;
}
const rows: Row[] = [];

async function measure(kind: 'kubernetes' | 'batch', mode: 'array' | 'per split'): Promise<void> {
  const k8s = kind === 'kubernetes' ? await startKubernetesEmulator({ stepMs: 10, containerEnv: platformEnv }) : undefined;
  const aws = kind === 'batch' ? await startBatchEmulator({ stepMs: 10, maxVcpus: MAX_WORKERS, containerEnv: platformEnv }) : undefined;
  const inner: ComputeBackend = k8s
    ? createKubernetesCompute({ kubeconfig: k8s.kubeconfigPath, image: 'node:20-slim', bootstrap, pollMs: 200 })
    : createBatchCompute({
        endpoint: aws!.endpoint,
        region: 'us-east-1',
        queue: 'emu-queue',
        image: 'node:20-slim',
        bootstrap,
        pollMs: 200,
      });
  const compute = mode === 'array' ? inner : perSplit(inner);
  const home = mkdtempSync(join(dir, 'home-'));
  const t0 = performance.now();
  const run = await runFlow(WideFlow, {
    home,
    params: { n: SPLITS },
    datastore: `s3://flows/${kind}-${mode.replace(' ', '-')}?endpoint=${s3.endpoint}&${LIMITS}`,
    with: [kind],
    remoteCompute: { [kind]: compute },
    maxWorkers: MAX_WORKERS,
    maxNumSplits: Math.max(100, SPLITS),
  });
  const seconds = (performance.now() - t0) / 1000;
  await compute.close();
  if (!run.successful) throw new Error(`${kind} ${mode}: ${run.error?.message}`);
  const requests: Record<string, number> = { ...(k8s?.requests ?? aws!.requests) };
  const submits = k8s ? (requests['create job'] ?? 0) : (requests.SubmitJob ?? 0);
  const statusOps = k8s ? ['list jobs', 'list pods', 'watch jobs', 'watch pods', 'read job', 'read pod'] : ['DescribeJobs', 'ListJobs'];
  const status = statusOps.reduce((s, op) => s + (requests[op] ?? 0), 0);
  const total = Object.values(requests).reduce((s, n) => s + n, 0);
  const detail = Object.entries(requests)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${n}`)
    .join(', ');
  rows.push({ backend: kind, mode, seconds, submits, status, total, detail });
  await (k8s ?? aws)!.stop();
}

try {
  for (const kind of ['kubernetes', 'batch'] as const) for (const mode of ['array', 'per split'] as const) await measure(kind, mode);
} finally {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
}

printTable(
  `A ${SPLITS}-split foreach (start → ${SPLITS} × each → join → end) on the emulators, --max-workers ${MAX_WORKERS}`,
  ['backend', 'splits submitted as', 'wall s', 'job submissions', 'status requests', 'all requests', 'requests vs per split'],
  rows.map((r) => {
    const other = rows.find((o) => o.backend === r.backend && o.mode === 'per split')!;
    return [r.backend, r.mode, r.seconds.toFixed(1), r.submits, r.status, r.total, `${(r.total / other.total).toFixed(2)}x`];
  }),
);
printTable(
  'Requests by operation',
  ['backend', 'mode', 'requests'],
  rows.map((r) => [r.backend, r.mode, r.detail]),
);
