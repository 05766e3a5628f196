import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { runFlow } from '../src/index.ts';
import { ImportThrowsFlow } from './fixtures/issue11-import-throws.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-jobs-load-');
afterAll(cleanup);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

test('issue 11 item 4: a flow module that throws where the job loads it fails FLOW_LOAD, once, with its error stored', async () => {
  const run = await runFlow(ImportThrowsFlow, { home, compute: 'local-jobs://' });
  expect(run.status).toBe('failed');
  expect(run.error?.message).toContain('boom at import');
  const [task] = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items;
  const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: task!.taskId });
  // Retrying cannot help: one attempt, despite @retry({ times: 3 }).
  expect(attempts.map((a) => a.error?.code)).toEqual(['FLOW_LOAD']);
  const log = await run.datastore.get(`${run.flow}/${run.runId}/start/${task!.taskId}/0.stderr.log`);
  expect(Buffer.from(log).toString('utf8')).toContain('boom at import');
});

test('issue 11 item 8: a one-file script that runs its flow at top level on local jobs starts no run inside its tasks', () => {
  const h = join(home, 'one-file');
  const r = spawnSync(
    process.execPath,
    ['--conditions=tributary-source', '--import', import.meta.resolve('tsx'), join(fixtures, 'issue11-one-file-jobs.ts')],
    {
      cwd: fileURLToPath(new URL('../', import.meta.url)),
      env: { ...process.env, SCRIPT_HOME: h },
      encoding: 'utf8',
      timeout: 90_000,
    },
  );
  expect(r.stdout).toContain('RESULT succeeded 14');
  expect(r.status).toBe(0);
  // Exactly one run: no job started one of its own.
  const again = spawnSync(process.execPath, [join(fixtures, '../../bin/tributary.js'), 'runs', 'OneFileJobsFlow', '--home', h], {
    encoding: 'utf8',
  });
  expect(
    again.stdout
      .trim()
      .split('\n')
      .filter((l) => /^\s*\d+\s/.test(l) || /OneFileJobsFlow\/\d+/.test(l)),
  ).toHaveLength(1);
});

test('issue 11 item 3: `import.meta.url` inside a string stays text; in code it names the source file (pool and jobs)', async () => {
  const { MetaStringFlow } = await import('./fixtures/issue11-meta-flow.ts');
  for (const compute of [undefined, 'local-jobs://']) {
    const run = await runFlow(MetaStringFlow, { home: join(home, 'meta'), ...(compute ? { compute } : {}) });
    expect(run.error?.message).toBeUndefined();
    const data = await run.data('start');
    expect(data.hint).toBe('pass import.meta.url to runFlow');
    expect(data.helperUrl).toBe(new URL('./fixtures/issue11-meta-helper.ts', import.meta.url).href);
    expect(data.ownUrl).toBe(new URL('./fixtures/issue11-meta-flow.ts', import.meta.url).href);
  }
});

test('issue 11 item 3: a flow importing the distribution (with its native SQLite addon) runs on local jobs', async () => {
  const { ImportsTributaryFlow } = await import('./fixtures/issue11-imports-tributary.ts');
  const run = await runFlow(ImportsTributaryFlow, { home: join(home, 'dist'), compute: 'local-jobs://' });
  expect(run.error?.message).toBeUndefined();
  expect((await run.data('start')).message).toBe('ran from the distribution');
});
