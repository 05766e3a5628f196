/**
 * Core benchmark: dispatch latency, foreach wall time, a linear flow, and large-artifact
 * throughput against the physical reference (SHA-256 of the same bytes), all in one run on the
 * embedded default (local files + SQLite + local processes). Prints tables; asserts nothing.
 *
 *   pnpm bench                 # default sizes
 *   BENCH_RUNS=5 pnpm bench    # more repetitions per row
 *   BENCH_BIG=1 pnpm bench     # also a 10,000-split foreach
 */
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, createFsDatastore, runFlow, type RunResult } from 'tributary';
import { FanOutFlow, FiveStepFlow } from './flows.ts';
import { median, percentile, printTable } from './table.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const home = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
const workers = availableParallelism();

async function timed(fn: () => Promise<RunResult>): Promise<{ ms: number; run: RunResult }> {
  const t0 = performance.now();
  const run = await fn();
  const ms = performance.now() - t0;
  if (!run.successful) throw run.error ?? new Error(`run ${run.status}`);
  await run.close();
  return { ms, run };
}

async function flows(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const latencies: number[] = [];
  const waits: number[] = [];
  let peakRss = 0;
  const sizes = [100, 1000, ...(process.env.BENCH_BIG ? [10_000] : [])];
  // Warm-up: the first run pays for compiling the flow module in the workers' caches.
  await timed(() => runFlow(FanOutFlow, { home, params: { splits: 10 } }));
  for (const splits of sizes) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { ms, run } = await timed(() => runFlow(FanOutFlow, { home, params: { splits }, maxNumSplits: splits, maxWorkers: workers }));
      times.push(ms);
      if (splits === 1000) {
        latencies.push(...run.dispatchLatenciesMs);
        waits.push(...run.queueWaitsMs);
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    rows.push([
      `${splits}-split foreach + join (${splits + 3} tasks)`,
      median(times).toFixed(0),
      Math.min(...times).toFixed(0),
      (median(times) / (splits + 3)).toFixed(2),
    ]);
  }
  const linear: number[] = [];
  for (let i = 0; i < RUNS; i++) linear.push((await timed(() => runFlow(FiveStepFlow, { home }))).ms);
  rows.push(['5-step linear flow', median(linear).toFixed(0), Math.min(...linear).toFixed(0), (median(linear) / 5).toFixed(2)]);
  printTable(
    `Flow wall time (embedded default, ${workers} workers, median of ${RUNS}; includes worker start-up)`,
    ['flow', 'median ms', 'best ms', 'ms / task'],
    rows,
  );

  latencies.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  const row = (name: string, xs: number[], target: string) => [
    name,
    xs.length,
    percentile(xs, 50).toFixed(2),
    percentile(xs, 95).toFixed(2),
    percentile(xs, 99).toFixed(2),
    xs[xs.length - 1]!.toFixed(2),
    target,
  ];
  printTable(
    'Task start-up (1000-split foreach runs)',
    ['measure', 'tasks', 'P50 ms', 'P95 ms', 'P99 ms', 'max ms', 'target'],
    [
      row('dispatch: handed to a free worker -> user code entered', latencies, 'P50 <= 10 (aim 2), P99 <= 50'),
      row('queue wait: ready -> a worker is free (1000 tasks, 2 workers)', waits, 'informational'),
    ],
  );
  console.log(`orchestrator peak RSS during the foreach runs: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
}

async function artifacts(): Promise<void> {
  const size = 256 * 2 ** 20;
  const bytes = Buffer.allocUnsafe(size);
  randomFillSync(bytes);
  const mb = size / 1e6;
  const rows: Array<Array<string | number>> = [];
  const hashMs: number[] = [];
  const saveMs: number[] = [];
  const loadMs: number[] = [];
  const reloadMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    createHash('sha256').update(bytes).digest('hex');
    hashMs.push(performance.now() - t);

    // A fresh store each time, so every save really writes (no dedupe shortcut).
    const root = mkdtempSync(join(home, 'blob-'));
    const store = new ArtifactStore(createFsDatastore({ root }), 'Bench');
    t = performance.now();
    const ref = await store.save('model', bytes);
    saveMs.push(performance.now() - t);
    t = performance.now();
    const back = (await store.load(ref)) as Buffer;
    loadMs.push(performance.now() - t);
    if (back.length !== size) throw new Error('short read');
    for (let j = 0; j < 3; j++) {
      t = performance.now();
      await store.load(ref);
      reloadMs.push(performance.now() - t);
    }
    rmSync(root, { recursive: true, force: true });
  }
  const rate = (ms: number[]) => (mb / (median(ms) / 1000)).toFixed(0);
  const touchMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    Buffer.allocUnsafe(size).fill(1);
    touchMs.push(performance.now() - t);
  }
  rows.push(['SHA-256 of the bytes (physical reference)', median(hashMs).toFixed(0), rate(hashMs), '1.00']);
  rows.push([
    'first touch of a fresh 256 MiB buffer (reference: VM page faults)',
    median(touchMs).toFixed(0),
    rate(touchMs),
    (median(hashMs) / median(touchMs)).toFixed(2),
  ]);
  rows.push([
    'save (encode + SHA-256 + atomic write)',
    median(saveMs).toFixed(0),
    rate(saveMs),
    (median(hashMs) / median(saveMs)).toFixed(2),
  ]);
  rows.push([
    'load right after save (read + verify SHA-256 + decode)',
    median(loadMs).toFixed(0),
    rate(loadMs),
    (median(hashMs) / median(loadMs)).toFixed(2),
  ]);
  rows.push([
    'load again (e.g. a second downstream task)',
    median(reloadMs).toFixed(0),
    rate(reloadMs),
    (median(hashMs) / median(reloadMs)).toFixed(2),
  ]);
  const both = saveMs.map((s, i) => s + loadMs[i]!);
  rows.push(['save + load (round trip, bytes moved twice)', median(both).toFixed(0), ((2 * mb) / (median(both) / 1000)).toFixed(0), '']);
  printTable(
    `256 MiB binary artifact through the core's artifact store on the fs datastore (median of ${RUNS})`,
    ['operation', 'ms', 'MB/s', 'vs SHA-256'],
    rows,
  );
}

try {
  await flows();
  await artifacts();
} finally {
  rmSync(home, { recursive: true, force: true });
}
