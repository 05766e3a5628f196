import { readdirSync, readFileSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ArtifactStore, createFsDatastore, runFlow, TributaryError } from '../src/index.ts';
import * as b from './fixtures/behaviours.ts';
import { BigItemsFlow } from './fixtures/big-foreach.ts';
import { createRecordingDatastore } from './fixtures/recording-datastore.ts';
import { tempHome } from './helpers.ts';

const { home, cleanup } = tempHome();
afterAll(cleanup);

function blobFiles(flow: string): string[] {
  const dir = join(home, 'datastore', flow, 'data');
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).map((f) => f.replace(/~$/, '')));
}

describe('content-addressed artifacts', () => {
  test('identical content is stored once', async () => {
    const run = await runFlow(b.DedupeFlow, { home });
    expect(run.status).toBe('succeeded');
    const bodies = await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'body' });
    const shas = new Set<string>();
    for (const t of bodies.items) {
      const refs = await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: t.taskId });
      shas.add(refs.find((r) => r.name === 'payload')!.sha);
    }
    expect(shas.size).toBe(1); // five tasks, one address
    const files = blobFiles('DedupeFlow');
    expect(files.filter((f) => shas.has(f))).toHaveLength(1);
    expect((await run.data()).copies).toBe(5);
    // A second run writes no new blob for the same content.
    const before = files.length;
    const again = await runFlow(b.DedupeFlow, { home });
    expect(again.status).toBe('succeeded');
    expect(blobFiles('DedupeFlow').length).toBe(before);
    await run.close();
    await again.close();
  });

  test('a corrupted blob is detected on read', async () => {
    const run = await runFlow(b.StructuredFlow, { home });
    expect(run.status).toBe('succeeded');
    const end = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'end' })).items[0]!;
    const ref = (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: end.taskId })).find((r) => r.name === 'raw')!;
    const path = join(home, 'datastore', run.flow, 'data', ref.sha.slice(0, 2), `${ref.sha}~`);
    const bytes = readFileSync(path);
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(path, bytes);
    const store = new ArtifactStore(createFsDatastore({ root: join(home, 'datastore') }), run.flow);
    const err = await store.load(ref).catch((e: unknown) => e);
    expect(TributaryError.is(err, 'INTEGRITY')).toBe(true);
    expect((err as Error).message).toMatch(/corrupt: expected SHA-256/);
    await run.close();
  });

  test('structured types survive between steps', async () => {
    const run = await runFlow(b.StructuredFlow, { home: join(home, 'structured') });
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(data.checks).toEqual(['map', 'set', 'date', 'bigint', 'f64', 'buffer', 'nested-map']);
    expect(data.map).toEqual(
      new Map<unknown, unknown>([
        [1, 'one'],
        ['k', { deep: [1, 2] }],
      ]),
    );
    expect(data.big).toBe(2n ** 70n + 1n);
    expect(data.vec).toEqual(Float64Array.from([0.5, 1.5, -2]));
    expect(Buffer.isBuffer(data.raw) && data.raw.toString()).toBe('raw bytes');
    await run.close();
  });

  test('both field forms work for assigned and loaded artifacts', async () => {
    const run = await runFlow(b.FieldFormsFlow, { home });
    expect(run.status).toBe('succeeded');
    expect((await run.data()).seen).toBe('1,2,class default|11,2,assigned');
    await run.close();
  });

  test('a foreach split reads only its own item', async () => {
    const log = join(home, 'reads.log');
    const datastore = createRecordingDatastore({ root: join(home, 'recorded'), log });
    const run = await runFlow(BigItemsFlow, { home, datastore });
    expect(run.status).toBe('succeeded');
    expect((await run.data()).lengths).toEqual([200_000, 200_001, 200_002, 200_003, 200_004, 200_005, 200_006, 200_007]);
    const start = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
    const chunks = (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: start.taskId })).find(
      (r) => r.name === 'chunks',
    )!;
    expect(chunks.size).toBeGreaterThan(1_600_000);
    const reads = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; range: { length: number } | null });
    const ofList = reads.filter((r) => r.key.endsWith(chunks.sha));
    expect(ofList).toHaveLength(8);
    for (const r of ofList) expect(r.range!.length).toBeLessThan(200_010); // one item, never the list
    await run.close();
  });
});

describe('failures are typed and say what to do', () => {
  test('an unserializable artifact names step, artifact and path', async () => {
    const run = await runFlow(b.BadArtifactFlow, { home });
    expect(run.status).toBe('failed');
    const cause = run.error!.cause as TributaryError;
    expect(cause.code).toBe('SERIALIZATION');
    expect(cause.message).toBe(
      "Artifact 'config' of step start cannot be stored: a function (activation) at config.layers[1].activation. Store data, not code: compute the value, or keep the function in your module.",
    );
    await run.close();
  });

  test('a user error fails the run with its stack and keeps the logs', async () => {
    const run = await runFlow(b.FailingFlow, { home });
    expect(run.status).toBe('failed');
    expect(run.error!.code).toBe('RUN_FAILED');
    expect(run.error!.message).toMatch(/^Task FailingFlow\/\d+\/boom\/\d+ failed: RangeError: the model diverged$/);
    const boom = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'boom' })).items[0]!;
    expect(boom.status).toBe('failed');
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: boom.taskId });
    expect(attempts).toMatchObject([{ attempt: 0, status: 'failed', error: { code: 'USER_CODE' } }]);
    const prefix = join(home, 'datastore', run.flow, run.runId, 'boom', boom.taskId);
    expect(readFileSync(join(prefix, '0.stdout.log~'), 'utf8')).toBe('about to fail\n');
    expect(readFileSync(join(prefix, '0.stderr.log~'), 'utf8')).toMatch(
      /RangeError: the model diverged\n\s+at Proxy.boom \(.*behaviours.ts:\d+:\d+\)/,
    );
    expect((await run.metadata.getRun(run.flow, run.runId)).status).toBe('failed');
    await run.close();
  });

  test('this.next() called twice fails the task', async () => {
    const run = await runFlow(b.NextTwiceFlow, { home });
    expect(run.status).toBe('failed');
    expect((run.error!.cause as Error).message).toBe('Step start called this.next() twice. Call it once, at the end of the step.');
    await run.close();
  });

  test('a switch value outside the cases fails the task', async () => {
    const run = await runFlow(b.BadCaseFlow, { home });
    expect(run.status).toBe('failed');
    expect((run.error!.cause as Error).message).toBe(
      `Switch condition variable 'mode' has value "sideways" in step start, which is not one of the cases: "up", "down".`,
    );
    await run.close();
  });

  test('--max-num-splits guards a foreach, and can be raised', async () => {
    const run = await runFlow(b.ManySplitsFlow, { home });
    expect(run.status).toBe('failed');
    const cause = run.error!.cause as TributaryError;
    expect(cause.code).toBe('FOREACH_TOO_MANY_SPLITS');
    expect(cause.message).toBe(
      'Foreach in step start yielded 150 child steps which is more than the current maximum of 100 children. You can raise the maximum with the --max-num-splits option (or maxNumSplits in runFlow).',
    );
    await run.close();
    const ok = await runFlow(b.ManySplitsFlow, { home, maxNumSplits: 150 });
    expect(ok.status).toBe('succeeded');
    expect((await ok.data()).total).toBe((149 * 150) / 2);
    await ok.close();
  });

  test('a worker killed mid-task fails that attempt, the orchestrator survives, @retry recovers', async () => {
    const marker = join(home, `crash-${Date.now()}`);
    const run = await runFlow(b.CrashOnceFlow, { home, params: { marker } });
    expect(existsSync(marker)).toBe(true);
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect((await run.data()).survived).toBe(1);
    const fragile = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'fragile' })).items[0]!;
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: fragile.taskId });
    expect(attempts.map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'WORKER_LOST'],
      ['succeeded', undefined],
    ]);
    await run.close();
  });

  test("@retry({ only: 'system' }) does not retry a user-code error", async () => {
    const run = await runFlow(b.SystemRetryFlow, { home });
    expect(run.status).toBe('failed');
    const start = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
    expect(await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start.taskId })).toMatchObject([
      { status: 'failed', error: { code: 'USER_CODE' } },
    ]);
    await run.close();
  });

  test('@timeout stops a stuck task and types the failure TIMEOUT', async () => {
    const t0 = Date.now();
    const run = await runFlow(b.TimeoutFlow, { home });
    expect(run.status).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(15_000);
    const start = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start.taskId });
    expect(attempts).toMatchObject([{ status: 'failed', error: { code: 'TIMEOUT' } }]);
    expect(attempts[0]!.error!.message).toMatch(/ran longer than its @timeout of 1s and was stopped/);
    await run.close();
  });

  test('@catch stores the error after retries are spent and the flow goes on', async () => {
    const run = await runFlow(b.CatchFlow, { home });
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    const data = await run.data();
    expect(data.after).toBe('reached end after Error: attempt 1 failed');
    expect(data.failure).toMatchObject({ code: 'USER_CODE', message: 'Error: attempt 1 failed' });
    const start = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'start' })).items[0]!;
    const attempts = await run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: start.taskId });
    expect(attempts.map((a) => a.status)).toEqual(['failed', 'failed', 'succeeded']);
    await run.close();
  });

  test('unknown and ill-typed parameters are rejected before a run exists', async () => {
    await expect(runFlow(b.ManySplitsFlow, { home, params: { size: 3 } })).rejects.toThrow(
      'Unknown parameter --size for ManySplitsFlow. Its parameters are: --n.',
    );
    await expect(runFlow(b.ManySplitsFlow, { home, params: { n: 'lots' } })).rejects.toThrow(
      'Parameter --n of ManySplitsFlow must be a number, got "lots".',
    );
    await expect(runFlow(b.CrashOnceFlow, { home })).rejects.toThrow(
      'Missing required parameter --marker for CrashOnceFlow. (marker file: crash while it does not exist)',
    );
  });

  test('an aborted run stops its tasks and is recorded as aborted', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const runP = runFlow(b.ManySplitsFlow, {
      home,
      params: { n: 100 },
      signal: ac.signal,
      onEvent: (e) => e.type === 'task-started' && e.step === 'body' && ac.abort(),
    });
    const run = await runP;
    expect(run.status).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await run.metadata.getRun(run.flow, run.runId)).status).toBe('aborted');
    await run.close();
  });
});

test('per-task logs are stored in the datastore', async () => {
  const { HelloFlow } = await import('../../examples/hello.ts');
  const run = await runFlow(HelloFlow, { home, params: { name: 'logs' } });
  const shout = (await run.metadata.listTasks({ flow: run.flow, runId: run.runId, step: 'shout' })).items[0]!;
  const file = join(home, 'datastore', run.flow, run.runId, 'shout', shout.taskId, '0.stdout.log~');
  expect(statSync(file).isFile()).toBe(true);
  expect(readFileSync(file, 'utf8')).toBe('HELLO, LOGS!\n');
  await run.close();
});
