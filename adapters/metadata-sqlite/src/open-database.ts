/**
 * Opening the metadata file safely when several processes open it at once, and refusing files
 * that are not a Tributary database before anything writes to them.
 *
 * A new file is built under a temporary name and hard-linked into place, so no process ever
 * sees a half-created database (link fails if another process won: then that one is used). An
 * existing file is migrated in one IMMEDIATE transaction that re-reads the schema version after
 * taking the write lock, so concurrent openers of an old file migrate it exactly once.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TributaryError } from '@tributary/core';
import { APPLICATION_ID, MIGRATIONS, TABLES } from './schema.ts';
import { damagedDatabase, foreignDatabase, sqliteError } from './sqlite-errors.ts';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\u0000', 'latin1');
// Where hard links are not supported, the file is created in place: give a creator this long to
// write its first page before an empty file counts as damaged.
const CREATION_GRACE_MS = 2000;

/** Open (creating and migrating as needed) the metadata database at `path`. @internal */
export function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (path === ':memory:') {
    const db = new Database(':memory:');
    migrate(db, path);
    return db;
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new TributaryError('CONFIG', `Cannot create the folder of SQLite database ${path}: ${(err as Error).message}`, {
      cause: err,
      context: { adapter: 'sqlite', path },
    });
  }
  if (!existsSync(path)) createFresh(path, busyTimeoutMs);
  checkFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw sqliteError(err, path);
  }
  try {
    // Refuse a foreign file before changing anything in it (WAL mode is written to its header).
    verdict(path, state(db));
    enableWal(db, busyTimeoutMs);
    db.pragma('synchronous = NORMAL');
    migrate(db, path);
    return db;
  } catch (err) {
    db.close();
    throw sqliteError(err, path);
  }
}

/**
 * Switch to WAL mode. SQLite does not wait on its busy handler while converting a file that
 * other connections hold open (it answers SQLITE_BUSY, or leaves the mode unchanged), so wait
 * here, as long as the busy timeout allows.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      if (db.pragma('journal_mode = WAL', { simple: true }) === 'wal') return;
      if (Date.now() >= deadline)
        throw Object.assign(new Error('the journal mode stayed unchanged while other connections held the file'), { code: 'SQLITE_BUSY' });
    } catch (err) {
      if (!(err as { code?: string }).code?.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
    }
    sleepSync(5 + Math.random() * 20);
  }
}

function createFresh(path: string, busyTimeoutMs: number): void {
  // A write-ahead log without its database belongs to a deleted database: SQLite would replay
  // it into the new one. (Checked twice: a concurrent creator links the file before its log.)
  if (existsSync(`${path}-wal`) && !existsSync(path))
    throw new TributaryError(
      'CONFIG',
      `Found ${path}-wal but no ${path}: the database was deleted without its write-ahead log. ` +
        `Delete ${path}-wal and ${path}-shm too (they belong to the deleted database), or restore ${path} from a backup.`,
      { context: { adapter: 'sqlite', path } },
    );
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.new`;
  try {
    const db = new Database(tmp, { timeout: busyTimeoutMs });
    try {
      db.pragma('journal_mode = WAL');
      migrate(db, path);
    } finally {
      db.close();
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EEXIST: another process created it first, use theirs. Otherwise no hard links here:
      // SQLite creates the file in place when it is opened.
      if (code !== 'EEXIST' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    }
  } catch (err) {
    if (TributaryError.is(err)) throw err;
    if ((err as { code?: string }).code?.startsWith('SQLITE_')) throw sqliteError(err, path);
    throw new TributaryError('CONFIG', `Cannot create SQLite database ${path}: ${(err as Error).message}`, {
      cause: err,
      context: { adapter: 'sqlite', path },
    });
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${tmp}${suffix}`, { force: true });
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Reject what SQLite would misread (an empty file is silently a new database to SQLite). */
function checkFile(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // created in place by SQLite on open (no hard links on this filesystem)
  }
  if (st.isDirectory())
    throw new TributaryError('CONFIG', `${path} is a folder, not a SQLite metadata database: point --home / --metadata at a file.`, {
      context: { adapter: 'sqlite', path },
    });
  const until = Date.now() + CREATION_GRACE_MS; // bounded here too: an mtime in the future must not stall
  while (st.size === 0 && Date.now() - st.mtimeMs < CREATION_GRACE_MS && Date.now() < until) {
    sleepSync(25);
    st = statSync(path);
  }
  if (st.size === 0) throw damagedDatabase(path, 'is empty (0 bytes)');
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 100 || !header.subarray(0, 16).equals(SQLITE_MAGIC))
    throw damagedDatabase(path, `is not a SQLite database (it does not start with the SQLite header; ${st.size} bytes)`);
  // The header's page count is trustworthy when its "valid for" counter matches; with a log or
  // journal present the file may legitimately lag behind it, so only a quiet file is checked.
  if (sizeOf(`${path}-wal`) > 0 || existsSync(`${path}-journal`)) return;
  const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
  const pages = header.readUInt32BE(28);
  const expected = pageSize * pages;
  if (pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92) && st.size < expected)
    throw damagedDatabase(path, `is truncated (its header says ${expected} bytes, the file has ${st.size})`);
}

interface SchemaState {
  version: number;
  applicationId: number;
  tables: string[];
}

function state(db: Database.Database): SchemaState {
  return {
    version: db.pragma('user_version', { simple: true }) as number,
    applicationId: db.pragma('application_id', { simple: true }) as number,
    tables: (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{
        name: string;
      }>
    ).map((r) => r.name),
  };
}

function list(names: string[]): string {
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
}

/** Whether the schema is current or needs migrating; throws for a file that is not ours. */
function verdict(path: string, s: SchemaState): 'current' | 'migrate' {
  if (s.applicationId !== 0 && s.applicationId !== APPLICATION_ID)
    throw foreignDatabase(path, `belongs to another application (its application_id is ${s.applicationId})`);
  if (s.version === 0) {
    if (s.tables.length > 0) throw foreignDatabase(path, `has tables (${list(s.tables)}) but no Tributary schema version`);
    return 'migrate';
  }
  // Files from before the application id was stamped are recognised by their tables.
  const missing = TABLES.filter((t) => !s.tables.includes(t));
  if (s.applicationId === 0 && missing.length > 0)
    throw foreignDatabase(path, `has schema version ${s.version} and tables (${list(s.tables)}) but lacks Tributary's ${list(missing)}`);
  if (s.version > MIGRATIONS.length)
    throw new TributaryError(
      'CONFIG',
      `SQLite metadata database ${path} has schema version ${s.version}, newer than this Tributary knows (${MIGRATIONS.length}): ` +
        `a newer Tributary wrote it. Upgrade Tributary, or point --home / --metadata elsewhere.`,
      { context: { adapter: 'sqlite', path } },
    );
  return s.version === MIGRATIONS.length && s.applicationId === APPLICATION_ID ? 'current' : 'migrate';
}

function migrate(db: Database.Database, path: string): void {
  if (verdict(path, state(db)) === 'current') return;
  db.transaction(() => {
    // Again under the write lock: another process may have migrated while this one waited.
    const s = state(db);
    if (verdict(path, s) === 'current') return;
    for (let v = s.version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }).immediate();
}
