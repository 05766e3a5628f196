import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLocalCompute, runFlow, WarmPool, type ComputeBackend, type ComputeJob, type RunEvent } from '../src/index.ts';
import { OtherPoolFlow } from './fixtures/issue11-pool-other.ts';
import { PoolFlow } from './fixtures/issue11-pool.ts';
import { tempHome } from './helpers.ts';
import { BROKEN_FLAG, FlakyImportFlow, LateCheckpointFlow, StuckLeftoverFlow, TaintFlow } from './fixtures/issue11-pool-robustness.ts';

const { home: base, cleanup } = tempHome('tributary-pool-repro-');
afterAll(cleanup);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const t0 = Date.now();
const now = () => Date.now() - t0;

/** Local compute whose jobs can be given a slower cancel or a later-reported exit (as a remote backend would). */
function shapedCompute(o: { cancelDelayMs?: number; resultDelayMs?: (n: number) => number } = {}) {
  const inner = createLocalCompute();
  const launches: string[] = [];
  let alive = 0;
  const backend: ComputeBackend & { launches: string[]; alive(): number } = {
    name: 'shaped-local',
    capabilities: inner.capabilities,
    launches,
    alive: () => alive,
    async launch(spec, options) {
      const job = await inner.launch(spec, options);
      const n = launches.push(spec.name);
      alive++;
      const delay = o.resultDelayMs?.(n) ?? 0;
      const result = job.result.then(async (r) => (delay ? (await sleep(delay), r) : r));
      void result.then(() => alive--);
      const shaped: ComputeJob = {
        id: job.id,
        stdout: job.stdout,
        stderr: job.stderr,
        channel: job.channel!,
        result,
        cancel: async (reason) => {
          if (o.cancelDelayMs) await sleep(o.cancelDelayMs);
          await job.cancel(reason);
        },
      };
      return shaped;
    },
    close: () => inner.close(),
  };
  return backend;
}

function counter() {
  const n = new Map<string, number>();
  const log: string[] = [];
  return {
    n: (k: string) => n.get(k) ?? 0,
    log,
    on: (tag: string) => (e: RunEvent) => {
      if (e.type === 'task-started' || e.type === 'task-finished' || e.type === 'task-queued') {
        const k = `${tag}:${e.type}:${e.step}`;
        n.set(k, (n.get(k) ?? 0) + ('count' in e ? e.count : 1));
      }
      if (e.type === 'task-started' || e.type === 'task-failed') log.push(`${now()} ${tag} ${e.type} ${e.step}`);
    },
  };
}

test('issue 11 item 7: another flow is not starved by a foreach that queues more than its workers (fair shares between flows)', async () => {
  const compute = shapedCompute();
  const pool = new WarmPool({ compute, size: 2 });
  const home = join(base, 'r1');
  const c = counter();
  try {
    const big = runFlow(PoolFlow, {
      home,
      executor: pool,
      maxWorkers: 8,
      params: { route: 'fan', splits: 40, sleepMs: 50 },
      onEvent: c.on('big'),
    });
    while (c.n('big:task-queued:body') < 40) await sleep(10);
    let bigBodiesWhenOtherStarted = -1;
    const other = runFlow(OtherPoolFlow, {
      home,
      executor: pool,
      onEvent: (e) => {
        if (e.type === 'task-started' && e.step === 'start') bigBodiesWhenOtherStarted = c.n('big:task-finished:body');
      },
    });
    let bigBodiesWhenOtherDone = -1;
    const [b, o] = await Promise.all([big, other.then((r) => ((bigBodiesWhenOtherDone = c.n('big:task-finished:body')), r))]);
    expect(bigBodiesWhenOtherStarted).toBeLessThan(20);
  } finally {
    await pool.close();
    await compute.close();
  }
});

test('issue 11 item 7: a worker whose flow failed to load leaves the pool; a later run of the same flow starts', async () => {
  const compute = shapedCompute();
  const home = join(base, 'r2');
  try {
    // Keeps the pool alive (another context).
    const keeper = runFlow(OtherPoolFlow, { home, compute, maxWorkers: 1, params: { sleepMs: 4000 } });
    await sleep(500);
    writeFileSync(BROKEN_FLAG, '');
    const first = await runFlow(FlakyImportFlow, { home, compute, maxWorkers: 1 });
    rmSync(BROKEN_FLAG);
    // The module imports fine now: a second run of the same flow.
    const second = runFlow(FlakyImportFlow, { home, compute, maxWorkers: 1 });
    const outcome = await Promise.race([second.then((r) => r.status), sleep(15_000).then(() => 'still pending after 15 s')]);
    const after = await Promise.race([second.then((r) => r.status), sleep(3000).then(() => 'still pending 3 s after the keeper ended')]);
    expect(outcome).toBe('succeeded');
  } finally {
    rmSync(BROKEN_FLAG, { force: true });
    await compute.close();
  }
}, 40_000);

test('issue 11 item 7: a worker whose attempt is cancelled gets no other attempt, even when the kill lands late', async () => {
  const compute = shapedCompute({ cancelDelayMs: 400 });
  const pool = new WarmPool({ compute, size: 1 });
  const home = join(base, 'r3');
  const c = counter();
  try {
    const controller = new AbortController();
    const victimLog = counter();
    const aborted = runFlow(PoolFlow, {
      home,
      executor: pool,
      signal: controller.signal,
      params: { route: 'line', sleepMs: 300 },
      onEvent: (e) => {
        c.on('aborted')(e);
        if (e.type === 'task-started' && e.step === 'line1') setTimeout(() => controller.abort(), 100);
      },
    });
    while (c.n('aborted:task-started:line1') < 1) await sleep(5);
    const healthy = runFlow(PoolFlow, { home, executor: pool, params: { route: 'line', sleepMs: 200 }, onEvent: victimLog.on('healthy') });
    const [a, h] = await Promise.all([aborted, healthy]);
    const attempts = [];
    for (const t of (await h.metadata.listTasks({ flow: h.flow, runId: h.runId })).items)
      attempts.push(
        ...(await h.metadata.listAttempts({ flow: h.flow, runId: h.runId, taskId: t.taskId })).map(
          (x) => `${t.step}#${x.attempt}:${x.status}:${x.error?.code ?? ''}`,
        ),
      );
    expect(h.status).toBe('succeeded');
  } finally {
    await pool.close();
    await compute.close();
  }
});

test('issue 11 item 7: a worker tainted by a leftover timer is not given the next attempt', async () => {
  const compute = shapedCompute();
  const pool = new WarmPool({ compute, size: 1 });
  const home = join(base, 'r4');
  try {
    const run = await runFlow(TaintFlow, { home, executor: pool, maxWorkers: 4 });
    const attempts = [];
    for (const t of (await run.metadata.listTasks({ flow: run.flow, runId: run.runId })).items)
      attempts.push(
        ...(await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: t.taskId })).map(
          (x) => `${t.key}#${x.attempt}:${x.status}:${x.error?.code ?? ''}`,
        ),
      );
    expect(run.status).toBe('succeeded');
  } finally {
    await pool.close();
    await compute.close();
  }
});

test('issue 11 item 7: a run ending while another starts does not wait for the other', async () => {
  // Job 1 reports its exit 300 ms late, job 2 1500 ms late (a backend that reports exits late, or a
  // worker whose stdout a grandchild still holds).
  const compute = shapedCompute({ resultDelayMs: (n) => (n === 1 ? 300 : n === 2 ? 1500 : 0) });
  const pool = new WarmPool({ compute, size: 2 });
  const home = join(base, 'r5');
  try {
    let y: Promise<unknown> | undefined;
    let yDoneAt = -1;
    const x = runFlow(PoolFlow, {
      home,
      executor: pool,
      maxWorkers: 2,
      params: { route: 'fan', splits: 2, sleepMs: 300 },
      onEvent: (e) => {
        if (e.type === 'task-finished' && e.step === 'end')
          y = runFlow(OtherPoolFlow, { home, executor: pool, params: { sleepMs: 3000 } }).then((r) => ((yDoneAt = now()), r.status));
      },
    });
    const xr = await x;
    const xDoneAt = now();
    await y;
    expect(xDoneAt).toBeLessThan(yDoneAt);
  } finally {
    await pool.close();
    await compute.close();
  }
}, 30_000);

test('issue 11 item 7: a worker whose event loop is blocked by leftover code is stopped; the last run resolves', async () => {
  const compute = shapedCompute();
  const home = join(base, 'r8');
  try {
    const run = runFlow(StuckLeftoverFlow, { home, compute, maxWorkers: 1 });
    const outcome = await Promise.race([run.then((r) => r.status), sleep(10_000).then(() => 'still pending after 10 s')]);
    expect(outcome).toBe('succeeded');
  } finally {
    await compute.close(); // kills the stuck worker (SIGTERM, then SIGKILL)
  }
}, 30_000);

test('issue 11 item 7: with two flows, the small flow keeps its worker between its tasks (no retire thrash)', async () => {
  const compute = shapedCompute();
  const home = join(base, 'r6');
  const c = counter();
  try {
    const big = runFlow(PoolFlow, {
      home,
      compute,
      maxWorkers: 4,
      params: { route: 'fan', splits: 40, sleepMs: 50 },
      onEvent: c.on('big'),
    });
    while (c.n('big:task-queued:body') < 40) await sleep(10);
    const other = runFlow(OtherPoolFlow, { home, compute, maxWorkers: 4, params: { sleepMs: 0 } }).then((r) => ({
      r,
      at: c.n('big:task-finished:body'),
    }));
    const [b, o] = await Promise.all([big, other]);
    const count = (name: string) => compute.launches.filter((l) => l === name).length;
    expect(count('OtherPoolFlow worker')).toBeLessThanOrEqual(1);
  } finally {
    await compute.close();
  }
});

test('issue 11 item 7: a run that opens while pool.close() runs is refused with CLOSED, never left hanging', async () => {
  const compute = shapedCompute({ cancelDelayMs: 1500 });
  const pool = new WarmPool({ compute, size: 2 });
  const home = join(base, 'r7');
  try {
    const c = counter();
    const x = runFlow(PoolFlow, { home, executor: pool, params: { route: 'line', sleepMs: 3000 }, onEvent: c.on('x') });
    while (c.n('x:task-started:line1') < 1) await sleep(5);
    const closing = pool.close();
    // A service accepts a run while it shuts down: openRun does not refuse it (closed is set only at the end).
    // Its outcome is taken at once: a refusal is an answer, not an unhandled rejection.
    const y = runFlow(PoolFlow, { home, executor: pool, params: { route: 'line', sleepMs: 700 } }).then(
      (r) => `${r.status} ${r.error?.code} ${r.error?.message}`,
      (err: { code?: string }) => `refused ${err.code}`,
    );
    await x;
    const outcome = await Promise.race([y, sleep(10_000).then(() => 'still pending after 10 s')]);
    await closing;
    expect(outcome).toBe('refused CLOSED');
  } finally {
    await compute.close();
  }
}, 30_000);

test('issue 11 item 7: a checkpoint saved late by a finished task is not recorded under the next attempt', async () => {
  const compute = shapedCompute();
  const pool = new WarmPool({ compute, size: 1 });
  try {
    const run = await runFlow(LateCheckpointFlow, { home: join(base, 'r9'), executor: pool, maxWorkers: 1 });
    const victim = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'victim' })).items[0]!;
    const meta = await run.metadata.getMetadata({ flow: run.flow, runId: run.runId, taskId: victim.taskId });
    expect((await run.data('victim')).seen).toBeNull();
  } finally {
    await pool.close();
    await compute.close();
  }
});
