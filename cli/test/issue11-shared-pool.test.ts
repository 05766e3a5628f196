import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  ArtifactStore,
  createLocalCompute,
  runFlow,
  WarmPool,
  type ComputeBackend,
  type LaunchSpec,
  type RunResult as Run,
  type RunEvent,
} from '../src/index.ts';
import { OtherPoolFlow } from './fixtures/issue11-pool-other.ts';
import { POOL_VAR, PoolFlow } from './fixtures/issue11-pool.ts';
import { tempHome } from './helpers.ts';

const { home: base, cleanup } = tempHome('tributary-issue11-pool-');
afterAll(cleanup);

/**
 * Local processes (warm workers, IPC) behind a backend that counts what it launched: every launch,
 * how many of its processes are alive now (launched, result not settled) and the most ever alive at once.
 */
interface Launched {
  name: string;
  settled: boolean;
}
function countingCompute(): ComputeBackend & { launches: Launched[]; alive: number; peak: number } {
  const inner = createLocalCompute();
  const launches: Launched[] = [];
  const counts = { alive: 0, peak: 0 };
  return {
    name: 'counting-local',
    capabilities: inner.capabilities,
    launches,
    get alive() {
      return counts.alive;
    },
    get peak() {
      return counts.peak;
    },
    async launch(spec: LaunchSpec, options?: { signal?: AbortSignal }) {
      const job = await inner.launch(spec, options);
      const record: Launched = { name: spec.name, settled: false };
      launches.push(record);
      counts.alive++;
      counts.peak = Math.max(counts.peak, counts.alive);
      void job.result.then(() => {
        counts.alive--;
        record.settled = true;
      });
      return job;
    },
    close: () => inner.close(),
  };
}

async function tasksOf(run: Run) {
  const tasks = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId })).items;
  return tasks.filter((t) => t.step !== '_parameters');
}

async function artifactOf(run: Run, taskId: string, name: string): Promise<unknown> {
  const task = await run.metadata.getTask({ flow: run.flow, runId: run.runId, taskId });
  const ref = (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId })).find((a) => a.name === name);
  if (!ref) throw new Error(`task ${task.key} has no artifact ${name}`);
  return new ArtifactStore(run.datastore, run.flow).forTask(`${run.flow}/${run.runId}/${task.step}/${taskId}`).load(ref);
}

/** The worker pid recorded by every successful task of a run, by task key. */
async function pidsByTask(run: Run): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of await tasksOf(run)) if (t.status === 'succeeded') out.set(t.key, (await artifactOf(run, t.taskId, 'pid')) as number);
  return out;
}

/** Every task of the run succeeded at its first attempt, and no attempt of it was recorded with an error. */
async function expectCleanRun(run: Run, tasks: number): Promise<void> {
  expect(run.error?.message).toBeUndefined();
  expect(run.status).toBe('succeeded');
  const all = await tasksOf(run);
  expect(all).toHaveLength(tasks);
  for (const t of all) {
    expect(t.status).toBe('succeeded');
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: t.taskId });
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([[0, 'succeeded', null]]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Once every run using the pool has resolved, no worker it started is left. */
function expectNoWorkerLeft(compute: { launches: Launched[]; alive: number }, pids: Iterable<number>): void {
  expect(compute.launches.length).toBeGreaterThan(0);
  expect(compute.launches.filter((l) => !l.settled)).toEqual([]);
  expect(compute.alive).toBe(0);
  expect([...new Set(pids)].filter(isAlive)).toEqual([]);
}

/** Counts a run's task events; `queued(step, n)` / `started(step, n)` resolve once n tasks of the step were. */
function eventLog() {
  const finished = new Map<string, number>();
  const started = new Map<string, number>();
  const queued = new Map<string, number>();
  const waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters])
      if (w.test()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  return {
    finished: (step: string) => finished.get(step) ?? 0,
    onEvent: (e: RunEvent) => {
      if (e.type === 'task-finished') finished.set(e.step, (finished.get(e.step) ?? 0) + 1);
      if (e.type === 'task-started') started.set(e.step, (started.get(e.step) ?? 0) + 1);
      if (e.type === 'task-queued') queued.set(e.step, (queued.get(e.step) ?? 0) + e.count);
      check();
    },
    queued: (step: string, n = 1) =>
      new Promise<void>((resolve) => {
        waiters.push({ test: () => (queued.get(step) ?? 0) >= n, resolve });
        check();
      }),
    started: (step: string, n = 1) =>
      new Promise<void>((resolve) => {
        waiters.push({ test: () => (started.get(step) ?? 0) >= n, resolve });
        check();
      }),
  };
}

describe('one warm pool shared by concurrent runs', () => {
  test('issue 11 item 7: 10 concurrent runs on one compute instance use at most max(cores, maxWorkers) workers in all, with correct artifacts', async () => {
    const compute = countingCompute();
    const home = join(base, 'ten');
    try {
      // maxWorkers 1..3: the pool's budget is the cores or the largest maxWorkers, whichever is larger.
      const specs = Array.from({ length: 10 }, (_, i) => ({ k: i + 1, maxWorkers: (i % 3) + 1 }));
      const budget = Math.max(availableParallelism(), ...specs.map((s) => s.maxWorkers));
      const runs = await Promise.all(
        specs.map(({ k, maxWorkers }) =>
          runFlow(PoolFlow, { home, compute, maxWorkers, params: { route: 'fan', splits: 3, k, sleepMs: 20 } }),
        ),
      );
      const pids: number[] = [];
      for (const [i, run] of runs.entries()) {
        await expectCleanRun(run, 7); // start, fan, body × 3, join, end
        const k = specs[i]!.k;
        const end = await run.data();
        expect(end.values).toEqual([k, 2 * k, 3 * k]);
        expect(end.total).toBe(6 * k);
        pids.push(...(await pidsByTask(run)).values());
      }
      // Every worker process the runs used, over all of them: never more alive at once than the
      // budget, and no more started in all (the runs share one context: nothing to retire).
      expect(compute.peak).toBeLessThanOrEqual(budget);
      expect(compute.launches.length).toBeLessThanOrEqual(budget);
      expect(compute.launches.every((l) => l.name === 'PoolFlow worker')).toBe(true);
      expect(new Set(pids).size).toBeLessThanOrEqual(budget);
      expectNoWorkerLeft(compute, pids);
    } finally {
      await compute.close();
    }
  });

  test('issue 11 item 7: fairness: a 4-task run started after a 60-split foreach on a pool of 2 finishes long before it', async () => {
    const compute = countingCompute();
    const pool = new WarmPool({ compute, size: 2 });
    const home = join(base, 'fair');
    try {
      const bigLog = eventLog();
      // maxWorkers 64: the scheduler submits every split at once, so they all wait in the pool's queue.
      const big = runFlow(PoolFlow, {
        home,
        executor: pool,
        maxWorkers: 64,
        params: { route: 'fan', splits: 60, sleepMs: 30 },
        onEvent: bigLog.onEvent,
      }).then((run) => ({ run, at: { bodies: bigLog.finished('body') } }));
      // The small run arrives once the 60 splits are queued.
      await bigLog.queued('body', 60);
      const smallLog = eventLog();
      const small = runFlow(PoolFlow, {
        home,
        executor: pool,
        params: { route: 'line', sleepMs: 30, k: 4 },
        onEvent: smallLog.onEvent,
      }).then((run) => ({ run, at: { bodies: bigLog.finished('body') } }));
      const order: string[] = [];
      const [b, s] = await Promise.all([big.then((r) => (order.push('big'), r)), small.then((r) => (order.push('small'), r))]);
      await expectCleanRun(s.run, 4);
      expect(await s.run.data()).toMatchObject({ total: 41 });
      await expectCleanRun(b.run, 64);
      expect((await b.run.data()).total).toBe((60 * 61) / 2);
      // The small run's tasks were not queued behind the 60 splits: it was over (resolved) before
      // the big run had finished half of them.
      expect(order).toEqual(['small', 'big']);
      expect(s.at.bodies).toBeLessThan(30);
      expect(b.at.bodies).toBe(60);
      expect(compute.peak).toBeLessThanOrEqual(2);
      expectNoWorkerLeft(compute, [...(await pidsByTask(b.run)).values(), ...(await pidsByTask(s.run)).values()]);
    } finally {
      await pool.close();
      await compute.close();
    }
  });

  test('issue 11 item 7: two flows of different modules run concurrently on a pool of 2 (idle workers of the other flow are retired)', async () => {
    const compute = countingCompute();
    const pool = new WarmPool({ compute, size: 2 });
    const home = join(base, 'two-flows');
    try {
      const [fan, other] = await Promise.all([
        runFlow(PoolFlow, { home, executor: pool, maxWorkers: 2, params: { route: 'fan', splits: 12, sleepMs: 100, k: 2 } }),
        runFlow(OtherPoolFlow, { home, executor: pool, maxWorkers: 2, params: { sleepMs: 50 } }),
      ]);
      await expectCleanRun(fan, 16);
      expect((await fan.data()).values).toEqual(Array.from({ length: 12 }, (_, i) => 2 * (i + 1)));
      await expectCleanRun(other, 4);
      expect((await other.data()).word).toBe('other');
      // A worker loads one flow: the two flows never ran in the same process.
      const fanPids = new Set((await pidsByTask(fan)).values());
      const otherPids = new Set((await pidsByTask(other)).values());
      expect([...fanPids].filter((p) => otherPids.has(p))).toEqual([]);
      // Never more than 2 alive, yet both flows got workers, and more than 2 were started in all:
      // workers of one flow were retired to make room for the other.
      expect(compute.peak).toBeLessThanOrEqual(2);
      const names = compute.launches.map((l) => l.name);
      expect(names).toContain('PoolFlow worker');
      expect(names).toContain('OtherPoolFlow worker');
      expect(names.length).toBeGreaterThan(2);
      expectNoWorkerLeft(compute, [...fanPids, ...otherPids]);
    } finally {
      await pool.close();
      await compute.close();
    }
  });

  test('issue 11 item 7: a run that fails and a run that is aborted do not disturb a concurrent run on the same pool', async () => {
    const compute = countingCompute();
    const home = join(base, 'disturb');
    try {
      const healthyLog = eventLog();
      const healthy = runFlow(PoolFlow, {
        home,
        compute,
        maxWorkers: 3,
        params: { route: 'fan', splits: 30, sleepMs: 50 },
        onEvent: healthyLog.onEvent,
      });
      await healthyLog.queued('body', 30);
      // Same flow, same datastore: these runs share the healthy run's workers, and theirs are
      // killed when their attempts are cancelled.
      const failing = runFlow(PoolFlow, {
        home,
        compute,
        maxWorkers: 3,
        params: { route: 'fan', splits: 6, sleepMs: 300, failAt: 1 },
      }).then((run) => ({ run, healthyBodies: healthyLog.finished('body') }));
      const controller = new AbortController();
      const abortedLog = eventLog();
      void abortedLog.started('body', 2).then(() => controller.abort());
      const aborted = runFlow(PoolFlow, {
        home,
        compute,
        maxWorkers: 3,
        signal: controller.signal,
        params: { route: 'fan', splits: 6, sleepMs: 300 },
        onEvent: abortedLog.onEvent,
      }).then((run) => ({ run, healthyBodies: healthyLog.finished('body') }));
      const [h, f, a] = await Promise.all([healthy, failing, aborted]);

      expect(f.run.status).toBe('failed');
      expect(f.run.error?.message).toMatch(/planned failure of body\[1\]/);
      expect(a.run.status).toBe('aborted');
      // Their ends came while the healthy run was still going.
      expect(f.healthyBodies).toBeLessThan(30);
      expect(a.healthyBodies).toBeLessThan(30);
      // Every task of the healthy run succeeded at its first attempt: none was ABORTED or WORKER_LOST.
      await expectCleanRun(h, 34);
      expect((await h.data()).total).toBe((30 * 31) / 2);
      // The cancelled attempts of the other two were recorded as such.
      const abortedCodes = new Set<string>();
      for (const t of await tasksOf(a.run))
        for (const at of await a.run.metadata.listAttempts({ flow: a.run.flow, runId: a.run.runId, taskId: t.taskId }))
          if (at.error) abortedCodes.add(at.error.code);
      expect([...abortedCodes]).toEqual(['ABORTED']);
      expectNoWorkerLeft(compute, (await pidsByTask(h)).values());
    } finally {
      await compute.close();
    }
  });

  test('issue 11 item 7: after all runs end no worker process is left, whatever the runs did', async () => {
    const compute = countingCompute();
    const home = join(base, 'leftovers');
    try {
      // Two contexts, a failing run, and workers whose end step left a ref'd 60 s timer behind.
      const runs = await Promise.all([
        runFlow(PoolFlow, { home, compute, maxWorkers: 2, params: { route: 'fan', splits: 4, sleepMs: 30, leaveTimer: true } }),
        runFlow(PoolFlow, { home, compute, maxWorkers: 2, params: { route: 'fan', splits: 4, sleepMs: 100, failAt: 2 } }),
        runFlow(OtherPoolFlow, { home, compute, maxWorkers: 1, params: { sleepMs: 20 } }),
      ]);
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
      const pids: number[] = [];
      for (const run of runs) pids.push(...(await pidsByTask(run)).values());
      expect(pids.length).toBeGreaterThan(0);
      // Nothing left: every launched job's result settled, and no recorded worker pid is alive.
      expectNoWorkerLeft(compute, pids);
      // The pool started afresh for a later run.
      const later = await runFlow(OtherPoolFlow, { home, compute, maxWorkers: 1 });
      await expectCleanRun(later, 4);
      expectNoWorkerLeft(compute, (await pidsByTask(later)).values());
    } finally {
      await compute.close();
    }
  });

  test('issue 11 item 7: a variable passed by name to one run does not reach a concurrent run of the same flow without it', async () => {
    const compute = countingCompute();
    const home = join(base, 'env');
    process.env[POOL_VAR] = 'only-for-the-first-run';
    try {
      const params = { route: 'fan', splits: 6, sleepMs: 40 };
      const [withVar, without] = await Promise.all([
        runFlow(PoolFlow, { home, compute, maxWorkers: 2, envPass: [POOL_VAR], params }),
        runFlow(PoolFlow, { home, compute, maxWorkers: 2, params }),
      ]);
      await expectCleanRun(withVar, 10);
      await expectCleanRun(without, 10);
      const envs = async (run: Run) => Promise.all((await tasksOf(run)).map(async (t) => artifactOf(run, t.taskId, 'env')));
      expect(new Set(await envs(withVar))).toEqual(new Set(['only-for-the-first-run']));
      expect(new Set(await envs(without))).toEqual(new Set([null]));
      expect((await withVar.data()).bodyEnvs).toEqual(Array(6).fill('only-for-the-first-run'));
      expect((await without.data()).bodyEnvs).toEqual(Array(6).fill(null));
      // The two runs never shared a worker.
      const withPids = new Set((await pidsByTask(withVar)).values());
      const withoutPids = new Set((await pidsByTask(without)).values());
      expect([...withPids].filter((p) => withoutPids.has(p))).toEqual([]);
      expectNoWorkerLeft(compute, [...withPids, ...withoutPids]);
    } finally {
      delete process.env[POOL_VAR];
      await compute.close();
    }
  });
});
