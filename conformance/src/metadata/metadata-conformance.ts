import { describe, test } from 'vitest';
import type { ArtifactRef, MetadataStore, NewRun, TaskRef } from '@tributary/core';
import { checkProperty, propertyParams, rejectsWith, type PropertySettings } from '../common.ts';
import { metadataModelProperty } from './metadata-model.ts';

/**
 * Reads what a metadata store really recorded, bypassing the adapter (raw SQL).
 * @public
 */
export interface MetadataInspector {
  run(store: MetadataStore, flow: string, runId: string): Promise<{ status: string } | undefined>;
  task(store: MetadataStore, ref: TaskRef): Promise<{ status: string; attempts: number } | undefined>;
  artifacts(store: MetadataStore, ref: TaskRef): Promise<Array<{ name: string; sha: string; attempt: number }>>;
}

/** @public */
export interface MetadataConformanceOptions {
  name?: string;
  /** A fresh, isolated, empty store (its own database file, schema or namespace). */
  factory: () => MetadataStore | Promise<MetadataStore>;
  cleanup?: (store: MetadataStore) => void | Promise<void>;
  inspect?: MetadataInspector;
  properties?: PropertySettings;
  /** Tasks registered concurrently by the registration test (default 1000). */
  concurrentTasks?: number;
}

const sha = (c: string) => c.repeat(64).slice(0, 64);

function newRun(flow = 'ConformanceFlow', extra: Partial<NewRun> = {}): NewRun {
  return {
    flow,
    user: 'tester',
    params: { alpha: 0.5, names: ['a', 'b'], nested: { k: true } },
    tags: ['team:ml'],
    systemTags: ['user:tester', 'runtime:node20'],
    codeHash: sha('c'),
    graph: { start: 'start', end: 'end', nodes: { start: { next: ['end'] } } },
    ...extra,
  };
}

/**
 * The MetadataStore conformance suite. Call it at the top level of a vitest test file.
 * @public
 */
export function metadataStoreConformance(options: MetadataConformanceOptions): void {
  const suite = `MetadataStore conformance${options.name ? `: ${options.name}` : ''}`;
  const props = propertyParams(options.properties, 30);

  async function withStore(fn: (s: MetadataStore) => Promise<void>): Promise<void> {
    const s = await options.factory();
    try {
      await fn(s);
    } finally {
      await s.close().catch(() => undefined);
      await options.cleanup?.(s);
    }
  }

  async function runWithTask(s: MetadataStore, key = 'start') {
    const run = await s.createRun(newRun());
    const task = await s.registerTask({ flow: run.flow, runId: run.runId, step: key.replace(/\W.*/, ''), key, parents: [] });
    const ref: TaskRef = { flow: run.flow, runId: run.runId, taskId: task.taskId };
    return { run, task, ref };
  }

  describe(suite, () => {
    describe('runs', () => {
      test('createRun records everything and allocates increasing ids', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          const b = await s.createRun(newRun('Other', { originRunId: a.runId, tags: [] }));
          expect(Number(b.runId)).toBeGreaterThan(Number(a.runId));
          expect(a).toMatchObject({ flow: 'ConformanceFlow', status: 'running', user: 'tester', tags: ['team:ml'] });
          const got = await s.getRun('ConformanceFlow', a.runId);
          expect(got).toEqual(a);
          expect(got.params).toEqual({ alpha: 0.5, names: ['a', 'b'], nested: { k: true } });
          expect(got.graph).toEqual(newRun().graph);
          expect((await s.getRun('Other', b.runId)).originRunId).toBe(a.runId);
          if (options.inspect) expect(await options.inspect.run(s, a.flow, a.runId)).toMatchObject({ status: 'running' });
        }));

      test('run ids are unique under 50 concurrent writers', ({ expect }) =>
        withStore(async (s) => {
          const runs = await Promise.all(Array.from({ length: 50 }, () => s.createRun(newRun())));
          expect(new Set(runs.map((r) => r.runId)).size).toBe(50);
        }));

      test('a missing run is NOT_FOUND, also under another flow name', () =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          await rejectsWith(s.getRun('ConformanceFlow', '999999'), 'NOT_FOUND');
          await rejectsWith(s.getRun('SomeOtherFlow', a.runId), 'NOT_FOUND');
        }));

      test('status moves forward only: running → finished once', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          await s.finishRun(a.flow, a.runId, 'succeeded');
          const done = await s.getRun(a.flow, a.runId);
          expect(done.status).toBe('succeeded');
          expect(done.finishedAt).toBeGreaterThan(0);
          await rejectsWith(s.finishRun(a.flow, a.runId, 'failed'), 'CONFLICT');
          expect((await s.getRun(a.flow, a.runId)).status).toBe('succeeded');
          if (options.inspect) expect(await options.inspect.run(s, a.flow, a.runId)).toMatchObject({ status: 'succeeded' });
        }));

      test('of concurrent finishRun calls exactly one wins', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          const results = await Promise.allSettled(
            (['succeeded', 'failed', 'aborted', 'failed'] as const).map((st) => s.finishRun(a.flow, a.runId, st)),
          );
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        }));

      test('latestRun, and listRuns newest first with filters and complete cursor pagination', ({ expect }) =>
        withStore(async (s) => {
          expect(await s.latestRun('ConformanceFlow')).toBeUndefined();
          const ids: string[] = [];
          for (let i = 0; i < 23; i++) {
            const r = await s.createRun(newRun('ConformanceFlow', { tags: i % 2 ? ['odd'] : ['even'] }));
            ids.push(r.runId);
            if (i % 5 === 0) await s.finishRun(r.flow, r.runId, 'succeeded');
          }
          await s.createRun(newRun('Unrelated'));
          expect((await s.latestRun('ConformanceFlow'))!.runId).toBe(ids[22]);
          expect((await s.latestRun('ConformanceFlow', { status: 'succeeded' }))!.runId).toBe(ids[20]);
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await s.listRuns({ flow: 'ConformanceFlow', limit: 4, ...(cursor ? { cursor } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(4);
            seen.push(...page.items.map((r) => r.runId));
            cursor = page.cursor;
          } while (cursor);
          expect(seen).toEqual([...ids].reverse());
          const odd = await s.listRuns({ flow: 'ConformanceFlow', tags: ['odd'] });
          expect(odd.items).toHaveLength(11);
          expect((await s.listRuns({ flow: 'ConformanceFlow', tags: ['odd', 'user:tester'] })).items).toHaveLength(11);
          expect((await s.listRuns({ flow: 'ConformanceFlow', status: 'succeeded' })).items.map((r) => r.runId)).toEqual([
            ids[20],
            ids[15],
            ids[10],
            ids[5],
            ids[0],
          ]);
        }));

      test('tags are added and removed; system tags are immutable', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          await s.addTags(a.flow, a.runId, ['x', 'y']);
          await s.removeTags(a.flow, a.runId, ['team:ml', 'x']);
          expect((await s.getRun(a.flow, a.runId)).tags.sort()).toEqual(['y']);
          expect((await s.listRuns({ tags: ['y'] })).items.map((r) => r.runId)).toEqual([a.runId]);
          await rejectsWith(s.removeTags(a.flow, a.runId, ['user:tester']), 'CONFLICT');
          expect((await s.getRun(a.flow, a.runId)).systemTags).toContain('user:tester');
        }));

      test('heartbeat records a time', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          await s.heartbeat(a.flow, a.runId);
          expect((await s.getRun(a.flow, a.runId)).heartbeatAt).toBeGreaterThan(0);
        }));
    });

    describe('tasks', () => {
      test('registerTask allocates unique ids; a key is used once per run', ({ expect }) =>
        withStore(async (s) => {
          const { run, task } = await runWithTask(s);
          expect(task).toMatchObject({ step: 'start', key: 'start', status: 'pending', attempts: 0, parents: [] });
          await rejectsWith(
            s.registerTask({ flow: run.flow, runId: run.runId, step: 'start', key: 'start', parents: [] }),
            'ALREADY_EXISTS',
          );
          const other = await s.createRun(newRun());
          const again = await s.registerTask({ flow: other.flow, runId: other.runId, step: 'start', key: 'start', parents: [] });
          expect(again.taskId).not.toBe(task.taskId);
          await rejectsWith(s.registerTask({ flow: run.flow, runId: '999999', step: 'x', key: 'x', parents: [] }), 'NOT_FOUND');
        }));

      test('registerTasks is all or nothing', ({ expect }) =>
        withStore(async (s) => {
          const { run } = await runWithTask(s);
          const batch = ['a[0]', 'a[1]', 'start', 'a[2]'].map((key) => ({ flow: run.flow, runId: run.runId, step: 'a', key, parents: [] }));
          await rejectsWith(s.registerTasks(batch), 'ALREADY_EXISTS');
          expect((await s.listTasks({ flow: run.flow, runId: run.runId })).items.map((t) => t.key)).toEqual(['start']);
          const ok = await s.registerTasks(batch.filter((t) => t.key !== 'start'));
          expect(ok.map((t) => t.key)).toEqual(['a[0]', 'a[1]', 'a[2]']);
        }));

      test('concurrent registration of many tasks: unique ids, all listed, pages complete', ({ expect }) =>
        withStore(async (s) => {
          const n = options.concurrentTasks ?? 1000;
          const run = await s.createRun(newRun());
          const tasks = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              s.registerTask({ flow: run.flow, runId: run.runId, step: i % 2 ? 'odd' : 'even', key: `body[${i}]`, parents: [] }),
            ),
          );
          expect(new Set(tasks.map((t) => t.taskId)).size).toBe(n);
          const listed: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await s.listTasks({ flow: run.flow, runId: run.runId, limit: 97, ...(cursor ? { cursor } : {}) });
            listed.push(...page.items.map((t) => t.key));
            cursor = page.cursor;
          } while (cursor);
          expect(listed.sort()).toEqual(tasks.map((t) => t.key).sort());
          expect((await s.listTasks({ flow: run.flow, runId: run.runId, step: 'odd', limit: 10_000 })).items).toHaveLength(
            Math.floor(n / 2),
          );
        }));

      test('lineage: parents are kept in order, children are found', ({ expect }) =>
        withStore(async (s) => {
          const run = await s.createRun(newRun());
          const parents = await s.registerTasks(
            [0, 1, 2].map((i) => ({ flow: run.flow, runId: run.runId, step: 'body', key: `body[${i}]`, parents: [] })),
          );
          const ids = parents.map((p) => p.taskId).reverse();
          const join = await s.registerTask({ flow: run.flow, runId: run.runId, step: 'join', key: 'join', parents: ids });
          expect((await s.getTask({ flow: run.flow, runId: run.runId, taskId: join.taskId })).parents).toEqual(ids);
          await rejectsWith(s.getTask({ flow: run.flow, runId: run.runId, taskId: '999999' }), 'NOT_FOUND');
          // and downwards: each split's child is the join; the join has none
          for (const p of parents)
            expect((await s.listChildren({ flow: run.flow, runId: run.runId, taskId: p.taskId })).map((c) => c.taskId)).toEqual([
              join.taskId,
            ]);
          expect(await s.listChildren({ flow: run.flow, runId: run.runId, taskId: join.taskId })).toEqual([]);
          await rejectsWith(s.listChildren({ flow: run.flow, runId: run.runId, taskId: '999999' }), 'NOT_FOUND');
        }));
    });

    describe('attempts and completion', () => {
      const artifacts: ArtifactRef[] = [
        { name: 'model', sha: sha('a'), size: 10, type: 'object', encoding: 'msgpack' },
        { name: 'weights', sha: sha('b'), size: 800, type: 'Float64Array', encoding: 'raw' },
      ];

      test('attempts are numbered in order; failure then success', ({ expect }) =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await rejectsWith(s.startAttempt(ref, 1), 'CONFLICT');
          await s.startAttempt(ref, 0);
          await rejectsWith(s.startAttempt(ref, 1), 'CONFLICT'); // attempt 0 still running
          expect(await s.getTask(ref)).toMatchObject({ status: 'running', attempts: 1 });
          await s.finishAttempt(ref, 0, { status: 'failed', error: { code: 'USER_CODE', message: 'boom' } });
          expect((await s.getTask(ref)).status).toBe('failed');
          await s.startAttempt(ref, 1);
          await s.finishAttempt(ref, 1, { status: 'succeeded', artifacts, metadata: { targets: '["end"]' } });
          const task = await s.getTask(ref);
          expect(task).toMatchObject({ status: 'succeeded', attempts: 2 });
          expect(task.finishedAt).toBeGreaterThan(0);
          const attempts = await s.listAttempts(ref);
          expect(attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
            [0, 'failed', 'USER_CODE'],
            [1, 'succeeded', undefined],
          ]);
          expect(await s.getMetadata(ref)).toEqual({ targets: '["end"]' });
          if (options.inspect) expect(await options.inspect.task(s, ref)).toMatchObject({ status: 'succeeded', attempts: 2 });
        }));

      test('a task completes exactly once', ({ expect }) =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await s.startAttempt(ref, 0);
          await s.finishAttempt(ref, 0, { status: 'succeeded', artifacts });
          await rejectsWith(s.finishAttempt(ref, 0, { status: 'succeeded', artifacts: [] }), 'CONFLICT');
          await rejectsWith(s.finishAttempt(ref, 0, { status: 'failed', error: { code: 'X', message: 'late' } }), 'CONFLICT');
          await rejectsWith(s.startAttempt(ref, 1), 'CONFLICT');
          expect((await s.listArtifacts(ref)).map((a) => a.name)).toEqual(['model', 'weights']);
        }));

      test('of concurrent completions of one attempt exactly one wins', ({ expect }) =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await s.startAttempt(ref, 0);
          const results = await Promise.allSettled(
            Array.from({ length: 10 }, (_, i) =>
              s.finishAttempt(ref, 0, { status: 'succeeded', artifacts: [{ ...artifacts[0]!, size: i }] }),
            ),
          );
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          expect(await s.listArtifacts(ref)).toHaveLength(1);
          if (options.inspect) expect(await options.inspect.artifacts(s, ref)).toHaveLength(1);
        }));

      test('artifacts become visible with the completion, per attempt', ({ expect }) =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await s.startAttempt(ref, 0);
          expect(await s.listArtifacts(ref)).toEqual([]);
          await s.finishAttempt(ref, 0, { status: 'failed', error: { code: 'WORKER_LOST', message: 'gone' } });
          expect(await s.listArtifacts(ref)).toEqual([]);
          await s.startAttempt(ref, 1);
          await s.finishAttempt(ref, 1, { status: 'succeeded', artifacts });
          expect(await s.listArtifacts(ref)).toEqual(artifacts.map((a) => ({ ...a, attempt: 1 })));
          expect(await s.listArtifacts(ref, { attempt: 0 })).toEqual([]);
          if (options.inspect)
            expect((await options.inspect.artifacts(s, ref)).map((a) => [a.name, a.sha, a.attempt])).toEqual(
              artifacts.map((a) => [a.name, a.sha, 1]),
            );
        }));

      test('finishing an attempt that never started is a CONFLICT', () =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await rejectsWith(s.finishAttempt(ref, 0, { status: 'succeeded', artifacts: [] }), 'CONFLICT');
        }));

      test('metadata is append-only; the last value of a field wins', ({ expect }) =>
        withStore(async (s) => {
          const { ref } = await runWithTask(s);
          await s.putMetadata(ref, { a: '1', b: '2' });
          await s.putMetadata(ref, { a: '3' });
          expect(await s.getMetadata(ref)).toEqual({ a: '3', b: '2' });
        }));
    });

    describe('close', () => {
      test('every method of a closed store rejects with CLOSED', () =>
        withStore(async (s) => {
          const { run, ref } = await runWithTask(s);
          await s.close();
          await rejectsWith(s.createRun(newRun()), 'CLOSED');
          await rejectsWith(s.getRun(run.flow, run.runId), 'CLOSED');
          await rejectsWith(s.listRuns({}), 'CLOSED');
          await rejectsWith(s.latestRun(run.flow), 'CLOSED');
          await rejectsWith(s.finishRun(run.flow, run.runId, 'failed'), 'CLOSED');
          await rejectsWith(s.registerTask({ flow: run.flow, runId: run.runId, step: 'x', key: 'x', parents: [] }), 'CLOSED');
          await rejectsWith(s.getTask(ref), 'CLOSED');
          await rejectsWith(s.listTasks({ flow: run.flow, runId: run.runId }), 'CLOSED');
          await rejectsWith(s.startAttempt(ref, 0), 'CLOSED');
          await rejectsWith(s.listArtifacts(ref), 'CLOSED');
        }));
    });

    describe('model-based', () => {
      test(`random sequences of operations behave like the reference store (${props.numRuns} runs, seed ${props.seed})`, () =>
        checkProperty(metadataModelProperty(options.factory, options.cleanup), props));
    });
  });
}
