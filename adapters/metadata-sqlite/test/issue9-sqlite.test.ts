import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TributaryError } from '@tributary/core';
import { createSqliteMetadataStore } from '../src/index.ts';
import { APPLICATION_ID, MIGRATIONS } from '../src/schema.ts';
import { sqliteError } from '../src/sqlite-errors.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-i9-sqlite-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const RUN = { flow: 'F', user: 'u', params: {}, tags: [], systemTags: [], codeHash: 'h', graph: null };

/** A database as Tributary wrote it before the application id was stamped: schema v1, rollback journal. */
function legacyDatabase(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const db = new Database(path);
  db.exec(MIGRATIONS[0]!);
  db.pragma('user_version = 1');
  db.close();
}

describe('issue 9 item 8: concurrent openers', () => {
  type Reply = { ok: true } | { ok: false; error: string };
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    const pkg = fileURLToPath(new URL('..', import.meta.url));
    for (let i = 0; i < 8; i++) {
      const child = fork(fileURLToPath(new URL('./fixtures/concurrent-opener.ts', import.meta.url)), [], {
        cwd: pkg,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`opener exited with ${code}`)));
      });
    }
  }, 60_000);
  afterAll(() => {
    for (const c of children) c.kill();
  });

  /** All 8 children open `path` at the same instant and record one run each; returns their failures. */
  async function race(path: string): Promise<string[]> {
    const at = Date.now() + 30;
    const replies = await Promise.all(
      children.map(
        (c) =>
          new Promise<Reply>((resolve) => {
            c.once('message', (m) => resolve(m as Reply));
            c.send({ path, at });
          }),
      ),
    );
    const db = new Database(path, { readonly: true });
    try {
      // every opener that reported success recorded exactly its one run
      expect((db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n).toBe(replies.filter((r) => r.ok).length);
      expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    } finally {
      db.close();
    }
    return replies.flatMap((r) => (r.ok ? [] : [r.error]));
  }

  test('issue 9 item 8: a fresh home opened by 8 processes at once, 40 rounds, never fails', { timeout: 180_000 }, async () => {
    const root = tempDir();
    const failures: string[] = [];
    for (let round = 0; round < 40; round++) {
      const path = join(root, `home-${round}`, 'metadata.sqlite');
      for (const f of await race(path)) failures.push(`round ${round}: ${f}`);
      // nothing left behind but the database (and its log while open)
      expect(readdir(join(root, `home-${round}`)).filter((n) => n.endsWith('.new'))).toEqual([]);
    }
    expect(failures).toEqual([]);
  });

  test('issue 9 item 8: an old-format database migrated by 8 processes at once, 30 rounds, never fails', { timeout: 120_000 }, async () => {
    const root = tempDir();
    const failures: string[] = [];
    for (let round = 0; round < 30; round++) {
      const path = join(root, `home-${round}`, 'metadata.sqlite');
      legacyDatabase(path);
      for (const f of await race(path)) failures.push(`round ${round}: ${f}`);
    }
    expect(failures).toEqual([]);
  });
});

function readdir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Opening `path` fails with a typed error of `code` that names the file and says what to do. */
function expectRefused(path: string, code: 'INTEGRITY' | 'CONFIG', what: RegExp): TributaryError {
  let err: unknown;
  try {
    createSqliteMetadataStore({ path });
  } catch (e) {
    err = e;
  }
  expect(TributaryError.is(err), `expected a TributaryError, got ${String(err)}`).toBe(true);
  const e = err as TributaryError;
  expect(e.code).toBe(code);
  expect(e.message).toContain(path);
  expect(e.message).toMatch(what);
  expect(e.message).toContain('--home / --metadata');
  expect(e.context).toMatchObject({ adapter: 'sqlite', path });
  return e;
}

describe('issue 9 item 19: corrupt or foreign metadata.sqlite', () => {
  test('issue 9 item 19: a file of random bytes is INTEGRITY, not an SqliteError', () => {
    const path = join(tempDir(), 'metadata.sqlite');
    writeFileSync(path, randomBytes(8192));
    expectRefused(path, 'INTEGRITY', /is not a SQLite database.*move it aside/);
  });

  test('issue 9 item 19: a random file that happens to start with the SQLite header is INTEGRITY', () => {
    const path = join(tempDir(), 'metadata.sqlite');
    writeFileSync(path, Buffer.concat([Buffer.from('SQLite format 3\u0000', 'latin1'), randomBytes(8192)]));
    expectRefused(path, 'INTEGRITY', /move it aside/);
  });

  test('issue 9 item 19: an empty file is INTEGRITY (SQLite would silently start a new history in it)', () => {
    const path = join(tempDir(), 'metadata.sqlite');
    writeFileSync(path, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expectRefused(path, 'INTEGRITY', /is empty \(0 bytes\)/);
  });

  test('issue 9 item 19: a truncated database is INTEGRITY (header cut, or pages missing)', async () => {
    const dir = tempDir();
    const full = join(dir, 'metadata.sqlite');
    const store = createSqliteMetadataStore({ path: full });
    for (let i = 0; i < 300; i++) await store.createRun({ ...RUN, params: { blob: 'x'.repeat(500) } });
    await store.close();
    const size = statSync(full).size;
    truncateSync(full, Math.floor(size / 2));
    expectRefused(full, 'INTEGRITY', /is truncated \(its header says \d+ bytes, the file has \d+\)/);
    truncateSync(full, 60);
    expectRefused(full, 'INTEGRITY', /is not a SQLite database/);
  });

  test('issue 9 item 19: another application’s database with a conflicting runs table is CONFIG and left untouched', () => {
    const path = join(tempDir(), 'metadata.sqlite');
    const db = new Database(path);
    db.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY, distance REAL); INSERT INTO runs (distance) VALUES (5.2)');
    db.close();
    const before = readFileSync(path);
    expectRefused(path, 'CONFIG', /has tables \(runs\) but no Tributary schema version.*not a Tributary metadata database/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  test('issue 9 item 19: a foreign database with its own user_version or application_id is CONFIG', () => {
    const dir = tempDir();
    const versioned = join(dir, 'versioned.sqlite');
    let db = new Database(versioned);
    db.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY); CREATE TABLE laps (id INTEGER)');
    db.pragma('user_version = 3');
    db.close();
    expectRefused(versioned, 'CONFIG', /schema version 3 .* but lacks Tributary's run_tags, tasks/);
    const other = join(dir, 'other.sqlite');
    db = new Database(other);
    db.pragma('application_id = 1234');
    db.close();
    expectRefused(other, 'CONFIG', /belongs to another application \(its application_id is 1234\)/);
  });

  test('issue 9 item 19: a database with a newer schema version than this code knows is CONFIG', async () => {
    const path = join(tempDir(), 'metadata.sqlite');
    await createSqliteMetadataStore({ path }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expectRefused(
      path,
      'CONFIG',
      new RegExp(`schema version ${MIGRATIONS.length + 5}, newer than this Tributary knows .*Upgrade Tributary`),
    );
  });

  test('issue 9 item 19: a folder, or a write-ahead log left by a deleted database, is CONFIG', () => {
    const dir = tempDir();
    const folder = join(dir, 'metadata.sqlite');
    mkdirSync(folder);
    expectRefused(folder, 'CONFIG', /is a folder/);
    const deleted = join(dir, 'deleted.sqlite');
    writeFileSync(`${deleted}-wal`, randomBytes(100));
    const e = (() => {
      try {
        createSqliteMetadataStore({ path: deleted });
      } catch (err) {
        return err as TributaryError;
      }
      throw new Error('opened');
    })();
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain(`${deleted}-wal`);
    expect(existsSync(deleted)).toBe(false);
  });

  test('issue 9 item 19: a database from before the application id opens, keeps its runs and is stamped', async () => {
    const path = join(tempDir(), 'metadata.sqlite');
    legacyDatabase(path);
    let db = new Database(path);
    db.prepare(
      `INSERT INTO runs (flow, user, status, params, tags, system_tags, code_hash, graph, created_at) VALUES ('F', 'u', 'succeeded', '{}', '[]', '[]', 'h', 'null', 1)`,
    ).run();
    db.close();
    const store = createSqliteMetadataStore({ path });
    expect((await store.latestRun('F'))?.status).toBe('succeeded');
    await store.close();
    db = new Database(path, { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  test('issue 9 item 19: damaged pages found mid-operation are INTEGRITY naming the file', async () => {
    const path = join(tempDir(), 'metadata.sqlite');
    const store = createSqliteMetadataStore({ path });
    for (let i = 0; i < 2000; i++) await store.createRun({ ...RUN, params: { blob: 'x'.repeat(200) } });
    await store.close();
    // Overwrite the later pages (run rows and index pages) with garbage; page 1 and the schema stay readable.
    const bytes = readFileSync(path);
    bytes.fill(0x55, Math.floor(bytes.length * 0.5), Math.floor(bytes.length * 0.9));
    writeFileSync(path, bytes);
    const damaged = createSqliteMetadataStore({ path });
    const err = (await damaged.listRuns({ flow: 'F', limit: 10_000 }).catch((e: unknown) => e)) as TributaryError;
    expect(TributaryError.is(err)).toBe(true);
    expect(err.code).toBe('INTEGRITY');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/is damaged or is not a SQLite database \(SQLite: .*\)\. .*move it aside/);
    await damaged.close();
  });

  test('issue 9 item 19: SQLITE_NOTADB and SQLITE_CORRUPT_* from any call map to INTEGRITY', () => {
    for (const code of ['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX']) {
      const e = sqliteError(Object.assign(new Error('file is not a database'), { code }), '/h/metadata.sqlite') as TributaryError;
      expect(e.code).toBe('INTEGRITY');
      expect(e.message).toContain('/h/metadata.sqlite');
    }
    expect((sqliteError(Object.assign(new Error('x'), { code: 'SQLITE_FULL' }), '/p') as TributaryError).code).toBe('INFRASTRUCTURE');
  });
});
