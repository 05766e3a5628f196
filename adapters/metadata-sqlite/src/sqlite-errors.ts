/**
 * What a SQLite failure means to a user. A metadata file that cannot be read is a state of the
 * user's disk, not a bug: every such failure names the file and says what to do about it.
 *
 * Codes: a file SQLite cannot read (random bytes, truncated, empty, damaged pages: `SQLITE_NOTADB`,
 * `SQLITE_CORRUPT`) is `INTEGRITY`; a readable database that is not ours to use (another
 * application's, or a newer Tributary's schema) is `CONFIG`, since the fix is to point Tributary at
 * the right file.
 */
import { TributaryError } from '@tributary/core';

const ADVICE = 'point --home / --metadata elsewhere';

/** The file cannot be read as a Tributary metadata database. @internal */
export function damagedDatabase(path: string, what: string, cause?: unknown): TributaryError {
  return new TributaryError(
    'INTEGRITY',
    `SQLite metadata database ${path} ${what}. Tributary cannot use it: move it aside (e.g. rename it to ${path}.broken) ` +
      `so a fresh one is created, or ${ADVICE}; restore it from a backup if you need the runs it recorded.`,
    { cause, context: { adapter: 'sqlite', path } },
  );
}

/** A valid SQLite database that Tributary must not touch. @internal */
export function foreignDatabase(path: string, what: string): TributaryError {
  return new TributaryError(
    'CONFIG',
    `SQLite file ${path} ${what}, so it is not a Tributary metadata database and Tributary leaves it alone: ${ADVICE}, ` +
      `or move the file aside so a fresh one is created.`,
    { context: { adapter: 'sqlite', path } },
  );
}

/** Map an error thrown by better-sqlite3 to a typed error naming the file. @internal */
export function sqliteError(err: unknown, path: string): Error {
  if (TributaryError.is(err)) return err;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err as Error;
  const context = { adapter: 'sqlite', path };
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
    return damagedDatabase(path, `is damaged or is not a SQLite database (SQLite: ${message})`, err);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return new TributaryError('ALREADY_EXISTS', `Already recorded: ${message}`, { cause: err, context });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new TributaryError('INFRASTRUCTURE', `SQLite database ${path} stayed locked by another process.`, {
      cause: err,
      retryable: true,
      context,
    });
  if (code === 'SQLITE_FULL')
    return new TributaryError('INFRASTRUCTURE', `Cannot write SQLite database ${path}: the disk is full. Free some space and resume.`, {
      cause: err,
      context,
    });
  if (code.startsWith('SQLITE_READONLY'))
    return new TributaryError(
      'CONFIG',
      `SQLite database ${path} is read-only (SQLite: ${message}). Make it and its folder writable, or ${ADVICE}.`,
      { cause: err, context },
    );
  if (code.startsWith('SQLITE_CANTOPEN'))
    return new TributaryError('CONFIG', `Cannot open SQLite database ${path} (SQLite: ${message}). Check the path and its permissions.`, {
      cause: err,
      context,
    });
  return new TributaryError('INFRASTRUCTURE', `SQLite error on ${path}: ${message}`, { cause: err, context });
}
