import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { metadataStoreConformance } from '@tributary/conformance';
import { createPostgresMetadataStore, type PostgresMetadataStore } from '../src/index.ts';
import { startTestPostgres, type TestPostgres } from '../src/testing/postgres-server.ts';

let server: TestPostgres;
let raw: pg.Pool;
beforeAll(async () => {
  server = await startTestPostgres();
  raw = new pg.Pool({ connectionString: server.url, max: 4 });
});
afterAll(async () => {
  await raw?.end();
  server?.destroy();
});

// Raw SQL through a separate pool: what is committed, not what the adapter reports.
async function sql<T extends pg.QueryResultRow>(s: PostgresMetadataStore, text: string, args: unknown[]): Promise<T[]> {
  return (await raw.query<T>(text.replaceAll('{schema}', s.schema), args)).rows;
}

metadataStoreConformance({
  name: 'postgres',
  factory: () => createPostgresMetadataStore({ url: `${server.url}?schema=t_${randomBytes(6).toString('hex')}` }),
  cleanup: async (s) => void (await raw.query(`DROP SCHEMA IF EXISTS ${(s as PostgresMetadataStore).schema} CASCADE`)),
  properties: { numRuns: 15 },
  inspect: {
    async run(s, flow, runId) {
      return (
        await sql<{ status: string }>(s as PostgresMetadataStore, 'SELECT status FROM {schema}.runs WHERE flow = $1 AND run_id = $2', [
          flow,
          runId,
        ])
      )[0];
    },
    async task(s, ref) {
      return (
        await sql<{ status: string; attempts: number }>(
          s as PostgresMetadataStore,
          'SELECT status, attempts FROM {schema}.tasks WHERE task_id = $1',
          [ref.taskId],
        )
      )[0];
    },
    async artifacts(s, ref) {
      return sql<{ name: string; sha: string; attempt: number }>(
        s as PostgresMetadataStore,
        'SELECT name, sha, attempt FROM {schema}.artifacts WHERE task_id = $1 ORDER BY name',
        [ref.taskId],
      );
    },
  },
});
