import pg from 'pg';
import { printTable } from '../table.ts';
import { fmt } from './format.ts';
import type { GeneratorResult } from './generator-messages.ts';
import { ARTIFACTS_PER_TASK, type Op } from './workload.ts';

/** Rows in Postgres against what the generators were told was done. */
export async function verifyExactlyOnce(url: string, schema: string, results: GeneratorResult[]): Promise<boolean> {
  const acked = {
    runs: results.flatMap((r) => r.acked.runs),
    tasks: results.flatMap((r) => r.acked.tasks),
    started: results.flatMap((r) => r.acked.started),
    finished: results.flatMap((r) => r.acked.finished),
  };
  const doubt = (op: Op) => results.reduce((a, r) => a + r.doubt.errored[op] + r.doubt.inflight[op], 0);
  const inflight = (op: Op) => results.reduce((a, r) => a + r.doubt.inflight[op], 0);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    const one = async (sql: string, args: unknown[] = []) => Number((await client.query<{ n: string }>(sql, args)).rows[0]!.n);
    const runRows = await one('SELECT count(*) AS n FROM runs');
    const runsFound = await one('SELECT count(*) AS n FROM runs WHERE run_id = ANY($1::bigint[])', [acked.runs]);
    const runsTwice = await one(`SELECT count(*) AS n FROM (SELECT params->>'load' FROM runs GROUP BY 1 HAVING count(*) > 1) d`);
    const taskRows = await one('SELECT count(*) AS n FROM tasks');
    const tasksFound = await one('SELECT count(*) AS n FROM tasks WHERE task_id = ANY($1::bigint[])', [acked.tasks]);
    const keysTwice = await one('SELECT count(*) AS n FROM (SELECT 1 FROM tasks GROUP BY run_id, key HAVING count(*) > 1) d');
    const attemptRows = await one('SELECT count(*) AS n FROM attempts');
    const startedFound = await one('SELECT count(*) AS n FROM attempts WHERE attempt = 0 AND task_id = ANY($1::bigint[])', [acked.started]);
    const otherAttempts = await one('SELECT count(*) AS n FROM attempts WHERE attempt <> 0');
    const succeededRows = await one(`SELECT count(*) AS n FROM attempts WHERE status = 'succeeded'`);
    const finishedOk = await one(`SELECT count(*) AS n FROM attempts WHERE status = 'succeeded' AND task_id = ANY($1::bigint[])`, [
      acked.finished,
    ]);
    const artifactRows = await one('SELECT count(*) AS n FROM artifacts');
    const finishedWith3 = await one(
      `SELECT count(*) AS n FROM (SELECT task_id FROM artifacts WHERE task_id = ANY($1::bigint[]) GROUP BY task_id HAVING count(*) = ${ARTIFACTS_PER_TASK}) d`,
      [acked.finished],
    );
    const not3 = await one(
      `SELECT count(*) AS n FROM (SELECT task_id FROM artifacts GROUP BY task_id HAVING count(*) <> ${ARTIFACTS_PER_TASK}) d`,
    );
    // [table, rows, acknowledged, what was found of them, unacknowledged, of which in flight at stop, ok]
    const checks: Array<[string, number, number, string, number, number, boolean]> = [];
    const row = (table: string, rows: number, ack: number, found: number, foundNote: string, d: number, f: number, extraOk = true) => {
      const extra = rows - ack;
      checks.push([table, rows, ack, `${fmt(found)} ${foundNote}`, d, f, found === ack && extra >= 0 && extra <= d && extraOk]);
    };
    row('runs', runRows, acked.runs.length, runsFound, 'exist', doubt('createRun'), inflight('createRun'), runsTwice === 0);
    row('tasks', taskRows, acked.tasks.length, tasksFound, 'exist', doubt('registerTask'), inflight('registerTask'), keysTwice === 0);
    row(
      'attempts',
      attemptRows,
      acked.started.length,
      startedFound,
      'exist',
      doubt('startAttempt'),
      inflight('startAttempt'),
      otherAttempts === 0,
    );
    row(
      'attempts succeeded',
      succeededRows,
      acked.finished.length,
      finishedOk,
      'succeeded',
      doubt('finishAttempt'),
      inflight('finishAttempt'),
    );
    const art = acked.finished.length * ARTIFACTS_PER_TASK;
    const artExtra = artifactRows - art;
    checks.push([
      'artifacts',
      artifactRows,
      art,
      `${fmt(finishedWith3)} of ${fmt(acked.finished.length)} finished tasks have exactly ${ARTIFACTS_PER_TASK}`,
      doubt('finishAttempt') * ARTIFACTS_PER_TASK,
      inflight('finishAttempt') * ARTIFACTS_PER_TASK,
      finishedWith3 === acked.finished.length && not3 === 0 && artExtra >= 0 && artExtra <= doubt('finishAttempt') * ARTIFACTS_PER_TASK,
    ]);
    printTable(
      'Exactly once: rows in Postgres vs acknowledged writes (setup, warm-up and both phases)',
      [
        'table',
        'rows',
        'acknowledged',
        'acknowledged rows found',
        'extra rows',
        'unacknowledged (errored + in flight)',
        'of which in flight at stop',
        'check',
      ],
      checks.map(([table, rows, ack, found, d, f, ok]) => [
        table,
        fmt(rows),
        fmt(ack),
        found,
        fmt(rows - ack),
        fmt(d),
        fmt(f),
        ok ? 'ok' : 'FAIL',
      ]),
    );
    console.log(
      `Duplicates: ${runsTwice} run(s) created twice (same load id), ${keysTwice} task key(s) registered twice, ` +
        `${otherAttempts} attempt row(s) numbered other than 0, ${not3} task(s) with other than ${ARTIFACTS_PER_TASK} artifact rows.`,
    );
    const ok = checks.every((c) => c[6]);
    console.log(ok ? 'Exactly-once check: passed.' : 'Exactly-once check: FAILED.');
    return ok;
  } finally {
    await client.end();
  }
}
