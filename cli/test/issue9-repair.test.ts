import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { runFlow } from '../src/index.ts';
import { RepairFlow } from './fixtures/issue9-repair-flow.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-issue9-repair-');
afterAll(cleanup);

test('issue 9 item 1: after a blob of an artifact is corrupted on disk, re-running the flow repairs it and succeeds', async () => {
  const first = await runFlow(RepairFlow, { home });
  expect(first.status).toBe('succeeded');
  const start = (await first.metadata.listTasks({ flow: first.flow, runId: first.runId, step: 'start' })).items[0]!;
  const ref = (await first.metadata.listArtifacts({ flow: first.flow, runId: first.runId, taskId: start.taskId })).find(
    (r) => r.name === 'model',
  )!;
  const path = join(home, 'datastore', first.flow, 'data', ref.sha.slice(0, 2), `${ref.sha}~`);
  const bytes = readFileSync(path);
  bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x55;
  writeFileSync(path, bytes);
  await expect(first.data()).rejects.toMatchObject({ code: 'INTEGRITY', context: { artifact: 'model' } });

  // The same task writes the same content again: the corrupt copy is replaced, train reads it.
  const second = await runFlow(RepairFlow, { home });
  expect(second.error?.message).toBeUndefined();
  expect(second.status).toBe('succeeded');
  const data = await second.data();
  expect(data.score).toBe(2.5);
  expect(data.model).toEqual({ weights: [0.25, 0.5, 0.75, 1], note: 'deterministic model '.repeat(20) });
  expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(ref.sha);
  // The first run's artifact is the same blob: it reads back too.
  expect((await first.data()).model).toEqual(data.model);
  await first.close();
  await second.close();
});
