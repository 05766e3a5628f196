import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres, type TestPostgres } from '@tributary/metadata-postgres/testing';
import {
  Artifact,
  Client,
  createFsDatastore,
  createSqliteMetadataStore,
  Flow,
  resumeFlow,
  Run,
  runFlow,
  Step,
  Task,
  TributaryError,
  type Datastore,
  type ErrorCode,
  type MetadataStore,
  type RunResult,
} from 'tributary';
import { ClientBehaviourFlow, ClientFanFlow, ClientResumeFlow, ClientStatusFlow } from './fixtures/issue13-client-flows.ts';

/**
 * Issue 13: the Client API (core/src/client), every capability, against SQLite and Postgres
 * metadata. Each store gets its own home and its own handful of runs, made once in beforeAll:
 *   - ClientFanFlow: a 30-split foreach (paged tasks, index/input, a join with 30 parents), tagged `nightly`;
 *   - ClientBehaviourFlow: a step that succeeds on its third attempt (`@retry`), one whose failure `@catch` stores;
 *   - ClientResumeFlow: a failed run and its resume (cloned tasks, origins, logs from the origin);
 *   - ClientStatusFlow: seven quick runs (in-process) by alice and bob, succeeded and failed,
 *     tagged and with a production token, for run listing, filters, paging and namespaces.
 */

const ENV_KEYS = ['TRIBUTARY_USER', 'TRIBUTARY_NAMESPACE', 'TRIBUTARY_PRODUCTION_TOKEN'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
const RUNTIME_TAG = `runtime:node${process.versions.node.split('.')[0]}`;
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

let pg: TestPostgres | undefined;
beforeAll(async () => {
  // Runs are alice's unless a run says otherwise; no namespace or production token from outside.
  process.env.TRIBUTARY_USER = 'alice';
  delete process.env.TRIBUTARY_NAMESPACE;
  delete process.env.TRIBUTARY_PRODUCTION_TOKEN;
  pg = await startTestPostgres();
});
afterAll(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  pg?.destroy();
});

/** Set environment variables (undefined: unset) while `fn` runs, then put them back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(before);
  }
}

/** The promise rejects with a TributaryError of this code (and a message matching `message`). */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TributaryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ${code} rejection`).toBeInstanceOf(TributaryError);
  expect((err as TributaryError).code).toBe(code);
  if (message) expect((err as TributaryError).message).toMatch(message);
  return err as TributaryError;
}

function throwsWith(fn: () => unknown, code: ErrorCode, message?: RegExp): TributaryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe(code);
    if (message) expect((err as TributaryError).message).toMatch(message);
    return err as TributaryError;
  }
  throw new Error(`expected a ${code} error`);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const ids = (runs: readonly { runId: string }[]) => runs.map((r) => r.runId);

/** Counts the calls made to an adapter's methods (the adapter itself does the work). */
function counting<T extends object>(target: T): { proxy: T; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(target, {
    get(t, prop, _receiver) {
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { proxy, calls };
}

interface World {
  home: string;
  /** The metadata URL runs and `Client.open` are given (undefined: SQLite under the home). */
  metadataUrl: string | undefined;
  openMetadata: () => MetadataStore;
  openDatastore: () => Datastore;
  metadata: MetadataStore;
  datastore: Datastore;
  /** new Client({ metadata, datastore }) in its default namespace (user:alice). */
  client: Client;
  /** The same stores, every namespace. */
  global: Client;
  fan: RunResult<ClientFanFlow>;
  behaviour: RunResult<ClientBehaviourFlow>;
  failed: RunResult<ClientResumeFlow>;
  resumed: RunResult<ClientResumeFlow>;
  /** ClientStatusFlow runs s1..s7, oldest first (index 0 is s1). */
  status: RunResult<ClientStatusFlow>[];
}

const STORES = [['sqlite'], ['postgres']] as const;

describe.each(STORES)('issue 13: the client on %s metadata', (kind) => {
  const w = {} as World;

  beforeAll(async () => {
    w.home = mkdtempSync(join(tmpdir(), `tributary-issue13-client-${kind}-`));
    if (kind === 'postgres') {
      const url = `${pg!.url}?schema=issue13_client`;
      w.metadataUrl = url;
      w.openMetadata = () => createPostgresMetadataStore({ url });
    } else {
      w.metadataUrl = undefined;
      w.openMetadata = () => createSqliteMetadataStore({ path: join(w.home, 'metadata.sqlite') });
    }
    w.openDatastore = () => createFsDatastore({ root: join(w.home, 'datastore') });
    const base = { home: w.home, ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}) };

    // Flows on warm worker processes (what a user runs), three runs at once (the resume waits for its origin).
    const marker = join(w.home, 'fail-middle');
    writeFileSync(marker, 'fail while this file exists');
    const failThenResume = async () => {
      const failed = await runFlow(ClientResumeFlow, { ...base, params: { marker } });
      rmSync(marker);
      const resumed = await resumeFlow(ClientResumeFlow, { ...base, originRunId: failed.runId });
      return { failed, resumed };
    };
    const [fan, behaviour, { failed, resumed }] = await Promise.all([
      runFlow(ClientFanFlow, { ...base, tags: ['nightly'], maxWorkers: 2 }),
      runFlow(ClientBehaviourFlow, { ...base, maxWorkers: 2 }),
      failThenResume(),
    ]);
    Object.assign(w, { fan, behaviour, failed, resumed });
    expect([fan.status, behaviour.status, failed.status, resumed.status]).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded']);

    // Seven quick runs of one flow, in this process, one after the other (distinct creation times).
    const plan: Array<{ fail?: boolean; user?: string; tags?: string[]; productionToken?: string }> = [
      { tags: ['nightly'] }, // s1 alice succeeded
      { user: 'bob' }, // s2 bob succeeded
      { fail: true, tags: ['nightly', 'exp'] }, // s3 alice failed
      { productionToken: 'tok-1' }, // s4 alice succeeded, production:tok-1
      { fail: true, user: 'bob' }, // s5 bob failed
      {}, // s6 alice succeeded
      { fail: true }, // s7 alice failed: the newest run
    ];
    w.status = [];
    for (const [i, p] of plan.entries()) {
      const run = await runFlow(ClientStatusFlow, {
        ...base,
        executor: 'in-process',
        params: { seq: i + 1, fail: p.fail ?? false },
        ...(p.user ? { user: p.user } : {}),
        ...(p.tags ? { tags: p.tags } : {}),
        ...(p.productionToken ? { productionToken: p.productionToken } : {}),
      });
      expect(run.status).toBe(p.fail ? 'failed' : 'succeeded');
      w.status.push(run);
      // created_at is whole milliseconds: keep the runs apart so that since/until split them exactly.
      await new Promise((r) => setTimeout(r, 3));
    }

    w.metadata = w.openMetadata();
    w.datastore = w.openDatastore();
    w.client = new Client({ metadata: w.metadata, datastore: w.datastore });
    w.global = w.client.withNamespace(null);
  });

  afterAll(async () => {
    await w.client?.close();
    await w.metadata?.close();
    await w.datastore?.close();
    if (w.home) rmSync(w.home, { recursive: true, force: true });
  });

  const s = (n: number) => w.status[n - 1]!;

  // ---------------------------------------------------------------------------------------------
  test('new Client({ metadata, datastore, namespace }), Client.open({ home, metadata, namespace }), withNamespace and close()', async () => {
    // The default namespace is user:<TRIBUTARY_USER>.
    expect(w.client.namespace).toBe('user:alice');
    expect(w.client.metadata).toBe(w.metadata);
    expect(w.client.datastore).toBe(w.datastore);
    expect(w.global.namespace).toBeNull();
    expect(w.client.namespace).toBe('user:alice'); // withNamespace made a new client
    const bobs = new Client({ metadata: w.metadata, datastore: w.datastore, namespace: 'user:bob' });
    expect(bobs.namespace).toBe('user:bob');
    expect(ids(await collect(bobs.flow('ClientStatusFlow').runs()))).toEqual(ids([s(5), s(2)]));
    // Closing a client built on stores you passed leaves them open.
    await bobs.close();
    expect(await w.metadata.listFlows()).toContain('ClientStatusFlow');

    // Client.open opens the configured stores (the default SQLite under home, or the URL) and close() closes them.
    const opened = await Client.open({ home: w.home, ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}), namespace: 'user:bob' });
    expect(opened.namespace).toBe('user:bob');
    expect(opened.metadata.name).toBe(kind);
    expect((await opened.flows()).map((f) => f.name)).toEqual(['ClientStatusFlow']);
    const run = await opened.run(s(2).pathspec);
    expect((await run.data()).seen).toBe(2); // artifacts read through the opened datastore
    const openedGlobal = opened.withNamespace(null);
    expect(openedGlobal.namespace).toBeNull();
    expect((await openedGlobal.flows()).map((f) => f.name)).toEqual([
      'ClientBehaviourFlow',
      'ClientFanFlow',
      'ClientResumeFlow',
      'ClientStatusFlow',
    ]);
    await openedGlobal.close();
    await opened.close(); // the two share the stores: closing both is harmless, and both are closed
    await rejectsWith(opened.flows(), 'CLOSED');
    await rejectsWith(openedGlobal.run(s(2).pathspec), 'CLOSED');

    // Client.open without a namespace takes the default one.
    const mine = await Client.open({ home: w.home, ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}) });
    expect(mine.namespace).toBe('user:alice');
    expect((await mine.flow('ClientStatusFlow').latestRun())?.runId).toBe(s(7).runId);
    await mine.close();

    // Client.open with instances uses them as given and leaves them open.
    const given = await Client.open({ metadata: w.metadata, datastore: w.datastore, namespace: null });
    expect(given.metadata).toBe(w.metadata);
    expect(given.datastore).toBe(w.datastore);
    await given.close();
    expect((await w.global.run(s(1).pathspec)).runId).toBe(s(1).runId);
    // A URL no adapter handles: CONFIG.
    await rejectsWith(Client.open({ home: w.home, metadata: 'nosuch://x' }), 'CONFIG', /No metadata adapter handles 'nosuch:' URLs/);

    // Two clients on different stores live side by side: the other store has none of these runs.
    const otherHome = mkdtempSync(join(tmpdir(), 'tributary-issue13-empty-'));
    try {
      const empty = await Client.open({ home: otherHome, namespace: null });
      expect(await empty.flows()).toEqual([]);
      await rejectsWith(empty.run(w.fan.pathspec), 'NOT_FOUND');
      expect((await w.global.run(w.fan.pathspec)).runId).toBe(w.fan.runId);
      await empty.close();
    } finally {
      rmSync(otherHome, { recursive: true, force: true });
    }
  });

  // ---------------------------------------------------------------------------------------------
  test('pathspecs address flows, runs, steps, tasks and artifacts, and the objects lead both ways', async () => {
    const { client, fan } = w;
    // Down: flow → run → step → task → artifact.
    const flow = client.flow('ClientFanFlow');
    expect(flow).toBeInstanceOf(Flow);
    expect(flow.name).toBe('ClientFanFlow');
    expect(flow.pathspec).toBe('ClientFanFlow');
    expect(client.flow(ClientFanFlow).name).toBe('ClientFanFlow'); // by class
    const run = await flow.run(fan.runId);
    expect(run).toBeInstanceOf(Run);
    expect(run.pathspec).toBe(`ClientFanFlow/${fan.runId}`);
    expect(run.flow).toBe('ClientFanFlow');
    const step = run.step('start');
    expect(step).toBeInstanceOf(Step);
    expect(step.pathspec).toBe(`${run.pathspec}/start`);
    expect(step.run).toBe(run);
    const task = await step.task();
    expect(task).toBeInstanceOf(Task);
    expect(task.pathspec).toBe(`${run.pathspec}/start/${task.id}`);
    expect([task.flow, task.runId, task.step, task.key]).toEqual(['ClientFanFlow', fan.runId, 'start', 'start']);
    const art = await task.artifact('items');
    expect(art).toBeInstanceOf(Artifact);
    expect(art.pathspec).toBe(`${task.pathspec}/items`);
    expect(art.taskPathspec).toBe(task.pathspec);

    // The same objects by pathspec.
    expect((await client.run(run.pathspec)).record).toEqual(run.record);
    const byStep = await client.step(step.pathspec);
    expect([byStep.pathspec, byStep.name, byStep.run.runId]).toEqual([step.pathspec, 'start', fan.runId]);
    expect((await client.task(task.pathspec)).record).toEqual(task.record);
    const byArt = await client.artifact<number[]>(art.pathspec);
    expect([byArt.name, byArt.sha, byArt.pathspec]).toEqual(['items', art.sha, art.pathspec]);
    expect(await byArt.get()).toEqual(Array.from({ length: 30 }, (_, i) => i * 10));

    // Up: artifact → task → step → run → flow.
    const upTask = await client.task(byArt.taskPathspec);
    expect(upTask.id).toBe(task.id);
    const upStep = await client.step(`${upTask.flow}/${upTask.runId}/${upTask.step}`);
    expect(upStep.name).toBe('start');
    expect(upStep.run.pathspec).toBe(run.pathspec);
    const upFlow = client.flow(upStep.run.flow);
    expect((await upFlow.latestRun({ tags: ['nightly'] }))?.runId).toBe(fan.runId);

    // And along the graph: start → 30 body tasks → join → end.
    const bodies = await task.children();
    expect(bodies.map((t) => t.key)).toEqual(Array.from({ length: 30 }, (_, i) => `body[${i}]`));
    const join = await bodies[7]!.children();
    expect(join.map((t) => t.step)).toEqual(['join']);
    const end = await join[0]!.children();
    expect(end.map((t) => t.pathspec)).toEqual([(await run.endTask())!.pathspec]);
    expect(await end[0]!.children()).toEqual([]);
    expect((await end[0]!.parents()).map((t) => t.id)).toEqual([join[0]!.id]);

    // A run's steps with tasks, in graph order (the `_parameters` pseudo-step holds the parameters).
    expect((await run.steps()).map((st) => st.name)).toEqual(['start', 'body', 'join', 'end']);
    expect(run.graph.order).toEqual(['start', 'body', 'join', 'end']);
    const params = await run.step('_parameters').task();
    expect(params.key).toBe('_parameters');
    expect(await params.data()).toEqual({ n: 30, label: 'fan' });

    // toJSON: records with their pathspecs.
    expect(JSON.parse(JSON.stringify(flow))).toEqual({ name: 'ClientFanFlow' });
    expect(JSON.parse(JSON.stringify(run))).toMatchObject({ pathspec: run.pathspec, runId: fan.runId, status: 'succeeded' });
    expect(JSON.parse(JSON.stringify(step))).toEqual({ pathspec: step.pathspec, name: 'start' });
    expect(JSON.parse(JSON.stringify(task))).toMatchObject({ pathspec: task.pathspec, taskId: task.id, key: 'start' });
    expect(JSON.parse(JSON.stringify(art))).toMatchObject({ pathspec: art.pathspec, name: 'items', sha: art.sha, type: 'Array' });
  });

  test('a bad pathspec is PARAM_INVALID, a missing object NOT_FOUND', async () => {
    const { client, fan, behaviour } = w;
    const startTask = await fan.step('start').task();

    await rejectsWith(client.run('ClientFanFlow'), 'PARAM_INVALID', /is incomplete; client\.run\(\) takes Flow\/run\./);
    await rejectsWith(client.run('ClientFanFlow/abc'), 'PARAM_INVALID', /the run segment "abc" is not a run id/);
    await rejectsWith(
      client.run(`${fan.pathspec}/start`),
      'PARAM_INVALID',
      /has 3 segments; client\.run\(\) takes Flow\/run \(at most 2\)/,
    );
    await rejectsWith(client.step('ClientFanFlow//start'), 'PARAM_INVALID', /the run segment is empty/);
    await rejectsWith(client.task(`${fan.pathspec}/../${startTask.id}`), 'PARAM_INVALID', /the step segment is "\.\."/);
    await rejectsWith(
      client.artifact(startTask.pathspec),
      'PARAM_INVALID',
      /is incomplete; client\.artifact\(\) takes Flow\/run\/step\/task\/artifact/,
    );
    await rejectsWith(client.run(''), 'PARAM_INVALID', /No pathspec given/);
    throwsWith(() => client.flow('Not a flow'), 'PARAM_INVALID', /is not a valid flow name/);
    throwsWith(() => client.flow('ClientFanFlow/1'), 'PARAM_INVALID', /at most 1/);

    await rejectsWith(client.run('NoSuchFlow/1'), 'NOT_FOUND');
    await rejectsWith(client.run('ClientFanFlow/987654321'), 'NOT_FOUND');
    await rejectsWith(client.run('ClientFanFlow/123456789012345678901234567890'), 'NOT_FOUND');
    // A run id of another flow is not this flow's run.
    await rejectsWith(client.run(`ClientBehaviourFlow/${fan.runId}`), 'NOT_FOUND');
    await rejectsWith(client.step(`${fan.pathspec}/nope`), 'NOT_FOUND', /has no step "nope"\. Its steps: start, body, join, end\./);
    throwsWith(() => fan.step('nope'), 'NOT_FOUND', /Its steps: start, body, join, end/);
    await rejectsWith(client.task(`${fan.pathspec}/start/987654321`), 'NOT_FOUND');
    // The task exists, under another step: the error gives its real pathspec.
    await rejectsWith(
      client.task(`${fan.pathspec}/join/${startTask.id}`),
      'NOT_FOUND',
      new RegExp(`belongs to step start, not join: its pathspec is ${startTask.pathspec.replace(/\//g, '\\/')}\\.`),
    );
    // A task of another run is not this run's.
    await rejectsWith(client.task(`${behaviour.pathspec}/start/${startTask.id}`), 'NOT_FOUND');
    await rejectsWith(client.artifact(`${startTask.pathspec}/nope`), 'NOT_FOUND', /has no artifact "nope"\. It has: items, label, n\./);
    await rejectsWith(startTask.artifact('nope'), 'NOT_FOUND');
    // A step with no task yet: the failed run never reached its end.
    await rejectsWith(w.failed.step('end').task(), 'NOT_FOUND', /has no task \(the run is failed\)/);
    await rejectsWith(w.failed.data(), 'NOT_FOUND', /has no successful task of step end/);
  });

  // ---------------------------------------------------------------------------------------------
  test('flows() lists the flows with runs in the namespace, by name', async () => {
    const all = ['ClientBehaviourFlow', 'ClientFanFlow', 'ClientResumeFlow', 'ClientStatusFlow'];
    const flows = await w.client.flows();
    expect(flows.every((f) => f instanceof Flow)).toBe(true);
    expect(flows.map((f) => f.name)).toEqual(all);
    expect((await w.global.flows()).map((f) => f.name)).toEqual(all);
    expect((await w.client.withNamespace('user:bob').flows()).map((f) => f.name)).toEqual(['ClientStatusFlow']);
    expect((await w.client.withNamespace('production:tok-1').flows()).map((f) => f.name)).toEqual(['ClientStatusFlow']);
    expect(await w.client.withNamespace('user:nobody').flows()).toEqual([]);
  });

  test('listRuns: newest first, filtered by tags, user, status, since and until, in the namespace', async () => {
    const mine = w.client.flow(ClientStatusFlow);
    const all = w.global.flow(ClientStatusFlow);
    const list = async (flow: Flow, filter: Parameters<Flow['listRuns']>[0] = {}) => ids((await flow.listRuns(filter)).items);

    expect(await list(all)).toEqual(ids([s(7), s(6), s(5), s(4), s(3), s(2), s(1)]));
    expect(await list(mine)).toEqual(ids([s(7), s(6), s(4), s(3), s(1)])); // alice's only
    expect((await mine.listRuns()).cursor).toBeUndefined(); // everything fit in one page
    expect(await list(all, { status: 'failed' })).toEqual(ids([s(7), s(5), s(3)]));
    expect(await list(all, { status: 'succeeded' })).toEqual(ids([s(6), s(4), s(2), s(1)]));
    expect(await list(all, { user: 'bob' })).toEqual(ids([s(5), s(2)]));
    expect(await list(mine, { user: 'bob' })).toEqual([]); // the namespace and the filter both hold
    expect(await list(all, { tags: ['nightly'] })).toEqual(ids([s(3), s(1)]));
    expect(await list(all, { tags: ['nightly', 'exp'] })).toEqual(ids([s(3)]));
    expect(await list(all, { tags: ['user:bob'] })).toEqual(ids([s(5), s(2)])); // system tags filter too
    expect(await list(all, { tags: ['production:tok-1'] })).toEqual(ids([s(4)]));
    expect(await list(all, { tags: ['no-such-tag'] })).toEqual([]);
    // since: created at or after; until: created before (Date or epoch ms).
    expect(await list(all, { since: s(4).createdAt })).toEqual(ids([s(7), s(6), s(5), s(4)]));
    expect(await list(all, { since: s(4).createdAt.getTime() })).toEqual(ids([s(7), s(6), s(5), s(4)]));
    expect(await list(all, { until: s(4).createdAt })).toEqual(ids([s(3), s(2), s(1)]));
    expect(await list(all, { since: s(2).createdAt, until: s(6).createdAt.getTime() })).toEqual(ids([s(5), s(4), s(3), s(2)]));
    expect(await list(mine, { since: s(3).createdAt, status: 'succeeded' })).toEqual(ids([s(6), s(4)]));
    expect(await list(all, { since: Date.now() + 60_000 })).toEqual([]);
    await rejectsWith(all.listRuns({ since: new Date('not a date') }), 'PARAM_INVALID', /since must be a time in epoch milliseconds/);

    // Every run listed is a Run with its record.
    const [newest] = (await all.listRuns({ pageSize: 1 })).items;
    expect(newest).toBeInstanceOf(Run);
    expect([newest!.status, newest!.successful, newest!.finished, newest!.user]).toEqual(['failed', false, true, 'alice']);
    expect(newest!.params).toEqual({ fail: true, seq: 7 });
    const bob = (await all.listRuns({ user: 'bob', status: 'succeeded' })).items[0]!;
    expect(bob.user).toBe('bob');
    expect(bob.systemTags).toEqual(['user:bob', RUNTIME_TAG, 'executor:in-process']);
  });

  test('listRuns pages by cursor with no run missing or repeated; runs() iterates them all', async () => {
    const all = w.global.flow('ClientStatusFlow');
    const expected = ids([s(7), s(6), s(5), s(4), s(3), s(2), s(1)]);
    for (const pageSize of [1, 2, 3, 7]) {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await all.listRuns({ pageSize, ...(cursor ? { cursor } : {}) });
        pages.push(ids(page.items));
        cursor = page.cursor;
      } while (cursor && pages.length < 20);
      expect(pages.slice(0, -1).every((p) => p.length === pageSize)).toBe(true);
      expect(pages.length).toBe(Math.ceil(7 / pageSize)); // no empty last page, even when 7 divides evenly
      const flat = pages.flat();
      expect(new Set(flat).size).toBe(flat.length);
      expect(flat).toEqual(expected);
    }
    // Paging a filtered listing keeps the filter.
    const first = await all.listRuns({ pageSize: 2, status: 'succeeded' });
    expect(ids(first.items)).toEqual(ids([s(6), s(4)]));
    const second = await all.listRuns({ pageSize: 2, status: 'succeeded', cursor: first.cursor! });
    expect(ids(second.items)).toEqual(ids([s(2), s(1)]));
    expect(second.cursor).toBeUndefined();
    // A page size below 1 is one run a page.
    expect((await all.listRuns({ pageSize: 0 })).items).toHaveLength(1);

    expect(ids(await collect(all.runs()))).toEqual(expected);
    expect(ids(await collect(all.runs({ pageSize: 2 })))).toEqual(expected);
    expect(ids(await collect(w.client.flow('ClientStatusFlow').runs({ pageSize: 2 })))).toEqual(ids([s(7), s(6), s(4), s(3), s(1)]));
    expect(ids(await collect(all.runs({ pageSize: 1, status: 'failed', tags: ['user:alice'] })))).toEqual(ids([s(7), s(3)]));
    // Stopping early is fine: the generator simply ends.
    for await (const run of all.runs({ pageSize: 3 })) {
      expect(run.runId).toBe(s(7).runId);
      break;
    }
  });

  test('latestRun and latestSuccessfulRun: the newest run, and the newest that succeeded past a failed newest run', async () => {
    const mine = w.client.flow<ClientStatusFlow>('ClientStatusFlow');
    expect((await mine.latestRun())?.runId).toBe(s(7).runId);
    expect((await mine.latestRun())?.status).toBe('failed');
    const ok = await mine.latestSuccessfulRun();
    expect(ok?.runId).toBe(s(6).runId);
    expect((await ok!.data()).seen).toBe(6);
    expect((await mine.latestSuccessfulRun({ tags: ['nightly'] }))?.runId).toBe(s(1).runId);
    expect((await mine.latestRun({ tags: ['nightly'] }))?.runId).toBe(s(3).runId);
    expect((await mine.latestRun({ until: s(6).createdAt }))?.runId).toBe(s(4).runId);
    const bobs = w.client.withNamespace('user:bob').flow('ClientStatusFlow');
    expect((await bobs.latestRun())?.runId).toBe(s(5).runId);
    expect((await bobs.latestSuccessfulRun())?.runId).toBe(s(2).runId);
    expect((await w.global.flow('ClientStatusFlow').latestSuccessfulRun({ user: 'bob' }))?.runId).toBe(s(2).runId);
    // No such run: undefined, not an error.
    expect(await mine.latestRun({ tags: ['no-such-tag'] })).toBeUndefined();
    expect(await w.client.flow('NeverRanFlow').latestSuccessfulRun()).toBeUndefined();
    expect(await w.client.withNamespace('user:nobody').flow('ClientStatusFlow').latestRun()).toBeUndefined();
    // A failed run followed by its successful resume.
    expect((await w.client.flow('ClientResumeFlow').latestSuccessfulRun())?.runId).toBe(w.resumed.runId);
    expect((await w.client.flow('ClientResumeFlow').latestRun({ status: 'failed' }))?.runId).toBe(w.failed.runId);
  });

  // ---------------------------------------------------------------------------------------------
  test('a 30-split foreach: tasks a page at a time (listTasks cursors, tasks()), with index(), input() and artifacts', async () => {
    const body = (await w.client.run(w.fan.pathspec)).step('body');
    // Pages of 10: three full pages, the last without a cursor.
    const pages: Task[][] = [];
    let cursor: string | undefined;
    do {
      const page = await body.listTasks({ pageSize: 10, ...(cursor ? { cursor } : {}) });
      pages.push(page.items);
      cursor = page.cursor;
    } while (cursor && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10]);
    // Pages of 7 through tasks(): the same 30 tasks, in creation order, none twice.
    const walked = await collect(body.tasks({ pageSize: 7 }));
    expect(walked.map((t) => t.id)).toEqual(pages.flat().map((t) => t.id));
    expect(new Set(walked.map((t) => t.id)).size).toBe(30);
    expect(walked.map((t) => Number(t.id))).toEqual([...walked.map((t) => Number(t.id))].sort((a, b) => a - b));
    expect(walked.map((t) => t.key)).toEqual(Array.from({ length: 30 }, (_, i) => `body[${i}]`));
    expect((await collect(body.tasks({ status: 'succeeded', pageSize: 13 }))).length).toBe(30);
    expect(await collect(body.tasks({ status: 'failed' }))).toEqual([]);
    expect((await body.task()).id).toBe(walked[0]!.id);

    for (const [i, task] of walked.entries()) {
      expect(task.status).toBe('succeeded');
      expect(await task.index()).toBe(i);
      expect(await task.input<number>()).toBe(i * 10);
      const data = await task.data();
      expect([data.doubled, data.slot, data.same]).toEqual([i * 20, i, 'identical in every split']);
      const frames = await task.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0]).toMatchObject({ split: 'start', kind: 'foreach', slot: i, count: 30, var: 'items' });
    }
    // Equal values share their content address; different ones do not.
    const same = await Promise.all(walked.map(async (t) => (await t.artifact('same')).sha));
    expect(new Set(same).size).toBe(1);
    const doubled = await Promise.all(walked.map(async (t) => (await t.artifact('doubled')).sha));
    expect(new Set(doubled).size).toBe(30);
    // Split 0 stored the number 0 as both slot and doubled: one blob.
    expect((await walked[0]!.artifact('slot')).sha).toBe((await walked[0]!.artifact('doubled')).sha);
  });

  test("a page of tasks reads its tasks' artifacts, metadata and attempts in one query each", async () => {
    const md = counting(w.metadata);
    const client = new Client({ metadata: md.proxy, datastore: w.datastore, namespace: null });
    const body = (await client.run(w.fan.pathspec)).step('body');
    for await (const task of body.tasks({ pageSize: 10 })) {
      await task.artifacts();
      await task.metadata();
      await task.attempts();
      await task.index();
    }
    expect(md.calls.listTasks).toBe(3);
    expect(md.calls.listArtifactsOfTasks).toBe(3);
    expect(md.calls.getMetadataOfTasks).toBe(3);
    expect(md.calls.listAttemptsOfTasks).toBe(3);
    // The join's 30 parents: one batched read.
    const join = await (await client.run(w.fan.pathspec)).step('join').task();
    const before = md.calls.getTasks ?? 0;
    expect(await join.parents()).toHaveLength(30);
    expect((md.calls.getTasks ?? 0) - before).toBe(1);
  });

  test('artifacts are references until read: sha, size, type, encoding at once; get() reads, verifies and keeps the value', async () => {
    const ds = counting(w.datastore);
    const client = new Client({ metadata: w.metadata, datastore: ds.proxy, namespace: null });
    const join = await (await client.run(w.fan.pathspec)).step('join').task();
    const artifacts = await join.artifacts();
    expect(artifacts.map((a) => a.name)).toEqual(['count', 'label', 'n', 'raw', 'total']);
    expect(ds.calls.get ?? 0).toBe(0); // nothing read yet
    const byName = Object.fromEntries(artifacts.map((a) => [a.name, a]));
    expect([byName.total!.type, byName.total!.encoding, byName.total!.attempt]).toEqual(['number', 'msgpack', 0]);
    expect([byName.label!.type, byName.label!.encoding, byName.label!.size]).toEqual(['string', 'msgpack', 4]); // 0xa3 'fan'
    expect([byName.raw!.type, byName.raw!.encoding, byName.raw!.size]).toEqual(['Buffer', 'raw', 9]);
    expect(byName.raw!.sha).toBe(sha256('raw bytes')); // the SHA-256 of the stored bytes
    expect(byName.label!.sha).toBe(sha256(Buffer.concat([Buffer.from([0xa3]), Buffer.from('fan')])));
    for (const a of artifacts) expect(a.sha).toMatch(/^[0-9a-f]{64}$/);
    // count and n are both 30: one blob.
    expect(byName.count!.sha).toBe(byName.n!.sha);

    const total = byName.total as Artifact<number>;
    expect(await total.get()).toBe(8700);
    expect(ds.calls.get).toBe(1);
    expect(await total.get()).toBe(8700);
    expect(ds.calls.get).toBe(1); // kept
    const raw = await byName.raw!.get<Buffer>();
    expect(Buffer.isBuffer(raw)).toBe(true);
    expect(raw.toString()).toBe('raw bytes');
    const items = await (await (await client.run(w.fan.pathspec)).step('start').task()).artifact('items');
    const first = await items.get<number[]>();
    expect(await items.get()).toBe(first); // the same value, not a copy
    expect(first).toHaveLength(30);

    // A task's data() is every artifact decoded.
    expect(await join.data()).toEqual({ count: 30, label: 'fan', n: 30, raw: Buffer.from('raw bytes'), total: 8700 });
  });

  test('get() verifies the bytes against the SHA-256: a corrupt read is INTEGRITY and is not kept, the next read retries', async () => {
    let tamper = true;
    const real = w.datastore;
    const tampering = new Proxy(real, {
      get(t, prop) {
        // Hashing whole reads (no progress callback) lets the bytes be changed after the read.
        if (prop === 'capabilities') return { ...t.capabilities, readProgress: false };
        if (prop === 'get')
          return async (key: string, opts?: Parameters<Datastore['get']>[1]) => {
            const bytes = await t.get(key, opts);
            if (!tamper) return bytes;
            const copy = Uint8Array.from(bytes);
            copy[0] = copy[0]! ^ 0xff;
            return copy;
          };
        const value = Reflect.get(t, prop, t) as unknown;
        return typeof value === 'function' ? (value as Function).bind(t) : value;
      },
    });
    const client = new Client({ metadata: w.metadata, datastore: tampering, namespace: null });
    const total = await (await client.run(w.fan.pathspec)).artifact('total');
    const err = await rejectsWith(total.get(), 'INTEGRITY', /is corrupt: expected SHA-256 [0-9a-f]{64}, read [0-9a-f]{64} \(3 bytes\)/);
    expect(err.message.startsWith(`Artifact 'total' (sha256 ${total.sha.slice(0, 12)}…, read by ${total.taskPathspec}) is corrupt`)).toBe(
      true,
    );
    expect(err.context).toMatchObject({ artifact: 'total', sha: total.sha, pathspec: total.taskPathspec });
    tamper = false;
    expect(await total.get()).toBe(8700);
  });

  // ---------------------------------------------------------------------------------------------
  test('run.data() is the end task’s artifacts, data(step) another step’s, artifact(name) one of them; runs carry their record', async () => {
    const run = await w.client.run<ClientFanFlow>(w.fan.pathspec);
    const end = await run.endTask();
    expect(end?.step).toBe('end');
    expect(await run.data()).toEqual({ count: 30, label: 'fan', n: 30, raw: Buffer.from('raw bytes'), summary: 'fan:8700', total: 8700 });
    expect(await run.data()).toEqual(await end!.data());
    expect(await run.data('start')).toEqual({ items: Array.from({ length: 30 }, (_, i) => i * 10), label: 'fan', n: 30 });
    // A step with several tasks gives its first.
    expect((await run.data('body')).doubled).toBe(0);
    const total = await run.artifact('total');
    expect(total.pathspec).toBe(`${end!.pathspec}/total`);
    expect(await total.get()).toBe(8700);
    expect(await (await run.artifact('slot', 'body')).get()).toBe(0);
    await rejectsWith(run.artifact('nope'), 'NOT_FOUND', /has no artifact "nope"/);
    await rejectsWith(run.data('nope'), 'NOT_FOUND', /has no step "nope"/);

    // Typed by the flow class: these lines are checked by tsc.
    const data = await run.data();
    const count: number = data.count;
    const summary: string = data.summary;
    // @ts-expect-error `total` is a number
    const wrong: string = data.total;
    const typedTotal: number = await total.get();
    const byClass = await w.client.flow(ClientFanFlow).latestRun();
    const n: number = (await byClass!.data()).n;
    const fromRunResult: number = (await w.fan.data()).total; // runFlow's RunResult is typed too
    expect([count, summary, wrong, typedTotal, n, fromRunResult]).toEqual([30, 'fan:8700', 8700, 8700, 30, 8700]);

    // The run's record.
    expect(run.status).toBe('succeeded');
    expect([run.successful, run.finished]).toEqual([true, true]);
    expect(run.user).toBe('alice');
    expect(run.params).toEqual({ n: 30, label: 'fan' });
    expect(run.tags).toEqual(['nightly']);
    expect(run.systemTags).toEqual(['user:alice', RUNTIME_TAG, 'executor:warm-pool']);
    expect(run.codeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(run.graph.end).toBe('end');
    expect(run.originRunId).toBeUndefined();
    expect(run.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.createdAt.getTime());
    expect((await run.refresh()).record).toEqual(run.record);
    // runFlow's result is itself a Run, reading the same stores in the global namespace.
    expect(w.fan).toBeInstanceOf(Run);
    const { finishedAt: _f, ...stored } = run.record;
    const { finishedAt: _g, ...returned } = w.fan.record;
    expect(returned).toEqual(stored);
    expect(w.fan.client().namespace).toBeNull();
    expect((await w.fan.client().run(s(2).pathspec)).user).toBe('bob');
  });

  test("runFlow's RunResult is the run as the store recorded it, finishedAt included", async () => {
    // README: runFlow resolves with "the same Run" the client reads. Each result here must agree with the store.
    const mismatches: string[] = [];
    for (const result of [w.fan, w.behaviour, w.failed, w.resumed, ...w.status] as RunResult[]) {
      const stored = await w.global.run(result.pathspec);
      expect(result.status).toBe(stored.status);
      if (result.finishedAt?.getTime() !== stored.finishedAt?.getTime())
        mismatches.push(`${result.pathspec}: RunResult.finishedAt ${result.finishedAt?.getTime()}, stored ${stored.finishedAt?.getTime()}`);
    }
    expect(mismatches).toEqual([]);
  });

  test('a task: status, attempts() with typed errors after @retry, timings(), stdout/stderr and log(), metadata()', async () => {
    const run = await w.client.run<ClientBehaviourFlow>(w.behaviour.pathspec);
    const flaky = await run.step('flaky').task();
    expect([flaky.status, flaky.successful, flaky.finished, flaky.attemptCount, flaky.key]).toEqual([
      'succeeded',
      true,
      true,
      3,
      'flaky[0]',
    ]);
    const attempts = await flaky.attempts();
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [0, 'failed', 'USER_CODE'],
      [1, 'failed', 'USER_CODE'],
      [2, 'succeeded', undefined],
    ]);
    for (const a of attempts) {
      expect(a.startedAt).toBeInstanceOf(Date);
      expect(a.finishedAt!.getTime()).toBeGreaterThanOrEqual(a.startedAt.getTime());
    }
    expect(attempts[1]!.startedAt.getTime()).toBeGreaterThanOrEqual(attempts[0]!.finishedAt!.getTime());
    const e0 = attempts[0]!.error!;
    expect(e0).toBeInstanceOf(TributaryError);
    expect(TributaryError.is(e0, 'USER_CODE')).toBe(true);
    expect(e0.message).toBe('Error: flaky attempt 0 failed');
    expect(e0.context.pathspec).toBe(flaky.pathspec);
    expect(attempts[1]!.error!.message).toBe('Error: flaky attempt 1 failed');
    // It failed twice but the step succeeded: no exception.
    expect(await flaky.exception()).toBeUndefined();
    // Its artifacts are those of the attempt that succeeded.
    const value = await flaky.artifact('value');
    expect([value.attempt, await value.get()]).toEqual([2, 200]);
    // Output: the last attempt's by default, any attempt's on request.
    expect(await flaky.stdout()).toBe('flaky attempt 2\n');
    expect(await flaky.stdout({ attempt: 0 })).toBe('flaky attempt 0\n');
    expect(await flaky.stdout({ attempt: 1 })).toBe('flaky attempt 1\n');
    expect(await flaky.stdout({ attempt: 7 })).toBe('');
    expect((await flaky.log('stdout', 1))?.toString()).toBe('flaky attempt 1\n');
    expect(await flaky.log('stdout', 7)).toBeUndefined();

    const start = await run.step('start').task();
    expect(await start.stdout()).toBe('hello from start\n');
    expect(await start.stderr()).toBe('warning from start\n');
    expect((await start.log('stderr'))?.toString('utf8')).toBe('warning from start\n');
    expect(await start.attempts()).toHaveLength(1);

    // timings(): the orchestrator's clock for the successful attempt.
    const timings = await flaky.timings();
    expect(Object.keys(timings).sort()).toEqual(['dispatchMs', 'queueMs', 'runMs']);
    const md = await flaky.metadata();
    expect(timings).toEqual({ dispatchMs: Number(md['dispatch-ms']), queueMs: Number(md['queue-ms']), runMs: Number(md['run-ms']) });
    for (const ms of Object.values(timings)) expect(ms).toBeGreaterThanOrEqual(0);
    expect(timings.runMs!).toBeLessThan(30_000);
    expect(JSON.parse(md.targets!)).toEqual(['join']);
    expect(flaky.createdAt.getTime()).toBeLessThanOrEqual(flaky.finishedAt!.getTime());
    // A task that never succeeded has no timings.
    const middle = await w.failed.step('middle').task();
    expect(await middle.timings()).toEqual({});
  });

  test('exception(): what @catch stored (the task then succeeded), or a failed task’s last error', async () => {
    const run = await w.client.run<ClientBehaviourFlow>(w.behaviour.pathspec);
    const risky = await run.step('risky').task();
    expect([risky.status, risky.attemptCount]).toEqual(['succeeded', 2]);
    const ex = await risky.exception();
    expect(ex).toMatchObject({ code: 'USER_CODE', name: 'RangeError', message: 'RangeError: risky step blew up', artifact: 'failure' });
    expect(ex!.stack).toMatch(/risky step blew up[\s\S]*issue13-client-flows\.ts/);
    expect(await (await risky.artifact('failure')).get()).toEqual({
      code: ex!.code,
      name: ex!.name,
      message: ex!.message,
      stack: ex!.stack,
    });
    expect((await risky.attempts()).map((a) => [a.status, a.error?.code])).toEqual([
      ['failed', 'USER_CODE'],
      ['succeeded', undefined],
    ]);
    expect((await run.data()).outcome).toBe('USER_CODE/RangeError: risky step blew up');

    // A failed task without @catch: its last attempt's error.
    const middle = await (await w.client.run(w.failed.pathspec)).step('middle').task();
    expect([middle.status, middle.successful, middle.finished]).toEqual(['failed', false, true]);
    expect(await middle.exception()).toEqual({ code: 'USER_CODE', name: 'TributaryError', message: 'Error: the marker file is present' });
    expect(await middle.artifacts()).toEqual([]);
    await rejectsWith(middle.artifact('y'), 'NOT_FOUND', /It has none \(it is failed\)/);
    expect(await middle.stderr()).toMatch(/^Error: the marker file is present\n {4}at /);
    // A task that did not fail.
    expect(await (await run.step('start').task()).exception()).toBeUndefined();
  });

  test('parents() and children(): a join has one parent per branch or split; frames(), index() and input() outside a foreach', async () => {
    const run = await w.client.run(w.behaviour.pathspec);
    const start = await run.step('start').task();
    const join = await run.step('join').task();
    expect((await join.parents()).map((t) => t.key)).toEqual(['flaky[0]', 'risky[1]']);
    expect((await start.children()).map((t) => t.step)).toEqual(['flaky', 'risky']);
    // start's input is the _parameters pseudo-task (the parameters' values), whose only child it is.
    const [params] = await start.parents();
    expect([params?.step, params?.key, params?.pathspec]).toEqual([
      '_parameters',
      '_parameters',
      (await run.step('_parameters').task()).pathspec,
    ]);
    expect((await params!.children()).map((t) => t.id)).toEqual([start.id]);
    expect(await params!.parents()).toEqual([]);
    const risky = await run.step('risky').task();
    expect(await risky.frames()).toEqual([{ split: 'start', kind: 'static', slot: 1, count: 2 }]);
    expect(await risky.index()).toBeUndefined(); // a static branch is not a foreach
    expect(await risky.input()).toBeUndefined();
    expect(await start.frames()).toEqual([]);
    expect(await start.index()).toBeUndefined();

    const fanJoin = await (await w.client.run(w.fan.pathspec)).step('join').task();
    const parents = await fanJoin.parents();
    expect(parents).toHaveLength(30);
    expect(parents.map((t) => t.key)).toEqual(Array.from({ length: 30 }, (_, i) => `body[${i}]`));
    expect(fanJoin.record.parents).toEqual(parents.map((t) => t.id));
    // Parents come as a batch: their artifacts too.
    expect(await Promise.all(parents.map(async (t) => (await t.artifact('doubled')).get()))).toEqual(
      Array.from({ length: 30 }, (_, i) => i * 20),
    );
    for (const p of parents.slice(0, 3)) expect((await p.children()).map((c) => c.id)).toEqual([fanJoin.id]);
    expect(await fanJoin.index()).toBeUndefined(); // the join closed the foreach
  });

  test('resume: cloned tasks expose origin()/originPathspec, their output comes from the origin, and the run names its origin', async () => {
    const { failed, resumed, client } = w;
    const run = await client.run<ClientResumeFlow>(resumed.pathspec);
    expect(run.originRunId).toBe(failed.runId);
    expect(run.params).toEqual(failed.params); // the origin's parameters
    const start = await run.step('start').task();
    const originStart = await failed.step('start').task();
    expect(start.originPathspec).toBe(originStart.pathspec);
    const origin = await start.origin();
    expect(origin?.pathspec).toBe(originStart.pathspec);
    expect(origin?.record).toEqual(originStart.record);
    // The clone ran nowhere: its output is the origin's.
    expect(await start.stdout()).toBe('start ran in the origin run\n');
    expect(await start.stdout()).toBe(await originStart.stdout());
    expect(await start.log('stdout', 0)).toBeUndefined(); // an explicit attempt is this task's own
    // Same artifacts (by reference: the same content addresses).
    const shas = async (t: Task) => Object.fromEntries((await t.artifacts()).map((a) => [a.name, a.sha]));
    expect(await shas(start)).toEqual(await shas(originStart));
    expect(await start.data()).toEqual({ marker: failed.params.marker, x: 20 });
    expect(await start.timings()).toEqual(await originStart.timings());
    // What ran again has no origin.
    const middle = await run.step('middle').task();
    expect(middle.originPathspec).toBeUndefined();
    expect(await middle.origin()).toBeUndefined();
    expect((await run.data()).y).toBe(21);
    expect((await run.steps()).map((st) => st.name)).toEqual(['start', 'middle', 'end']);
    expect((await (await client.run(failed.pathspec)).steps()).map((st) => st.name)).toEqual(['start', 'middle']);
    expect(await (await client.run(failed.pathspec)).endTask()).toBeUndefined();
    // The failed run's data can still be read step by step.
    expect(await failed.data('start')).toEqual({ marker: failed.params.marker, x: 20 });
    // origin() reads in the global namespace: the origin may predate the tag a reader's namespace is.
    await run.addTags('resumed-only');
    try {
      const narrow = w.client.withNamespace('resumed-only');
      await rejectsWith(narrow.run(failed.pathspec), 'NAMESPACE_MISMATCH');
      const clone = await narrow.task(start.pathspec);
      expect((await clone.origin())?.pathspec).toBe(originStart.pathspec);
      expect(await clone.stdout()).toBe('start ran in the origin run\n');
    } finally {
      await run.removeTags('resumed-only');
    }
  });

  // ---------------------------------------------------------------------------------------------
  test('tags: addTags, removeTags and replaceTags change user tags; system tags are immutable (CONFLICT) and nothing changes', async () => {
    const run = await w.client.run(s(6).pathspec);
    expect(run.tags).toEqual([]);
    const added = await run.addTags('candidate', 'v1');
    expect(added).toBeInstanceOf(Run);
    expect([...added.tags].sort()).toEqual(['candidate', 'v1']);
    expect(run.tags).toEqual([]); // a Run is the record as it was read...
    expect([...(await run.refresh()).tags].sort()).toEqual(['candidate', 'v1']); // ...refresh() reads it again
    expect([...(await run.addTags('v1')).tags].sort()).toEqual(['candidate', 'v1']); // adding twice keeps one
    const replaced = await run.replaceTags(['candidate'], ['prod']);
    expect([...replaced.tags].sort()).toEqual(['prod', 'v1']);
    const removed = await run.removeTags('v1', 'never-there');
    expect(removed.tags).toEqual(['prod']);
    // Tags are filters and namespaces at once.
    expect(ids((await w.global.flow('ClientStatusFlow').listRuns({ tags: ['prod'] })).items)).toEqual([s(6).runId]);
    expect(ids(await collect(w.client.withNamespace('prod').flow('ClientStatusFlow').runs()))).toEqual([s(6).runId]);

    // System tags: never removed, replaced or added as user tags.
    const prodRun = await w.client.run(s(4).pathspec);
    expect(prodRun.systemTags).toEqual(['user:alice', RUNTIME_TAG, 'executor:in-process', 'production:tok-1']);
    await rejectsWith(prodRun.removeTags('user:alice'), 'CONFLICT', /user:alice is a system tag/);
    await rejectsWith(prodRun.removeTags('production:tok-1'), 'CONFLICT', /production:tok-1 is a system tag/);
    await rejectsWith(prodRun.replaceTags(['production:tok-1'], ['production:tok-2']), 'CONFLICT');
    await rejectsWith(prodRun.replaceTags(['x'], [RUNTIME_TAG]), 'CONFLICT');
    await rejectsWith(prodRun.addTags('ok', 'executor:in-process'), 'CONFLICT');
    // A user tag with a system prefix would put the run in a namespace it was not run in.
    await rejectsWith(run.addTags('production:tok-1'), 'PARAM_INVALID', /starts with production:, which only Tributary sets/);
    await rejectsWith(run.addTags('ok', 'user:mallory'), 'PARAM_INVALID');
    expect(ids(await collect(w.client.withNamespace('production:tok-1').flow('ClientStatusFlow').runs()))).toEqual([s(4).runId]);
    const spoofed = runFlow(ClientStatusFlow, {
      home: w.home,
      ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}),
      executor: 'in-process',
      tags: ['production:tok-1'],
    });
    await rejectsWith(spoofed, 'PARAM_INVALID', /productionToken/);
    const after = await prodRun.refresh();
    expect(after.tags).toEqual([]); // the refused calls changed nothing, not even their valid part
    expect(after.systemTags).toEqual(prodRun.systemTags);
    expect(ids((await w.global.flow('ClientStatusFlow').listRuns({ tags: ['ok'] })).items)).toEqual([]);

    expect((await w.client.withNamespace('prod').flows()).map((f) => f.name)).toEqual(['ClientStatusFlow']);
    // Clean up for the other tests: the tag, and the namespace it made, are gone.
    expect((await run.replaceTags(['prod'], [])).tags).toEqual([]);
    expect(await w.client.withNamespace('prod').flows()).toEqual([]);
    expect(await w.client.withNamespace('prod').flow('ClientStatusFlow').latestRun()).toBeUndefined();
  });

  test('namespaces: user:<name> from TRIBUTARY_USER hides other users’ runs; NAMESPACE_MISMATCH; withNamespace(null); production:<token>', async () => {
    const { metadata, datastore } = w;
    const bobRun = s(2);
    // alice (the default here) cannot read bob's run by its pathspec: the error says whose it is and what to do.
    const err = await rejectsWith(
      w.client.run(bobRun.pathspec),
      'NAMESPACE_MISMATCH',
      new RegExp(
        `Run ClientStatusFlow/${bobRun.runId} is not in namespace user:alice \\(it was run by bob\\)\\. .*withNamespace\\('user:bob'\\)`,
      ),
    );
    expect(err.context).toMatchObject({ pathspec: bobRun.pathspec, namespace: 'user:alice' });
    await rejectsWith(w.client.step(`${bobRun.pathspec}/start`), 'NAMESPACE_MISMATCH');
    const bobStart = await bobRun.step('start').task();
    await rejectsWith(w.client.task(bobStart.pathspec), 'NAMESPACE_MISMATCH');
    await rejectsWith(w.client.artifact(`${bobStart.pathspec}/seen`), 'NAMESPACE_MISMATCH');
    await rejectsWith(w.client.flow('ClientStatusFlow').run(bobRun.runId), 'NAMESPACE_MISMATCH');
    // A missing run is NOT_FOUND whatever the namespace.
    await rejectsWith(w.client.run('ClientStatusFlow/987654321'), 'NOT_FOUND');

    // The global namespace sees every run.
    expect((await w.global.run(bobRun.pathspec)).user).toBe('bob');
    expect(await (await w.global.artifact<number>(`${bobStart.pathspec}/seen`)).get()).toBe(2);

    // The default namespace follows TRIBUTARY_USER (and TRIBUTARY_NAMESPACE), read when the client is made.
    await withEnv({ TRIBUTARY_USER: 'bob' }, async () => {
      const asBob = new Client({ metadata, datastore });
      expect(asBob.namespace).toBe('user:bob');
      expect(ids(await collect(asBob.flow('ClientStatusFlow').runs()))).toEqual(ids([s(5), s(2)]));
      expect((await asBob.flows()).map((f) => f.name)).toEqual(['ClientStatusFlow']);
      await rejectsWith(asBob.run(w.fan.pathspec), 'NAMESPACE_MISMATCH', /not in namespace user:bob \(it was run by alice\)/);
      expect((await asBob.run(bobRun.pathspec)).runId).toBe(bobRun.runId);
    });
    await withEnv({ TRIBUTARY_USER: 'carol' }, async () => {
      const opened = await Client.open({ home: w.home, ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}) });
      expect(opened.namespace).toBe('user:carol');
      expect(await opened.flows()).toEqual([]);
      expect(await opened.flow('ClientStatusFlow').latestRun()).toBeUndefined();
      await opened.close();
    });
    await withEnv({ TRIBUTARY_NAMESPACE: 'global' }, async () => {
      expect(new Client({ metadata, datastore }).namespace).toBeNull();
    });
    await withEnv({ TRIBUTARY_NAMESPACE: 'none', TRIBUTARY_USER: 'bob' }, async () => {
      const none = new Client({ metadata, datastore });
      expect(none.namespace).toBeNull(); // the namespace variable wins over the user
      expect((await none.run(w.fan.pathspec)).user).toBe('alice');
    });
    await withEnv({ TRIBUTARY_NAMESPACE: 'production:tok-1' }, async () => {
      const prod = new Client({ metadata, datastore });
      expect(prod.namespace).toBe('production:tok-1');
      expect(ids(await collect(prod.flow('ClientStatusFlow').runs()))).toEqual([s(4).runId]);
    });
    expect(new Client({ metadata, datastore }).namespace).toBe('user:alice'); // restored

    // production:<token>: the namespace a deployed model's readers use.
    const prod = w.client.withNamespace('production:tok-1');
    expect(ids(await collect(prod.flow('ClientStatusFlow').runs()))).toEqual([s(4).runId]);
    expect((await prod.flow('ClientStatusFlow').latestSuccessfulRun())?.runId).toBe(s(4).runId);
    expect((await (await prod.run(s(4).pathspec)).data()).seen).toBe(4);
    await rejectsWith(prod.run(s(6).pathspec), 'NAMESPACE_MISMATCH', /not in namespace production:tok-1/);
    expect(await w.client.withNamespace('production:other').flow('ClientStatusFlow').latestRun()).toBeUndefined();

    // A client's namespace does not leak into another's.
    expect(w.client.namespace).toBe('user:alice');
    expect(prod.namespace).toBe('production:tok-1');
  });

  // Last: it adds a run.
  test('a cursor stays valid while new runs arrive: the next pages neither repeat nor gain runs', async () => {
    const all = w.global.flow('ClientStatusFlow');
    const first = await all.listRuns({ pageSize: 3 });
    expect(ids(first.items)).toEqual(ids([s(7), s(6), s(5)]));
    // (It also shows $TRIBUTARY_PRODUCTION_TOKEN tagging a run for production readers.)
    const newer = await withEnv({ TRIBUTARY_PRODUCTION_TOKEN: 'tok-env' }, () =>
      runFlow(ClientStatusFlow, {
        home: w.home,
        ...(w.metadataUrl ? { metadata: w.metadataUrl } : {}),
        executor: 'in-process',
        params: { seq: 8 },
      }),
    );
    expect(newer.systemTags).toEqual(['user:alice', RUNTIME_TAG, 'executor:in-process', 'production:tok-env']);
    const rest = await collect(
      (async function* () {
        let cursor = first.cursor;
        while (cursor) {
          const page = await all.listRuns({ pageSize: 3, cursor });
          yield* page.items;
          cursor = page.cursor;
        }
      })(),
    );
    expect(ids(rest)).toEqual(ids([s(4), s(3), s(2), s(1)]));
    // A new listing starts with it.
    expect((await all.latestRun())?.runId).toBe(newer.runId);
    expect((await w.client.flow('ClientStatusFlow').latestSuccessfulRun())?.runId).toBe(newer.runId);
    const readers = w.client.withNamespace('production:tok-env');
    expect(ids(await collect(readers.flow('ClientStatusFlow').runs()))).toEqual([newer.runId]);
    expect((await (await readers.run(newer.pathspec)).data()).seen).toBe(8);
  });
});
