import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runFlow, TributaryError } from '../src/index.ts';
import * as f from './fixtures/issue9-flow-api.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome('tributary-issue9-');
afterAll(cleanup);

async function artifactNames(run: Awaited<ReturnType<typeof runFlow>>, step: string): Promise<string[]> {
  const task = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step })).items[0]!;
  return (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: task.taskId })).map((r) => r.name).sort();
}

describe('issue 9: initialized and declared fields', () => {
  test('issue 9 item 2: in-place changes to initialized fields reach downstream steps', async () => {
    const run = await runFlow(f.InitializedFieldsFlow, { home });
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(JSON.parse(data.seen as string)).toEqual([[1, 2], { lr: 0.5, layers: [1, 2] }, { keep: true }, 1]);
    expect(data.items).toEqual([1, 2]);
    expect(data.cfg).toEqual({ lr: 0.5, layers: [1, 2] });
    // An unchanged default is code, not data: not stored. A helper holding a function is never stored.
    expect(await artifactNames(run, 'start')).toEqual(['cfg', 'counter', 'items']);
    expect(await artifactNames(run, 'end')).not.toContain('helper');
    await run.close();
  });

  test('issue 9 item 2: a default fanned out over is stored; defaults changed in splits and joins are kept', async () => {
    const run = await runFlow(f.InitializedForeachFlow, { home });
    expect(run.status).toBe('succeeded');
    expect((await run.data('start')).letters).toEqual(['a', 'b', 'c']);
    const data = await run.data();
    expect(data.results).toEqual(['A', 'B', 'C']);
    expect(data.log).toEqual(['joined 3', 'end']);
    await run.close();
  });

  test('issue 9 item 2: fields assigned in a constructor ([[Set]] semantics) behave the same', async () => {
    const run = await runFlow(f.AssignedInConstructorFlow, { home });
    expect(run.status).toBe('succeeded');
    expect((await run.data()).seen).toBe('7');
    await run.close();
  });

  test('issue 9 item 3: `input!: T; index!: number;` declarations do not hide this.input and this.index', async () => {
    const run = await runFlow(f.DeclaredInputFlow, { home });
    expect(run.status).toBe('succeeded');
    expect((await run.data()).all).toEqual(['0:x', '1:y']);
    await run.close();
  });

  test('issue 9 item 3: an initialized field named like a member of every flow is refused before anything runs', async () => {
    const fresh = join(home, 'refused-before-run');
    const err = await runFlow(f.InitializedIndexFlow, { home: fresh }).catch((e: unknown) => e);
    expect(TributaryError.is(err, 'GRAPH_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/^Field index of InitializedIndexFlow is initialized, but this\.index belongs to Tributary/);
    expect((err as Error).message).toMatch(/Rename the field/);
    expect(existsSync(fresh) ? readdirSync(fresh) : []).toEqual([]); // no store was even opened
  });
});

describe('issue 9: values between steps', () => {
  test('issue 9 item 4 and item 13: -0, "__proto__" keys, frozen Maps and frozen objects pass between steps exactly', async () => {
    const run = await runFlow(f.ExactValuesFlow, { home });
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(data.checks).toEqual({
      negZero: true,
      ownProto: true,
      protoValue: true,
      notPolluted: true,
      nestedNegZero: true,
      frozenMap: true,
      frozenObj: true,
    });
    expect(Object.is(data.negZero, -0)).toBe(true);
    await run.close();
  });

  test('issue 9 item 21: a 100,000-deep value fails with SERIALIZATION naming the artifact and step', async () => {
    const run = await runFlow(f.DeepValueFlow, { home });
    expect(run.status).toBe('failed');
    const cause = run.error!.cause as TributaryError;
    expect(cause.code).toBe('SERIALIZATION');
    expect(cause.message).toMatch(/^Artifact 'chain' of step start cannot be stored: it is nested too deeply \(more than 1000 levels/);
    await run.close();
  });
});

describe('issue 9: parameters from initializers', () => {
  test('issue 9 item 18: `@param() epochs = 10` runs with its default, and command-line strings are parsed by the inferred type', async () => {
    const run = await runFlow(f.InitializerParamsFlow, { home, params: { seed: 7 } });
    expect(run.status).toBe('succeeded');
    expect(JSON.parse((await run.data('start')).seen as string)).toEqual([10, 'number', false, 'baseline', { lr: [0.1, 0.01] }, 7]);
    await run.close();
    const given = await runFlow(f.InitializerParamsFlow, { home, params: { seed: '1', epochs: '3', dry: 'true', grid: '{"lr":[1]}' } });
    expect(given.status).toBe('succeeded');
    expect(JSON.parse((await given.data('start')).seen as string)).toEqual([3, 'number', true, 'baseline', { lr: [1] }, 1]);
    await given.close();
    await expect(runFlow(f.InitializerParamsFlow, { home })).rejects.toThrow(
      'Missing required parameter --seed for InitializerParamsFlow.',
    );
  });
});

describe('issue 9: messages', () => {
  test('issue 9 item 21: a thrown plain object is shown as its content', async () => {
    const run = await runFlow(f.ThrowsObjectFlow, { home });
    expect(run.status).toBe('failed');
    const message = (run.error!.cause as Error).message;
    expect(message).toMatch(
      /^Non-error thrown: \{ code: 42, detail: 'quota exceeded', nested: \{ deep: \{ deeper: \{ deepest: \[Object\] \} \} \} \}$/,
    );
    expect(run.error!.message).not.toMatch(/\[object Object\]/);
    const task = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
    const stderr = readFileSync(join(home, 'datastore', run.flow, run.runId, 'start', task.taskId, '0.stderr.log~'), 'utf8');
    expect(stderr).toBe("Non-error thrown: { code: 42, detail: 'quota exceeded', nested: { deep: { deeper: { deepest: [Object] } } } }\n");
    await run.close();
  });

  test('issue 9 item 21: a string foreach variable fans out over its characters and stays a string', async () => {
    const run = await runFlow(f.StringForeachFlow, { home });
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(data.joined).toBe('0h 1é 2l 3l 4o');
    expect(data.wordAfter).toBe('héllo');
    await run.close();
  });

  test('issue 9 item 21: a generator foreach variable fans out over its items; the artifact is the array of them', async () => {
    const run = await runFlow(f.GeneratorForeachFlow, { home });
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(data.total).toBe(1 + 4 + 9 + 16);
    expect(data.stored).toEqual([1, 4, 9, 16]);
    expect((await run.data('start')).squares).toEqual([1, 4, 9, 16]);
    await run.close();
  });

  test('issue 9 item 21: an async generator foreach variable is refused with the reason and the fix', async () => {
    const run = await runFlow(f.AsyncGeneratorForeachFlow, { home });
    expect(run.status).toBe('failed');
    const cause = run.error!.cause as TributaryError;
    expect(cause.code).toBe('TRANSITION_MISMATCH');
    expect(cause.message).toBe(
      "Foreach variable 'stream' in step start is not iterable (got an async generator object). It is async: collect its items first (const items = []; for await (const x of it) items.push(x); this.stream = items).",
    );
    await run.close();
  });
});
