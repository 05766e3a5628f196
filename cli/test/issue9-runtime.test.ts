/**
 * Regression tests for issue 9, runtime items (5, 6, 7, 10, 11, 12, 13, 23, 24): each test name
 * starts with the item it covers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import {
  createFsDatastore,
  createSqliteMetadataStore,
  formatResumePlan,
  planResume,
  resumeFlow,
  runFlow,
  runLiveness,
  TributaryError,
  type Datastore,
  type MetadataStore,
  type RunResult as Run,
} from '../src/index.ts';
import * as f from './fixtures/issue9-runtime.ts';
import * as v1 from './fixtures/issue9-changing-v1.ts';
import * as v2 from './fixtures/issue9-changing-v2.ts';
import * as v3 from './fixtures/issue9-changing-v3.ts';
import * as v4 from './fixtures/issue9-changing-v4.ts';
import { tempHome } from './helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const { home, cleanup } = tempHome('tributary-i9-runtime-');
afterAll(cleanup);

function openMetadata(h = home): MetadataStore {
  return createSqliteMetadataStore({ path: join(h, 'metadata.sqlite') });
}

async function tasksOf(run: Run, step?: string) {
  return (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, ...(step ? { step } : {}), limit: 10_000 })).items;
}

async function logOf(run: Run, step: string, index = 0, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  const task = (await tasksOf(run, step))[index]!;
  const key = `${run.flow}/${run.runId}/${step}/${task.taskId}/${task.attempts - 1}.${stream}.log`;
  return (await run.datastore.head(key)) ? Buffer.from(await run.datastore.get(key)).toString('utf8') : '';
}

describe('issue 9 item 10: errors that escape a step are its own failure', () => {
  test('issue 9 item 10: an unawaited rejected promise fails the task as USER_CODE with its stack in stderr, not retried as a system failure', async () => {
    const run = await runFlow(f.UnawaitedRejectionFlow, { home, maxWorkers: 1 });
    expect(run.status).toBe('failed');
    const [start] = await tasksOf(run, 'start');
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start!.taskId });
    expect(attempts).toHaveLength(1); // @retry({ only: 'system' }) does not retry it
    expect(attempts[0]!.error!.code).toBe('USER_CODE');
    expect(attempts[0]!.error!.message).toContain('lost promise rejected');
    expect(attempts[0]!.error!.message).toContain('unhandled rejection');
    const stderr = await logOf(run, 'start', 0, 'stderr');
    expect(stderr).toContain('lost promise rejected');
    expect(stderr).toMatch(/issue9-runtime\.ts:\d+/); // the stack points into the step's file
    expect(await logOf(run, 'start')).toContain('before the lost promise');
  });

  test('issue 9 item 10: a throw inside setTimeout fails the task as USER_CODE', async () => {
    const run = await runFlow(f.TimerThrowFlow, { home, maxWorkers: 1 });
    expect(run.status).toBe('failed');
    const [start] = await tasksOf(run, 'start');
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start!.taskId });
    expect(attempts.map((a) => a.error?.code)).toEqual(['USER_CODE']);
    expect(attempts[0]!.error!.message).toContain('thrown in a timer');
    expect(run.error!.message).not.toContain('WORKER_LOST');
    expect(await logOf(run, 'start', 0, 'stderr')).toContain('thrown in a timer');
  });

  test('issue 9 item 10: the crashed worker is replaced and the other tasks and the retry still succeed', async () => {
    const run = await runFlow(f.CrashThenGoOnFlow, { home, maxWorkers: 1 });
    expect(run.status).toBe('succeeded');
    expect((await run.data('join')).total).toBe(12);
  });
});

describe('issue 9 item 11: output is attributed to the task that printed it', () => {
  test('issue 9 item 11: a line printed by a timer of split A after A returned lands in A’s log, not in B’s; the last task’s late line is kept', async () => {
    const run = await runFlow(f.LateOutputFlow, { home, maxWorkers: 1 });
    expect(run.status).toBe('succeeded');
    const bodies = await tasksOf(run, 'body');
    const logs = await Promise.all(bodies.map((_, i) => logOf(run, 'body', i)));
    const a = logs.find((l) => l.includes('A starts'))!;
    const b = logs.find((l) => l.includes('B starts'))!;
    expect(a).toContain('late line of A');
    expect(b).not.toContain('late line of A');
    expect(b).toContain('B returns');
    expect(await logOf(run, 'end')).toContain('late line of end');
  });

  test('issue 9 item 11: output of a child process relayed through the task’s streams is in the task’s log', async () => {
    const run = await runFlow(f.ChildOutputFlow, { home, maxWorkers: 1 });
    expect(run.status).toBe('succeeded');
    expect(await logOf(run, 'start')).toContain('from the child process');
    expect(await logOf(run, 'start', 0, 'stderr')).toContain('child stderr');
  });
});

describe('issue 9 item 12: the CLI relays all task output before it exits', () => {
  test('issue 9 item 12: all 30,000 lines an end step prints reach the terminal', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [bin, 'run', join(fixtures, 'issue9-runtime.ts'), '--flow', 'LoudEndFlow', '--no-progress', '--home', home],
        { cwd: root },
      );
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.resume();
      child.on('close', (code) => resolve({ code, stdout }));
    });
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter((l) => / line \d+ of the end step$/.test(l));
    expect(lines).toHaveLength(30000);
    expect(lines.at(-1)).toMatch(/line 29999 of the end step$/);
  });
});

describe('issue 9 item 6: a one-file script that runs its own flow', () => {
  test('issue 9 item 6: workers importing the script start no runs; the script’s run finishes with its result', () => {
    const h = join(home, 'script');
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(fixtures, 'issue9-one-file-script.ts')], {
      cwd: root,
      env: { ...process.env, SCRIPT_HOME: h },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout).toContain('RESULT succeeded 30');
    expect(r.status).toBe(0);
    const md = openMetadata(h);
    return md
      .listRuns({ flow: 'ScriptFlow' })
      .then((page) => expect(page.items.map((x) => x.status)).toEqual(['succeeded']))
      .finally(() => md.close());
  });
});

describe('issue 9 item 7: no run is left running', () => {
  test('issue 9 item 7: an invalid flow name is refused before any run is recorded', async () => {
    const h = join(home, 'badname');
    await expect(runFlow(f.Bad$Name, { home: h })).rejects.toMatchObject({ code: 'INVALID_KEY' });
    const md = openMetadata(h);
    try {
      expect((await md.listRuns({})).items).toEqual([]);
    } finally {
      await md.close();
    }
  });

  test('issue 9 item 7: a datastore that refuses writes (bad credentials) fails before the run is recorded', async () => {
    const h = join(home, 'refusing');
    const inner = createFsDatastore({ root: join(h, 'datastore') });
    const refusing: Datastore = Object.assign(Object.create(inner) as Datastore, {
      put: async () => {
        throw new TributaryError('CONFIG', 'access denied: the credentials were rejected');
      },
    });
    await expect(runFlow(f.WideFailingFlow, { home: h, datastore: refusing, params: { n: 3 } })).rejects.toThrow(/credentials/);
    const md = openMetadata(h);
    try {
      expect((await md.listRuns({})).items).toEqual([]);
    } finally {
      await md.close();
    }
  });

  test('issue 9 item 7: a failure after the run was recorded leaves it failed, not running', async () => {
    const h = join(home, 'late-failure');
    const md = openMetadata(h);
    const broken: MetadataStore = Object.assign(Object.create(md) as MetadataStore, {
      registerTasks: async () => {
        throw new TributaryError('INFRASTRUCTURE', 'database went away');
      },
    });
    try {
      const run = await runFlow(f.WideFailingFlow, { home: h, metadata: broken, params: { n: 3 }, maxWorkers: 1 });
      expect(run.status).toBe('failed');
      const stored = (await md.listRuns({ flow: 'WideFailingFlow' })).items[0]!;
      expect(stored.status).toBe('failed');
      const tasks = (await md.listTasks({ flow: stored.flow, runId: stored.runId })).items;
      expect(tasks.filter((t) => t.status === 'pending' || t.status === 'running')).toEqual([]);
    } finally {
      await md.close();
    }
  });

  test('issue 9 item 7: the tasks of a failed run and of an aborted run all get a final status', async () => {
    const failed = await runFlow(f.WideFailingFlow, { home, params: { n: 30 }, maxWorkers: 2, maxNumSplits: 200 });
    expect(failed.status).toBe('failed');
    const ac = new AbortController();
    const aborted = runFlow(f.SlowFlow, {
      home,
      maxWorkers: 2,
      signal: ac.signal,
      onEvent: (e) => void (e.type === 'task-started' && e.step === 'body' && ac.abort()),
    });
    const run = await aborted;
    expect(run.status).toBe('aborted');
    for (const r of [failed, run]) {
      const unfinished = (await tasksOf(r)).filter((t) => t.status === 'pending' || t.status === 'running');
      expect(unfinished).toEqual([]);
    }
    const never = (await tasksOf(failed, 'body')).filter((t) => t.attempts === 1 && t.status === 'failed');
    const errors = await Promise.all(
      never.map(async (t) => (await failed.metadata.listAttempts({ flow: failed.flow, runId: failed.runId, taskId: t.taskId }))[0]!.error),
    );
    expect(errors.some((e) => e?.code === 'ABORTED')).toBe(true);
  });

  test('issue 9 item 7: a run that never stored a heartbeat is not described by one', async () => {
    const md = openMetadata(join(home, 'no-heartbeat'));
    try {
      const rec = await md.createRun({ flow: 'GhostFlow', user: 'u', params: {}, tags: [], systemTags: [], codeHash: '', graph: {} });
      const live = await runLiveness(md, { ...rec, createdAt: Date.now() - 60_000 });
      expect(live.alive).toBe(false);
      expect(live.why).toMatch(/never recorded a heartbeat/);
      expect(live.why).not.toMatch(/last heartbeat/);
    } finally {
      await md.close();
    }
  });
});

describe('issue 9 item 13: orchestrator robustness', () => {
  test('issue 9 item 13: a reused pid on this host does not make a dead run look alive', async () => {
    const md = openMetadata(join(home, 'pid-reuse'));
    const sleeper = spawn('sleep', ['30']);
    try {
      const rec = await md.createRun({ flow: 'PidFlow', user: 'u', params: {}, tags: [], systemTags: [], codeHash: '', graph: {} });
      const t = await md.registerTask({ flow: 'PidFlow', runId: rec.runId, step: '_parameters', key: '_parameters', parents: [] });
      const ref = { flow: 'PidFlow', runId: rec.runId, taskId: t.taskId };
      await md.startAttempt(ref, 0);
      // The pid is alive, but belongs to a process that started at another time.
      await md.finishAttempt(ref, 0, {
        status: 'succeeded',
        artifacts: [],
        metadata: { host: hostname(), pid: String(sleeper.pid), 'pid-start': '1' },
      });
      const live = await runLiveness(md, { ...rec, heartbeatAt: Date.now() });
      expect(live.alive).toBe(false);
      expect(live.why).toMatch(/belongs to another process/);
    } finally {
      sleeper.kill();
      await md.close();
    }
  });

  test('issue 9 item 13: a flow module that crashes its worker with a signal while loading fails the run instead of respawning forever', async () => {
    const h = join(home, 'segv');
    const run = await runFlow(v1.ChangingFlow, {
      home: h,
      flowModule: join(fixtures, 'issue9-segfault-on-import.ts'),
      flowExport: 'ChangingFlow',
      maxWorkers: 2,
    });
    expect(run.status).toBe('failed');
    expect(run.error!.code).toBe('FLOW_LOAD');
    expect(run.error!.message).toMatch(/SIGSEGV/);
  });

  // `?` is left out: tsx's loader cuts a file name at `?` (a loader limit, not a URL one; gone once workers import compiled JavaScript).
  test('issue 9 item 13: flow module paths with # and % work', async () => {
    const dir = join(root, 'cli/test/.generated', 'odd #dir 100%');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(join(fixtures, 'issue9-changing-v2.ts'), join(dir, 'flow #1%.ts'));
    const run = await runFlow(v2.ChangingFlow, { home, flowModule: join(dir, 'flow #1%.ts'), flowExport: 'ChangingFlow', maxWorkers: 1 });
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('issue 9 item 24: runFlow closes what it opens', () => {
  const fds = () => readdirSync('/proc/self/fd').length;

  test('issue 9 item 24: 20 runs without run.close() leave no file descriptors behind, and their results stay readable', async () => {
    const h = join(home, 'fds');
    const first = await runFlow(v3.ChangingFlow, { home: h, maxWorkers: 1 });
    const before = fds();
    const runs: Run[] = [];
    for (let i = 0; i < 20; i++) runs.push(await runFlow(v3.ChangingFlow, { home: h, maxWorkers: 1 }));
    expect(fds() - before).toBeLessThanOrEqual(2);
    // Results are still readable (the stores reopen for each call and close again).
    expect((await runs.at(-1)!.data()).y).toBe(2);
    expect((await runs[0]!.metadata.listTasks({ flow: first.flow, runId: runs[0]!.runId })).items.length).toBeGreaterThan(0);
    expect(fds() - before).toBeLessThanOrEqual(2);
  });

  test('issue 9 item 24: stores passed in are not closed by runFlow', async () => {
    const h = join(home, 'given');
    const metadata = openMetadata(h);
    try {
      const run = await runFlow(v3.ChangingFlow, { home: h, metadata, maxWorkers: 1 });
      expect(run.metadata).toBe(metadata);
      expect((await metadata.getRun(run.flow, run.runId)).status).toBe('succeeded');
    } finally {
      await metadata.close();
    }
  });
});

describe('issue 9 item 5: resume after the flow changed', () => {
  test('issue 9 item 5: the failed step was renamed: the plan reflects the current graph and the resume runs', async () => {
    const h = join(home, 'renamed');
    const origin = await runFlow(v1.ChangingFlow, { home: h, maxWorkers: 1 });
    expect(origin.status).toBe('failed');
    const plan = await planResume(v2.ChangingFlow, { home: h });
    const text = formatResumePlan(plan);
    expect(plan.entries.find((e) => e.step === 'a')).toMatchObject({ action: 'unused' });
    expect(text).toMatch(/a +unused .*not in the flow any more/);
    expect(plan.entries.find((e) => e.step === 'b')).toMatchObject({ action: 'run' });
    expect(plan.entries.find((e) => e.step === 'start')).toMatchObject({ action: 'clone' });
    // prep's body changed (it now goes to b): cloned, and flagged.
    expect(plan.entries.find((e) => e.step === 'prep')).toMatchObject({ action: 'clone', codeChanged: true });
    expect(plan.changedSteps).toEqual(['prep']);
    expect(text).toMatch(/clone\* .*prep/);
    expect(text).toMatch(/--rerun-changed/);
    const resumed = await resumeFlow(v2.ChangingFlow, { home: h, maxWorkers: 1 });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.clonedTasks).toBe(2); // start, prep (the parameters are cloned too, not counted)
    expect((await resumed.data('b')).z).toBe(20);
  });

  test('issue 9 item 5: the failed step was removed: the resume runs and says the origin task is unused', async () => {
    const h = join(home, 'removed');
    expect((await runFlow(v1.ChangingFlow, { home: h, maxWorkers: 1 })).status).toBe('failed');
    const plan = await planResume(v3.ChangingFlow, { home: h });
    expect(plan.entries.filter((e) => e.action === 'unused').map((e) => e.step)).toEqual(['a']);
    const resumed = await resumeFlow(v3.ChangingFlow, { home: h, maxWorkers: 1 });
    expect(resumed.status).toBe('succeeded');
    expect((await resumed.data()).y).toBe(2);
  });

  test('issue 9 item 5: a step whose code changed is cloned by default and re-run with rerunChanged', async () => {
    const h = join(home, 'changed');
    expect((await runFlow(v1.ChangingFlow, { home: h, maxWorkers: 1 })).status).toBe('failed');
    const keep = await resumeFlow(v4.ChangingFlow, { home: h, maxWorkers: 1 });
    expect(keep.status).toBe('succeeded');
    expect((await keep.data('a')).z).toBe(2); // prep cloned: the old value

    const plan = await planResume(v4.ChangingFlow, { home: h, originRunId: '1', rerunChanged: true });
    expect(plan.entries.find((e) => e.step === 'prep')).toMatchObject({ action: 're-run' });
    expect(plan.entries.find((e) => e.step === 'start')).toMatchObject({ action: 'clone' });
    const rerun = await resumeFlow(v4.ChangingFlow, { home: h, originRunId: '1', rerunChanged: true, maxWorkers: 1 });
    expect(rerun.status).toBe('succeeded');
    expect((await rerun.data('a')).z).toBe(101); // prep re-ran with its new code
    expect(rerun.clonedTasks).toBe(1); // start
  });
});

describe('issue 9 item 23: resume --dry-run groups foreach splits', () => {
  test('issue 9 item 23: 120 splits of a failed foreach are a few lines, not 120', async () => {
    const h = join(home, 'wide');
    const origin = await runFlow(f.WideFailingFlow, { home: h, maxWorkers: 2, maxNumSplits: 200 });
    expect(origin.status).toBe('failed');
    const text = formatResumePlan(await planResume(f.WideFailingFlow, { home: h }));
    const bodyLines = text.split('\n').filter((l) => /^ {2}body /.test(l));
    expect(bodyLines.length).toBeLessThanOrEqual(6);
    expect(text).toMatch(/\d+ tasks body\[\d+\] … body\[\d+\]/);
    expect(text.split('\n').length).toBeLessThan(15);
  });
});

describe('issue 9 item 20: control characters in names and options', () => {
  test('issue 9 item 20: a home folder, tag or flow module with NUL or control characters gets a typed error showing them escaped', async () => {
    await expect(runFlow(v3.ChangingFlow, { home: '/tmp/x\0y' })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('"/tmp/x\\u0000y"'),
    });
    await expect(runFlow(v3.ChangingFlow, { home, tags: ['ok', 'bad\x1b]0;pwned\x07'] })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('\\u001b'),
    });
    await expect(runFlow(v3.ChangingFlow, { home, flowModule: '/tmp/a\nb.ts' })).rejects.toMatchObject({ code: 'CONFIG' });
  });
});

describe('issue 9: workers of a killed orchestrator', () => {
  const workersOf = (h: string) =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'utf8').includes(`ISSUE9_ORPHAN_HOME=${h}`);
        } catch {
          return false;
        }
      });

  test('issue 9 item 7/10: workers that print after their orchestrator was SIGKILLed exit instead of spinning on EPIPE', async () => {
    const h = join(home, 'orphans');
    const child = spawn(
      process.execPath,
      [bin, 'run', join(fixtures, 'issue9-runtime.ts'), '--flow', 'ChattyFlow', '--home', h, '--no-progress'],
      { cwd: root, env: { ...process.env, ISSUE9_ORPHAN_HOME: h }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.includes('tick 3') && resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const deadline = Date.now() + 5000;
    while (workersOf(h).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = workersOf(h);
    for (const pid of left) process.kill(Number(pid), 'SIGKILL'); // never leave a spinning process behind
    expect(left).toEqual([]);
  });
});

describe('issue 9 items 5 and 6 through the CLI', () => {
  const cli = (h: string, ...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args, '--home', h], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SCRIPT_HOME: h },
    });

  test('issue 9 item 6: tributary run of a one-file script runs the flow once (the script’s own runFlow call starts nothing)', async () => {
    const h = join(home, 'cli-script');
    const r = cli(h, 'run', join(fixtures, 'issue9-one-file-script.ts'), '--no-progress');
    expect(r.stderr).toMatch(/Run ScriptFlow\/\d+ succeeded/);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('RESULT');
    const md = openMetadata(h);
    try {
      expect((await md.listRuns({ flow: 'ScriptFlow' })).items).toHaveLength(1);
    } finally {
      await md.close();
    }
  });

  test('issue 9 item 5: resume --dry-run marks a changed step, --rerun-changed re-runs it', async () => {
    const h = join(home, 'cli-changed');
    expect(cli(h, 'run', join(fixtures, 'issue9-changing-v1.ts'), '--no-progress').status).toBe(1);
    const plan = cli(h, 'resume', join(fixtures, 'issue9-changing-v4.ts'), '--dry-run');
    expect(plan.status).toBe(0);
    expect(plan.stdout).toMatch(/prep +clone\* /);
    expect(plan.stdout).toContain('--rerun-changed');
    const rerun = cli(h, 'resume', join(fixtures, 'issue9-changing-v4.ts'), '--rerun-changed', '--dry-run');
    expect(rerun.stdout).toMatch(/prep +re-run .*its code changed/);
    const done = cli(h, 'resume', join(fixtures, 'issue9-changing-v4.ts'), '--rerun-changed', '--no-progress');
    expect(done.status).toBe(0);
    const dump = cli(h, 'dump', `${done.stdout.trim().split('\n').pop()!}/a`, '--json');
    expect(JSON.parse(dump.stdout).artifacts.z.value).toBe(101);
  });
});
