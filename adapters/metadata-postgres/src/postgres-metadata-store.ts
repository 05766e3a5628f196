import { createHash, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import {
  checkTagChange,
  refuseDuplicateKeys,
  checkTagText,
  redactUrl,
  TaskBatchPlan,
  TributaryError,
  type ArtifactRecord,
  type AttemptOutcome,
  type AttemptRecord,
  type FlowQuery,
  type MetadataCapabilities,
  type MetadataStore,
  type NewRun,
  type NewTask,
  type Page,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type TaskQuery,
  type TaskRecord,
  type TaskRef,
  type TaskSet,
  type WriteOptions,
} from '@tributary/core';
import { MIGRATIONS } from './migrations.ts';

/** @public */
export interface PostgresMetadataStoreOptions {
  /**
   * `postgres://user:pass@host:5432/db?schema=name` (schema defaults to `tributary`). Or use `PGHOST`... from the environment.
   * The store keeps the password out of reach of `util.inspect`, JSON and its errors; messages name `user@host:port/db`.
   */
  url?: string;
  /** Overrides the URL's `schema` parameter. */
  schema?: string;
  /** Pool size. Default 16. */
  poolSize?: number;
  /** Apply pending migrations when the first query runs. Default true; else call `migrate()`. */
  migrate?: boolean;
  /** Retries of transient failures (connection reset, restart, serialization failure, deadlock). */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Longest wait for a connection, startup included, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Longest wait for a query's answer, ms (then it counts as a transient failure and is retried,
   * exactly once as ever). Default: none. A service sets one so that a database that accepts
   * connections but never answers becomes a 503 in bounded time.
   */
  queryTimeoutMs?: number;
}

const TRANSIENT_SQLSTATES = new Set([
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '25P03',
]);
const TRANSIENT_NODE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * What an error may keep as its cause. The server's own errors never hold the client's
 * credentials; anything else from the driver (connection errors, parse errors) is copied with
 * its message redacted, so no reference leads back to a connection and its password.
 */
function safeCause(err: unknown): unknown {
  if (err instanceof pg.DatabaseError) return err;
  const e = err as { name?: string; code?: unknown; message?: unknown };
  const copy = new Error(redactUrl(String(e?.message ?? err)));
  copy.name = typeof e?.name === 'string' ? e.name : 'Error';
  if (typeof e?.code === 'string') Object.assign(copy, { code: e.code });
  return copy;
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && (TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_NODE.has(e.code))) return true;
  return /Connection terminated|connection error|terminating connection|timeout exceeded when trying to connect|Query read timeout/i.test(
    e?.message ?? '',
  );
}

interface RunRow {
  run_id: string;
  flow: string;
  user_name: string;
  status: RunStatus;
  params: Record<string, unknown>;
  tags: string[];
  system_tags: string[];
  code_hash: string;
  graph: unknown;
  origin_run_id: string | null;
  created_at: string;
  finished_at: string | null;
  heartbeat_at: string | null;
}

interface TaskRow {
  task_id: string;
  run_id: string;
  flow: string;
  step: string;
  key: string;
  status: TaskRecord['status'];
  attempts: number;
  origin_pathspec: string | null;
  created_at: string;
  finished_at: string | null;
  parents: string[] | null;
}

function runRecord(r: RunRow): RunRecord {
  return {
    flow: r.flow,
    runId: String(r.run_id),
    user: r.user_name,
    status: r.status,
    params: r.params,
    tags: r.tags,
    systemTags: r.system_tags,
    codeHash: r.code_hash,
    graph: r.graph,
    createdAt: Number(r.created_at),
    ...(r.origin_run_id ? { originRunId: r.origin_run_id } : {}),
    ...(r.finished_at !== null ? { finishedAt: Number(r.finished_at) } : {}),
    ...(r.heartbeat_at !== null ? { heartbeatAt: Number(r.heartbeat_at) } : {}),
  };
}

function taskRecord(r: TaskRow): TaskRecord {
  return {
    flow: r.flow,
    runId: String(r.run_id),
    taskId: String(r.task_id),
    step: r.step,
    key: r.key,
    status: r.status,
    attempts: r.attempts,
    parents: (r.parents ?? []).map(String),
    createdAt: Number(r.created_at),
    ...(r.origin_pathspec ? { originPathspec: r.origin_pathspec } : {}),
    ...(r.finished_at !== null ? { finishedAt: Number(r.finished_at) } : {}),
  };
}

const REGISTER_TASKS = `WITH r AS (SELECT run_id FROM runs WHERE run_id = $1 AND flow = $2),
 ins AS (INSERT INTO tasks (run_id, flow, step, key, status, origin_pathspec, created_at, parents, register_token)
         SELECT r.run_id, $2, x.step, x.key, 'pending', x.origin, $3, string_to_array(x.parents, ',')::bigint[], $11
         FROM r, unnest($4::text[], $5::text[], $6::text[], $10::text[]) AS x(step, key, origin, parents)
         RETURNING task_id, key),
 par AS (INSERT INTO task_parents (task_id, parent_id, position)
         SELECT ins.task_id, p.parent, p.pos FROM ins JOIN unnest($7::text[], $8::bigint[], $9::int[]) AS p(key, parent, pos) ON p.key = ins.key
         ON CONFLICT DO NOTHING)
 SELECT task_id::text, key FROM ins`;

const TASK_SELECT = `SELECT t.task_id, t.run_id, t.flow, t.step, t.key, t.status, t.attempts, t.origin_pathspec, t.created_at, t.finished_at, t.parents::text[] AS parents FROM tasks t`;

function decodeOr(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function id(kind: string, value: string): string {
  if (!/^\d{1,18}$/.test(value))
    throw new TributaryError('NOT_FOUND', `No ${kind} with id ${JSON.stringify(value)}: ids are decimal numbers.`);
  return value;
}

/**
 * A time bound of `listRuns` as an integer (created_at is whole milliseconds, so rounding up keeps
 * both `>= since` and `< until` exact; infinities clamp). NaN or a non-number is PARAM_INVALID.
 */
function timeBound(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TributaryError('PARAM_INVALID', `RunQuery.${name} must be a time in epoch milliseconds; got ${String(value)}.`);
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, Math.ceil(value)));
}

interface AttemptRow {
  attempt: number;
  status: AttemptRecord['status'];
  started_at: string;
  finished_at: string | null;
  error_code: string | null;
  error_message: string | null;
}

function attemptRecord(r: AttemptRow): AttemptRecord {
  return {
    attempt: r.attempt,
    status: r.status,
    startedAt: Number(r.started_at),
    ...(r.finished_at !== null ? { finishedAt: Number(r.finished_at) } : {}),
    ...(r.error_code !== null ? { error: { code: r.error_code, message: r.error_message ?? '' } } : {}),
  };
}

interface ArtifactRow {
  name: string | null;
  sha: string;
  size: string;
  type: string;
  encoding: string;
  attempt: number;
}

function artifactRecord(r: ArtifactRow): ArtifactRecord {
  return { name: r.name!, sha: r.sha, size: Number(r.size), type: r.type, encoding: r.encoding, attempt: r.attempt };
}

/** The tasks of a batch: ids as a bigint array (no parameter-count limit), of one run. */
const BATCH_WHERE = `t.task_id = ANY($1::bigint[]) AND t.run_id = $2 AND t.flow = $3`;

/**
 * MetadataStore on PostgreSQL. Strongly consistent: every multi-row change is one statement or
 * one transaction; status changes are conditional updates on locked rows, so "forward only" and
 * "exactly once" hold under any number of concurrent writers on any number of hosts.
 * @public
 */
export class PostgresMetadataStore implements MetadataStore {
  readonly name = 'postgres';
  readonly capabilities: MetadataCapabilities = { multiWriter: true, batchRegistration: true, idempotencyKeys: true };
  readonly schema: string;
  // The pool and the options hold the password (pg keeps it on every connection it opens):
  // private fields, which neither util.inspect, JSON nor an error's serialization can reach.
  readonly #pool: pg.Pool;
  readonly #options: PostgresMetadataStoreOptions;
  /** `user@host:port/db`: how messages name the server, never with the password. */
  private readonly where: string;
  private ready?: Promise<void>;
  private readonly statementNames = new Map<string, string>();
  private closed = false;

  constructor(options: PostgresMetadataStoreOptions = {}) {
    this.#options = { ...options, ...(options.retry ? { retry: { ...options.retry } } : {}) };
    const raw = options.url ?? process.env.TRIBUTARY_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    let url: URL;
    try {
      url = new URL(raw);
    } catch (err) {
      // Not chained: Node's URL error carries the input, password included.
      throw new TributaryError(
        'CONFIG',
        `Invalid Postgres metadata URL ${JSON.stringify(redactUrl(raw))} (${(err as Error).message}): ` +
          `expected postgres://user:password@host:5432/database?schema=name.`,
        { context: { adapter: 'postgres' } },
      );
    }
    this.schema = options.schema ?? url.searchParams.get('schema') ?? 'tributary';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema))
      throw new TributaryError(
        'CONFIG',
        `Invalid Postgres schema name ${JSON.stringify(this.schema)}: use lowercase letters, digits and _.`,
      );
    url.searchParams.delete('schema');
    this.where = `${decodeOr(url.username) || process.env.PGUSER || 'postgres'}@${url.hostname}:${url.port || 5432}${url.pathname}`;
    let config: pg.PoolConfig;
    try {
      config = parseIntoClientConfig(url.toString());
    } catch (err) {
      throw new TributaryError(
        'CONFIG',
        `Invalid Postgres metadata URL ${JSON.stringify(redactUrl(raw))}: ${redactUrl((err as Error).message)}`,
        {
          context: { adapter: 'postgres' },
        },
      );
    }
    // The password as a function: pg's pool keeps its options, this keeps only a closure.
    const secret = typeof config.password === 'string' && config.password !== '' ? config.password : undefined;
    delete config.password;
    this.#pool = new pg.Pool({
      ...config,
      ...(secret !== undefined ? { password: () => secret } : {}),
      max: options.poolSize ?? 16,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      ...(options.queryTimeoutMs !== undefined ? { query_timeout: options.queryTimeoutMs } : {}),
      options: `${config.options ? `${config.options} ` : ''}-c search_path=${this.schema}`,
    });
    // An idle client losing its connection (server restart) must not crash the process.
    this.#pool.on('error', () => undefined);
  }

  /** What `util.inspect` (a logger) shows: where the store points, never its credentials. */
  [inspect.custom](): string {
    return `PostgresMetadataStore { where: '${this.where}', schema: '${this.schema}'${this.closed ? ', closed' : ''} }`;
  }

  /** What `JSON.stringify` shows: as for `util.inspect`. */
  toJSON(): { name: string; where: string; schema: string } {
    return { name: this.name, where: this.where, schema: this.schema };
  }

  /** Apply pending migrations now (otherwise done on first use). */
  async migrate(): Promise<void> {
    await this.retry(async () => {
      const c = await this.#pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tributary:${this.schema}`]);
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.tributary_schema (version INT NOT NULL, applied_at BIGINT NOT NULL)`);
        const { rows } = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${this.schema}.tributary_schema`);
        const version = rows[0]?.v ?? 0;
        if (version > MIGRATIONS.length) {
          throw new TributaryError(
            'CONFIG',
            `Postgres schema ${this.schema} is at version ${version}, newer than this Tributary (${MIGRATIONS.length}). Upgrade Tributary.`,
          );
        }
        for (let v = version; v < MIGRATIONS.length; v++) {
          await c.query(MIGRATIONS[v]!);
          await c.query(`INSERT INTO ${this.schema}.tributary_schema (version, applied_at) VALUES ($1, $2)`, [v + 1, Date.now()]);
        }
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    });
  }

  private async init(): Promise<void> {
    if (this.closed)
      throw new TributaryError('CLOSED', `Postgres metadata store ${this.where} is closed.`, { context: { adapter: 'postgres' } });
    if (this.#options.migrate === false) return;
    this.ready ??= this.migrate().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    await this.ready;
  }

  /** Run `fn`, retrying transient failures with exponential backoff and jitter. */
  private async retry<T>(fn: (retrying: boolean) => Promise<T>): Promise<T> {
    const attempts = this.#options.retry?.attempts ?? 10;
    const base = this.#options.retry?.baseDelayMs ?? 50;
    const max = this.#options.retry?.maxDelayMs ?? 2000;
    for (let i = 0; ; i++) {
      try {
        return await fn(i > 0);
      } catch (err) {
        if (TributaryError.is(err)) throw err;
        if (!isTransient(err) || i + 1 >= attempts || this.closed) throw this.mapError(err);
        const delay = Math.min(max, base * 2 ** i) * (0.5 + Math.random() / 2);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private mapError(err: unknown): Error {
    if (TributaryError.is(err)) return err;
    const e = err as { code?: string; message?: string };
    const message = redactUrl(String(e?.message ?? err));
    const context = { adapter: 'postgres' };
    if (this.closed) return new TributaryError('CLOSED', `Postgres metadata store ${this.where} is closed.`, { context });
    if (e.code === '28P01' || e.code === '28000')
      return new TributaryError(
        'CONFIG',
        `Postgres rejected the credentials for ${this.where}. Check the user and password in the URL (or PGUSER/PGPASSWORD).`,
        { context },
      );
    if (e.code === '3D000')
      return new TributaryError('CONFIG', `Database in ${this.where} does not exist. Create it, or point the URL at an existing one.`, {
        context,
      });
    if (e.code === '23505') return new TributaryError('ALREADY_EXISTS', `Already recorded: ${message}`, { context, cause: safeCause(err) });
    // Class 22 (data exception): the value itself is bad (a NUL in text, a number out of range), not the database.
    if (typeof e.code === 'string' && e.code.startsWith('22'))
      return new TributaryError('PARAM_INVALID', `Postgres cannot store this value: ${message}`, { context, cause: safeCause(err) });
    if (isTransient(err)) {
      return new TributaryError(
        'INFRASTRUCTURE',
        `Cannot reach Postgres at ${this.where} (${e.code ?? message}) after retrying. Is the server running and reachable?`,
        { context, retryable: true },
      );
    }
    return new TributaryError('INFRASTRUCTURE', `Postgres error on ${this.where}: ${message}`, { context, cause: safeCause(err) });
  }

  /**
   * One statement. Static statements are named: each pooled connection prepares them once, so
   * the server skips parsing and planning afterwards (most of the cost of these short queries).
   */
  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    await this.init();
    let name = this.statementNames.get(sql);
    if (!name) {
      name = `t${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
      this.statementNames.set(sql, name);
    }
    const query = { name, text: sql, values: params };
    return this.retry(async () => (await this.#pool.query<R>(query)).rows);
  }

  /**
   * One statement. Exactly once under retries: a retry after an ambiguous failure finds the run
   * its first try committed (by this call's token) instead of creating a second one.
   */
  async createRun(run: NewRun, options: WriteOptions = {}): Promise<RunRecord> {
    const token = options.idempotencyKey ?? randomUUID();
    const rows = await this.q<RunRow>(
      `WITH prev AS (SELECT * FROM runs WHERE create_token = $12),
       r AS (
         INSERT INTO runs (flow, user_name, status, params, tags, system_tags, code_hash, graph, origin_run_id, created_at, create_token)
         SELECT $1, $2, 'running', $3::jsonb, $4::jsonb, $5::jsonb, $6, $7::jsonb, $8, $9::bigint, $12 WHERE NOT EXISTS (SELECT 1 FROM prev)
         RETURNING *),
       t AS (INSERT INTO run_tags (run_id, tag, system) SELECT r.run_id, x.tag, x.sys FROM r, unnest($10::text[], $11::boolean[]) AS x(tag, sys) ON CONFLICT DO NOTHING)
       SELECT * FROM r UNION ALL SELECT * FROM prev`,
      [
        run.flow,
        run.user,
        JSON.stringify(run.params),
        JSON.stringify(run.tags),
        JSON.stringify(run.systemTags),
        run.codeHash,
        JSON.stringify(run.graph ?? null),
        run.originRunId ?? null,
        Date.now(),
        [...run.tags, ...run.systemTags],
        [...run.tags.map(() => false), ...run.systemTags.map(() => true)],
        token,
      ],
    ).catch(async (err: unknown) => {
      // A repeat racing its first try (both in flight, on two service instances): the loser finds the winner's run.
      if (!TributaryError.is(err, 'ALREADY_EXISTS') || options.idempotencyKey === undefined) throw err;
      return this.q<RunRow>('SELECT * FROM runs WHERE create_token = $1', [token]);
    });
    return runRecord(rows[0]!);
  }

  async getRun(flow: string, runId: string): Promise<RunRecord> {
    const rows = await this.q<RunRow>('SELECT * FROM runs WHERE run_id = $1 AND flow = $2', [id('run', runId), flow]);
    if (!rows[0]) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`, { context: { pathspec: `${flow}/${runId}` } });
    return runRecord(rows[0]);
  }

  async listRuns(query: RunQuery): Promise<Page<RunRecord>> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (query.flow) where.push(`r.flow = ${arg(query.flow)}`);
    if (query.status) where.push(`r.status = ${arg(query.status)}`);
    if (query.cursor) where.push(`r.run_id < ${arg(id('cursor', query.cursor))}`);
    if (query.user !== undefined) where.push(`r.user_name = ${arg(query.user)}`);
    const since = timeBound('since', query.since);
    if (since !== undefined) where.push(`r.created_at >= ${arg(since)}`);
    const until = timeBound('until', query.until);
    if (until !== undefined) where.push(`r.created_at < ${arg(until)}`);
    for (const tag of query.tags ?? []) where.push(`EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.run_id AND t.tag = ${arg(tag)})`);
    const rows = await this.q<RunRow>(
      `SELECT r.* FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.run_id DESC LIMIT ${arg(limit + 1)}`,
      args,
    );
    const items = rows.slice(0, limit).map(runRecord);
    return rows.length > limit ? { items, cursor: items[items.length - 1]!.runId } : { items };
  }

  async latestRun(flow: string, options: { status?: RunStatus } = {}): Promise<RunRecord | undefined> {
    const rows = options.status
      ? await this.q<RunRow>('SELECT * FROM runs WHERE flow = $1 AND status = $2 ORDER BY run_id DESC LIMIT 1', [flow, options.status])
      : await this.q<RunRow>('SELECT * FROM runs WHERE flow = $1 ORDER BY run_id DESC LIMIT 1', [flow]);
    return rows[0] ? runRecord(rows[0]) : undefined;
  }

  async finishRun(flow: string, runId: string, status: Exclude<RunStatus, 'running'>, options: WriteOptions = {}): Promise<void> {
    const token = options.idempotencyKey ?? randomUUID();
    const rows = await this.q<{ status: string; changed: boolean; ours: boolean }>(
      `WITH cur AS (SELECT run_id, status, finish_token FROM runs WHERE run_id = $1 AND flow = $2 FOR UPDATE),
       upd AS (UPDATE runs SET status = $3, finished_at = $4, finish_token = $5 WHERE run_id IN (SELECT run_id FROM cur WHERE status = 'running') RETURNING run_id)
       SELECT cur.status, EXISTS (SELECT 1 FROM upd) AS changed, cur.finish_token IS NOT DISTINCT FROM $5 AS ours FROM cur`,
      [id('run', runId), flow, status, Date.now(), token],
    );
    if (!rows[0]) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`);
    // `ours`: a retry whose first try committed (its reply was lost).
    if (rows[0].changed || rows[0].ours) return;
    if (rows[0].status !== status)
      throw new TributaryError('CONFLICT', `Run ${flow}/${runId} is already ${rows[0].status}; it cannot become ${status}.`);
    throw new TributaryError('CONFLICT', `Run ${flow}/${runId} is already ${rows[0].status}.`);
  }

  async heartbeat(flow: string, runId: string): Promise<void> {
    await this.q('UPDATE runs SET heartbeat_at = $1 WHERE run_id = $2 AND flow = $3', [Date.now(), id('run', runId), flow]);
  }

  /** Remove `remove`, then add `add`, in one transaction on the locked run row: everything is checked before anything changes. */
  private async mutateTags(flow: string, runId: string, remove: string[], add: string[]): Promise<void> {
    checkTagText(remove);
    checkTagText(add);
    await this.init();
    await this.retry(async () => {
      const c = await this.#pool.connect();
      try {
        await c.query('BEGIN');
        const { rows } = await c.query<{ tags: string[]; system_tags: string[] }>(
          'SELECT tags, system_tags FROM runs WHERE run_id = $1 AND flow = $2 FOR UPDATE',
          [id('run', runId), flow],
        );
        if (!rows[0]) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`);
        checkTagChange(rows[0].system_tags, remove, add);
        const current = new Set(rows[0].tags);
        for (const t of remove) current.delete(t);
        for (const t of add) current.add(t);
        if (remove.length > 0)
          await c.query('DELETE FROM run_tags WHERE run_id = $1 AND tag = ANY($2::text[]) AND NOT system', [runId, remove]);
        if (add.length > 0)
          await c.query('INSERT INTO run_tags (run_id, tag, system) SELECT $1, unnest($2::text[]), false ON CONFLICT DO NOTHING', [
            runId,
            add,
          ]);
        await c.query('UPDATE runs SET tags = $1 WHERE run_id = $2', [JSON.stringify([...current]), runId]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    });
  }

  async addTags(flow: string, runId: string, tags: string[]): Promise<void> {
    await this.mutateTags(flow, runId, [], tags);
  }

  async removeTags(flow: string, runId: string, tags: string[]): Promise<void> {
    await this.mutateTags(flow, runId, tags, []);
  }

  async replaceTags(flow: string, runId: string, remove: string[], add: string[]): Promise<void> {
    await this.mutateTags(flow, runId, remove, add);
  }

  async listFlows(query: FlowQuery = {}): Promise<string[]> {
    const tags = [...new Set(query.tags ?? [])];
    const rows = tags.length
      ? await this.q<{ flow: string }>(
          `SELECT DISTINCT r.flow FROM runs r WHERE r.run_id IN
             (SELECT run_id FROM run_tags WHERE tag = ANY($1::text[]) GROUP BY run_id HAVING count(*) = $2)`,
          [tags, tags.length],
        )
      : await this.q<{ flow: string }>('SELECT DISTINCT flow FROM runs');
    // Sorted here, not by the server: its order depends on the database's collation.
    return rows.map((r) => r.flow).sort();
  }

  /** One task (the common case while a run goes): a plain insert, its parents in one more statement only if it has any. */
  async registerTask(task: NewTask, options: WriteOptions = {}): Promise<TaskRecord> {
    if (task.parents.length > 0) return (await this.registerTasks([task], options))[0]!;
    const now = Date.now();
    const token = options.idempotencyKey ?? randomUUID();
    await this.init();
    const rows = await this.retry(async () => {
      try {
        return (
          await this.#pool.query<{ task_id: string }>({
            name: 'register_task',
            text: `INSERT INTO tasks (run_id, flow, step, key, status, origin_pathspec, created_at, register_token)
                   SELECT run_id, flow, $3, $4, 'pending', $5, $6, $7 FROM runs WHERE run_id = $1 AND flow = $2
                   RETURNING task_id::text`,
            values: [id('run', task.runId), task.flow, task.step, task.key, task.originPathspec ?? null, now, token],
          })
        ).rows;
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        // A retry after an ambiguous failure, or a repeat of the caller's call: the task is ours if it has our token.
        const earlier = await this.findOwned([task], token);
        if (earlier) return [{ task_id: earlier[0]!.taskId }];
        throw new TributaryError('ALREADY_EXISTS', `Run ${task.flow}/${task.runId} already has a task ${task.key}.`, { cause: err });
      }
    });
    if (!rows[0]) throw new TributaryError('NOT_FOUND', `No run ${task.flow}/${task.runId} to add task ${task.key} to.`);
    return { ...task, parents: [], taskId: rows[0].task_id, status: 'pending', attempts: 0, createdAt: now };
  }

  /**
   * One statement per run: insert the tasks and their parents from arrays. A retry after an
   * ambiguous failure (the commit may have happened) finds its own tasks by key and returns them.
   */
  async registerTasks(tasks: NewTask[], options: WriteOptions = {}): Promise<TaskRecord[]> {
    if (tasks.length === 0) return [];
    refuseDuplicateKeys(tasks);
    const token = options.idempotencyKey ?? randomUUID();
    await this.init();
    const byRun = new Map<string, NewTask[]>();
    for (const t of tasks) {
      id('run', t.runId);
      for (const p of t.parents) id('task', p);
      const key = `${t.flow}\u0000${t.runId}`;
      byRun.set(key, [...(byRun.get(key) ?? []), t]);
    }
    const now = Date.now();
    return this.retry(async () => {
      // One run (the usual case): one statement, atomic on its own. Several runs: one transaction.
      const single = byRun.size === 1;
      const c = single ? this.#pool : await this.#pool.connect();
      try {
        if (!single) await c.query('BEGIN');
        const out = new Map<NewTask, TaskRecord>();
        for (const group of byRun.values()) {
          const { flow, runId } = group[0]!;
          const parentKeys: string[] = [];
          const parentIds: string[] = [];
          const positions: number[] = [];
          for (const t of group) t.parents.forEach((p, i) => (parentKeys.push(t.key), parentIds.push(p), positions.push(i)));
          let rows: Array<{ task_id: string; key: string }>;
          try {
            rows = (
              await c.query<{ task_id: string; key: string }>({
                name: 'register_tasks',
                text: REGISTER_TASKS,
                values: [
                  runId,
                  flow,
                  now,
                  group.map((t) => t.step),
                  group.map((t) => t.key),
                  group.map((t) => t.originPathspec ?? null),
                  parentKeys,
                  parentIds,
                  positions,
                  group.map((t) => t.parents.join(',')),
                  token,
                ],
              })
            ).rows;
          } catch (err) {
            if ((err as { code?: string }).code !== '23505') throw err;
            if (!single) await c.query('ROLLBACK');
            // A retry after an ambiguous failure, or a repeat of the caller's call: the tasks are ours if they have our token.
            const earlier = await this.findOwned(tasks, token);
            if (earlier) return earlier;
            throw new TributaryError(
              'ALREADY_EXISTS',
              `Run ${flow}/${runId} already has a task with one of the keys ${group
                .map((t) => t.key)
                .slice(0, 5)
                .join(', ')}.`,
              { cause: err },
            );
          }
          if (rows.length === 0) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId} to add tasks to.`);
          const idByKey = new Map(rows.map((r) => [r.key, r.task_id]));
          for (const t of group)
            out.set(t, { ...t, parents: [...t.parents], taskId: idByKey.get(t.key)!, status: 'pending', attempts: 0, createdAt: now });
        }
        if (!single) await c.query('COMMIT');
        return tasks.map((t) => out.get(t)!);
      } catch (err) {
        if (!single) await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        if (!single) (c as pg.PoolClient).release();
      }
    });
  }

  /** The tasks with these keys, when every one of them was registered with `token`; else undefined. */
  private async findOwned(tasks: NewTask[], token: string): Promise<TaskRecord[] | undefined> {
    const out: TaskRecord[] = [];
    for (const t of tasks) {
      const rows = await this.q<TaskRow>(`${TASK_SELECT} WHERE t.run_id = $1 AND t.key = $2 AND t.register_token = $3`, [
        t.runId,
        t.key,
        token,
      ]);
      if (!rows[0]) return undefined;
      out.push(taskRecord(rows[0]));
    }
    return out;
  }

  async getTask(ref: TaskRef): Promise<TaskRecord> {
    const rows = await this.q<TaskRow>(`${TASK_SELECT} WHERE t.task_id = $1 AND t.run_id = $2 AND t.flow = $3`, [
      id('task', ref.taskId),
      id('run', ref.runId),
      ref.flow,
    ]);
    if (!rows[0]) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    return taskRecord(rows[0]);
  }

  async listTasks(query: TaskQuery): Promise<Page<TaskRecord>> {
    const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
    const args: unknown[] = [id('run', query.runId), query.flow];
    const where = ['t.run_id = $1', 't.flow = $2'];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (query.step) where.push(`t.step = ${arg(query.step)}`);
    if (query.status) where.push(`t.status = ${arg(query.status)}`);
    if (query.cursor) where.push(`t.task_id > ${arg(id('cursor', query.cursor))}`);
    const rows = await this.q<TaskRow>(`${TASK_SELECT} WHERE ${where.join(' AND ')} ORDER BY t.task_id LIMIT ${arg(limit + 1)}`, args);
    const items = rows.slice(0, limit).map(taskRecord);
    return rows.length > limit ? { items, cursor: items[items.length - 1]!.taskId } : { items };
  }

  async listChildren(ref: TaskRef): Promise<TaskRecord[]> {
    const rows = await this.q<TaskRow & { exists: boolean }>(
      `SELECT c.* FROM (SELECT task_id FROM tasks WHERE task_id = $1 AND run_id = $2 AND flow = $3) me
       LEFT JOIN LATERAL (${TASK_SELECT} WHERE t.task_id IN (SELECT task_id FROM task_parents WHERE parent_id = me.task_id)) c ON true
       ORDER BY c.task_id`,
      [id('task', ref.taskId), id('run', ref.runId), ref.flow],
    );
    if (rows.length === 0) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    return rows.filter((r) => r.task_id !== null).map(taskRecord);
  }

  /**
   * Exactly once under retries: the attempt row keeps the token of the call that started it, so
   * a retry whose first try committed succeeds, while any other call for the same attempt (a
   * second start, by whoever) is a CONFLICT.
   */
  async startAttempt(ref: TaskRef, attempt: number, options: WriteOptions = {}): Promise<void> {
    const params = [id('task', ref.taskId), id('run', ref.runId), ref.flow, attempt, Date.now(), options.idempotencyKey ?? randomUUID()];
    const rows = await this.q<{ status: string; attempts: number; done: boolean; ours: boolean }>(
      `WITH t AS (SELECT task_id, status, attempts FROM tasks WHERE task_id = $1 AND run_id = $2 AND flow = $3 FOR UPDATE),
       ins AS (INSERT INTO attempts (task_id, attempt, status, started_at, start_token)
               SELECT task_id, $4, 'running', $5, $6 FROM t WHERE status NOT IN ('succeeded', 'running') AND attempts = $4
               ON CONFLICT DO NOTHING RETURNING task_id),
       upd AS (UPDATE tasks SET status = 'running', attempts = $4 + 1 WHERE task_id IN (SELECT task_id FROM ins) RETURNING task_id)
       SELECT t.status, t.attempts, EXISTS (SELECT 1 FROM upd) AS done,
              EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.task_id AND a.attempt = $4 AND a.start_token = $6) AS ours
       FROM t`,
      params,
    );
    const r = rows[0];
    if (!r) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    if (r.done || r.ours || (await this.attemptHasToken(ref, attempt, 'start_token', options.idempotencyKey))) return;
    if (r.status === 'succeeded')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; it cannot start attempt ${attempt}.`);
    if (r.status === 'running')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} has attempt ${r.attempts - 1} running; finish it before starting another.`);
    throw new TributaryError(
      'CONFLICT',
      `Task ${ref.taskId}: attempts are numbered in order; expected attempt ${r.attempts}, got ${attempt}.`,
    );
  }

  /**
   * One statement; exactly once under retries like `startAttempt`: a retry whose first try
   * committed finds its token on the attempt and succeeds without recording anything twice. A
   * second completion by any other call (same outcome or not) is a CONFLICT.
   */
  async finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome, options: WriteOptions = {}): Promise<void> {
    const now = Date.now();
    const error = outcome.status === 'failed' ? outcome.error : undefined;
    const artifacts = outcome.status === 'succeeded' ? outcome.artifacts : [];
    const meta = Object.entries(outcome.metadata ?? {});
    const rows = await this.q<{ status: string; done: boolean; ours: boolean }>(
      `WITH t AS (SELECT task_id, status FROM tasks WHERE task_id = $1 AND run_id = $2 AND flow = $3 FOR UPDATE),
       a AS (UPDATE attempts SET status = $5, finished_at = $6, error_code = $7, error_message = $8, finish_token = $16
             WHERE task_id = (SELECT task_id FROM t WHERE status <> 'succeeded') AND attempt = $4 AND status = 'running' RETURNING task_id),
       u AS (UPDATE tasks SET status = $5, finished_at = $6 WHERE task_id IN (SELECT task_id FROM a) RETURNING task_id),
       art AS (INSERT INTO artifacts (task_id, attempt, name, sha, size, type, encoding)
               SELECT a.task_id, $4, x.name, x.sha, x.size, x.type, x.encoding
               FROM a, unnest($9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[]) AS x(name, sha, size, type, encoding)),
       md AS (INSERT INTO task_metadata (task_id, field, value, ts) SELECT a.task_id, m.field, m.value, $6 FROM a, unnest($14::text[], $15::text[]) AS m(field, value))
       SELECT t.status, EXISTS (SELECT 1 FROM u) AS done,
              EXISTS (SELECT 1 FROM attempts WHERE task_id = t.task_id AND attempt = $4 AND finish_token = $16) AS ours
       FROM t`,
      [
        id('task', ref.taskId),
        id('run', ref.runId),
        ref.flow,
        attempt,
        outcome.status,
        now,
        error?.code ?? null,
        error?.message ?? null,
        artifacts.map((x) => x.name),
        artifacts.map((x) => x.sha),
        artifacts.map((x) => x.size),
        artifacts.map((x) => x.type),
        artifacts.map((x) => x.encoding),
        meta.map(([k]) => k),
        meta.map(([, v]) => v),
        options.idempotencyKey ?? randomUUID(),
      ],
    );
    const r = rows[0];
    if (!r) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    if (r.done || r.ours || (await this.attemptHasToken(ref, attempt, 'finish_token', options.idempotencyKey))) return;
    if (r.status === 'succeeded')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; a task completes exactly once.`);
    throw new TributaryError('CONFLICT', `Task ${ref.taskId} has no running attempt ${attempt} to finish.`);
  }

  /**
   * A repeat that waited on the task's row lock while its twin committed: the statement's `ours`
   * read the attempts from before that commit, so look again (a fresh snapshot).
   */
  private async attemptHasToken(
    ref: TaskRef,
    attempt: number,
    column: 'start_token' | 'finish_token',
    key: string | undefined,
  ): Promise<boolean> {
    if (key === undefined) return false;
    const rows = await this.q<{ one: number }>(`SELECT 1 AS one FROM attempts WHERE task_id = $1 AND attempt = $2 AND ${column} = $3`, [
      id('task', ref.taskId),
      attempt,
      key,
    ]);
    return rows.length > 0;
  }

  private async taskId(ref: TaskRef): Promise<string> {
    const rows = await this.q<{ task_id: string }>('SELECT task_id FROM tasks WHERE task_id = $1 AND run_id = $2 AND flow = $3', [
      id('task', ref.taskId),
      id('run', ref.runId),
      ref.flow,
    ]);
    if (!rows[0]) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    return rows[0].task_id;
  }

  async listAttempts(ref: TaskRef): Promise<AttemptRecord[]> {
    const tid = await this.taskId(ref);
    const rows = await this.q<AttemptRow>('SELECT * FROM attempts WHERE task_id = $1 ORDER BY attempt', [tid]);
    return rows.map(attemptRecord);
  }

  async listArtifacts(ref: TaskRef, options: { attempt?: number } = {}): Promise<ArtifactRecord[]> {
    // One statement: the task row proves the task exists (NOT_FOUND otherwise); the artifacts
    // are those of the given attempt, or of the successful one.
    const rows = await this.q<ArtifactRow>(
      `SELECT a.name, a.sha, a.size, a.type, a.encoding, a.attempt FROM tasks t
       LEFT JOIN artifacts a ON a.task_id = t.task_id AND a.attempt = COALESCE($4::int, (SELECT max(attempt) FROM attempts WHERE task_id = t.task_id AND status = 'succeeded'))
       WHERE t.task_id = $1 AND t.run_id = $2 AND t.flow = $3 ORDER BY a.name`,
      [id('task', ref.taskId), id('run', ref.runId), ref.flow, options.attempt ?? null],
    );
    if (rows.length === 0) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    return rows.filter((r) => r.name !== null).map(artifactRecord);
  }

  async getMetadata(ref: TaskRef): Promise<Record<string, string>> {
    const tid = await this.taskId(ref);
    const rows = await this.q<{ field: string; value: string }>('SELECT field, value FROM task_metadata WHERE task_id = $1 ORDER BY id', [
      tid,
    ]);
    return Object.fromEntries(rows.map((r) => [r.field, r.value]));
  }

  /**
   * One statement for a batch: `sql` selects `task_id` (as text) plus a task's rows (a LEFT JOIN:
   * a row with nulls for a task without any), in order. Each id names its entry as the caller
   * spelled it; malformed ids and ids of no task of the run are left out.
   */
  private async batch<R extends { task_id: string }, T>(
    set: TaskSet,
    sql: string,
    empty: () => T,
    add: (into: T, row: R) => void,
  ): Promise<Record<string, T>> {
    if (this.closed)
      throw new TributaryError('CLOSED', `Postgres metadata store ${this.where} is closed.`, { context: { adapter: 'postgres' } });
    const plan = new TaskBatchPlan(set);
    if (plan.empty) return {};
    const byId = new Map<string, T>();
    for (const row of await this.q<R>(sql, [plan.ids, plan.runId, set.flow])) {
      let into = byId.get(row.task_id);
      if (into === undefined) byId.set(row.task_id, (into = empty()));
      add(into, row);
    }
    return plan.result(byId);
  }

  async getTasks(set: TaskSet): Promise<Record<string, TaskRecord>> {
    return this.batch<TaskRow & { task_id: string }, TaskRecord>(
      set,
      `SELECT t.task_id::text AS task_id, t.run_id, t.flow, t.step, t.key, t.status, t.attempts, t.origin_pathspec, t.created_at, t.finished_at, t.parents::text[] AS parents FROM tasks t WHERE ${BATCH_WHERE}`,
      () => ({}) as TaskRecord,
      (into, r) => void Object.assign(into, taskRecord(r)),
    );
  }

  async listArtifactsOfTasks(set: TaskSet): Promise<Record<string, ArtifactRecord[]>> {
    return this.batch<{ task_id: string } & ArtifactRow, ArtifactRecord[]>(
      set,
      `SELECT t.task_id::text AS task_id, a.name, a.sha, a.size, a.type, a.encoding, a.attempt FROM tasks t
       LEFT JOIN artifacts a ON a.task_id = t.task_id
         AND a.attempt = (SELECT max(s.attempt) FROM attempts s WHERE s.task_id = t.task_id AND s.status = 'succeeded')
       WHERE ${BATCH_WHERE} ORDER BY t.task_id, a.name`,
      () => [],
      (into, r) => {
        if (r.name !== null) into.push(artifactRecord(r));
      },
    );
  }

  async getMetadataOfTasks(set: TaskSet): Promise<Record<string, Record<string, string>>> {
    return this.batch<{ task_id: string; field: string | null; value: string | null }, Record<string, string>>(
      set,
      `SELECT t.task_id::text AS task_id, m.field, m.value FROM tasks t LEFT JOIN task_metadata m ON m.task_id = t.task_id
       WHERE ${BATCH_WHERE} ORDER BY t.task_id, m.id`,
      () => ({}),
      (into, r) => {
        if (r.field !== null) into[r.field] = r.value!;
      },
    );
  }

  async listAttemptsOfTasks(set: TaskSet): Promise<Record<string, AttemptRecord[]>> {
    return this.batch<{ task_id: string } & AttemptRow, AttemptRecord[]>(
      set,
      `SELECT t.task_id::text AS task_id, a.attempt, a.status, a.started_at, a.finished_at, a.error_code, a.error_message FROM tasks t
       LEFT JOIN attempts a ON a.task_id = t.task_id WHERE ${BATCH_WHERE} ORDER BY t.task_id, a.attempt`,
      () => [],
      (into, r) => {
        if (r.attempt !== null) into.push(attemptRecord(r));
      },
    );
  }

  async putMetadata(ref: TaskRef, entries: Record<string, string>): Promise<void> {
    const tid = await this.taskId(ref);
    const e = Object.entries(entries);
    await this.q(
      'INSERT INTO task_metadata (task_id, field, value, ts) SELECT $1, f, v, $4 FROM unnest($2::text[], $3::text[]) AS x(f, v)',
      [tid, e.map(([k]) => k), e.map(([, v]) => v), Date.now()],
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.#pool.end();
  }
}

/** Connect to Postgres (migrating on first use). @public */
export function createPostgresMetadataStore(options: PostgresMetadataStoreOptions = {}): PostgresMetadataStore {
  return new PostgresMetadataStore(options);
}
