import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { metadataStoreConformance } from '@tributary/conformance';
import { createSqliteMetadataStore, type SqliteMetadataStore } from '../src/index.ts';

// Raw reads go through a second, read-only SQLite connection: what is committed, not what the adapter says.
function raw<T>(store: SqliteMetadataStore, sql: string, ...args: unknown[]): T[] {
  const db = new Database(store.options.path, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

metadataStoreConformance({
  name: 'sqlite',
  factory: () => createSqliteMetadataStore({ path: join(mkdtempSync(join(tmpdir(), 'tributary-sqlite-conf-')), 'metadata.sqlite') }),
  cleanup: (s) => rmSync(join((s as SqliteMetadataStore).options.path, '..'), { recursive: true, force: true }),
  inspect: {
    async run(s, flow, runId) {
      return raw<{ status: string }>(
        s as SqliteMetadataStore,
        'SELECT status FROM runs WHERE flow = ? AND run_id = ?',
        flow,
        Number(runId),
      )[0];
    },
    async task(s, ref) {
      return raw<{ status: string; attempts: number }>(
        s as SqliteMetadataStore,
        'SELECT status, attempts FROM tasks WHERE task_id = ?',
        Number(ref.taskId),
      )[0];
    },
    async artifacts(s, ref) {
      return raw<{ name: string; sha: string; attempt: number }>(
        s as SqliteMetadataStore,
        'SELECT name, sha, attempt FROM artifacts WHERE task_id = ? ORDER BY name',
        Number(ref.taskId),
      );
    },
  },
});
