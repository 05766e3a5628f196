/**
 * Scale check: seed 1,000,000 tasks (1,000 runs × 1,000 tasks, each with an attempt, 3 artifact
 * references, 2 metadata rows and a parent) straight into Postgres with set-based INSERTs, then
 * time the client's common queries through the adapter and show their EXPLAIN ANALYZE.
 *
 *   pnpm --filter @tributary/benchmarks bench:metadata-scale     (SCALE_TASKS=1000000)
 */
import pg from 'pg';
import { createPostgresMetadataStore } from '@tributary/metadata-postgres';
import { startTestPostgres } from '@tributary/metadata-postgres/testing';
import { percentile, printTable } from './table.ts';

const TASKS = Number(process.env.SCALE_TASKS ?? 1_000_000);
const PER_RUN = 1000;
const RUNS = Math.ceil(TASKS / PER_RUN);

const server = await startTestPostgres();
const pool = new pg.Pool({ connectionString: server.url, max: 2, options: '-c search_path=scale' });
const store = createPostgresMetadataStore({ url: `${server.url}?schema=scale` });
try {
  await store.migrate();
  const seedRows: Array<Array<string | number>> = [];
  const step = async (what: string, sql: string) => {
    const t = performance.now();
    const r = await pool.query(sql);
    seedRows.push([what, r.rowCount ?? 0, ((performance.now() - t) / 1000).toFixed(1)]);
  };
  await step(
    'runs',
    `INSERT INTO runs (flow, user_name, status, params, tags, system_tags, code_hash, graph, created_at, finished_at)
    SELECT CASE WHEN r % 10 = 0 THEN 'OtherFlow' ELSE 'ScaleFlow' END, 'user' || (r % 50), CASE WHEN r % 7 = 0 THEN 'failed' ELSE 'succeeded' END,
           '{}'::jsonb, CASE WHEN r % 3 = 0 THEN '["team:ml"]'::jsonb ELSE '[]'::jsonb END, '["user:u"]'::jsonb, '', 'null'::jsonb, 1700000000000 + r * 1000, 1700000000000 + r * 1000 + 500
    FROM generate_series(1, ${RUNS}) r`,
  );
  await step(
    'run tags',
    `INSERT INTO run_tags (run_id, tag, system) SELECT run_id, 'team:ml', false FROM runs WHERE run_id % 3 = 0
    UNION ALL SELECT run_id, 'user:u', true FROM runs`,
  );
  await step(
    'tasks',
    `INSERT INTO tasks (run_id, flow, step, key, status, attempts, created_at, finished_at, parents)
    SELECT r.run_id, r.flow, CASE WHEN i = 0 THEN 'start' WHEN i = ${PER_RUN - 1} THEN 'end' ELSE 'body' END,
           CASE WHEN i = 0 THEN 'start' WHEN i = ${PER_RUN - 1} THEN 'end' ELSE 'body[' || i || ']' END, 'succeeded', 1, r.created_at + i, r.created_at + i + 1, '{}'
    FROM runs r, generate_series(0, ${PER_RUN - 1}) i`,
  );
  await step(
    'parents',
    `INSERT INTO task_parents (task_id, parent_id, position)
    SELECT t.task_id, s.task_id, 0 FROM tasks t JOIN tasks s ON s.run_id = t.run_id AND s.key = 'start' WHERE t.key <> 'start'`,
  );
  await step('parents (column)', `UPDATE tasks t SET parents = ARRAY[p.parent_id] FROM task_parents p WHERE p.task_id = t.task_id`);
  await step(
    'attempts',
    `INSERT INTO attempts (task_id, attempt, status, started_at, finished_at) SELECT task_id, 0, 'succeeded', created_at, finished_at FROM tasks`,
  );
  await step(
    'artifacts',
    `INSERT INTO artifacts (task_id, attempt, name, sha, size, type, encoding)
    SELECT task_id, 0, 'a' || k, md5(task_id::text || k) || md5(k::text || task_id::text), 100, 'number', 'msgpack' FROM tasks, generate_series(0, 2) k`,
  );
  await step(
    'task metadata',
    `INSERT INTO task_metadata (task_id, field, value, ts) SELECT task_id, f, '1.0', created_at FROM tasks, unnest(ARRAY['dispatch-ms', 'run-ms']) f`,
  );
  await pool.query('ANALYZE');
  printTable(`Seeding ${TASKS.toLocaleString()} tasks (set-based INSERT ... SELECT)`, ['table', 'rows', 'seconds'], seedRows);

  const { rows: pick } = await pool.query<{ run_id: string; task_id: string; mid: string }>(
    `SELECT r.run_id, (SELECT task_id FROM tasks WHERE run_id = r.run_id AND key = 'body[500]') AS task_id, (SELECT task_id FROM tasks WHERE run_id = r.run_id AND key = 'body[400]') AS mid
     FROM runs r WHERE r.flow = 'ScaleFlow' ORDER BY r.run_id DESC OFFSET 37 LIMIT 1`,
  );
  const { run_id: runId, task_id: taskId, mid } = pick[0]!;
  const ref = { flow: 'ScaleFlow', runId, taskId };
  const startTask = (await pool.query<{ task_id: string }>(`SELECT task_id FROM tasks WHERE run_id = $1 AND key = 'start'`, [runId]))
    .rows[0]!.task_id;
  const queries: Array<[string, () => Promise<unknown>, string, unknown[]]> = [
    [
      'latest run of a flow',
      () => store.latestRun('ScaleFlow'),
      `SELECT * FROM runs WHERE flow = $1 ORDER BY run_id DESC LIMIT 1`,
      ['ScaleFlow'],
    ],
    [
      'latest successful run of a flow',
      () => store.latestRun('ScaleFlow', { status: 'succeeded' }),
      `SELECT * FROM runs WHERE flow = $1 AND status = $2 ORDER BY run_id DESC LIMIT 1`,
      ['ScaleFlow', 'succeeded'],
    ],
    [
      'runs of a flow by tag (page of 20)',
      () => store.listRuns({ flow: 'ScaleFlow', tags: ['team:ml'], limit: 20 }),
      `SELECT r.* FROM runs r WHERE r.flow = $1 AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.run_id AND t.tag = $2) ORDER BY r.run_id DESC LIMIT 21`,
      ['ScaleFlow', 'team:ml'],
    ],
    [
      'failed runs (page of 20)',
      () => store.listRuns({ status: 'failed', limit: 20 }),
      `SELECT r.* FROM runs r WHERE r.status = $1 ORDER BY r.run_id DESC LIMIT 21`,
      ['failed'],
    ],
    [
      'a step\u2019s tasks, first page of 100',
      () => store.listTasks({ flow: 'ScaleFlow', runId, step: 'body', limit: 100 }),
      `SELECT * FROM tasks t WHERE t.run_id = $1 AND t.flow = $2 AND t.step = $3 ORDER BY t.task_id LIMIT 101`,
      [runId, 'ScaleFlow', 'body'],
    ],
    [
      'a step\u2019s tasks, page after a cursor',
      () => store.listTasks({ flow: 'ScaleFlow', runId, step: 'body', limit: 100, cursor: mid }),
      `SELECT * FROM tasks t WHERE t.run_id = $1 AND t.flow = $2 AND t.step = $3 AND t.task_id > $4 ORDER BY t.task_id LIMIT 101`,
      [runId, 'ScaleFlow', 'body', mid],
    ],
    [
      'one task',
      () => store.getTask(ref),
      `SELECT * FROM tasks t WHERE t.task_id = $1 AND t.run_id = $2 AND t.flow = $3`,
      [taskId, runId, 'ScaleFlow'],
    ],
    [
      'artifacts of a task',
      () => store.listArtifacts(ref),
      `SELECT a.* FROM tasks t LEFT JOIN artifacts a ON a.task_id = t.task_id AND a.attempt = (SELECT max(attempt) FROM attempts WHERE task_id = t.task_id AND status = 'succeeded') WHERE t.task_id = $1 AND t.run_id = $2 AND t.flow = $3`,
      [taskId, runId, 'ScaleFlow'],
    ],
    ['metadata of a task', () => store.getMetadata(ref), `SELECT field, value FROM task_metadata WHERE task_id = $1 ORDER BY id`, [taskId]],
    [
      'lineage: children of a task (999 rows)',
      () => store.listChildren({ flow: 'ScaleFlow', runId, taskId: startTask }),
      `SELECT task_id FROM task_parents WHERE parent_id = $1`,
      [startTask],
    ],
  ];
  const rows: Array<Array<string | number>> = [];
  const plans: string[] = [];
  for (const [name, fn, sql, args] of queries) {
    await fn();
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const plan = (await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ANALYZE ${sql}`, args)).rows.map(
      (r: { 'QUERY PLAN': string }) => r['QUERY PLAN'],
    );
    const exec = plan.find((l) => l.startsWith('Execution Time'))!;
    rows.push([name, percentile(times, 50).toFixed(2), percentile(times, 95).toFixed(2), exec.replace('Execution Time: ', '')]);
    plans.push(`-- ${name}\n${plan.join('\n')}`);
  }
  printTable(
    `Client queries on ${TASKS.toLocaleString()} tasks (through the adapter, 50 runs each; server time from EXPLAIN ANALYZE)`,
    ['query', 'P50 ms', 'P95 ms', 'server execution'],
    rows,
  );
  console.log(`\nEXPLAIN ANALYZE\n${plans.join('\n\n')}`);
} finally {
  await store.close();
  await pool.end();
  server.destroy();
}
