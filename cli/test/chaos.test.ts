import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { createSqliteMetadataStore, resumeFlow, runFlow, runLiveness } from '../src/index.ts';
import { SlowForeach } from './fixtures/resumable.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-chaos-');
afterAll(cleanup);

function childPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

test('chaos: workers SIGKILLed at random during a 200-task foreach with @retry; the run succeeds with every artifact right', async () => {
  let kills = 0;
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let started = false;
  const killer = setInterval(() => {
    const pids = childPids();
    if (!started || kills >= 10 || pids.length === 0) return;
    try {
      process.kill(pids[Math.floor(random() * pids.length)]!, 'SIGKILL');
      kills++;
    } catch {
      // it exited meanwhile
    }
  }, 200);
  const run = await runFlow(SlowForeach, {
    home,
    params: { n: 200, ms: 20 },
    maxNumSplits: 200,
    maxWorkers: 2,
    // start killing once splits are running, so most kills hit a worker in the middle of a task
    onEvent: (e) => void (e.type === 'task-started' && e.step === 'body' && (started = true)),
  });
  clearInterval(killer);
  expect(kills).toBeGreaterThanOrEqual(5);
  expect(run.error?.message).toBeUndefined();
  expect(run.status).toBe('succeeded');
  expect((await run.data()).total).toBe(199 * 200); // sum of 2i for i < 200
  const bodies = [];
  let cursor: string | undefined;
  do {
    const page = await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'body', ...(cursor ? { cursor } : {}) });
    bodies.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  expect(bodies).toHaveLength(200);
  expect(bodies.every((t) => t.status === 'succeeded')).toBe(true);
  let lost = 0;
  for (const t of bodies.filter((b) => b.attempts > 1)) {
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: t.taskId });
    lost += attempts.filter((a) => a.error?.code === 'WORKER_LOST').length;
  }
  expect(lost).toBeGreaterThan(0);
  await run.close();
});

test('the orchestrator SIGKILLed mid-run: the run is retired as failed and resume finishes it, cloning every finished task', async () => {
  const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
  const log = join(home, 'orchestrator-kill.log');
  const child = spawn(
    process.execPath,
    [
      bin,
      'run',
      'cli/test/fixtures/resumable.ts',
      '--flow',
      'SlowForeach',
      '--n',
      '60',
      '--ms',
      '40',
      '--max-num-splits',
      '60',
      '--max-workers',
      '2',
      '--env-pass',
      'TRIB_LOG',
      '--quiet',
    ],
    {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { ...process.env, TRIBUTARY_HOME: home, TRIB_LOG: log },
      stdio: 'ignore',
    },
  );
  // Let about a third of the splits finish, then kill the orchestrator outright.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 20) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 300)); // its workers leave on disconnect

  const metadata = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
  const origin = (await metadata.latestRun('SlowForeach'))!;
  expect(origin.status).toBe('running'); // nobody was left to record the end
  expect(await runLiveness(metadata, origin)).toMatchObject({ alive: false }); // `tributary runs` shows it stale
  const finished = (
    await metadata.listTasks({ flow: 'SlowForeach', runId: origin.runId, status: 'succeeded', limit: 10_000 })
  ).items.filter((t) => t.step !== '_parameters');
  expect(finished.length).toBeGreaterThan(5);
  await metadata.close();

  const resumed = await resumeFlow(SlowForeach, { home, envPass: ['TRIB_LOG'], maxWorkers: 2, maxNumSplits: 60 });
  expect(resumed.error?.message).toBeUndefined();
  expect(resumed.status).toBe('succeeded');
  expect(resumed.originRunId).toBe(origin.runId);
  expect(resumed.clonedTasks).toBe(finished.length);
  expect((await resumed.data()).total).toBe(59 * 60);
  expect((await resumed.metadata.getRun('SlowForeach', origin.runId)).status).toBe('failed');
  await resumed.close();
});
