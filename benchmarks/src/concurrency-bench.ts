/**
 * Concurrency benchmark: many runs of one small flow in one process (a service), and what each
 * executor costs per task. Prints tables; asserts nothing. Every ratio is between rows measured
 * in this same process, on this machine, in this run.
 *
 * The flow is FanOutFlow with 3 splits: start -> 3-split foreach -> join -> end (6 tasks).
 *
 *   pnpm --filter @tributary/benchmarks bench:concurrency
 *   BENCH_CONCURRENCY=40 ...     # runs per burst (default 20)
 *   BENCH_RUNS=3 ...             # bursts per row and sequential runs per row (default 2 and 3)
 *
 * Processes are counted two ways: a ComputeBackend wrapping createLocalCompute() counts the jobs
 * it launched and how many were alive at once (exact, where we can hand runFlow an instance), and
 * a sampler on its own thread reads /proc every 20 ms for this process's children (the only way
 * to see the default pool, which opens its own backend). Children alive before a burst (esbuild's
 * service) are not counted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  createLocalCompute,
  runFlow,
  type ComputeBackend,
  type ComputeJob,
  type LaunchSpec,
  type RunResult,
  type RunFlowOptions,
} from 'tributary';
import { FanOutFlow } from './flows.ts';
import { median, percentile, printTable } from './table.ts';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const BURSTS = Number(process.env.BENCH_RUNS ?? 2);
const SEQUENTIAL = Number(process.env.BENCH_RUNS ?? 3);
const SPLITS = 3;
const TASKS = SPLITS + 3;
const cores = availableParallelism();
const root = mkdtempSync(join(tmpdir(), 'tributary-concurrency-bench-'));
let homes = 0;
const freshHome = () => mkdtempSync(join(root, `home-${++homes}-`));

/** Jobs launched through the wrapped backends, and the most alive at once. */
class LaunchCounter {
  launched = 0;
  alive = 0;
  peak = 0;
  reset(): void {
    this.launched = 0;
    this.peak = this.alive;
  }
}

/** createLocalCompute(), counting what it launches. */
function countingCompute(counter: LaunchCounter, inner: ComputeBackend = createLocalCompute()): ComputeBackend {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    async launch(spec: LaunchSpec, options?: { signal?: AbortSignal }): Promise<ComputeJob> {
      const job = await inner.launch(spec, options);
      counter.launched++;
      counter.alive++;
      counter.peak = Math.max(counter.peak, counter.alive);
      void job.result.then(() => counter.alive--);
      return job;
    },
    close: () => inner.close(),
  };
}

/** Reads /proc every 20 ms on its own thread (so the scan does not stall the orchestrator's event loop). */
class ProcSampler {
  private readonly worker: Worker;
  constructor() {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { readdirSync, readFileSync } = require('node:fs');
      const children = () => {
        const out = [];
        for (const d of readdirSync('/proc')) {
          if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
          try {
            const stat = readFileSync('/proc/' + d + '/stat', 'latin1');
            const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (Number(rest[1]) === workerData.pid && rest[0] !== 'Z') out.push(Number(d));
          } catch {}
        }
        return out;
      };
      let timer, baseline, seen, peak, samples;
      parentPort.on('message', (m) => {
        if (m === 'start') {
          baseline = new Set(children());
          seen = new Set(); peak = 0; samples = 0;
          const tick = () => {
            const now = children().filter((p) => !baseline.has(p));
            for (const p of now) seen.add(p);
            peak = Math.max(peak, now.length);
            samples++;
          };
          tick();
          timer = setInterval(tick, 20);
        } else if (m === 'stop') {
          clearInterval(timer);
          parentPort.postMessage({ peak, distinct: seen.size, samples, baseline: baseline.size });
        }
      });`;
    this.worker = new Worker(source, { eval: true, workerData: { pid: process.pid } });
  }
  start(): void {
    this.worker.postMessage('start');
  }
  stop(): Promise<{ peak: number; distinct: number; samples: number; baseline: number }> {
    return new Promise((resolve) => {
      this.worker.once('message', resolve);
      this.worker.postMessage('stop');
    });
  }
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Linux only: fail early and clearly elsewhere. */
readdirSync('/proc');
readFileSync('/proc/self/stat');

function ok(run: RunResult): RunResult {
  if (!run.successful) throw run.error ?? new Error(`run ${run.pathspec} ${run.status}`);
  return run;
}

interface BurstResult {
  latencies: number[];
  wallMs: number;
  launched?: number;
  peakAlive?: number;
  sampledPeak: number;
  sampledDistinct: number;
  dispatch: number[];
  queueWaits: number[];
}

/**
 * CONCURRENCY runFlow calls issued at once. `setup` makes each call's options (and says which
 * counter, if any, sees its launches); `teardown` closes what setup opened.
 */
async function burst(
  sampler: ProcSampler,
  setup: () => { options: (i: number) => RunFlowOptions; counter?: LaunchCounter; teardown: () => Promise<void> },
): Promise<BurstResult> {
  const home = freshHome();
  const { options, counter, teardown } = setup();
  counter?.reset();
  sampler.start();
  const t0 = performance.now();
  const latencies: number[] = [];
  const runs = await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      const run = ok(await runFlow(FanOutFlow, { home, params: { splits: SPLITS }, ...options(i) }));
      latencies.push(performance.now() - t0);
      return run;
    }),
  );
  const wallMs = performance.now() - t0;
  const sampled = await sampler.stop();
  await teardown();
  return {
    latencies,
    wallMs,
    ...(counter ? { launched: counter.launched, peakAlive: counter.peak } : {}),
    sampledPeak: sampled.peak,
    sampledDistinct: sampled.distinct,
    dispatch: runs.flatMap((r) => r.dispatchLatenciesMs),
    queueWaits: runs.flatMap((r) => r.queueWaitsMs),
  };
}

/** A compute instance per run: a warm pool per run, as every runFlow had before the shared pool. */
const perRunPools = () => {
  const counter = new LaunchCounter();
  const instances = Array.from({ length: CONCURRENCY }, () => countingCompute(counter));
  return {
    counter,
    options: (i: number): RunFlowOptions => ({ compute: instances[i]! }),
    teardown: async () => void (await Promise.all(instances.map((c) => c.close()))),
  };
};
/** No compute option: the process's default pool (opened from configuration, shared by URL). */
const defaultPool = () => ({ options: (): RunFlowOptions => ({}), teardown: async () => undefined });
/** One instance handed to every run: one pool, keyed by the instance. */
const sharedInstance = () => {
  const counter = new LaunchCounter();
  const compute = countingCompute(counter);
  return { counter, options: (): RunFlowOptions => ({ compute }), teardown: () => compute.close() };
};

interface Sequential {
  wall: number[];
  dispatch: number[];
  launched: number[];
  pids: number[];
}

type Variant = () => { options: RunFlowOptions; counter?: LaunchCounter; teardown?: () => Promise<void> };

/** One run at a time, the variants taking turns (so that all see the same machine load). */
async function sequential(sampler: ProcSampler, variants: Variant[]): Promise<Sequential[]> {
  const home = freshHome();
  const out: Sequential[] = variants.map(() => ({ wall: [], dispatch: [], launched: [], pids: [] }));
  for (let i = 0; i < SEQUENTIAL; i++) {
    for (const [k, variant] of variants.entries()) {
      const o = variant();
      o.counter?.reset();
      sampler.start();
      const t0 = performance.now();
      const run = ok(await runFlow(FanOutFlow, { home, params: { splits: SPLITS }, ...o.options }));
      out[k]!.wall.push(performance.now() - t0);
      out[k]!.pids.push((await sampler.stop()).distinct);
      out[k]!.dispatch.push(...run.dispatchLatenciesMs);
      if (o.counter) out[k]!.launched.push(o.counter.launched);
      await o.teardown?.();
    }
  }
  return out;
}

/** A bare Node start (`node -e 0`), the physical floor of a process per task, measured here. */
function bareNodeStartMs(): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['-e', '0']);
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error('node -e 0 failed');
  }
  return median(times);
}

const ms = (x: number) => x.toFixed(0);
const ms2 = (x: number) => x.toFixed(2);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

async function main(): Promise<void> {
  const sampler = new ProcSampler();
  try {
    // Warm-up: builds the flow module once (cached by content), and the code package of the job path.
    const warm = freshHome();
    ok(await runFlow(FanOutFlow, { home: warm, params: { splits: SPLITS } }));
    ok(await runFlow(FanOutFlow, { home: warm, params: { splits: SPLITS }, compute: 'local-jobs://' }));

    // 1. Bursts, alternating so that both see the same machine load.
    const before: BurstResult[] = [];
    const after: BurstResult[] = [];
    const afterShared: BurstResult[] = [];
    for (let i = 0; i < BURSTS; i++) {
      before.push(await burst(sampler, perRunPools));
      after.push(await burst(sampler, defaultPool));
      afterShared.push(await burst(sampler, sharedInstance));
    }
    const summary = (bs: BurstResult[]) => {
      const lat = bs.flatMap((b) => b.latencies).sort((a, b) => a - b);
      return {
        launched: bs.every((b) => b.launched !== undefined) ? median(bs.map((b) => b.launched!)) : undefined,
        peakAlive: bs.every((b) => b.peakAlive !== undefined) ? Math.max(...bs.map((b) => b.peakAlive!)) : undefined,
        sampledPeak: Math.max(...bs.map((b) => b.sampledPeak)),
        sampledDistinct: median(bs.map((b) => b.sampledDistinct)),
        p50: percentile(lat, 50),
        p95: percentile(lat, 95),
        wall: median(bs.map((b) => b.wallMs)),
        dispatch: median(bs.flatMap((b) => b.dispatch)),
        queue: median(bs.flatMap((b) => b.queueWaits)),
      };
    };
    const b = summary(before);
    const a = summary(after);
    const s = summary(afterShared);
    const opt = (x: number | undefined) => (x === undefined ? 'n/a' : String(x));
    const burstRow = (name: string, x: ReturnType<typeof summary>) => [
      name,
      opt(x.launched),
      opt(x.peakAlive),
      x.sampledPeak,
      x.sampledDistinct,
      ms(x.p50),
      ms(x.p95),
      ms(x.wall),
      ms2(x.dispatch),
      ms(x.queue),
    ];
    const ratioRow = (name: string, x: ReturnType<typeof summary>) => [
      name,
      x.launched === undefined ? 'n/a' : ratio(x.launched, b.launched!),
      x.peakAlive === undefined ? 'n/a' : ratio(x.peakAlive, b.peakAlive!),
      ratio(x.sampledPeak, b.sampledPeak),
      ratio(x.sampledDistinct, b.sampledDistinct),
      ratio(x.p50, b.p50),
      ratio(x.p95, b.p95),
      ratio(x.wall, b.wall),
      ratio(x.dispatch, b.dispatch),
      ratio(x.queue, b.queue),
    ];
    printTable(
      `${CONCURRENCY} concurrent runFlow calls of a ${TASKS}-task flow in one process (${cores} cores, default maxWorkers; ` +
        `${BURSTS} bursts per row, latencies pooled, wall = median burst; process peaks = max over bursts)`,
      [
        'compute',
        'launched',
        'peak alive',
        'peak /proc',
        'pids /proc',
        'P50 run ms',
        'P95 run ms',
        'burst wall ms',
        'dispatch P50 ms',
        'queue P50 ms',
      ],
      [
        burstRow('before: createLocalCompute() per run (a pool per run)', b),
        burstRow('after: default (no compute option, shared pool)', a),
        burstRow('after: one createLocalCompute() for all runs', s),
        ratioRow('ratio after(default) / before', a),
        ratioRow('ratio after(one instance) / before', s),
      ],
    );
    console.log(
      `launched / peak alive: jobs started by the counting backend, and the most alive at once (n/a: the default pool opens its own backend).\n` +
        `peak /proc / pids /proc: this process's children seen by a 20 ms /proc sampler (most at once / distinct pids).\n` +
        `run ms: call -> resolved, every call issued at t=0. dispatch: handed to a ready worker -> user code entered. queue: task ready -> dispatched.`,
    );
    const limit = cores + 1;
    for (const [name, x] of [
      ['default', a],
      ['one instance', s],
    ] as const) {
      const peak = Math.max(x.sampledPeak, x.peakAlive ?? 0);
      if (peak > limit) console.log(`NOTE: the shared pool (${name}) had ${peak} processes alive at once, more than cores + 1 = ${limit}.`);
    }
    if (a.p50 > b.p50 || a.p95 > b.p95) console.log('NOTE: the shared pool has a worse median or P95 run latency than a pool per run.');

    // 2 and 3. One run at a time: the pool's dispatch latency, the job-per-attempt overhead, in-process.
    const [pool, own, jobs, jobsCounted, inProcess] = await sequential(sampler, [
      () => ({ options: {} }),
      () => {
        const counter = new LaunchCounter();
        const compute = countingCompute(counter);
        return { options: { compute }, counter, teardown: () => compute.close() };
      },
      () => ({ options: { compute: 'local-jobs://' } }),
      () => {
        const counter = new LaunchCounter();
        const compute = countingCompute(counter, createLocalCompute({ jobsOnly: true }));
        return { options: { compute }, counter, teardown: () => compute.close() };
      },
      () => ({ options: { executor: 'in-process' } }),
    ]);
    const nodeStart = bareNodeStartMs();
    const poolWall = median(pool!.wall);
    const inProcessWall = median(inProcess!.wall);
    const row = (name: string, x: Sequential, perTask: boolean) => [
      name,
      x.launched.length ? String(median(x.launched)) : 'n/a',
      median(x.pids),
      ms(median(x.wall)),
      ms(Math.min(...x.wall)),
      ratio(median(x.wall), poolWall),
      perTask ? ms2((median(x.wall) - poolWall) / TASKS) : '',
      perTask ? ms2((median(x.wall) - inProcessWall) / TASKS) : '',
      x.dispatch.length ? ms2(median(x.dispatch)) : 'n/a',
      x.dispatch.length
        ? ms2(
            percentile(
              [...x.dispatch].sort((p, q) => p - q),
              95,
            ),
          )
        : 'n/a',
      x.dispatch.length ? ratio(median(x.dispatch), nodeStart) : 'n/a',
    ];
    printTable(
      `One run at a time of the same ${TASKS}-task flow (median of ${SEQUENTIAL}; a pool starts its workers in each run, as no other run keeps it warm)`,
      [
        'executor',
        'launched',
        'pids /proc',
        'wall ms',
        'best ms',
        'vs pool',
        '(wall - pool wall) / task ms',
        '(wall - in-process wall) / task ms',
        'dispatch P50 ms',
        'dispatch P95 ms',
        'dispatch P50 / node start',
      ],
      [
        row('warm pool, default (shared) compute', pool!, false),
        row('warm pool, its own createLocalCompute() (as before)', own!, true),
        row("job per attempt: compute 'local-jobs://'", jobs!, true),
        row('job per attempt: createLocalCompute({ jobsOnly: true }), counted', jobsCounted!, true),
        row("in-process: executor 'in-process'", inProcess!, false),
        ['reference: bare Node start (node -e 0), median of 5', '', '', ms(nodeStart), '', '', '', '', '', '', '1.00'],
      ],
    );
    console.log(
      'dispatch: pool = handed to a ready worker -> user code entered; jobs = job launched -> user code entered ' +
        '(Node start, code package, flow import); in-process = submitted -> user code entered.',
    );
  } finally {
    await sampler.close();
  }
}

try {
  await main();
} finally {
  rmSync(root, { recursive: true, force: true });
}
