import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createSqliteMetadataStore } from '../src/index.ts';
import { bin, root } from './cli-process.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);

/** Start `tributary run` of SlowFlow; resolves once its long step is running. */
async function startSlowRun(...extra: string[]) {
  const child = spawn(process.execPath, [bin, 'run', 'cli/test/fixtures/issue9-cli.ts', '--flow', 'SlowFlow', '--no-progress', ...extra], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/\] sleeping\n/.test(stdout)) resolve();
    });
    void exited.then(() => reject(new Error(`the run ended before its slow step: ${stdout}\n${stderr}`)));
  });
  const runId = /\[SlowFlow\/(\d+)\//.exec(stdout)![1]!;
  return { child, exited, runId, output: () => ({ stdout, stderr }) };
}

async function runStatus(runId: string) {
  const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
  try {
    const run = await md.getRun('SlowFlow', runId);
    const tasks = (await md.listTasks({ flow: 'SlowFlow', runId })).items;
    return { status: run.status, tasks: tasks.map((t) => [t.step, t.status]) };
  } finally {
    await md.close();
  }
}

describe('issue 9 item 7 (CLI): SIGTERM stops a run like Ctrl-C', () => {
  test('issue 9 item 7: kill -TERM of tributary run leaves the run aborted (not running) and exits 143', async () => {
    const run = await startSlowRun();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code, run.output().stderr).toBe(143);
    expect(run.output().stderr).toContain('SIGTERM: stopping the run');
    expect(run.output().stderr).toMatch(/error \[ABORTED\]: Run SlowFlow\/\d+ was stopped by SIGTERM and is recorded aborted/);
    expect((await runStatus(run.runId)).status).toBe('aborted');
  });

  test('issue 9 item 7: SIGINT does the same with exit code 130', async () => {
    const run = await startSlowRun();
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, run.output().stderr).toBe(130);
    expect((await runStatus(run.runId)).status).toBe('aborted');
  });

  test('issue 9 item 7: a second signal while stopping exits at once', async () => {
    // The task ignores SIGTERM, so stopping it waits for the backend's 2 s grace period.
    const run = await startSlowRun('--stubborn');
    run.child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (run.output().stderr.includes('stopping the run')) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code).toBe(143);
    expect(run.output().stderr).toContain('SIGTERM again: exiting now');
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});
