import fc from 'fast-check';
import { describe, test } from 'vitest';
import {
  MAX_TASK_BATCH,
  type ArtifactRef,
  type MetadataStore,
  type NewRun,
  type RunQuery,
  type RunRecord,
  type TaskRef,
} from '@tributary/core';
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
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
          // Namespaces are tags: a user tag with a system prefix would move the run into one.
          for (const spoof of ['production:tok', 'user:mallory', 'runtime:node99', 'executor:batch'])
            await rejectsWith(s.addTags(a.flow, a.runId, ['ok', spoof]), 'PARAM_INVALID');
          await rejectsWith(s.replaceTags(a.flow, a.runId, ['y'], ['production:tok']), 'PARAM_INVALID');
          expect((await s.getRun(a.flow, a.runId)).tags.sort()).toEqual(['y']);
          expect((await s.listRuns({ tags: ['production:tok'] })).items).toEqual([]);
        }));

      test('listRuns filters by user, since and until, combined with flow, tags, status and cursor pages', ({ expect }) =>
        withStore(async (s) => {
          const made: RunRecord[] = [];
          for (let i = 0; i < 18; i++) {
            // Two clock ticks: runs 0-5, 6-11 and 12-17 have strictly increasing creation times.
            if (i === 6 || i === 12) await sleep(15);
            const user = ['alice', 'bob', 'carol'][i % 3]!;
            const flow = i % 4 === 3 ? 'OtherFlow' : 'ConformanceFlow';
            const r = await s.createRun(newRun(flow, { user, tags: i % 2 ? ['odd'] : ['even'], systemTags: [`user:${user}`] }));
            if (i % 5 === 0) await s.finishRun(r.flow, r.runId, 'succeeded');
            made.push(await s.getRun(r.flow, r.runId));
          }
          const mid = made[6]!.createdAt;
          const late = made[12]!.createdAt;
          const expected = (q: RunQuery) =>
            made
              .filter(
                (r) =>
                  (!q.flow || r.flow === q.flow) &&
                  (!q.status || r.status === q.status) &&
                  (q.user === undefined || r.user === q.user) &&
                  (q.since === undefined || r.createdAt >= q.since) &&
                  (q.until === undefined || r.createdAt < q.until) &&
                  (q.tags ?? []).every((t) => r.tags.includes(t) || r.systemTags.includes(t)),
              )
              .sort((a, b) => Number(b.runId) - Number(a.runId))
              .map((r) => r.runId);
          const paged = async (q: RunQuery) => {
            const seen: string[] = [];
            let cursor: string | undefined;
            do {
              const page = await s.listRuns({ ...q, limit: 2, ...(cursor ? { cursor } : {}) });
              expect(page.items.length).toBeLessThanOrEqual(2);
              seen.push(...page.items.map((r) => r.runId));
              cursor = page.cursor;
            } while (cursor);
            return seen;
          };
          const queries: RunQuery[] = [
            { user: 'alice' },
            { user: 'alice', flow: 'ConformanceFlow' },
            { user: 'bob', tags: ['odd'] },
            { user: 'alice', tags: ['user:alice'] },
            { user: 'alice', tags: ['user:bob'] },
            { user: 'nobody' },
            { since: mid },
            { until: mid },
            { since: mid, until: late },
            { since: mid, until: late, flow: 'ConformanceFlow', tags: ['even'] },
            { since: mid, until: late, user: 'carol' },
            { since: mid, status: 'succeeded' },
            { until: late, user: 'bob', status: 'succeeded', flow: 'ConformanceFlow' },
            { since: late, until: mid },
            { since: late, until: late },
          ];
          for (const q of queries) {
            const want = expected(q);
            expect(await paged(q), JSON.stringify(q)).toEqual(want);
            expect(
              (await s.listRuns({ ...q, limit: 1000 })).items.map((r) => r.runId),
              JSON.stringify(q),
            ).toEqual(want);
          }
          // since is inclusive, until exclusive; the clock ticks split the runs as intended
          expect(expected({ until: mid })).toHaveLength(6);
          expect(expected({ since: mid, until: late })).toHaveLength(6);
          expect(await paged({ since: mid })).toContain(made[6]!.runId);
          expect(await paged({ until: mid })).not.toContain(made[6]!.runId);
          expect(await paged({ since: made[17]!.createdAt + 1 })).toEqual([]);
        }));

      test('replaceTags removes then adds in one step; a system tag in either list changes nothing', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun());
          const tags = async () => (await s.getRun(a.flow, a.runId)).tags.sort();
          const tagged = async (tag: string) => (await s.listRuns({ tags: [tag] })).items.map((r) => r.runId);
          await s.addTags(a.flow, a.runId, ['stage:dev', 'keep']);
          await s.replaceTags(a.flow, a.runId, ['stage:dev', 'absent'], ['stage:prod']);
          expect(await tags()).toEqual(['keep', 'stage:prod', 'team:ml']);
          expect(await tagged('stage:prod')).toEqual([a.runId]);
          expect(await tagged('stage:dev')).toEqual([]);
          // remove first, then add: a tag in both lists stays
          await s.replaceTags(a.flow, a.runId, ['keep'], ['keep']);
          expect(await tags()).toEqual(['keep', 'stage:prod', 'team:ml']);
          await s.replaceTags(a.flow, a.runId, [], []);
          expect(await tags()).toEqual(['keep', 'stage:prod', 'team:ml']);

          const before = await s.getRun(a.flow, a.runId);
          await rejectsWith(s.replaceTags(a.flow, a.runId, ['keep'], ['user:tester']), 'CONFLICT');
          await rejectsWith(s.replaceTags(a.flow, a.runId, ['runtime:node20'], ['new']), 'CONFLICT');
          await rejectsWith(s.replaceTags(a.flow, a.runId, ['stage:prod', 'user:tester'], ['new']), 'CONFLICT');
          await expect(s.replaceTags(a.flow, a.runId, ['keep'], ['new', ''])).rejects.toThrow();
          await expect(s.replaceTags(a.flow, a.runId, ['keep'], ['x'.repeat(501)])).rejects.toThrow();
          const after = await s.getRun(a.flow, a.runId);
          expect(after.tags.sort()).toEqual(before.tags.sort());
          expect(after.systemTags).toEqual(before.systemTags);
          expect(await tagged('keep')).toEqual([a.runId]);
          expect(await tagged('new')).toEqual([]);
          expect(await tagged('runtime:node20')).toEqual([a.runId]);
          expect(await tagged('user:tester')).toEqual([a.runId]);

          await rejectsWith(s.replaceTags(a.flow, '999999', [], ['x']), 'NOT_FOUND');
          await rejectsWith(s.replaceTags('SomeOtherFlow', a.runId, [], ['x']), 'NOT_FOUND');
          // the longest tag is fine
          await s.replaceTags(a.flow, a.runId, [], ['x'.repeat(500)]);
          expect(await tags()).toContain('x'.repeat(500));
        }));

      test('concurrent replaceTags swaps: every reader sees exactly one of the two tags', ({ expect }) =>
        withStore(async (s) => {
          const a = await s.createRun(newRun('ConformanceFlow', { tags: ['color:red'] }));
          const colors = ['color:red', 'color:blue'];
          const reads: string[][] = [];
          await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              i % 2
                ? s.replaceTags(a.flow, a.runId, [colors[i % 4 === 1 ? 0 : 1]!], [colors[i % 4 === 1 ? 1 : 0]!])
                : s.getRun(a.flow, a.runId).then((r) => void reads.push(r.tags)),
            ),
          );
          reads.push((await s.getRun(a.flow, a.runId)).tags);
          for (const tags of reads) expect(tags.filter((t) => colors.includes(t))).toHaveLength(1);
          const now = reads[reads.length - 1]!.find((t) => colors.includes(t))!;
          expect((await s.listRuns({ tags: [now] })).items.map((r) => r.runId)).toEqual([a.runId]);
          expect((await s.listRuns({ tags: colors.filter((c) => c !== now) })).items).toEqual([]);
        }));

      test('listFlows: sorted distinct names of flows with runs, optionally with a run carrying all tags', ({ expect }) =>
        withStore(async (s) => {
          expect(await s.listFlows()).toEqual([]);
          await s.createRun(newRun('Beta', { tags: ['a'] }));
          await s.createRun(newRun('Beta', { tags: ['b'] }));
          await s.createRun(newRun('Alpha', { tags: ['a', 'b'] }));
          await s.createRun(newRun('Alpha', { tags: [] }));
          const gamma = await s.createRun(newRun('Gamma', { tags: ['b'] }));
          await s.createRun(newRun('Delta', { tags: [], user: 'other', systemTags: ['user:other'] }));
          expect(await s.listFlows()).toEqual(['Alpha', 'Beta', 'Delta', 'Gamma']);
          expect(await s.listFlows({})).toEqual(['Alpha', 'Beta', 'Delta', 'Gamma']);
          expect(await s.listFlows({ tags: [] })).toEqual(['Alpha', 'Beta', 'Delta', 'Gamma']);
          expect(await s.listFlows({ tags: ['a'] })).toEqual(['Alpha', 'Beta']);
          expect(await s.listFlows({ tags: ['a', 'a'] })).toEqual(['Alpha', 'Beta']);
          // Beta has a run with a and another with b, but none with both
          expect(await s.listFlows({ tags: ['a', 'b'] })).toEqual(['Alpha']);
          expect(await s.listFlows({ tags: ['b', 'user:tester'] })).toEqual(['Alpha', 'Beta', 'Gamma']);
          expect(await s.listFlows({ tags: ['user:other'] })).toEqual(['Delta']);
          expect(await s.listFlows({ tags: ['user:other', 'a'] })).toEqual([]);
          expect(await s.listFlows({ tags: ['nobody-has-this'] })).toEqual([]);
          await s.addTags(gamma.flow, gamma.runId, ['a']);
          expect(await s.listFlows({ tags: ['a', 'b'] })).toEqual(['Alpha', 'Gamma']);
          await s.removeTags(gamma.flow, gamma.runId, ['b']);
          expect(await s.listFlows({ tags: ['a', 'b'] })).toEqual(['Alpha']);
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

    describe('batch reads', () => {
      const art = (name: string, c: string, size = 1): ArtifactRef => ({ name, sha: sha(c), size, type: 'number', encoding: 'msgpack' });

      test('one entry per task of the run, equal to the per-task reads; other ids left out; empty set is {}', ({ expect }) =>
        withStore(async (s) => {
          const run = await s.createRun(newRun());
          const [done, pending, running, failed] = await s.registerTasks(
            ['done', 'pending', 'running', 'failed'].map((key) => ({ flow: run.flow, runId: run.runId, step: key, key, parents: [] })),
          );
          const ref = (t: { taskId: string }): TaskRef => ({ flow: run.flow, runId: run.runId, taskId: t.taskId });
          await s.startAttempt(ref(done!), 0);
          await s.finishAttempt(ref(done!), 0, { status: 'failed', error: { code: 'USER_CODE', message: 'first' }, metadata: { f: '0' } });
          await s.startAttempt(ref(done!), 1);
          await s.finishAttempt(ref(done!), 1, {
            status: 'succeeded',
            artifacts: [art('weights', 'b', 800), art('model', 'a', 10)],
            metadata: { f: '1', g: 'x' },
          });
          await s.putMetadata(ref(done!), { g: 'y' });
          await s.startAttempt(ref(running!), 0);
          await s.startAttempt(ref(failed!), 0);
          await s.finishAttempt(ref(failed!), 0, {
            status: 'failed',
            error: { code: 'WORKER_LOST', message: 'gone' },
            metadata: { h: '1' },
          });
          // a task of another run of the same flow, and of another flow
          const other = await runWithTask(s);
          const foreignRun = await s.createRun(newRun('ForeignFlow'));
          const foreign = await s.registerTask({ flow: 'ForeignFlow', runId: foreignRun.runId, step: 'start', key: 'start', parents: [] });
          const mine = [done!, pending!, running!, failed!];
          const taskIds = [
            failed!.taskId,
            other.task.taskId,
            done!.taskId,
            '999999',
            'abc',
            '',
            '-1',
            '1.5',
            '99999999999999999999',
            foreign.taskId,
            running!.taskId,
            pending!.taskId,
            done!.taskId,
          ];
          const set = { flow: run.flow, runId: run.runId, taskIds };
          const [arts, meta, atts, recs] = await Promise.all([
            s.listArtifactsOfTasks(set),
            s.getMetadataOfTasks(set),
            s.listAttemptsOfTasks(set),
            s.getTasks(set),
          ]);
          const keys = mine.map((t) => t.taskId).sort();
          expect(Object.keys(recs).sort()).toEqual(keys);
          for (const t of mine) expect(recs[t.taskId]).toEqual(await s.getTask(ref(t)));
          expect(Object.keys(arts).sort()).toEqual(keys);
          expect(Object.keys(meta).sort()).toEqual(keys);
          expect(Object.keys(atts).sort()).toEqual(keys);
          for (const t of mine) {
            expect(arts[t.taskId]).toEqual(await s.listArtifacts(ref(t)));
            expect(meta[t.taskId]).toEqual(await s.getMetadata(ref(t)));
            expect(atts[t.taskId]).toEqual(await s.listAttempts(ref(t)));
          }
          expect(arts[done!.taskId]).toEqual([
            { ...art('model', 'a', 10), attempt: 1 },
            { ...art('weights', 'b', 800), attempt: 1 },
          ]);
          expect(arts[pending!.taskId]).toEqual([]);
          expect(arts[running!.taskId]).toEqual([]);
          expect(arts[failed!.taskId]).toEqual([]);
          expect(meta[done!.taskId]).toEqual({ f: '1', g: 'y' });
          expect(meta[pending!.taskId]).toEqual({});
          expect(meta[failed!.taskId]).toEqual({ h: '1' });
          expect(atts[done!.taskId]!.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
            [0, 'failed', 'USER_CODE'],
            [1, 'succeeded', undefined],
          ]);
          expect(atts[pending!.taskId]).toEqual([]);
          expect(atts[running!.taskId]!.map((a) => [a.attempt, a.status])).toEqual([[0, 'running']]);

          const none = { flow: run.flow, runId: run.runId, taskIds: [] };
          expect(await s.listArtifactsOfTasks(none)).toEqual({});
          expect(await s.getMetadataOfTasks(none)).toEqual({});
          expect(await s.listAttemptsOfTasks(none)).toEqual({});
          expect(await s.getTasks(none)).toEqual({});
          // no task of a run that does not exist (or is of another flow)
          for (const where of [
            { flow: run.flow, runId: '999999' },
            { flow: 'SomeOtherFlow', runId: run.runId },
          ]) {
            const absent = { ...where, taskIds: [done!.taskId] };
            expect(await s.listArtifactsOfTasks(absent)).toEqual({});
            expect(await s.getMetadataOfTasks(absent)).toEqual({});
            expect(await s.listAttemptsOfTasks(absent)).toEqual({});
            expect(await s.getTasks(absent)).toEqual({});
          }
        }));

      test(`at most ${MAX_TASK_BATCH} ids: more is PARAM_INVALID naming the limit`, ({ expect }) =>
        withStore(async (s) => {
          const { run, task } = await runWithTask(s);
          const ids = (n: number) => [task.taskId, ...Array.from({ length: n - 1 }, (_, i) => String(900_000_000 + i))];
          const full = { flow: run.flow, runId: run.runId, taskIds: ids(MAX_TASK_BATCH) };
          expect(Object.keys(await s.listArtifactsOfTasks(full))).toEqual([task.taskId]);
          expect(Object.keys(await s.getMetadataOfTasks(full))).toEqual([task.taskId]);
          expect(Object.keys(await s.listAttemptsOfTasks(full))).toEqual([task.taskId]);
          expect(Object.keys(await s.getTasks(full))).toEqual([task.taskId]);
          const over = { flow: run.flow, runId: run.runId, taskIds: ids(MAX_TASK_BATCH + 1) };
          for (const call of [s.listArtifactsOfTasks(over), s.getMetadataOfTasks(over), s.listAttemptsOfTasks(over), s.getTasks(over)]) {
            const err = await rejectsWith(call, 'PARAM_INVALID');
            expect(err.message).toContain(String(MAX_TASK_BATCH));
          }
        }));

      test(`for random tasks, batch reads equal the per-task reads (${props.numRuns} runs, seed ${props.seed})`, ({ expect }) =>
        withStore(async (s) => {
          const outsider = await runWithTask(s);
          const attemptArb = fc.record({
            ok: fc.boolean(),
            artifacts: fc.uniqueArray(
              fc.record({
                name: fc.constantFrom('model', 'Model', 'weights', 'a', 'z_1', 'b-2', 'x.y'),
                sha: fc.constantFrom('a', 'b', 'c').map(sha),
                size: fc.nat({ max: 2 ** 40 }),
                type: fc.constantFrom('number', 'Map', 'Float64Array'),
                encoding: fc.constantFrom('msgpack', 'raw'),
              }),
              { selector: (a) => a.name, maxLength: 4 },
            ),
            error: fc.record({ code: fc.constantFrom('USER_CODE', 'WORKER_LOST'), message: fc.string({ maxLength: 20 }) }),
            metadata: fc.dictionary(fc.constantFrom('f', 'g', 'h'), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
          });
          const taskArb = fc.record({
            attempts: fc.array(attemptArb, { maxLength: 3 }),
            leaveRunning: fc.boolean(),
            puts: fc.array(fc.dictionary(fc.constantFrom('f', 'g', 'k'), fc.string({ maxLength: 10 }), { maxKeys: 2 }), { maxLength: 2 }),
          });
          const property = fc.asyncProperty(
            fc.array(taskArb, { minLength: 1, maxLength: 6 }),
            fc.uniqueArray(fc.nat({ max: 5 }), { maxLength: 6 }),
            fc.array(fc.constantFrom('999999999', 'x', '', '0x1', '12345678901234567890'), { maxLength: 3 }),
            async (scripts, order, junk) => {
              const run = await s.createRun(newRun());
              const tasks = await s.registerTasks(
                scripts.map((_, i) => ({ flow: run.flow, runId: run.runId, step: 'body', key: `body[${i}]`, parents: [] })),
              );
              const refs = tasks.map((t): TaskRef => ({ flow: run.flow, runId: run.runId, taskId: t.taskId }));
              for (const [i, script] of scripts.entries()) {
                const ref = refs[i]!;
                let n = 0;
                let succeeded = false;
                for (const a of script.attempts) {
                  await s.startAttempt(ref, n);
                  await s.finishAttempt(
                    ref,
                    n++,
                    a.ok
                      ? { status: 'succeeded', artifacts: a.artifacts, metadata: a.metadata }
                      : { status: 'failed', error: a.error, metadata: a.metadata },
                  );
                  if ((succeeded = a.ok)) break;
                }
                if (script.leaveRunning && !succeeded) await s.startAttempt(ref, n);
                for (const p of script.puts) await s.putMetadata(ref, p);
              }
              const chosen = order.filter((i) => i < tasks.length).map((i) => tasks[i]!.taskId);
              const taskIds = [...chosen, ...junk, outsider.task.taskId, ...chosen.slice(0, 1)];
              const set = { flow: run.flow, runId: run.runId, taskIds };
              const [arts, meta, atts, recs] = await Promise.all([
                s.listArtifactsOfTasks(set),
                s.getMetadataOfTasks(set),
                s.listAttemptsOfTasks(set),
                s.getTasks(set),
              ]);
              const keys = [...chosen].sort();
              expect(Object.keys(recs).sort()).toEqual(keys);
              expect(Object.keys(arts).sort()).toEqual(keys);
              expect(Object.keys(meta).sort()).toEqual(keys);
              expect(Object.keys(atts).sort()).toEqual(keys);
              for (const taskId of chosen) {
                const ref = { flow: run.flow, runId: run.runId, taskId };
                expect(arts[taskId]).toEqual(await s.listArtifacts(ref));
                expect(meta[taskId]).toEqual(await s.getMetadata(ref));
                expect(atts[taskId]).toEqual(await s.listAttempts(ref));
                expect(recs[taskId]).toEqual(await s.getTask(ref));
              }
            },
          );
          await checkProperty(property, props);
        }));
    });

    describe('idempotency keys (stores with capabilities.idempotencyKeys)', () => {
      test('a repeat of a write with its idempotency key returns the first result and writes nothing twice', ({ expect, skip }) =>
        withStore(async (s) => {
          if (!s.capabilities.idempotencyKeys) return skip('the store does not claim idempotencyKeys');
          const key = (n: string) => `conformance-${n}-${Math.random().toString(36).slice(2)}`;
          const kRun = key('run');
          const run = await s.createRun(newRun(), { idempotencyKey: kRun });
          expect(await s.createRun(newRun(), { idempotencyKey: kRun })).toEqual(run);
          expect((await s.listRuns({ flow: run.flow })).items).toHaveLength(1);
          // A key names one call: another call is judged as usual.
          const other = await s.createRun(newRun(), { idempotencyKey: key('run2') });
          expect(other.runId).not.toBe(run.runId);

          const kTasks = key('tasks');
          const news = [0, 1, 2].map((i) => ({ flow: run.flow, runId: run.runId, step: 'fit', key: `fit[${i}]`, parents: [] }));
          const tasks = await s.registerTasks(news, { idempotencyKey: kTasks });
          expect((await s.registerTasks(news, { idempotencyKey: kTasks })).map((t) => t.taskId)).toEqual(tasks.map((t) => t.taskId));
          await rejectsWith(s.registerTasks(news, { idempotencyKey: key('tasks2') }), 'ALREADY_EXISTS');
          await rejectsWith(s.registerTasks(news), 'ALREADY_EXISTS');
          const kOne = key('one');
          const one = await s.registerTask(
            { flow: run.flow, runId: run.runId, step: 'end', key: 'end', parents: [tasks[0]!.taskId] },
            {
              idempotencyKey: kOne,
            },
          );
          const again = await s.registerTask(
            { flow: run.flow, runId: run.runId, step: 'end', key: 'end', parents: [tasks[0]!.taskId] },
            {
              idempotencyKey: kOne,
            },
          );
          expect(again.taskId).toBe(one.taskId);
          expect(again.parents).toEqual([tasks[0]!.taskId]);
          expect((await s.listTasks({ flow: run.flow, runId: run.runId })).items).toHaveLength(4);

          const ref: TaskRef = { flow: run.flow, runId: run.runId, taskId: tasks[0]!.taskId };
          const kStart = key('start');
          await s.startAttempt(ref, 0, { idempotencyKey: kStart });
          await s.startAttempt(ref, 0, { idempotencyKey: kStart });
          await rejectsWith(s.startAttempt(ref, 0, { idempotencyKey: key('start2') }), 'CONFLICT');
          await rejectsWith(s.startAttempt(ref, 0), 'CONFLICT');
          const kFinish = key('finish');
          const keyedArt: ArtifactRef = { name: 'x', sha: sha('e'), size: 3, type: 'number', encoding: 'msgpack' };
          const outcome = { status: 'succeeded' as const, artifacts: [keyedArt], metadata: { m: '1' } };
          await s.finishAttempt(ref, 0, outcome, { idempotencyKey: kFinish });
          await s.finishAttempt(ref, 0, outcome, { idempotencyKey: kFinish });
          await rejectsWith(s.finishAttempt(ref, 0, outcome, { idempotencyKey: key('finish2') }), 'CONFLICT');
          expect(await s.listArtifacts(ref)).toEqual([{ ...keyedArt, attempt: 0 }]);
          expect(await s.listAttempts(ref)).toHaveLength(1);
          if (options.inspect) expect(await options.inspect.artifacts(s, ref)).toHaveLength(1);

          const kEnd = key('end');
          await s.finishRun(run.flow, run.runId, 'succeeded', { idempotencyKey: kEnd });
          await s.finishRun(run.flow, run.runId, 'succeeded', { idempotencyKey: kEnd });
          await rejectsWith(s.finishRun(run.flow, run.runId, 'succeeded', { idempotencyKey: key('end2') }), 'CONFLICT');
          expect((await s.getRun(run.flow, run.runId)).status).toBe('succeeded');
        }));

      test('a batch with one key twice is ALREADY_EXISTS and registers nothing, with or without an idempotency key', ({ expect }) =>
        withStore(async (s) => {
          const run = await s.createRun(newRun());
          const twice = ['a', 'b', 'a'].map((k) => ({ flow: run.flow, runId: run.runId, step: 'fit', key: k, parents: [] }));
          await rejectsWith(s.registerTasks(twice), 'ALREADY_EXISTS');
          await rejectsWith(
            s.registerTasks(twice, { idempotencyKey: `conformance-dup-${Math.random().toString(36).slice(2)}` }),
            'ALREADY_EXISTS',
          );
          expect((await s.listTasks({ flow: run.flow, runId: run.runId })).items).toEqual([]);
        }));

      test('concurrent repeats of one keyed call apply it once', ({ expect, skip }) =>
        withStore(async (s) => {
          if (!s.capabilities.idempotencyKeys) return skip('the store does not claim idempotencyKeys');
          const k = `conformance-race-${Math.random().toString(36).slice(2)}`;
          const runs = await Promise.all(Array.from({ length: 8 }, () => s.createRun(newRun('RaceFlow'), { idempotencyKey: k })));
          expect(new Set(runs.map((r) => r.runId)).size).toBe(1);
          const run = runs[0]!;
          const task = { flow: run.flow, runId: run.runId, step: 'start', key: 'start', parents: [] };
          const tk = `${k}-task`;
          const regs = await Promise.all(Array.from({ length: 8 }, () => s.registerTask(task, { idempotencyKey: tk })));
          expect(new Set(regs.map((t) => t.taskId)).size).toBe(1);
          const ref: TaskRef = { flow: run.flow, runId: run.runId, taskId: regs[0]!.taskId };
          await Promise.all(Array.from({ length: 8 }, () => s.startAttempt(ref, 0, { idempotencyKey: `${k}-start` })));
          expect((await s.getTask(ref)).attempts).toBe(1);
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
          await rejectsWith(s.replaceTags(run.flow, run.runId, [], ['x']), 'CLOSED');
          await rejectsWith(s.listFlows(), 'CLOSED');
          const set = { flow: run.flow, runId: run.runId, taskIds: [ref.taskId] };
          await rejectsWith(s.listArtifactsOfTasks(set), 'CLOSED');
          await rejectsWith(s.getMetadataOfTasks(set), 'CLOSED');
          await rejectsWith(s.listAttemptsOfTasks(set), 'CLOSED');
          await rejectsWith(s.getTasks(set), 'CLOSED');
          await rejectsWith(s.listAttemptsOfTasks({ ...set, taskIds: [] }), 'CLOSED');
        }));
    });

    describe('model-based', () => {
      test(`random sequences of operations behave like the reference store (${props.numRuns} runs, seed ${props.seed})`, () =>
        checkProperty(metadataModelProperty(options.factory, options.cleanup), props));
    });
  });
}
