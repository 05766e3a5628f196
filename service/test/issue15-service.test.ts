import { execFileSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, test } from 'vitest';
import { startFaultProxy } from '@tributary/conformance';
import { TributaryError, type MetadataStore, type NewRun } from '@tributary/core';
import { createHttpMetadataStore, httpMetadataOptionsFromUrl } from '@tributary/metadata-http';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres } from '@tributary/metadata-postgres/testing';
import { createSqliteMetadataStore } from '@tributary/metadata-sqlite';
import { createMetadataService, type MetadataService } from '../src/index.ts';

const TOKEN = 'issue15-token-aaaaaaaaaaaaaaaa';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-issue15-'));
  dirs.push(d);
  return d;
}

function newRun(flow = 'ServiceFlow'): NewRun {
  return { flow, user: 'alice', params: { a: 1 }, tags: ['t'], systemTags: ['user:alice'], codeHash: 'c'.repeat(64), graph: { start: {} } };
}

async function sqliteService(options: { tokens?: string[]; log?: (l: string) => void; tls?: { key: Buffer; cert: Buffer } } = {}) {
  const path = join(tempDir(), 'metadata.sqlite');
  const service = createMetadataService({ store: createSqliteMetadataStore({ path }), tokens: options.tokens ?? [TOKEN], ...options });
  const url = await service.listen({ port: 0 });
  const count = (table: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  return { service, url, path, count };
}

async function post(url: string, method: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { result?: unknown; error?: { code: string; message: string; retryable: boolean } },
  };
}

async function rejection(p: Promise<unknown>): Promise<TributaryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!TributaryError.is(e)) throw new Error(`expected a TributaryError, got ${String(e)}`);
  return e;
}

describe('auth: bearer tokens', () => {
  test('without a valid token every request but /health and /ready is refused with 401, and nothing is written', async () => {
    const lines: string[] = [];
    const { service, url, count } = await sqliteService({ log: (l) => lines.push(l) });
    try {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token-wrong-token' },
        { authorization: `Basic ${TOKEN}` },
        { authorization: TOKEN },
      ] as Array<Record<string, string>>) {
        const r = await post(url, 'createRun', { args: [newRun()] }, headers);
        expect(r.status).toBe(401);
        expect(r.body.error).toMatchObject({ code: 'UNAUTHORIZED', retryable: false });
      }
      expect((await fetch(`${url}/v1/info`)).status).toBe(401);
      expect(count('runs')).toBe(0);
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${url}/ready`)).json()).toEqual({ status: 'ready' });

      const ok = await post(url, 'createRun', { args: [newRun()] }, { authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
      expect(count('runs')).toBe(1);

      // The adapter: a wrong token is a typed UNAUTHORIZED error naming the service, not the token.
      const bad = createHttpMetadataStore({ url, token: 'not-the-token-0123456789' });
      const e = await rejection(bad.listFlows());
      expect(e.code).toBe('UNAUTHORIZED');
      expect(e.retryable).toBe(false);
      expect(e.message).toContain(url);
      expect(e.message).toContain('TRIBUTARY_METADATA_TOKEN');
      expect(e.message).not.toContain('not-the-token');
      await bad.close();
      const good = createHttpMetadataStore({ url, token: TOKEN });
      expect(await good.listFlows()).toEqual(['ServiceFlow']);
      await good.close();
    } finally {
      await service.close();
    }
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  test('several tokens are accepted at once (rotation); short tokens are refused at start', async () => {
    const second = 'second-token-bbbbbbbbbbbbbbbb';
    const { service, url } = await sqliteService({ tokens: [TOKEN, second] });
    try {
      for (const token of [TOKEN, second]) {
        const s = createHttpMetadataStore({ url, token });
        expect(await s.listFlows()).toEqual([]);
        await s.close();
      }
    } finally {
      await service.close();
    }
    expect(() =>
      createMetadataService({ store: createSqliteMetadataStore({ path: join(tempDir(), 'm.sqlite') }), tokens: ['short'] }),
    ).toThrow(/at least 16 characters/);
  });

  test('the adapter reads TRIBUTARY_METADATA_TOKEN by default', async () => {
    const { service, url } = await sqliteService();
    const before = process.env.TRIBUTARY_METADATA_TOKEN;
    process.env.TRIBUTARY_METADATA_TOKEN = TOKEN;
    try {
      const s = createHttpMetadataStore({ url });
      expect(await s.listFlows()).toEqual([]);
      await s.close();
    } finally {
      if (before === undefined) delete process.env.TRIBUTARY_METADATA_TOKEN;
      else process.env.TRIBUTARY_METADATA_TOKEN = before;
      await service.close();
    }
  });
});

describe('requests are validated by schema before any handler runs', () => {
  test('bad bodies are 400 PARAM_INVALID and write nothing; unknown routes are 404', async () => {
    const { service, url, count } = await sqliteService();
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      const cases: unknown[] = [
        '{not json',
        {},
        { args: [] },
        { args: [{ ...newRun(), flow: 7 }] },
        { args: [{ ...newRun(), extra: true }] },
        { args: [newRun(), 'surplus'] },
      ];
      for (const body of cases) {
        const r = await post(url, 'createRun', body, auth);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error?.code).toBe('PARAM_INVALID');
      }
      const run = (await post(url, 'createRun', { args: [newRun()] }, auth)).body.result as { runId: string; flow: string };
      // A string attempt number is not coerced.
      const task = (
        await post(url, 'registerTask', { args: [{ flow: run.flow, runId: run.runId, step: 's', key: 's', parents: [] }] }, auth)
      ).body.result as { taskId: string };
      const ref = { flow: run.flow, runId: run.runId, taskId: task.taskId };
      expect((await post(url, 'startAttempt', { args: [ref, '0'] }, auth)).status).toBe(400);
      expect((await post(url, 'finishAttempt', { args: [ref, 0, { status: 'done' }] }, auth)).status).toBe(400);
      expect(
        (await post(url, 'getTasks', { args: [{ ...ref, taskIds: Array.from({ length: 1001 }, (_, i) => String(i)) }] }, auth)).status,
      ).toBe(400);
      expect(count('runs')).toBe(1);
      expect(count('attempts')).toBe(0);
      const missing = await post(url, 'dropEverything', { args: [] }, auth);
      expect(missing.status).toBe(404);
      expect((await fetch(`${url}/v1/getRun`, { headers: auth })).status).toBe(404);
      // Typed errors of the store keep their code and status.
      const nf = await post(url, 'getRun', { args: ['ServiceFlow', '999'] }, auth);
      expect(nf).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
      await post(url, 'finishRun', { args: [run.flow, run.runId, 'succeeded'] }, auth);
      const conflict = await post(url, 'finishRun', { args: [run.flow, run.runId, 'failed'] }, auth);
      expect(conflict).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT', retryable: false } } });
    } finally {
      await service.close();
    }
  });
});

describe('exactly-once retries', () => {
  test('through a link that drops replies after the service applied them, resets connections and answers 503, every write lands exactly once', async () => {
    const { service, url, count } = await sqliteService();
    const proxy = await startFaultProxy({ target: url, failureRate: 0.3, faults: ['lost-reply', 'reset', '503'], seed: 15 });
    const s = createHttpMetadataStore({ url: proxy.url, token: TOKEN, retry: { attempts: 20, baseDelayMs: 1, maxDelayMs: 20 } });
    try {
      const runs = [];
      for (let r = 0; r < 5; r++) runs.push(await s.createRun(newRun()));
      let finished = 0;
      for (const run of runs) {
        const tasks = await s.registerTasks(
          Array.from({ length: 6 }, (_, i) => ({ flow: run.flow, runId: run.runId, step: 'fit', key: `fit[${i}]`, parents: [] })),
        );
        for (const t of tasks) {
          const ref = { flow: run.flow, runId: run.runId, taskId: t.taskId };
          await s.startAttempt(ref, 0);
          await s.finishAttempt(ref, 0, {
            status: 'succeeded',
            artifacts: ['a', 'b', 'c'].map((name) => ({ name, sha: name.repeat(64), size: 1, type: 'number', encoding: 'msgpack' })),
            metadata: { done: '1' },
          });
          finished++;
        }
        const end = await s.registerTask({
          flow: run.flow,
          runId: run.runId,
          step: 'end',
          key: 'end',
          parents: tasks.map((t) => t.taskId),
        });
        expect(end.parents).toEqual(tasks.map((t) => t.taskId));
        await s.finishRun(run.flow, run.runId, 'succeeded');
      }
      expect(proxy.stats.failed['lost-reply'] ?? 0).toBeGreaterThan(5);
      expect(count('runs')).toBe(5);
      expect(count('tasks')).toBe(35);
      expect(count('attempts')).toBe(finished);
      expect(count('artifacts')).toBe(finished * 3);
      for (const run of runs) expect((await s.getRun(run.flow, run.runId)).status).toBe('succeeded');
    } finally {
      await s.close();
      await proxy.stop();
      await service.close();
    }
  });

  test('an unreachable service is a retryable INFRASTRUCTURE error after the retries, naming where', async () => {
    const s = createHttpMetadataStore({ url: 'http://127.0.0.1:1', token: TOKEN, retry: { attempts: 3, baseDelayMs: 1 } });
    const e = await rejection(s.listFlows());
    expect(e).toMatchObject({ code: 'INFRASTRUCTURE', retryable: true });
    expect(e.message).toMatch(/Cannot reach the metadata service at http:\/\/127\.0\.0\.1:1 .*after 3 tries/);
    await s.close();
    await expect(s.listFlows()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  test('a service that does not answer in timeoutMs is a retryable TIMEOUT after the retries', async () => {
    const path = join(tempDir(), 'metadata.sqlite');
    const sqlite = createSqliteMetadataStore({ path });
    const stuck = new Proxy(sqlite, {
      get: (target, prop, receiver) =>
        prop === 'listFlows' ? () => new Promise(() => undefined) : (Reflect.get(target, prop, receiver) as unknown),
    });
    const service = createMetadataService({ store: stuck, tokens: [TOKEN], ownsStore: false });
    const url = await service.listen({ port: 0 });
    const s = createHttpMetadataStore({ url, token: TOKEN, timeoutMs: 150, retry: { attempts: 2, baseDelayMs: 1 } });
    try {
      const e = await rejection(s.listFlows());
      expect(e).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(e.message).toContain('did not answer listFlows within 150 ms, 2 times');
    } finally {
      await s.close();
      await Promise.race([service.close(), new Promise((r) => setTimeout(r, 500))]);
      await sqlite.close();
    }
  });

  test('with several instances, calls go on when one is gone', async () => {
    const a = await sqliteService();
    const s = createHttpMetadataStore({ url: [a.url, 'http://127.0.0.1:1'], token: TOKEN, retry: { baseDelayMs: 1 } });
    try {
      for (let i = 0; i < 10; i++) await s.createRun(newRun());
      expect(a.count('runs')).toBe(10);
    } finally {
      await s.close();
      await a.service.close();
    }
  });
});

describe('what an independent review found', () => {
  test('a 200 whose body breaks off is a failed try, retried with the same key: the run is created once and returned', async () => {
    const { service, url, count } = await sqliteService();
    // A proxy that sends the first answer's headers and half its body, then resets; later ones pass.
    let cut = 0;
    const proxy = createServer((req, res) => {
      const up = request(`${url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        if (cut++ === 0) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.once('data', (chunk: Buffer) => {
            res.write(chunk.subarray(0, Math.floor(chunk.length / 2)));
            res.socket?.destroy();
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const s = createHttpMetadataStore({ url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, token: TOKEN });
    try {
      const run = await s.createRun(newRun());
      expect(run.runId).toEqual(expect.any(String));
      expect(count('runs')).toBe(1);
      expect(cut).toBe(2);
    } finally {
      await s.close();
      proxy.closeAllConnections();
      proxy.close();
      await service.close();
    }
  });

  test('a service under a path prefix (behind a reverse proxy) is reached there; an answer that is not the service is CONFIG', async () => {
    const { service, url } = await sqliteService();
    const proxy = createServer((req, res) => {
      if (!req.url?.startsWith('/metadata/')) {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
        return;
      }
      const up = request(`${url}${req.url.slice('/metadata'.length)}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const at = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const s = createHttpMetadataStore(httpMetadataOptionsFromUrl(new URL(`${at}/metadata/`), { TRIBUTARY_METADATA_TOKEN: TOKEN }));
      await s.createRun(newRun());
      expect(await s.listFlows()).toEqual(['ServiceFlow']);
      await s.close();
      const wrong = createHttpMetadataStore({ url: at, token: TOKEN });
      const e = await rejection(wrong.listFlows());
      expect(e.code).toBe('CONFIG');
      expect(e.message).toContain('something other than a Tributary metadata service answer');
      await wrong.close();
    } finally {
      proxy.closeAllConnections();
      proxy.close();
      await service.close();
    }
  });

  test('a token with a newline or spaces, and a bad idempotency key, are refused before any request', async () => {
    expect(() => createHttpMetadataStore({ url: 'http://127.0.0.1:1', token: 'a b' })).toThrow(/visible ASCII/);
    const withNewline = createHttpMetadataStore({ url: 'http://127.0.0.1:1', token: `${TOKEN}\n` });
    await withNewline.close();
    const s = createHttpMetadataStore({ url: 'http://127.0.0.1:1', token: TOKEN, retry: { attempts: 1 } });
    await expect(s.createRun(newRun(), { idempotencyKey: 'clé\n' })).rejects.toMatchObject({ code: 'PARAM_INVALID' });
    await s.close();
  });

  test('probes with a query string or trailing slash need no token; a store it cannot use is not described to clients', async () => {
    const { service, url } = await sqliteService();
    try {
      for (const probe of ['/health?x=1', '/health/', '/ready?check=1']) expect((await fetch(`${url}${probe}`)).status, probe).toBe(200);
      expect((await fetch(`${url}/v1/info?x=/health`)).status).toBe(401);
    } finally {
      await service.close();
    }
    const pg = await startTestPostgres();
    const lines: string[] = [];
    const missing = createMetadataService({
      store: createPostgresMetadataStore({ url: pg.url.replace(/\/postgres$/, '/no_such_database'), retry: { attempts: 1 } }),
      tokens: [TOKEN],
      log: (l) => lines.push(l),
    });
    try {
      const at = await missing.listen({ port: 0 });
      const ready = await fetch(`${at}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).not.toContain('no_such_database');
      const r = await post(at, 'listFlows', { args: [] }, { authorization: `Bearer ${TOKEN}` });
      expect(r.body.error?.code).toBe('CONFIG');
      expect(r.body.error?.message).not.toContain('no_such_database');
      expect(lines.join('\n')).toContain('no_such_database');
    } finally {
      await missing.close();
      pg.destroy();
    }
  });
});

describe('CP: an unreachable database is a 503, never stale data', () => {
  test('when Postgres stops, /ready and every call answer 503 (retryable INFRASTRUCTURE); when it is back, they succeed', async () => {
    const pg = await startTestPostgres();
    let service: MetadataService | undefined;
    let s: MetadataStore | undefined;
    try {
      const store = createPostgresMetadataStore({ url: `${pg.url}?schema=cp`, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
      service = createMetadataService({ store, tokens: [TOKEN] });
      const url = await service.listen({ port: 0 });
      s = createHttpMetadataStore({ url, token: TOKEN, retry: { attempts: 2, baseDelayMs: 5 } });
      const run = await s.createRun(newRun());
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      pg.stop();
      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { code: string } }).error.code).toBe('INFRASTRUCTURE');
      const raw = await post(url, 'getRun', { args: [run.flow, run.runId] }, { authorization: `Bearer ${TOKEN}` });
      expect(raw.status).toBe(503);
      expect(raw.body.error).toMatchObject({ code: 'INFRASTRUCTURE', retryable: true });
      // Where the database is stays in the service's log.
      expect(raw.body.error?.message).not.toContain(String(pg.port));
      expect(raw.body.error?.message).toContain('cannot reach its database');
      const e = await rejection(s.getRun(run.flow, run.runId));
      expect(e).toMatchObject({ code: 'INFRASTRUCTURE', retryable: true });
      pg.start();
      expect((await s.getRun(run.flow, run.runId)).runId).toBe(run.runId);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
    } finally {
      await s?.close();
      await service?.close();
      pg.destroy();
    }
  });
});

describe('graceful close', () => {
  test('requests in flight finish; the store closes after them', async () => {
    const path = join(tempDir(), 'metadata.sqlite');
    const sqlite = createSqliteMetadataStore({ path });
    // A store whose registerTasks is slow and says when it started: the close lands mid-request.
    let entered!: () => void;
    const started = new Promise<void>((r) => (entered = r));
    const slow = new Proxy(sqlite, {
      get(target, prop, receiver) {
        if (prop !== 'registerTasks') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<MetadataStore['registerTasks']>) => {
          entered();
          await new Promise((r) => setTimeout(r, 300));
          return target.registerTasks(...args);
        };
      },
    });
    const service = createMetadataService({ store: slow, tokens: [TOKEN] });
    const url = await service.listen({ port: 0 });
    const s = createHttpMetadataStore({ url, token: TOKEN, retry: { attempts: 1 } });
    const run = await s.createRun(newRun());
    const big = Array.from({ length: 5000 }, (_, i) => ({ flow: run.flow, runId: run.runId, step: 'fit', key: `fit[${i}]`, parents: [] }));
    const inFlight = s.registerTasks(big);
    await started;
    await service.close();
    expect(await inFlight).toHaveLength(5000);
    const db = new Database(path, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n).toBe(5000);
    db.close();
    await expect(s.listFlows()).rejects.toMatchObject({ code: 'INFRASTRUCTURE' });
    await expect(sqlite.listFlows()).rejects.toMatchObject({ code: 'CLOSED' });
    await s.close();
  });
});

describe('TLS', () => {
  test('with a key and certificate the service speaks HTTPS; the client trusts it through ca, and says what to do when it does not', async () => {
    const dir = tempDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    const { service, url } = await sqliteService({ tls: { key, cert } });
    try {
      expect(url).toMatch(/^https:\/\//);
      const s = createHttpMetadataStore({ url, token: TOKEN, ca: cert });
      await s.createRun(newRun());
      expect(await s.listFlows()).toEqual(['ServiceFlow']);
      await s.close();
      const untrusting = createHttpMetadataStore({ url, token: TOKEN });
      const e = await rejection(untrusting.listFlows());
      expect(e.code).toBe('CONFIG');
      expect(e.message).toContain('TRIBUTARY_METADATA_CA');
      await untrusting.close();
      const plain = createHttpMetadataStore({ url: url.replace('https:', 'http:'), token: TOKEN, retry: { attempts: 1 } });
      await expect(plain.listFlows()).rejects.toMatchObject({ code: 'INFRASTRUCTURE' });
      await plain.close();
    } finally {
      await service.close();
    }
  });
});
