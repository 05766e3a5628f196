import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { metadataStoreConformance } from '@tributary/conformance';
import type { MetadataStore } from '@tributary/core';
import { createHttpMetadataStore } from '@tributary/metadata-http';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres, type TestPostgres } from '@tributary/metadata-postgres/testing';
import { createMetadataService, type MetadataService } from '../src/index.ts';

// Each store under test is an HttpMetadataStore in front of its own service and Postgres schema;
// the inspector reads the schema with raw SQL through a separate pool.
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

const behind = new WeakMap<MetadataStore, { service: MetadataService; schema: string }>();
const TOKEN = 'conformance-token-0123456789';

async function sql<T extends pg.QueryResultRow>(s: MetadataStore, text: string, args: unknown[]): Promise<T[]> {
  return (await raw.query<T>(text.replaceAll('{schema}', behind.get(s)!.schema), args)).rows;
}

metadataStoreConformance({
  name: 'http → service → postgres',
  async factory() {
    const schema = `h_${randomBytes(6).toString('hex')}`;
    const service = createMetadataService({
      store: createPostgresMetadataStore({ url: `${server.url}?schema=${schema}` }),
      tokens: [TOKEN],
    });
    const store = createHttpMetadataStore({ url: await service.listen({ port: 0 }), token: TOKEN });
    behind.set(store, { service, schema });
    return store;
  },
  async cleanup(s) {
    const b = behind.get(s)!;
    await b.service.close();
    await raw.query(`DROP SCHEMA IF EXISTS ${b.schema} CASCADE`);
  },
  properties: { numRuns: 15 },
  inspect: {
    async run(s, flow, runId) {
      return (await sql<{ status: string }>(s, 'SELECT status FROM {schema}.runs WHERE flow = $1 AND run_id = $2', [flow, runId]))[0];
    },
    async task(s, ref) {
      return (
        await sql<{ status: string; attempts: number }>(s, 'SELECT status, attempts FROM {schema}.tasks WHERE task_id = $1', [ref.taskId])
      )[0];
    },
    async artifacts(s, ref) {
      return sql<{ name: string; sha: string; attempt: number }>(
        s,
        'SELECT name, sha, attempt FROM {schema}.artifacts WHERE task_id = $1 ORDER BY name',
        [ref.taskId],
      );
    },
  },
});
