import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { resumeFlow, runFlow } from 'tributary';
import { TrainFlow } from '../../../examples/train.ts';
import { SlowForeach } from '../../../cli/test/fixtures/resumable.ts';
import { createPostgresMetadataStore } from '../src/index.ts';
import { startTestPostgres, type TestPostgres } from '../src/testing/postgres-server.ts';

let server: TestPostgres;
const home = mkdtempSync(join(tmpdir(), 'tributary-pg-run-'));
beforeAll(async () => {
  server = await startTestPostgres();
});
afterAll(() => {
  server?.destroy();
  rmSync(home, { recursive: true, force: true });
});

test('examples/train.ts runs end to end with metadata in Postgres (library and CLI)', async () => {
  const url = `${server.url}?schema=examples`;
  const run = await runFlow(TrainFlow, { home, metadata: url });
  expect(run.status).toBe('succeeded');
  expect((await run.data()).bestAlpha).toBe(10);
  await run.close();

  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const r = spawnSync(process.execPath, ['cli/bin/tributary.js', 'run', 'examples/train.ts', '--metadata', url], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_HOME: home },
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('best alpha: 10');
  const dump = spawnSync(
    process.execPath,
    ['cli/bin/tributary.js', 'dump', r.stdout.trim().split('\n').pop()!, '--json', '--metadata', url],
    { cwd: root, env: { ...process.env, TRIBUTARY_HOME: home }, encoding: 'utf8' },
  );
  expect(JSON.parse(dump.stdout).artifacts.bestAlpha.value).toBe(10);
});

test('unreachable Postgres and bad databases fail with typed errors that never print the password', async () => {
  const store = createPostgresMetadataStore({ url: 'postgres://alice:s3cret@127.0.0.1:1/db', retry: { attempts: 2, baseDelayMs: 10 } });
  const err = (await store.latestRun('X').catch((e: unknown) => e)) as Error & { code: string };
  expect(err.code).toBe('INFRASTRUCTURE');
  expect(err.message).toContain('Cannot reach Postgres at alice@127.0.0.1:1/db');
  expect(err.message).not.toContain('s3cret');
  await store.close();
  const missing = createPostgresMetadataStore({ url: `${server.url.replace(/\/postgres$/, '/nope')}` });
  const e2 = (await missing.latestRun('X').catch((e: unknown) => e)) as Error & { code: string };
  expect(e2.code).toBe('CONFIG');
  expect(e2.message).toMatch(/does not exist/);
  await missing.close();
});

test('Postgres restarted during a run: the run survives (or fails resumably) and nothing finished is lost', async () => {
  const url = `${server.url}?schema=restart`;
  let restarted = false;
  const runP = runFlow(SlowForeach, {
    home,
    metadata: url,
    params: { n: 60, ms: 30 },
    maxNumSplits: 60,
    maxWorkers: 2,
    onEvent: (e) => {
      if (!restarted && e.type === 'task-finished' && e.step === 'body') {
        restarted = true;
        // stop + start the server this test started, while tasks keep finishing
        setTimeout(() => {
          server.stop();
          setTimeout(() => server.start(), 500);
        }, 100);
      }
    },
  });
  const run = await runP;
  expect(restarted).toBe(true);
  let final = run;
  console.info(`[restart test] run ${run.status}${run.error ? `: ${run.error.message}` : ' (survived the restart)'}`);
  if (run.status !== 'succeeded') {
    // a clean, typed failure; resume completes it
    expect(['INFRASTRUCTURE', 'RUN_FAILED']).toContain(run.error!.code);
    final = await resumeFlow(SlowForeach, { home, metadata: url, maxNumSplits: 60, originRunId: run.runId });
  }
  expect(final.status).toBe('succeeded');
  expect((await final.data()).total).toBe(59 * 60);
  const bodies = await final.metadata.listTasks({ flow: 'SlowForeach', runId: final.runId, step: 'body', limit: 1000 });
  expect(bodies.items).toHaveLength(60);
  expect(bodies.items.every((t) => t.status === 'succeeded')).toBe(true);
  await run.close();
  if (final !== run) await final.close();
});
