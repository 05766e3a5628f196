import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TributaryError, type NewRun, type TaskRef } from '@tributary/core';
import { runFlow } from 'tributary';
import { HelloFlow } from '../../../examples/hello.ts';
import { createPostgresMetadataStore, type PostgresMetadataStore } from '../src/index.ts';
import { redactUrl } from '@tributary/core';
import { startTestPostgres, type TestPostgres } from '../src/testing/postgres-server.ts';
import { startReplyLossProxy, type ReplyLossProxy } from '../src/testing/reply-loss-proxy.ts';

let server: TestPostgres;
let admin: pg.Pool;
let proxy: ReplyLossProxy;
const home = mkdtempSync(join(tmpdir(), 'tributary-i9-pg-'));
// A password a test can find anywhere it leaks to.
const PASSWORD = 'Hunter2-i9-Zq7xW';

beforeAll(async () => {
  server = await startTestPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 2 });
  // A role that must log in with a password (the test cluster trusts everyone else).
  await admin.query(`CREATE ROLE alice LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query('GRANT CREATE ON DATABASE postgres TO alice');
  const hba = (await admin.query<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
  writeFileSync(hba, `host all alice 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  await admin.query('SELECT pg_reload_conf()');
  proxy = await startReplyLossProxy(server.port);
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await admin?.end();
  server?.destroy();
  rmSync(home, { recursive: true, force: true });
});

const RUN: NewRun = { flow: 'F', user: 'u', params: {}, tags: ['t'], systemTags: ['user:u'], codeHash: 'h', graph: null };

async function count(schema: string, sql: string, args: unknown[]): Promise<number> {
  return Number((await admin.query<{ n: string }>(sql.replaceAll('{s}', schema), args)).rows[0]!.n);
}

describe('issue 9 item 9: startAttempt/finishAttempt exactly once when a committed reply is lost', () => {
  const schema = 'i9_retry';
  let store: PostgresMetadataStore;
  beforeAll(() => {
    store = createPostgresMetadataStore({ url: proxy.url(`${server.url}?schema=${schema}`), retry: { attempts: 5, baseDelayMs: 10 } });
  });
  afterAll(async () => {
    await store.close();
  });

  async function newTask(): Promise<TaskRef> {
    const run = await store.createRun(RUN);
    const [task] = await store.registerTasks([{ flow: 'F', runId: run.runId, step: 's', key: 's', parents: [] }]);
    return { flow: 'F', runId: run.runId, taskId: task!.taskId };
  }

  test('issue 9 item 9: a retried startAttempt whose first try committed succeeds; the attempt is recorded once', async () => {
    const ref = await newTask();
    const dropped = proxy.stats.dropped.length;
    proxy.arm(/INSERT INTO attempts/);
    await store.startAttempt(ref, 0);
    expect(proxy.stats.dropped.length).toBe(dropped + 1);
    expect(await count(schema, 'SELECT count(*) AS n FROM {s}.attempts WHERE task_id = $1', [ref.taskId])).toBe(1);
    expect((await store.getTask(ref)).attempts).toBe(1);
    expect((await store.listAttempts(ref)).map((a) => a.status)).toEqual(['running']);
    // A second start of the same attempt by another call is still a conflict.
    await expect(store.startAttempt(ref, 0)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  test('issue 9 item 9: a retried finishAttempt whose first try committed succeeds; artifacts and metadata are recorded once', async () => {
    const ref = await newTask();
    await store.startAttempt(ref, 0);
    const outcome = {
      status: 'succeeded' as const,
      artifacts: [
        { name: 'a', sha: 'aa', size: 1, type: 'number', encoding: 'msgpack' },
        { name: 'b', sha: 'bb', size: 2, type: 'string', encoding: 'msgpack' },
      ],
      metadata: { transition: 'end' },
    };
    const dropped = proxy.stats.dropped.length;
    proxy.arm(/UPDATE attempts SET status/);
    await store.finishAttempt(ref, 0, outcome);
    expect(proxy.stats.dropped.length).toBe(dropped + 1);
    expect((await store.getTask(ref)).status).toBe('succeeded');
    expect((await store.listArtifacts(ref)).map((a) => a.name)).toEqual(['a', 'b']);
    expect(
      await count(schema, `SELECT count(*) AS n FROM {s}.task_metadata WHERE task_id = $1 AND field = 'transition'`, [ref.taskId]),
    ).toBe(1);
    // A second completion by another call, with the same outcome or another, is still a conflict.
    await expect(store.finishAttempt(ref, 0, outcome)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.finishAttempt(ref, 0, { status: 'failed', error: { code: 'X', message: 'x' } })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  test('issue 9 item 9: a failed attempt finished through a lost reply, then the next attempt runs normally', async () => {
    const ref = await newTask();
    await store.startAttempt(ref, 0);
    proxy.arm(/UPDATE attempts SET status/);
    await store.finishAttempt(ref, 0, { status: 'failed', error: { code: 'USER_CODE', message: 'boom' } });
    proxy.arm(/INSERT INTO attempts/);
    await store.startAttempt(ref, 1);
    await store.finishAttempt(ref, 1, { status: 'succeeded', artifacts: [] });
    expect((await store.listAttempts(ref)).map((a) => [a.attempt, a.status, a.error?.message])).toEqual([
      [0, 'failed', 'boom'],
      [1, 'succeeded', undefined],
    ]);
    expect((await store.getTask(ref)).attempts).toBe(2);
  });

  test('issue 9 item 9: createRun and finishRun are exactly once too (no ghost run, no CONFLICT)', async () => {
    proxy.arm(/INSERT INTO runs/);
    const dropped = proxy.stats.dropped.length;
    const run = await store.createRun({ ...RUN, flow: 'Once' });
    expect(proxy.stats.dropped.length).toBe(dropped + 1);
    expect(await count(schema, `SELECT count(*) AS n FROM {s}.runs WHERE flow = 'Once'`, [])).toBe(1);
    expect(run).toMatchObject({ flow: 'Once', status: 'running', tags: ['t'], systemTags: ['user:u'] });
    expect(await count(schema, `SELECT count(*) AS n FROM {s}.run_tags WHERE run_id = $1`, [run.runId])).toBe(2);
    proxy.arm(/UPDATE runs SET status/);
    await store.finishRun('Once', run.runId, 'succeeded');
    expect(proxy.stats.dropped.length).toBe(dropped + 2);
    expect((await store.getRun('Once', run.runId)).status).toBe('succeeded');
    await expect(store.finishRun('Once', run.runId, 'succeeded')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  test('issue 9 item 9: a run whose attempt replies are lost after commit still succeeds, each task with one attempt', async () => {
    const runSchema = 'i9_run';
    const dropped = proxy.stats.dropped.length;
    proxy.arm(/INSERT INTO attempts/, 2);
    proxy.arm(/UPDATE attempts SET status/, 2);
    const run = await runFlow(HelloFlow, { home, metadata: proxy.url(`${server.url}?schema=${runSchema}`) });
    try {
      expect(run.error?.message).toBeUndefined();
      expect(run.status).toBe('succeeded');
      expect(proxy.stats.dropped.length).toBe(dropped + 4);
      const perTask = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${runSchema}.attempts GROUP BY task_id`);
      expect(perTask.rows.length).toBeGreaterThanOrEqual(4);
      expect(perTask.rows.every((r) => r.n === '1')).toBe(true);
    } finally {
      await run.close();
    }
  });
});

/** Everything a logger, a JSON API or an error reporter could show of `value`. */
function exposures(value: unknown): string {
  const json = (() => {
    try {
      return JSON.stringify(value) ?? '';
    } catch (err) {
      return String((err as Error).message);
    }
  })();
  const e = value as { stack?: unknown; cause?: unknown };
  return [
    inspect(value, { depth: 10, showHidden: true }),
    inspect(value, { depth: 10, showHidden: true, customInspect: false, getters: true }),
    json,
    String(value),
    typeof e?.stack === 'string' ? e.stack : '',
    e?.cause ? inspect(e.cause, { depth: 10, showHidden: true }) : '',
  ].join('\n');
}

async function failure(p: Promise<unknown>): Promise<TributaryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(TributaryError.is(err), `expected a TributaryError, got ${String(err)}`).toBe(true);
  return err as TributaryError;
}

describe('issue 9 items 14 and 15: the Postgres password never shows', () => {
  const url = (password: string, schema = 'i15') => `postgres://alice:${password}@127.0.0.1:${server.port}/postgres?schema=${schema}`;

  test('issue 9 item 15: inspecting or serializing a connected store never shows the password', async () => {
    const store = createPostgresMetadataStore({ url: url(PASSWORD) });
    try {
      const run = await store.createRun(RUN); // logs in with the password: the pool now holds connections
      expect(run.status).toBe('running');
      const seen = exposures(store);
      expect(seen).toContain('alice@127.0.0.1');
      expect(seen).not.toContain(PASSWORD);
      expect(Object.values(store).join(' ')).not.toContain(PASSWORD);
    } finally {
      await store.close();
    }
  });

  test('issue 9 item 15: util.inspect(run) of a run with metadata in Postgres never shows the password', async () => {
    const run = await runFlow(HelloFlow, { home, metadata: url(PASSWORD, 'i15_run') });
    try {
      expect(run.status).toBe('succeeded');
      expect(exposures(run)).not.toContain(PASSWORD);
    } finally {
      await run.close();
    }
  });

  test('issue 9 item 15: a wrong password gives a CONFIG error that shows neither password', async () => {
    const wrong = 'Wr0ng-i9-Pk3vY';
    const store = createPostgresMetadataStore({ url: url(wrong), retry: { attempts: 2, baseDelayMs: 10 } });
    const err = await failure(store.latestRun('F'));
    expect(err.code).toBe('CONFIG');
    expect(err.message).toContain('rejected the credentials for alice@127.0.0.1');
    const seen = exposures(err) + exposures(store);
    expect(seen).not.toContain(wrong);
    expect(seen).not.toContain(PASSWORD);
    await store.close();
  });

  test('issue 9 item 15: an unreachable host gives an INFRASTRUCTURE error that does not show the password', async () => {
    const store = createPostgresMetadataStore({
      url: `postgres://alice:${PASSWORD}@127.0.0.1:1/db`,
      retry: { attempts: 2, baseDelayMs: 10 },
    });
    const err = await failure(store.latestRun('F'));
    expect(err.code).toBe('INFRASTRUCTURE');
    expect(err.message).toContain('alice@127.0.0.1:1/db');
    expect(exposures(err) + exposures(store)).not.toContain(PASSWORD);
    await store.close();
  });

  test('issue 9 item 14: a malformed Postgres URL is a CONFIG error with the password masked', () => {
    const raw = `postgres://alice:${PASSWORD}@127.0.0.1:notaport/mldb`;
    let err: unknown;
    try {
      createPostgresMetadataStore({ url: raw });
    } catch (e) {
      err = e;
    }
    expect(TributaryError.is(err)).toBe(true);
    const e = err as TributaryError;
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain('"postgres://alice:***@127.0.0.1:notaport/mldb"');
    expect(exposures(e)).not.toContain(PASSWORD);
  });

  test('issue 9 item 14: redactUrl masks every form of password and leaves the rest readable', () => {
    expect(redactUrl('postgres://alice:s3cret@db:5432/x?schema=y')).toBe('postgres://alice:***@db:5432/x?schema=y');
    expect(redactUrl('at "postgresql://bob:pa/ss@h/db" and "postgres://carol:p@ss@h/db"')).toBe(
      'at "postgresql://bob:***@h/db" and "postgres://carol:***@h/db"',
    );
    expect(redactUrl('postgres://h/db?password=s3cret&user=a')).toBe('postgres://h/db?password=***&user=a');
    expect(redactUrl("host=h password='s 3' user=a")).toBe('host=h password=*** user=a');
    expect(redactUrl('postgres://alice@h/db')).toBe('postgres://alice@h/db');
    expect(redactUrl('no url here')).toBe('no url here');
  });

  test('issue 9 item 14: property: no password survives redactUrl, escaped or not, wherever the URL sits in a message', () => {
    // Raw passwords may hold anything a sloppy URL can: '@', '/', ':', '?', '#', but not the
    // whitespace or quotes that end a URL inside a message.
    const raw = fc.string({ minLength: 1, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019@/:?#%&=!$-_.~+'.split('')) });
    fc.assert(
      fc.property(raw, fc.boolean(), fc.constantFrom('postgres', 'postgresql'), (p, escape, scheme) => {
        const password = `PW${p}`;
        const url = `${scheme}://alice:${escape ? encodeURIComponent(password) : password}@db.example:5432/mldb?schema=x`;
        const out = redactUrl(`Cannot use "${url}" now (${url})`);
        expect(out).not.toContain(escape ? encodeURIComponent(password) : password);
        expect(out).toContain(`${scheme}://alice:***@`);
      }),
      { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 500) },
    );
  });
});

test('issue 9 item 9: a schema created by the previous version (v2) is migrated to the idempotency tokens and keeps its data', async () => {
  const { MIGRATIONS } = await import('../src/migrations.ts');
  const schema = 'i9_v2';
  const c = await admin.connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
    await c.query(`CREATE TABLE tributary_schema (version INT NOT NULL, applied_at BIGINT NOT NULL)`);
    for (let v = 0; v < 2; v++) {
      await c.query(MIGRATIONS[v]!);
      await c.query('INSERT INTO tributary_schema VALUES ($1, 0)', [v + 1]);
    }
    await c.query(
      `INSERT INTO runs (flow, user_name, status, params, tags, system_tags, code_hash, graph, created_at) VALUES ('Old', 'u', 'running', '{}', '[]', '[]', 'h', 'null', 1)`,
    );
  } finally {
    c.release();
  }
  const store = createPostgresMetadataStore({ url: `${server.url}?schema=${schema}` });
  try {
    const old = (await store.latestRun('Old'))!;
    await store.finishRun('Old', old.runId, 'succeeded');
    expect((await store.getRun('Old', old.runId)).status).toBe('succeeded');
    expect(await count(schema, 'SELECT max(version) AS n FROM {s}.tributary_schema', [])).toBe(MIGRATIONS.length);
  } finally {
    await store.close();
  }
});
