import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { metadataStoreConformance } from '@tributary/conformance';
import type { MetadataStore } from '@tributary/core';
import { createHttpMetadataStore } from '@tributary/metadata-http';
import { createSqliteMetadataStore } from '@tributary/metadata-sqlite';
import { createMetadataService, type MetadataService } from '../src/index.ts';

// Each store under test is an HttpMetadataStore talking to its own service over loopback, in
// front of its own SQLite file; the inspector reads that file directly.
const behind = new WeakMap<MetadataStore, { service: MetadataService; path: string }>();
const TOKEN = 'conformance-token-0123456789';

function raw<T>(s: MetadataStore, sql: string, ...args: unknown[]): T[] {
  const db = new Database(behind.get(s)!.path, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

metadataStoreConformance({
  name: 'http → service → sqlite',
  async factory() {
    const path = join(mkdtempSync(join(tmpdir(), 'tributary-http-conf-')), 'metadata.sqlite');
    const service = createMetadataService({ store: createSqliteMetadataStore({ path }), tokens: [TOKEN] });
    const url = await service.listen({ port: 0 });
    const store = createHttpMetadataStore({ url, token: TOKEN });
    behind.set(store, { service, path });
    return store;
  },
  async cleanup(s) {
    const b = behind.get(s)!;
    await b.service.close();
    rmSync(join(b.path, '..'), { recursive: true, force: true });
  },
  inspect: {
    async run(s, flow, runId) {
      return raw<{ status: string }>(s, 'SELECT status FROM runs WHERE flow = ? AND run_id = ?', flow, Number(runId))[0];
    },
    async task(s, ref) {
      return raw<{ status: string; attempts: number }>(s, 'SELECT status, attempts FROM tasks WHERE task_id = ?', Number(ref.taskId))[0];
    },
    async artifacts(s, ref) {
      return raw<{ name: string; sha: string; attempt: number }>(
        s,
        'SELECT name, sha, attempt FROM artifacts WHERE task_id = ? ORDER BY name',
        Number(ref.taskId),
      );
    },
  },
});
