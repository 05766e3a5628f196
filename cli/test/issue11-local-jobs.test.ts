import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  ArtifactStore,
  createFsDatastore,
  createLocalCompute,
  createSqliteMetadataStore,
  resumeFlow,
  runFlow,
  TASK_EXIT,
  TributaryError,
  type ComputeBackend,
  type ComputeJob,
  type FlowSpec,
  type JobResult,
  type LaunchSpec,
  type RunResult as Run,
  type RunFlowOptions,
} from '../src/index.ts';
import { HOST_BASICS } from '../../core/src/execution/host-environment.ts';
import { runCli } from './cli-process.ts';
import * as jobs from './fixtures/issue11-jobs.ts';
import * as r from './fixtures/resumable.ts';
import * as shapes from './fixtures/shapes.ts';
import { tempHome } from './helpers.ts';

const { home: base, cleanup } = tempHome('tributary-issue11-jobs-');
afterAll(cleanup);

/** A jobsOnly LocalCompute behind a backend that keeps every LaunchSpec it is given and every job's result. */
interface Launch {
  spec: LaunchSpec;
  job: ComputeJob;
}
function recordingCompute(): ComputeBackend & { launches: Launch[]; results(): Promise<Array<{ spec: LaunchSpec; result: JobResult }>> } {
  const inner = createLocalCompute({ jobsOnly: true });
  const launches: Launch[] = [];
  return {
    name: 'recording-local-jobs',
    capabilities: inner.capabilities,
    launches,
    async launch(spec, options) {
      const copy = structuredClone(spec);
      const job = await inner.launch(spec, options);
      launches.push({ spec: copy, job });
      return job;
    },
    results: () => Promise.all(launches.map(async (l) => ({ spec: l.spec, result: await l.job.result }))),
    close: () => inner.close(),
  };
}

/** `Flow/run/step/task/attempt` of a launch. */
function stepOf(spec: LaunchSpec): string {
  return spec.name.split('/')[2]!;
}

async function allTasks(run: Run) {
  const tasks = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId })).items;
  return tasks.filter((t) => t.step !== '_parameters');
}

/** Every task of a run by its key, with its artifacts' content addresses by name. */
async function artifactsByTask(run: Run): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const t of await allTasks(run)) {
    const refs = await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: t.taskId });
    out[t.key] = Object.fromEntries(refs.map((a) => [a.name, a.sha]));
  }
  return out;
}

async function artifact(run: Run, taskId: string, name: string): Promise<unknown> {
  const task = await run.metadata.getTask({ flow: run.flow, runId: run.runId, taskId });
  const ref = (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId })).find((a) => a.name === name);
  if (!ref) throw new Error(`task ${task.key} has no artifact ${name}`);
  return new ArtifactStore(run.datastore, run.flow).forTask(`${run.flow}/${run.runId}/${task.step}/${taskId}`).load(ref);
}

async function keysUnder(run: Run, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await run.datastore.list(prefix, cursor ? { cursor } : {});
    keys.push(...page.keys);
    cursor = page.cursor;
  } while (cursor);
  return keys;
}

async function text(run: Run, key: string): Promise<string> {
  return Buffer.from(await run.datastore.get(key)).toString('utf8');
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    return e.isDirectory() ? filesUnder(full) : e.isFile() ? [full] : [];
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('local jobs: every task attempt its own process', () => {
  test('issue 11 item 8: tributary run examples/train.ts --compute local-jobs:// prints best alpha: 10', async () => {
    const home = join(base, 'train-cli');
    const res = runCli(home, ['run', 'examples/train.ts', '--compute', 'local-jobs://', '--home', home, '--no-progress']);
    expect(res.stderr).toMatch(/Run TrainFlow\/\d+ succeeded/);
    expect(res.stdout).toMatch(/\[TrainFlow\/\d+\/end\/\d+\] best alpha: 10 \(validation MSE \d+\.\d+\)/);
    expect(res.code).toBe(0);
    const runId = res.stdout.trim().split('\n').pop()!.split('/')[1]!;
    // It really ran as one job per attempt: recorded so, and every task wrote its outcome to the datastore.
    const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
    try {
      const run = await md.getRun('TrainFlow', runId);
      expect(run.systemTags).toContain('executor:jobs');
      expect(run.systemTags.some((t) => t.startsWith('code-package:'))).toBe(true);
      const tasks = (await md.listTasks({ flow: 'TrainFlow', runId })).items.filter((t) => t.step !== '_parameters');
      expect(tasks.map((t) => t.step).sort()).toEqual(['end', 'pick', 'start', ...Array<string>(10).fill('fit')].sort());
      for (const t of tasks) {
        expect(t.status).toBe('succeeded');
        expect(existsSync(join(home, 'datastore', 'TrainFlow', runId, t.step, t.taskId, '0.outcome.json~'))).toBe(true);
      }
    } finally {
      await md.close();
    }
  });

  const SHAPES: Array<[string, new () => FlowSpec, Record<string, unknown>]> = [
    ['linear', shapes.LinearFlow, { factor: 5 }],
    ['branch + join', shapes.BranchFlow, {}],
    ['nested branches', shapes.NestedBranchFlow, {}],
    ['foreach', shapes.ForeachFlow, {}],
    ['nested foreach', shapes.NestedForeachFlow, {}],
    ['foreach inside a branch', shapes.ForeachInBranchFlow, {}],
    ['switch (odd)', shapes.SwitchRouteFlow, { n: 7 }],
    ['switch (even)', shapes.SwitchRouteFlow, { n: 8 }],
    ['switch loop', shapes.SwitchLoopFlow, { target: 4 }],
  ];

  // Concurrently: a job spends much of its life starting and waiting on the stores, so overlapping runs keep the file short.
  test.concurrent.for(SHAPES)(
    'issue 11 item 8: graph shape %s: same tasks and artifacts with local jobs as with the warm pool',
    // The nine shapes run at once, each twice, every local job its own process: on 2 cores they
    // share the CPU with the other test file, so each takes about as long as all of them.
    { timeout: 180_000 },
    async ([name, flow, params], { expect }) => {
      const home = join(base, `shape-${name.replace(/\W+/g, '-')}`);
      const compute = recordingCompute();
      try {
        const [pool, jobRun] = await Promise.all([
          runFlow(flow, { home, params, maxWorkers: 2 }),
          runFlow(flow, { home, params, maxWorkers: 2, compute }),
        ]);
        for (const run of [pool, jobRun]) {
          expect(run.error?.message).toBeUndefined();
          expect(run.status).toBe('succeeded');
        }
        expect((await jobRun.metadata.getRun(jobRun.flow, jobRun.runId)).systemTags).toContain('executor:jobs');
        expect((await pool.metadata.getRun(pool.flow, pool.runId)).systemTags).not.toContain('executor:jobs');
        // Same task keys, and every artifact of every task has the same content address.
        const expected = await artifactsByTask(pool);
        expect(await artifactsByTask(jobRun)).toEqual(expected);
        expect(await jobRun.data()).toEqual(await pool.data());
        // One process launched per attempt (these flows have one attempt per task).
        const tasks = await allTasks(jobRun);
        expect(compute.launches.map((l) => l.spec.name).sort()).toEqual(
          tasks.map((t) => `${jobRun.flow}/${jobRun.runId}/${t.step}/${t.taskId}/0`).sort(),
        );
      } finally {
        await compute.close();
      }
    },
  );

  test('issue 11 item 8: each attempt is a fresh child process (distinct pids, none the orchestrator)', async () => {
    const compute = recordingCompute();
    try {
      const run = await runFlow(jobs.PidFlow, { home: join(base, 'pids'), maxWorkers: 2, compute });
      expect(run.error?.message).toBeUndefined();
      expect(run.status).toBe('succeeded');
      const tasks = await allTasks(run);
      expect(tasks).toHaveLength(6); // start, body × 3, join, end
      const pids: number[] = [];
      const loggedPids: number[] = [];
      for (const t of tasks) {
        const pid = (await artifact(run, t.taskId, 'pid')) as number;
        expect(await artifact(run, t.taskId, 'ppid')).toBe(process.pid); // a child of this orchestrator
        pids.push(pid);
        const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: t.taskId });
        expect(attempts).toHaveLength(t.key === 'body[1]' ? 2 : 1);
        for (const a of attempts) {
          const log = await text(run, `${run.flow}/${run.runId}/${t.step}/${t.taskId}/${a.attempt}.stdout.log`);
          const m = /^pid=(\d+) attempt=(\d+)\n$/.exec(log);
          expect(m, log).not.toBeNull();
          expect(Number(m![2])).toBe(a.attempt);
          loggedPids.push(Number(m![1]));
          if (a.status === 'succeeded') expect(Number(m![1])).toBe(pid);
        }
      }
      expect(new Set(pids).size).toBe(6);
      expect(loggedPids).toHaveLength(7); // the failed first attempt of body[1] ran in a process of its own too
      expect(new Set(loggedPids).size).toBe(7);
      expect(loggedPids).not.toContain(process.pid);
      expect(compute.launches).toHaveLength(7);
      const joinTask = tasks.find((t) => t.step === 'join')!;
      const bodies = tasks.filter((t) => t.step === 'body');
      expect(await artifact(run, joinTask.taskId, 'bodyPids')).toEqual(
        await Promise.all(bodies.map((b) => artifact(run, b.taskId, 'pid'))),
      );
    } finally {
      await compute.close();
    }
  });

  test('issue 11 item 8: a resume after a failure injected through envPass clones as with the pool', async () => {
    const PASS = ['TRIB_FAIL', 'TRIB_LOG'];
    const outcome: Record<string, { before: string[]; after: string[]; cloned: number; end: Record<string, string>; origins: number }> = {};
    try {
      for (const mode of ['pool', 'jobs'] as const) {
        const home = join(base, `resume-${mode}`);
        const log = join(home, 'executions.log');
        const executions = () => {
          if (!existsSync(log)) return [];
          const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
          rmSync(log);
          return lines;
        };
        const opts: RunFlowOptions = { home, envPass: PASS, maxWorkers: 1, ...(mode === 'jobs' ? { compute: 'local-jobs://' } : {}) };
        process.env.TRIB_LOG = log;
        process.env.TRIB_FAIL = 'c';
        const failed = await runFlow(r.ResumeLinear, opts);
        expect(failed.status).toBe('failed');
        expect((failed.error!.cause as Error).message).toContain('injected failure in c');
        const before = executions();
        process.env.TRIB_FAIL = 'nothing'; // fixed: the same variable, passed the same way, now fails no step
        const resumed = await resumeFlow(r.ResumeLinear, opts);
        expect(resumed.error?.message).toBeUndefined();
        expect(resumed.status).toBe('succeeded');
        expect(resumed.originRunId).toBe(failed.runId);
        const tasks = await allTasks(resumed);
        const end = await artifactsByTask(resumed);
        outcome[mode] = {
          before,
          after: executions(),
          cloned: resumed.clonedTasks,
          end: end.end!,
          origins: tasks.filter((t) => t.originPathspec?.startsWith(`${failed.flow}/${failed.runId}/`)).length,
        };
      }
    } finally {
      delete process.env.TRIB_FAIL;
      delete process.env.TRIB_LOG;
    }
    expect(outcome.jobs).toEqual({ before: ['start', 'a', 'b'], after: ['c', 'end'], cloned: 3, end: outcome.pool!.end, origins: 3 });
    expect(outcome.jobs).toEqual(outcome.pool);
  });
});

describe('local jobs: what a task gets of the environment', () => {
  test("issue 11 item 5: a secret in the orchestrator's environment reaches no job, no log, no metadata, no datastore object; envPass does", async () => {
    const secret = `sk-live-issue11-${randomUUID()}`;
    const passed = `passed-issue11-${randomUUID()}`;
    const home = join(base, 'env');
    const compute = recordingCompute();
    process.env.TRIB_SECRET_TOKEN = secret;
    process.env.TRIB_ISSUE11_PASSED = passed;
    let run: Run;
    try {
      run = await runFlow(jobs.EnvFlow, { home, compute, envPass: ['TRIB_ISSUE11_PASSED'], maxWorkers: 1 });
      expect(process.env.TRIB_SECRET_TOKEN).toBe(secret); // it was there all along
    } finally {
      delete process.env.TRIB_SECRET_TOKEN;
      delete process.env.TRIB_ISSUE11_PASSED;
      await compute.close();
    }
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');

    // The launch specs: the passed variable by value, the secret neither by value nor by name.
    expect(compute.launches).toHaveLength(2);
    const specs = JSON.stringify(compute.launches.map((l) => l.spec));
    expect(specs).not.toContain(secret);
    expect(specs).not.toContain('TRIB_SECRET_TOKEN');
    for (const { spec } of compute.launches) expect(spec.env?.TRIB_ISSUE11_PASSED).toBe(passed);

    // What the task saw: its whole environment.
    const start = (await allTasks(run)).find((t) => t.step === 'start')!;
    const envJson = (await artifact(run, start.taskId, 'env')) as string;
    expect(envJson).not.toContain(secret);
    const env = JSON.parse(envJson) as Record<string, string>;
    expect(env.TRIB_SECRET_TOKEN).toBeUndefined();
    expect(env.TRIB_ISSUE11_PASSED).toBe(passed);
    expect(await artifact(run, start.taskId, 'passed')).toBe(passed);
    // Nothing but the host basics, the task's identity and what was passed by name.
    const allowed = new Set([...HOST_BASICS, 'TRIB_ISSUE11_PASSED']);
    expect(Object.keys(env).filter((k) => !allowed.has(k) && !k.startsWith('TRIBUTARY_'))).toEqual([]);
    expect(env.TRIBUTARY_FLOW).toBe('EnvFlow');

    // Stored logs (every key of the run in the datastore).
    const keys = await keysUnder(run, `${run.flow}/${run.runId}/`);
    const logs = keys.filter((k) => k.endsWith('.log'));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(await text(run, key), key).not.toContain(secret);
    const startLog = await text(run, `${run.flow}/${run.runId}/start/${start.taskId}/0.stdout.log`);
    expect(startLog).toContain(passed); // the env dump was printed and stored
    expect(await text(run, `${run.flow}/${run.runId}/start/${start.taskId}/0.stderr.log`)).toBe(`passed=${passed}\n`);

    // Metadata, through everything the MetadataStore port offers to read.
    const md = run.metadata;
    const dump: unknown[] = [
      await md.getRun(run.flow, run.runId),
      await md.listRuns({ flow: run.flow }),
      await md.listRuns({}),
      await md.latestRun(run.flow),
    ];
    for (const t of (await md.listTasks({ flow: run.flow, runId: run.runId })).items) {
      const ref = { flow: run.flow, runId: run.runId, taskId: t.taskId };
      dump.push(
        t,
        await md.getTask(ref),
        await md.listAttempts(ref),
        await md.listArtifacts(ref),
        await md.getMetadata(ref),
        await md.listChildren(ref),
      );
    }
    expect(JSON.stringify(dump)).not.toContain(secret);

    // Every object of the fs datastore (and every other file of the home folder: the SQLite database too), byte by byte.
    const files = filesUnder(home);
    expect(files.some((f) => f.startsWith(join(home, 'datastore')))).toBe(true);
    expect(files.filter((f) => readFileSync(f).includes(secret))).toEqual([]);
    expect(files.filter((f) => readFileSync(f).includes(passed)).length).toBeGreaterThan(0); // the scan does see values
  });
});

describe('local jobs: decorators reach the backend', () => {
  test('issue 11 item 6: @resources reaches LaunchSpec.resources, @timeout reaches timeoutMs; a stuck step fails TIMEOUT and @retry retries it', async () => {
    const compute = recordingCompute();
    let run: Run;
    try {
      run = await runFlow(jobs.ResourcesTimeoutFlow, { home: join(base, 'resources'), compute, maxWorkers: 1 });
    } finally {
      await compute.close();
    }
    expect(run.status).toBe('failed');
    const results = await compute.results();
    const start = results.filter((l) => stepOf(l.spec) === 'start');
    const stuck = results.filter((l) => stepOf(l.spec) === 'stuck');
    expect(start).toHaveLength(1);
    expect(start[0]!.spec.resources).toEqual({ cpu: 2, memory: 512 });
    expect(start[0]!.spec.timeoutMs).toBeUndefined();
    expect(stuck.map((l) => l.spec.name.split('/').pop())).toEqual(['0', '1']);
    for (const l of stuck) {
      // The job stops the step itself 1 s after its code is entered; the backend's limit is the
      // backstop for a step that blocks its event loop, with the job's start-up allowed for.
      expect(l.spec.timeoutMs).toBe(1000 + 30_000);
      expect(l.spec.resources).toBeUndefined();
      expect(l.result.exitCode).toBe(1);
    }
    const task = (await allTasks(run)).find((t) => t.step === 'stuck')!;
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: task.taskId });
    expect(attempts.map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'TIMEOUT'],
      ['failed', 'TIMEOUT'],
    ]);
    for (const a of attempts) expect(a.error!.message).toMatch(/ran longer than its @timeout of 1s and was stopped/);
    expect(run.error!.code).toBe('RUN_FAILED');
  });

  test('issue 11 item 6: @timeout counts from when the step is entered, not from the job start', async () => {
    const run = await runFlow(jobs.ShortUnderTimeout, { home: join(base, 'under-timeout'), compute: 'local-jobs://' });
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
  });

  test('issue 11 item 6: checkpoints saved before the job is SIGKILLed are seen by the retry', async () => {
    const compute = recordingCompute();
    let run: Run;
    try {
      run = await runFlow(jobs.KilledCheckpointFlow, { home: join(base, 'checkpoints'), compute, maxWorkers: 1 });
    } finally {
      await compute.close();
    }
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    const data = await run.data('start');
    expect(data.resumedFrom).toEqual({ step: 3 });
    expect(data.seen).toBe(3);
    const start = (await allTasks(run)).find((t) => t.step === 'start')!;
    const ref = { flow: run.flow, runId: run.runId, taskId: start.taskId };
    expect((await run.metadata.listAttempts(ref)).map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'WORKER_LOST'],
      ['succeeded', undefined],
    ]);
    const killed = (await compute.results()).filter((l) => stepOf(l.spec) === 'start');
    expect(killed.map((l) => [l.result.signal, l.result.exitCode])).toEqual([
      ['SIGKILL', null],
      [null, 0],
    ]);
    // The records the killed job stored, and what the orchestrator committed from them.
    const pathspec = `${run.flow}/${run.runId}/start/${start.taskId}`;
    expect(await keysUnder(run, `${pathspec}/0.checkpoints/`)).toHaveLength(3);
    const meta = await run.metadata.getMetadata(ref);
    expect(Object.keys(meta).filter((k) => k.startsWith('checkpoint:'))).toHaveLength(3);
  });
});

describe('local jobs: logs and exit codes', () => {
  test("issue 11 item 4: a running step's output is in the datastore before the step ends", async () => {
    const home = join(base, 'live');
    let pathspec: string | undefined;
    let finished = false;
    const running = runFlow(jobs.LiveLogFlow, {
      home,
      compute: 'local-jobs://',
      maxWorkers: 1,
      onEvent: (e) => void (e.type === 'task-started' && e.step === 'slow' && (pathspec = e.pathspec)),
    }).finally(() => (finished = true));
    const ds = createFsDatastore({ root: join(home, 'datastore') });
    let live: { log: string; outcomeStored: boolean } | undefined;
    try {
      while (!finished && !live) {
        await sleep(100);
        if (!pathspec) continue;
        try {
          const log = Buffer.from(await ds.get(`${pathspec}/0.stdout.log`)).toString('utf8');
          const outcomeStored = await ds.get(`${pathspec}/0.outcome.json`).then(
            () => true,
            (err: unknown) => (TributaryError.is(err, 'NOT_FOUND') ? false : Promise.reject(err)),
          );
          live = { log, outcomeStored };
        } catch (err) {
          if (!TributaryError.is(err, 'NOT_FOUND')) throw err;
        }
      }
    } finally {
      await ds.close();
    }
    const stillRunning = !finished;
    const run = await running;
    expect(run.status).toBe('succeeded');
    expect(live).toEqual({ log: 'issue11 live line before the wait\n', outcomeStored: false });
    expect(stillRunning).toBe(true);
    expect(await text(run, `${pathspec}/0.stdout.log`)).toBe('issue11 live line before the wait\nissue11 live line after the wait\n');
  });

  test('issue 11 item 4: job exit codes: 0 on success, 1 on a user failure, 2 when the job cannot run the attempt', async () => {
    expect(TASK_EXIT).toEqual({ SUCCEEDED: 0, USER_FAILURE: 1, INFRASTRUCTURE: 2 });
    const home = join(base, 'exit');
    const compute = recordingCompute();
    try {
      const run = await runFlow(jobs.ExitCodeFlow, { home, compute, maxWorkers: 1 });
      expect(run.status).toBe('failed');
      expect(run.error!.message).toMatch(/^Task ExitCodeFlow\/\d+\/boom\/\d+ failed: RangeError: issue11 user failure$/);
      const byStep = Object.fromEntries((await compute.results()).map((l) => [stepOf(l.spec), l.result]));
      expect(byStep.start).toEqual({ status: 'succeeded', exitCode: TASK_EXIT.SUCCEEDED, signal: null });
      expect(byStep.boom).toMatchObject({
        status: 'failed',
        exitCode: TASK_EXIT.USER_FAILURE,
        signal: null,
        failure: { kind: 'NON_ZERO_EXIT' },
      });
      const boom = (await allTasks(run)).find((t) => t.step === 'boom')!;
      expect(await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: boom.taskId })).toMatchObject([
        { status: 'failed', error: { code: 'USER_CODE' } },
      ]);

      // A flow export the code package does not have: the job cannot run the attempt at all.
      compute.launches.length = 0;
      const broken = await runFlow(jobs.ExitCodeFlow, { home, compute, maxWorkers: 1, flowExport: 'NoSuchFlowExport' });
      expect(broken.status).toBe('failed');
      const results = await compute.results();
      expect(results).toHaveLength(1); // fatal: not retried, nothing else started
      expect(results[0]!.result).toMatchObject({ status: 'failed', exitCode: TASK_EXIT.INFRASTRUCTURE });
      const start = (await allTasks(broken)).find((t) => t.step === 'start')!;
      expect(await broken.metadata.listAttempts({ flow: broken.flow, runId: broken.runId, taskId: start.taskId })).toMatchObject([
        { status: 'failed', error: { code: 'FLOW_LOAD' } },
      ]);
    } finally {
      await compute.close();
    }
  });
});
