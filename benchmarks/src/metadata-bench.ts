/**
 * Metadata throughput and latency, Postgres vs SQLite, with the operations the runtime really
 * performs: register a task, start its attempt, complete it with 3 artifact references and 3
 * metadata fields (writes); get a task, list a step's tasks (a page of 100), list a task's
 * artifacts, the latest run of a flow (reads). Concurrency 1, 16 and 64 callers in one process.
 * Postgres is a private cluster started here (fsync off, like a tmpfs CI database). Prints tables.
 *
 *   pnpm --filter @tributary/benchmarks bench:metadata      (BENCH_SECONDS=3 per cell by default)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetadataStore } from '@tributary/core';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres } from '@tributary/metadata-postgres/testing';
import { createSqliteMetadataStore } from '@tributary/metadata-sqlite';
import { percentile, printTable } from './table.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const sha = (i: number) => i.toString(16).padStart(64, '0');

async function seedReads(store: MetadataStore): Promise<{ flow: string; runId: string; taskIds: string[] }> {
  const run = await store.createRun({
    flow: 'BenchFlow',
    user: 'bench',
    params: {},
    tags: ['bench'],
    systemTags: [],
    codeHash: '',
    graph: null,
  });
  const tasks = await store.registerTasks(
    Array.from({ length: 2000 }, (_, i) => ({
      flow: run.flow,
      runId: run.runId,
      step: i % 2 ? 'fit' : 'eval',
      key: `t[${i}]`,
      parents: [],
    })),
  );
  for (const t of tasks) {
    const ref = { flow: run.flow, runId: run.runId, taskId: t.taskId };
    await store.startAttempt(ref, 0);
    await store.finishAttempt(ref, 0, {
      status: 'succeeded',
      artifacts: [0, 1, 2].map((k) => ({ name: `a${k}`, sha: sha(k), size: 100, type: 'number', encoding: 'msgpack' })),
    });
  }
  return { flow: run.flow, runId: run.runId, taskIds: tasks.map((t) => t.taskId) };
}

async function measure(
  concurrency: number,
  op: (worker: number, i: number) => Promise<number>,
): Promise<{ perSecond: number; lat: number[] }> {
  const lat: number[] = [];
  let ops = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const s = performance.now();
        const n = await op(w, i);
        const dt = performance.now() - s;
        for (let k = 0; k < n; k++) lat.push(dt / n);
        ops += n;
      }
    }),
  );
  return { perSecond: ops / ((performance.now() - t0) / 1000), lat: lat.sort((a, b) => a - b) };
}

const READS: Array<[string, (s: MetadataStore, seeded: Awaited<ReturnType<typeof seedReads>>, w: number, i: number) => Promise<unknown>]> =
  [
    [
      'getTask',
      (s, d, w, i) => s.getTask({ flow: d.flow, runId: d.runId, taskId: d.taskIds[(w * 7919 + i * 104729) % d.taskIds.length]! }),
    ],
    [
      'listArtifacts (3 rows)',
      (s, d, w, i) => s.listArtifacts({ flow: d.flow, runId: d.runId, taskId: d.taskIds[(w * 7919 + i * 104729) % d.taskIds.length]! }),
    ],
    ['latestRun', (s, d) => s.latestRun(d.flow)],
    [
      'listTasks (page of 100)',
      (s, d, _w, i) =>
        s.listTasks({ flow: d.flow, runId: d.runId, step: 'fit', limit: 100, cursor: String(Number(d.taskIds[0]) + (i % 1500)) }),
    ],
  ];

async function bench(name: string, store: MetadataStore, rows: Array<Array<string | number>>): Promise<void> {
  const seeded = await seedReads(store);
  let runSeq = 0;
  const p = (xs: number[], q: number) => percentile(xs, q).toFixed(2);
  for (const c of [1, 16, 64]) {
    const run = await store.createRun({
      flow: 'WriteFlow',
      user: 'bench',
      params: {},
      tags: [],
      systemTags: [],
      codeHash: '',
      graph: null,
    });
    // What each task costs the runtime: register, start the attempt, complete it with 3 artifact
    // references and 3 metadata fields: 3 statements writing 8 records (task, attempt, 3 + 3).
    const w = await measure(c, async (worker, i) => {
      const t = await store.registerTask({ flow: run.flow, runId: run.runId, step: 'body', key: `w${worker}-${i}-${runSeq}`, parents: [] });
      const ref = { flow: run.flow, runId: run.runId, taskId: t.taskId };
      await store.startAttempt(ref, 0);
      await store.finishAttempt(ref, 0, {
        status: 'succeeded',
        artifacts: [0, 1, 2].map((k) => ({ name: `a${k}`, sha: sha(k), size: 10, type: 'number', encoding: 'msgpack' })),
        metadata: { targets: '["join"]', 'dispatch-ms': '0.2', 'run-ms': '1.0' },
      });
      return 3;
    });
    runSeq++;
    rows.push([
      name,
      c,
      'write: register + start + complete',
      w.perSecond.toFixed(0),
      (w.perSecond * (8 / 3)).toFixed(0),
      p(w.lat, 50),
      p(w.lat, 95),
      p(w.lat, 99),
    ]);
    for (const [op, fn] of READS) {
      const r = await measure(c, async (worker, i) => {
        await fn(store, seeded, worker, i);
        return 1;
      });
      const perOp = op.startsWith('listTasks') ? 100 : op.startsWith('listArtifacts') ? 3 : 1;
      rows.push([
        name,
        c,
        `read: ${op}`,
        r.perSecond.toFixed(0),
        (r.perSecond * perOp).toFixed(0),
        p(r.lat, 50),
        p(r.lat, 95),
        p(r.lat, 99),
      ]);
    }
  }
}

const rows: Array<Array<string | number>> = [];
const dir = mkdtempSync(join(tmpdir(), 'tributary-md-bench-'));
const server = await startTestPostgres();
try {
  const sqlite = createSqliteMetadataStore({ path: join(dir, 'bench.sqlite') });
  await bench('sqlite', sqlite, rows);
  await sqlite.close();
  const pgStore = createPostgresMetadataStore({ url: `${server.url}?schema=bench`, poolSize: 32 });
  await bench('postgres', pgStore, rows);
  await pgStore.close();
} finally {
  server.destroy();
  rmSync(dir, { recursive: true, force: true });
}
printTable(
  `Metadata operations, ${SECONDS} s per cell (statement latency in ms). Seed targets for Postgres: >= 7,000 writes/s and >= 21,000 reads/s (the seed counts metadata records), read P99 <= 10 ms`,
  ['store', 'callers', 'operation', 'statements/s', 'records/s', 'P50', 'P95', 'P99'],
  rows,
);
