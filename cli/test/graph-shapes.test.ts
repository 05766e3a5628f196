import { afterAll, describe, expect, test } from 'vitest';
import { runFlow, type FlowSpec } from '../src/index.ts';
import * as shapes from './fixtures/shapes.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);

async function endData(flow: new () => FlowSpec, params: Record<string, unknown> = {}) {
  const run = await runFlow(flow, { home, params, maxWorkers: 2 });
  try {
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    return await run.data();
  } finally {
    await run.close();
  }
}

describe('every graph shape runs and delivers its artifacts to end', () => {
  test('linear (declare fields, params, in-place mutation of a loaded artifact)', async () => {
    expect(await endData(shapes.LinearFlow, { factor: 5 })).toEqual({ factor: 5, value: 6, trail: ['start', 'double', 'addOne', 'end'] });
  });

  test('branch + join (inputs by step name, mergeArtifacts)', async () => {
    expect(await endData(shapes.BranchFlow)).toEqual({ base: 10, total: 23, names: ['left', 'right'] });
  });

  test('nested branches', async () => {
    expect(await endData(shapes.NestedBranchFlow)).toEqual({ result: 103 });
  });

  test('foreach (input, index, ordered join inputs)', async () => {
    expect(await endData(shapes.ForeachFlow)).toEqual({ items: [3, 1, 4, 1, 5], squares: [9, 1, 16, 1, 25], positions: [0, 1, 2, 3, 4] });
  });

  test('nested foreach', async () => {
    const data = await endData(shapes.NestedForeachFlow);
    expect(data.grid).toEqual([
      ['a1@0,0', 'a2@0,1'],
      ['b1@1,0', 'b2@1,1'],
      ['c1@2,0', 'c2@2,1'],
    ]);
  });

  test('foreach inside a branch', async () => {
    expect(await endData(shapes.ForeachInBranchFlow)).toEqual({ summary: 'plain:20' });
  });

  test('switch takes exactly one case', async () => {
    expect((await endData(shapes.SwitchRouteFlow, { n: 7 })).message).toBe('7 is odd');
    expect((await endData(shapes.SwitchRouteFlow, { n: 8 })).message).toBe('8 is even');
  });

  test('switch loop runs one task per iteration', async () => {
    const run = await runFlow(shapes.SwitchLoopFlow, { home, params: { target: 4 } });
    expect(run.status).toBe('succeeded');
    expect(await run.data()).toEqual({ target: 4, count: 4, more: false, visits: [1, 2, 3, 4] });
    const loops = await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'loop' });
    expect(loops.items.map((t) => t.key)).toEqual(['loop', 'loop#1', 'loop#2', 'loop#3']);
    await run.close();
  });
});
