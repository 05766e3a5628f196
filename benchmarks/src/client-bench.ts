/**
 * What the client costs the metadata store, on SQLite and Postgres, against the naive way of
 * reading the same things (one query per task, one per run: what Metaflow's client does).
 *
 * 1. Every artifact of a 10,000-task step: `for await (const t of step.tasks()) await t.artifacts()`
 *    (a page of 1,000 tasks, then one batched `listArtifactsOfTasks` per page) vs `listTasks`
 *    pages plus one `listArtifacts` per task.
 * 2. The latest successful run of 100 flows × 20 runs (some failed, aborted or still running, the
 *    newest not always successful): `for (const f of await client.flows()) await f.latestSuccessfulRun()`
 *    vs a Metaflow-style scan: the flow's runs newest first, and for each, its end task, until
 *    one has succeeded.
 *
 * The stores are seeded straight through the MetadataStore port (no flow runs; artifact shas are
 * fake, values are never decoded). Store calls are counted by a Proxy around the store, by method
 * (with the time spent inside each method, first pass); on Postgres the SQL statements sent are
 * counted too (pg's `Client.prototype.query`). Wall times
 * are medians of BENCH_REPEAT passes (default 3). Prints tables; asserts nothing about time (it
 * only checks that both ways read the same answer).
 *
 *   pnpm --filter @tributary/benchmarks bench:client     (BENCH_TASKS=10000 BENCH_FLOWS=100 BENCH_RUNS_PER_FLOW=20)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client, type ArtifactRef, type Datastore, type MetadataStore, type RunRecord, type TaskRef } from '@tributary/core';
import { createFsDatastore } from '@tributary/datastore-fs';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres } from '@tributary/metadata-postgres/testing';
import { createSqliteMetadataStore } from '@tributary/metadata-sqlite';
import { median, printTable } from './table.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const FLOWS = Number(process.env.BENCH_FLOWS ?? 100);
const RUNS_PER_FLOW = Number(process.env.BENCH_RUNS_PER_FLOW ?? 20);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
const ARTIFACTS_PER_TASK = 5;
/** Seeding writes this many runs or tasks at once (the Postgres pool has 16 connections). */
const SEED_CONCURRENCY = 16;

const sha = (i: number) => i.toString(16).padStart(64, '0');
const graph = (end = 'end') => ({ flow: 'Bench', start: 'start', end, order: ['start', 'body', 'train', end], nodes: {} });
const fmt = (n: number) => n.toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}x`;

// ---------------------------------------------------------------------------------------------
// Counting

/** MetadataStore calls by method, and (on Postgres) SQL statements sent. */
class Counter {
  readonly calls = new Map<string, number>();
  readonly msIn = new Map<string, number>();
  sql = 0;
  hit(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }
  get total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }
  reset(): void {
    this.calls.clear();
    this.msIn.clear();
    this.sql = 0;
  }
  breakdown(): string {
    return [...this.calls].map(([m, n]) => `${m} ${fmt(n)} (${ms(this.msIn.get(m) ?? 0)} ms)`).join(', ');
  }
}

/** The same store, each method call counted (calls the store makes on itself are not: `this` is the store). */
function counted(store: MetadataStore, counter: Counter): MetadataStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      return async (...args: unknown[]) => {
        counter.hit(prop);
        const t = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          counter.msIn.set(prop, (counter.msIn.get(prop) ?? 0) + performance.now() - t);
        }
      };
    },
  });
}

/** Every statement any pg client sends (the Postgres store's pool included) is counted on `active`. */
let active: Counter | undefined;
const pgQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  if (active) active.sql++;
  return pgQuery.apply(this, args);
};

interface Measured {
  calls: number;
  breakdown: string;
  sql: number;
  ms: number;
}

/** Run `fn` REPEAT times on a counted view of `store`; the counts are the first pass's (they never vary). */
async function measure<T>(store: MetadataStore, fn: (md: MetadataStore) => Promise<T>, check: (result: T) => void): Promise<Measured> {
  const counter = new Counter();
  const md = counted(store, counter);
  const times: number[] = [];
  let first: Omit<Measured, 'ms'> | undefined;
  for (let i = 0; i < REPEAT; i++) {
    counter.reset();
    active = counter;
    const t0 = performance.now();
    const result = await fn(md);
    times.push(performance.now() - t0);
    active = undefined;
    check(result);
    first ??= { calls: counter.total, breakdown: counter.breakdown(), sql: counter.sql };
  }
  return { ...first!, ms: median(times) };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// 1. Every artifact of a 10,000-task step

async function seedWideStep(store: MetadataStore): Promise<{ flow: string; runId: string; artifacts: number }> {
  const run = await store.createRun({
    flow: 'WideFlow',
    user: 'bench',
    params: {},
    tags: [],
    systemTags: ['user:bench'],
    codeHash: '',
    graph: graph(),
  });
  const base = { flow: run.flow, runId: run.runId };
  const [start] = await store.registerTasks([{ ...base, step: 'start', key: 'start', parents: [] }]);
  const startRef = { ...base, taskId: start!.taskId };
  await store.startAttempt(startRef, 0);
  await store.finishAttempt(startRef, 0, { status: 'succeeded', artifacts: [] });
  const refs: TaskRef[] = [];
  for (let i = 0; i < TASKS; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, TASKS - i) }, (_, k) => ({
      ...base,
      step: 'body',
      key: `body[${i + k}]`,
      parents: [start!.taskId],
    }));
    for (const t of await store.registerTasks(batch)) refs.push({ ...base, taskId: t.taskId });
  }
  const artifactsOf = (i: number, attempt: number): ArtifactRef[] =>
    Array.from({ length: ARTIFACTS_PER_TASK }, (_, k) => ({
      name: `a${k}`,
      sha: sha(i * 16 + k + attempt),
      size: 100 + k,
      type: 'number',
      encoding: 'msgpack',
    }));
  let artifacts = 0;
  await pool(
    refs.map((ref, i) => ({ ref, i })),
    SEED_CONCURRENCY,
    async ({ ref, i }) => {
      // One task in 20 failed its first attempt and succeeded on a retry: only the retry's artifacts count.
      let attempt = 0;
      if (i % 20 === 7) {
        await store.startAttempt(ref, 0);
        await store.finishAttempt(ref, 0, { status: 'failed', error: { code: 'USER_CODE', message: 'flaky' } });
        attempt = 1;
      }
      await store.startAttempt(ref, attempt);
      await store.finishAttempt(ref, attempt, { status: 'succeeded', artifacts: artifactsOf(i, attempt) });
      artifacts += ARTIFACTS_PER_TASK;
    },
  );
  await store.finishRun(run.flow, run.runId, 'succeeded');
  return { flow: run.flow, runId: run.runId, artifacts };
}

async function benchWideStep(store: MetadataStore, datastore: Datastore): Promise<{ client: Measured; naive: Measured }> {
  const seeded = await seedWideStep(store);
  const expect = (n: number) => {
    if (n !== seeded.artifacts) throw new Error(`read ${n} artifact references, expected ${seeded.artifacts}`);
  };
  const client = await measure(
    store,
    async (metadata) => {
      const c = new Client({ metadata, datastore, namespace: null });
      const step = (await c.run(`${seeded.flow}/${seeded.runId}`)).step('body');
      let n = 0;
      for await (const t of step.tasks()) n += (await t.artifacts()).length;
      return n;
    },
    expect,
  );
  const naive = await measure(
    store,
    async (metadata) => {
      let n = 0;
      let cursor: string | undefined;
      do {
        const page = await metadata.listTasks({
          flow: seeded.flow,
          runId: seeded.runId,
          step: 'body',
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        for (const t of page.items) n += (await metadata.listArtifacts({ flow: t.flow, runId: t.runId, taskId: t.taskId })).length;
        cursor = page.cursor;
      } while (cursor);
      return n;
    },
    expect,
  );
  return { client, naive };
}

// ---------------------------------------------------------------------------------------------
// 2. latestSuccessfulRun of 100 flows

type Outcome = 'succeeded' | 'failed' | 'aborted' | 'running';

/**
 * Run `r` (0 = oldest) of flow `f`: mostly successes, a failure here and there, and the newest
 * `f % 7` runs not successful (failed, aborted or still running); one flow in 25 never succeeded.
 */
function outcome(f: number, r: number): Outcome {
  if (f % 25 === 24) return r % 2 ? 'failed' : 'aborted';
  const fromNewest = RUNS_PER_FLOW - 1 - r;
  if (fromNewest < f % 7) return fromNewest === 0 && f % 3 === 0 ? 'running' : fromNewest % 2 ? 'aborted' : 'failed';
  return (f * 31 + r * 17) % 6 === 0 ? 'failed' : 'succeeded';
}

async function seedRuns(store: MetadataStore): Promise<Map<string, string | undefined>> {
  const flows = Array.from({ length: FLOWS }, (_, f) => f);
  const name = (f: number) => `Flow${String(f).padStart(3, '0')}`;
  const latest = new Map<string, string | undefined>(flows.map((f) => [name(f), undefined]));
  // Oldest runs first, so run ids increase with `r` within each flow; the flows' runs interleave.
  for (let r = 0; r < RUNS_PER_FLOW; r++) {
    await pool(flows, SEED_CONCURRENCY, async (f) => {
      const result = outcome(f, r);
      const run = await store.createRun({
        flow: name(f),
        user: 'bench',
        params: { r },
        tags: [],
        systemTags: ['user:bench'],
        codeHash: '',
        graph: graph(),
      });
      const base = { flow: run.flow, runId: run.runId };
      const task = async (step: string, status: 'succeeded' | 'failed') => {
        const [t] = await store.registerTasks([{ ...base, step, key: step, parents: [] }]);
        const ref = { ...base, taskId: t!.taskId };
        await store.startAttempt(ref, 0);
        if (status === 'succeeded') await store.finishAttempt(ref, 0, { status, artifacts: [] });
        else await store.finishAttempt(ref, 0, { status, error: { code: 'USER_CODE', message: 'boom' } });
      };
      await task('start', 'succeeded');
      if (result === 'running') return;
      await task('train', result === 'failed' ? 'failed' : 'succeeded');
      if (result === 'succeeded') {
        await task('end', 'succeeded');
        latest.set(run.flow, run.runId);
      }
      await store.finishRun(run.flow, run.runId, result);
    });
  }
  return latest;
}

/** What Metaflow's `Flow(name).latest_successful_run` does: runs newest first; a run succeeded when its end task did. */
async function metaflowLatestSuccessful(md: MetadataStore, flow: string): Promise<RunRecord | undefined> {
  let cursor: string | undefined;
  do {
    const page = await md.listRuns({ flow, limit: 100, ...(cursor ? { cursor } : {}) });
    for (const run of page.items) {
      const end = (await md.listTasks({ flow, runId: run.runId, step: run.graph ? (run.graph as { end: string }).end : 'end', limit: 1 }))
        .items[0];
      if (end?.status === 'succeeded') return run;
    }
    cursor = page.cursor;
  } while (cursor);
  return undefined;
}

async function benchLatest(store: MetadataStore, datastore: Datastore): Promise<{ client: Measured; naive: Measured; scanned: number }> {
  const expected = await seedRuns(store);
  const check = (found: Map<string, string | undefined>) => {
    if (found.size !== expected.size) throw new Error(`found ${found.size} flows, expected ${expected.size}`);
    for (const [flow, runId] of expected)
      if (found.get(flow) !== runId) throw new Error(`${flow}: latest successful run ${found.get(flow)}, expected ${runId}`);
  };
  const client = await measure(
    store,
    async (metadata) => {
      const c = new Client({ metadata, datastore, namespace: null });
      const found = new Map<string, string | undefined>();
      for (const f of await c.flows()) found.set(f.name, (await f.latestSuccessfulRun())?.runId);
      return found;
    },
    check,
  );
  const naive = await measure(
    store,
    async (metadata) => {
      const found = new Map<string, string | undefined>();
      for (const flow of await metadata.listFlows()) found.set(flow, (await metaflowLatestSuccessful(metadata, flow))?.runId);
      return found;
    },
    check,
  );
  // Runs the scan looked at: one end-task lookup each.
  return { client, naive, scanned: naive.calls - 1 - FLOWS };
}

// ---------------------------------------------------------------------------------------------

interface StoreResult {
  store: string;
  wide: { client: Measured; naive: Measured };
  latest: { client: Measured; naive: Measured; scanned: number };
}

function printStore(r: StoreResult, sql: boolean): void {
  const header = [
    'way',
    'store calls',
    ...(sql ? ['SQL statements'] : []),
    'by method (ms inside, first pass)',
    'wall ms',
    'calls vs client',
    'time vs client',
  ];
  const row = (way: string, m: Measured, base: Measured) => [
    way,
    fmt(m.calls),
    ...(sql ? [fmt(m.sql)] : []),
    m.breakdown,
    ms(m.ms),
    ratio(m.calls, base.calls),
    ratio(m.ms, base.ms),
  ];
  printTable(
    `${r.store}: every artifact of a ${fmt(TASKS)}-task step (${fmt(TASKS * ARTIFACTS_PER_TASK)} references), median of ${REPEAT}`,
    header,
    [
      row('client: step.tasks() + task.artifacts()', r.wide.client, r.wide.client),
      row('naive: listTasks pages + listArtifacts per task', r.wide.naive, r.wide.client),
    ],
  );
  printTable(
    `${r.store}: latestSuccessfulRun of ${FLOWS} flows × ${RUNS_PER_FLOW} runs (the scan looked at ${fmt(r.latest.scanned)} runs), median of ${REPEAT}`,
    header,
    [
      row('client: flows() + latestSuccessfulRun()', r.latest.client, r.latest.client),
      row('Metaflow-style: runs newest first, end task of each', r.latest.naive, r.latest.client),
    ],
  );
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-client-bench-'));
const datastore = createFsDatastore({ root: join(dir, 'datastore') });
const results: StoreResult[] = [];
const t0 = performance.now();
const server = await startTestPostgres();
try {
  const open: Array<[string, (scenario: string) => MetadataStore]> = [
    ['SQLite', (scenario) => createSqliteMetadataStore({ path: join(dir, `${scenario}.sqlite`) })],
    ['Postgres', (scenario) => createPostgresMetadataStore({ url: `${server.url}?schema=client_${scenario}` })],
  ];
  for (const [name, make] of open) {
    const seed0 = performance.now();
    const wideStore = make('wide');
    const latestStore = make('latest');
    try {
      const wide = await benchWideStep(wideStore, datastore);
      const latest = await benchLatest(latestStore, datastore);
      results.push({ store: name, wide, latest });
      printStore(results.at(-1)!, name === 'Postgres');
      console.log(`(${name}: seeding and measuring took ${((performance.now() - seed0) / 1000).toFixed(1)} s)`);
    } finally {
      await wideStore.close();
      await latestStore.close();
    }
  }
} finally {
  server.destroy();
  await datastore.close();
  rmSync(dir, { recursive: true, force: true });
}

printTable(
  'Summary: store calls and wall time, client vs the naive way',
  ['store', 'read', 'client calls', 'naive calls', 'calls ratio', 'client ms', 'naive ms', 'time ratio'],
  results.flatMap((r) => [
    [
      r.store,
      `artifacts of a ${fmt(TASKS)}-task step`,
      fmt(r.wide.client.calls),
      fmt(r.wide.naive.calls),
      ratio(r.wide.naive.calls, r.wide.client.calls),
      ms(r.wide.client.ms),
      ms(r.wide.naive.ms),
      ratio(r.wide.naive.ms, r.wide.client.ms),
    ],
    [
      r.store,
      `latest successful run of ${FLOWS} flows`,
      fmt(r.latest.client.calls),
      fmt(r.latest.naive.calls),
      ratio(r.latest.naive.calls, r.latest.client.calls),
      ms(r.latest.client.ms),
      ms(r.latest.naive.ms),
      ratio(r.latest.naive.ms, r.latest.client.ms),
    ],
  ]),
);
console.log(`\nTotal ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
