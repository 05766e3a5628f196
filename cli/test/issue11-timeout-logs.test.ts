import { afterAll, expect, test } from 'vitest';
import { runFlow } from '../src/index.ts';
import { PrintThenHangFlow } from './fixtures/issue11-timeout-logs.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-timeout-logs-');
afterAll(cleanup);

for (const compute of [undefined, 'local-jobs://']) {
  test(`issue 11 item 6: the output of an attempt stopped by @timeout is stored (${compute ?? 'warm pool'})`, async () => {
    const run = await runFlow(PrintThenHangFlow, { home, ...(compute ? { compute } : {}) });
    expect(run.status).toBe('failed');
    const [task] = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items;
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: task!.taskId });
    expect(attempts.map((a) => a.error?.code)).toEqual(['TIMEOUT']);
    const log = await run.datastore.get(`${run.flow}/${run.runId}/start/${task!.taskId}/0.stdout.log`);
    expect(Buffer.from(log).toString('utf8')).toBe('before the hang\n');
  });
}
