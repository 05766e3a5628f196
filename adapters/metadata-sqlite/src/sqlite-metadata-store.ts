import Database from 'better-sqlite3';
import {
  checkTagChange,
  refuseDuplicateKeys,
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
import { openDatabase } from './open-database.ts';
import { sqliteError } from './sqlite-errors.ts';

/** @public */
export interface SqliteMetadataStoreOptions {
  /** Database file (created if missing), or `:memory:`. */
  path: string;
  /** Wait this long for another process's write lock, in ms. Default 10000. */
  busyTimeoutMs?: number;
}

interface RunRow {
  run_id: number;
  flow: string;
  user: string;
  status: RunStatus;
  params: string;
  tags: string;
  system_tags: string;
  code_hash: string;
  graph: string;
  origin_run_id: string | null;
  created_at: number;
  finished_at: number | null;
  heartbeat_at: number | null;
}

interface TaskRow {
  task_id: number;
  run_id: number;
  flow: string;
  step: string;
  key: string;
  status: TaskRecord['status'];
  attempts: number;
  origin_pathspec: string | null;
  created_at: number;
  finished_at: number | null;
  parents: string | null;
}

function runRecord(r: RunRow): RunRecord {
  return {
    flow: r.flow,
    runId: String(r.run_id),
    user: r.user,
    status: r.status,
    params: JSON.parse(r.params),
    tags: JSON.parse(r.tags),
    systemTags: JSON.parse(r.system_tags),
    codeHash: r.code_hash,
    graph: JSON.parse(r.graph),
    createdAt: r.created_at,
    ...(r.origin_run_id ? { originRunId: r.origin_run_id } : {}),
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    ...(r.heartbeat_at !== null ? { heartbeatAt: r.heartbeat_at } : {}),
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
    parents: r.parents ? r.parents.split(',') : [],
    createdAt: r.created_at,
    ...(r.origin_pathspec ? { originPathspec: r.origin_pathspec } : {}),
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
  };
}

const TASK_SELECT = `SELECT t.*, (SELECT group_concat(parent_id) FROM (SELECT parent_id FROM task_parents p WHERE p.task_id = t.task_id ORDER BY position)) AS parents FROM tasks t`;

function toInt(kind: string, id: string): number {
  if (!/^\d{1,15}$/.test(id)) throw new TributaryError('NOT_FOUND', `No ${kind} with id ${JSON.stringify(id)}: ids are decimal numbers.`);
  return Number(id);
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
  started_at: number;
  finished_at: number | null;
  error_code: string | null;
  error_message: string | null;
}

function attemptRecord(r: AttemptRow): AttemptRecord {
  return {
    attempt: r.attempt,
    status: r.status,
    startedAt: r.started_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    ...(r.error_code !== null ? { error: { code: r.error_code, message: r.error_message ?? '' } } : {}),
  };
}

interface ArtifactRow {
  attempt: number;
  name: string;
  sha: string;
  size: number;
  type: string;
  encoding: string;
}

function artifactRecord(r: ArtifactRow): ArtifactRecord {
  return { name: r.name, sha: r.sha, size: r.size, type: r.type, encoding: r.encoding, attempt: r.attempt };
}

/**
 * The tasks of a batch: the ids as a JSON array (no parameter-count limit), then the run and flow.
 * CROSS JOIN keeps json_each the outer loop, so each id is one primary-key lookup (never a scan of the run).
 */
const BATCH_FROM = `json_each(?) j CROSS JOIN tasks t ON t.task_id = j.value AND t.run_id = ? AND t.flow = ?`;

/**
 * MetadataStore on SQLite. WAL mode, every multi-row change in one transaction; safe for several
 * processes on one machine (SQLite's write lock, with a busy timeout).
 * @public
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly name = 'sqlite';
  readonly capabilities: MetadataCapabilities = { multiWriter: true, batchRegistration: true, idempotencyKeys: true };
  private readonly db: Database.Database;
  private closed = false;
  private readonly stmts;

  constructor(readonly options: SqliteMetadataStoreOptions) {
    this.db = openDatabase(options.path, options.busyTimeoutMs ?? 10_000);
    const db = this.db;
    try {
      this.stmts = this.guard(() => ({
        insertRun: db.prepare(
          `INSERT INTO runs (flow, user, status, params, tags, system_tags, code_hash, graph, origin_run_id, created_at, create_key) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)`,
        ),
        insertTag: db.prepare(`INSERT OR IGNORE INTO run_tags (run_id, tag, system) VALUES (?, ?, ?)`),
        getRun: db.prepare(`SELECT * FROM runs WHERE run_id = ? AND flow = ?`),
        runByKey: db.prepare(`SELECT * FROM runs WHERE create_key = ?`),
        latest: db.prepare(`SELECT * FROM runs WHERE flow = ? ORDER BY run_id DESC LIMIT 1`),
        latestStatus: db.prepare(`SELECT * FROM runs WHERE flow = ? AND status = ? ORDER BY run_id DESC LIMIT 1`),
        finishRun: db.prepare(
          `UPDATE runs SET status = ?, finished_at = ?, finish_key = ? WHERE run_id = ? AND flow = ? AND status = 'running'`,
        ),
        heartbeat: db.prepare(`UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND flow = ?`),
        insertTask: db.prepare(
          `INSERT INTO tasks (run_id, flow, step, key, status, origin_pathspec, created_at, register_key) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
        ),
        insertParent: db.prepare(`INSERT OR IGNORE INTO task_parents (task_id, parent_id, position) VALUES (?, ?, ?)`),
        getTask: db.prepare(`${TASK_SELECT} WHERE t.task_id = ? AND t.run_id = ? AND t.flow = ?`),
        taskByKey: db.prepare(`${TASK_SELECT} WHERE t.run_id = ? AND t.key = ? AND t.register_key = ?`),
        taskRow: db.prepare(`SELECT status, attempts FROM tasks WHERE task_id = ? AND run_id = ? AND flow = ?`),
        insertAttempt: db.prepare(`INSERT INTO attempts (task_id, attempt, status, started_at, start_key) VALUES (?, ?, 'running', ?, ?)`),
        attemptKeys: db.prepare(`SELECT start_key, finish_key FROM attempts WHERE task_id = ? AND attempt = ?`),
        setTaskRunning: db.prepare(`UPDATE tasks SET status = 'running', attempts = ? WHERE task_id = ?`),
        attemptRow: db.prepare(`SELECT status FROM attempts WHERE task_id = ? AND attempt = ?`),
        finishAttempt: db.prepare(
          `UPDATE attempts SET status = ?, finished_at = ?, error_code = ?, error_message = ?, finish_key = ? WHERE task_id = ? AND attempt = ? AND status = 'running'`,
        ),
        setTaskStatus: db.prepare(`UPDATE tasks SET status = ?, finished_at = ? WHERE task_id = ?`),
        insertArtifact: db.prepare(
          `INSERT INTO artifacts (task_id, attempt, name, sha, size, type, encoding) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ),
        insertMeta: db.prepare(`INSERT INTO task_metadata (task_id, field, value, ts) VALUES (?, ?, ?, ?)`),
        attempts: db.prepare(`SELECT * FROM attempts WHERE task_id = ? ORDER BY attempt`),
        successfulAttempt: db.prepare(
          `SELECT attempt FROM attempts WHERE task_id = ? AND status = 'succeeded' ORDER BY attempt DESC LIMIT 1`,
        ),
        artifacts: db.prepare(`SELECT * FROM artifacts WHERE task_id = ? AND attempt = ? ORDER BY name`),
        metadata: db.prepare(`SELECT field, value FROM task_metadata WHERE task_id = ? ORDER BY id`),
        deleteTag: db.prepare(`DELETE FROM run_tags WHERE run_id = ? AND tag = ? AND system = 0`),
        setTags: db.prepare(`UPDATE runs SET tags = ? WHERE run_id = ?`),
        flows: db.prepare(`SELECT DISTINCT flow FROM runs`),
        flowsWithTags: db.prepare(
          `SELECT DISTINCT r.flow FROM runs r WHERE r.run_id IN
             (SELECT run_id FROM run_tags WHERE tag IN (SELECT value FROM json_each(?)) GROUP BY run_id HAVING count(*) = ?)`,
        ),
        batchTasks: db.prepare(
          `SELECT t.*, (SELECT group_concat(parent_id) FROM (SELECT parent_id FROM task_parents p WHERE p.task_id = t.task_id ORDER BY position)) AS parents FROM ${BATCH_FROM}`,
        ),
        batchArtifacts: db.prepare(
          `SELECT t.task_id, a.name, a.sha, a.size, a.type, a.encoding, a.attempt FROM ${BATCH_FROM}
           LEFT JOIN artifacts a ON a.task_id = t.task_id
             AND a.attempt = (SELECT max(s.attempt) FROM attempts s WHERE s.task_id = t.task_id AND s.status = 'succeeded')
           ORDER BY t.task_id, a.name`,
        ),
        batchMetadata: db.prepare(
          `SELECT t.task_id, m.field, m.value FROM ${BATCH_FROM} LEFT JOIN task_metadata m ON m.task_id = t.task_id
           ORDER BY t.task_id, m.id`,
        ),
        batchAttempts: db.prepare(
          `SELECT t.task_id, a.attempt, a.status, a.started_at, a.finished_at, a.error_code, a.error_message FROM ${BATCH_FROM}
           LEFT JOIN attempts a ON a.task_id = t.task_id ORDER BY t.task_id, a.attempt`,
        ),
      }));
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private live(): void {
    if (this.closed)
      throw new TributaryError('CLOSED', `SQLite metadata store ${this.options.path} is closed.`, { context: { adapter: 'sqlite' } });
  }

  /** Run `fn`, turning SQLite's errors (a damaged file, a lock held too long...) into typed ones naming the file. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw sqliteError(err, this.options.path);
    }
  }

  /** Run `fn` in an IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks). */
  private tx<T>(fn: () => T): T {
    this.live();
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  /** A read outside a transaction. */
  private read<T>(fn: () => T): T {
    this.live();
    return this.guard(fn);
  }

  async createRun(run: NewRun, options: WriteOptions = {}): Promise<RunRecord> {
    return this.tx(() => {
      const key = options.idempotencyKey ?? null;
      const earlier = key === null ? undefined : (this.stmts.runByKey.get(key) as RunRow | undefined);
      if (earlier) return runRecord(earlier);
      const now = Date.now();
      const info = this.stmts.insertRun.run(
        run.flow,
        run.user,
        JSON.stringify(run.params),
        JSON.stringify(run.tags),
        JSON.stringify(run.systemTags),
        run.codeHash,
        JSON.stringify(run.graph ?? null),
        run.originRunId ?? null,
        now,
        key,
      );
      const runId = Number(info.lastInsertRowid);
      for (const t of run.tags) this.stmts.insertTag.run(runId, t, 0);
      for (const t of run.systemTags) this.stmts.insertTag.run(runId, t, 1);
      return runRecord(this.stmts.getRun.get(runId, run.flow) as RunRow);
    });
  }

  async getRun(flow: string, runId: string): Promise<RunRecord> {
    return this.read(() => {
      const row = this.stmts.getRun.get(toInt('run', runId), flow) as RunRow | undefined;
      if (!row) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`, { context: { pathspec: `${flow}/${runId}` } });
      return runRecord(row);
    });
  }

  async listRuns(query: RunQuery): Promise<Page<RunRecord>> {
    return this.read(() => {
      const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.flow) {
        where.push('r.flow = ?');
        args.push(query.flow);
      }
      if (query.status) {
        where.push('r.status = ?');
        args.push(query.status);
      }
      if (query.cursor) {
        where.push('r.run_id < ?');
        args.push(toInt('cursor', query.cursor));
      }
      if (query.user !== undefined) {
        where.push('r.user = ?');
        args.push(query.user);
      }
      const since = timeBound('since', query.since);
      if (since !== undefined) {
        where.push('r.created_at >= ?');
        args.push(since);
      }
      const until = timeBound('until', query.until);
      if (until !== undefined) {
        where.push('r.created_at < ?');
        args.push(until);
      }
      for (const tag of query.tags ?? []) {
        where.push('EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.run_id AND t.tag = ?)');
        args.push(tag);
      }
      const rows = this.db
        .prepare(`SELECT r.* FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.run_id DESC LIMIT ?`)
        .all(...args, limit + 1) as RunRow[];
      const items = rows.slice(0, limit).map(runRecord);
      return rows.length > limit ? { items, cursor: items[items.length - 1]!.runId } : { items };
    });
  }

  async latestRun(flow: string, options: { status?: RunStatus } = {}): Promise<RunRecord | undefined> {
    return this.read(() => {
      const row = (options.status ? this.stmts.latestStatus.get(flow, options.status) : this.stmts.latest.get(flow)) as RunRow | undefined;
      return row ? runRecord(row) : undefined;
    });
  }

  async finishRun(flow: string, runId: string, status: Exclude<RunStatus, 'running'>, options: WriteOptions = {}): Promise<void> {
    this.tx(() => {
      const key = options.idempotencyKey ?? null;
      const info = this.stmts.finishRun.run(status, Date.now(), key, toInt('run', runId), flow);
      if (info.changes === 0) {
        const row = this.stmts.getRun.get(toInt('run', runId), flow) as (RunRow & { finish_key: string | null }) | undefined;
        if (!row) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`);
        if (key !== null && row.finish_key === key) return;
        throw new TributaryError('CONFLICT', `Run ${flow}/${runId} is already ${row.status}; it cannot become ${status}.`);
      }
    });
  }

  async heartbeat(flow: string, runId: string): Promise<void> {
    return this.read(() => {
      this.stmts.heartbeat.run(Date.now(), toInt('run', runId), flow);
    });
  }

  /** Remove `remove`, then add `add`, in one transaction: everything is checked before anything changes. */
  private mutateTags(flow: string, runId: string, remove: string[], add: string[]): void {
    this.tx(() => {
      const id = toInt('run', runId);
      const row = this.stmts.getRun.get(id, flow) as RunRow | undefined;
      if (!row) throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`);
      checkTagChange(JSON.parse(row.system_tags) as string[], remove, add);
      const current = new Set(JSON.parse(row.tags) as string[]);
      for (const t of remove) {
        current.delete(t);
        this.stmts.deleteTag.run(id, t);
      }
      for (const t of add) {
        current.add(t);
        this.stmts.insertTag.run(id, t, 0);
      }
      this.stmts.setTags.run(JSON.stringify([...current]), id);
    });
  }

  async addTags(flow: string, runId: string, tags: string[]): Promise<void> {
    this.mutateTags(flow, runId, [], tags);
  }

  async removeTags(flow: string, runId: string, tags: string[]): Promise<void> {
    this.mutateTags(flow, runId, tags, []);
  }

  async replaceTags(flow: string, runId: string, remove: string[], add: string[]): Promise<void> {
    this.mutateTags(flow, runId, remove, add);
  }

  async listFlows(query: FlowQuery = {}): Promise<string[]> {
    return this.read(() => {
      const tags = [...new Set(query.tags ?? [])];
      const rows = (tags.length ? this.stmts.flowsWithTags.all(JSON.stringify(tags), tags.length) : this.stmts.flows.all()) as Array<{
        flow: string;
      }>;
      return rows.map((r) => r.flow).sort();
    });
  }

  private insertTask(task: NewTask, now: number, key: string | null): TaskRecord {
    const runId = toInt('run', task.runId);
    const run = this.stmts.getRun.get(runId, task.flow) as RunRow | undefined;
    if (!run) throw new TributaryError('NOT_FOUND', `No run ${task.flow}/${task.runId} to add task ${task.key} to.`);
    let info;
    try {
      info = this.stmts.insertTask.run(runId, task.flow, task.step, task.key, task.originPathspec ?? null, now, key);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        const earlier = key === null ? undefined : (this.stmts.taskByKey.get(runId, task.key, key) as TaskRow | undefined);
        if (earlier) return taskRecord(earlier);
        throw new TributaryError('ALREADY_EXISTS', `Run ${task.flow}/${task.runId} already has a task ${task.key}.`, { cause: err });
      }
      throw err;
    }
    const taskId = Number(info.lastInsertRowid);
    task.parents.forEach((p, i) => this.stmts.insertParent.run(taskId, toInt('task', p), i));
    return { ...task, parents: [...task.parents], taskId: String(taskId), status: 'pending', attempts: 0, createdAt: now };
  }

  async registerTask(task: NewTask, options: WriteOptions = {}): Promise<TaskRecord> {
    return this.tx(() => this.insertTask(task, Date.now(), options.idempotencyKey ?? null));
  }

  async registerTasks(tasks: NewTask[], options: WriteOptions = {}): Promise<TaskRecord[]> {
    refuseDuplicateKeys(tasks);
    return this.tx(() => {
      const now = Date.now();
      return tasks.map((t) => this.insertTask(t, now, options.idempotencyKey ?? null));
    });
  }

  async getTask(ref: TaskRef): Promise<TaskRecord> {
    return this.read(() => {
      const row = this.stmts.getTask.get(toInt('task', ref.taskId), toInt('run', ref.runId), ref.flow) as TaskRow | undefined;
      if (!row) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
      return taskRecord(row);
    });
  }

  async listTasks(query: TaskQuery): Promise<Page<TaskRecord>> {
    return this.read(() => {
      const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
      const where = ['t.run_id = ?', 't.flow = ?'];
      const args: unknown[] = [toInt('run', query.runId), query.flow];
      if (query.step) {
        where.push('t.step = ?');
        args.push(query.step);
      }
      if (query.status) {
        where.push('t.status = ?');
        args.push(query.status);
      }
      if (query.cursor) {
        where.push('t.task_id > ?');
        args.push(toInt('cursor', query.cursor));
      }
      const rows = this.db
        .prepare(`${TASK_SELECT} WHERE ${where.join(' AND ')} ORDER BY t.task_id LIMIT ?`)
        .all(...args, limit + 1) as TaskRow[];
      const items = rows.slice(0, limit).map(taskRecord);
      return rows.length > limit ? { items, cursor: items[items.length - 1]!.taskId } : { items };
    });
  }

  async listChildren(ref: TaskRef): Promise<TaskRecord[]> {
    return this.read(() => {
      const t = this.taskState(ref);
      const rows = this.db
        .prepare(`${TASK_SELECT} WHERE t.task_id IN (SELECT task_id FROM task_parents WHERE parent_id = ?) ORDER BY t.task_id`)
        .all(t.id) as TaskRow[];
      return rows.map(taskRecord);
    });
  }

  /** True when this attempt's start (or finish) was recorded by a call with the same idempotency key. */
  private repeats(taskId: number, attempt: number, column: 'start_key' | 'finish_key', options: WriteOptions): boolean {
    if (options.idempotencyKey === undefined) return false;
    const row = this.stmts.attemptKeys.get(taskId, attempt) as { start_key: string | null; finish_key: string | null } | undefined;
    return row?.[column] === options.idempotencyKey;
  }

  private taskState(ref: TaskRef): { status: string; attempts: number; id: number } {
    return this.read(() => {
      const id = toInt('task', ref.taskId);
      const row = this.stmts.taskRow.get(id, toInt('run', ref.runId), ref.flow) as { status: string; attempts: number } | undefined;
      if (!row) throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
      return { ...row, id };
    });
  }

  async startAttempt(ref: TaskRef, attempt: number, options: WriteOptions = {}): Promise<void> {
    this.tx(() => {
      const t = this.taskState(ref);
      if (this.repeats(t.id, attempt, 'start_key', options)) return;
      if (t.status === 'succeeded')
        throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; it cannot start attempt ${attempt}.`);
      if (t.status === 'running')
        throw new TributaryError(
          'CONFLICT',
          `Task ${ref.taskId} has attempt ${t.attempts - 1} running; finish it before starting another.`,
        );
      if (attempt !== t.attempts)
        throw new TributaryError(
          'CONFLICT',
          `Task ${ref.taskId}: attempts are numbered in order; expected attempt ${t.attempts}, got ${attempt}.`,
        );
      this.stmts.insertAttempt.run(t.id, attempt, Date.now(), options.idempotencyKey ?? null);
      this.stmts.setTaskRunning.run(attempt + 1, t.id);
    });
  }

  async finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome, options: WriteOptions = {}): Promise<void> {
    this.tx(() => {
      const t = this.taskState(ref);
      if (this.repeats(t.id, attempt, 'finish_key', options)) return;
      if (t.status === 'succeeded')
        throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; a task completes exactly once.`);
      const now = Date.now();
      const error = outcome.status === 'failed' ? outcome.error : undefined;
      const info = this.stmts.finishAttempt.run(
        outcome.status,
        now,
        error?.code ?? null,
        error?.message ?? null,
        options.idempotencyKey ?? null,
        t.id,
        attempt,
      );
      if (info.changes === 0) throw new TributaryError('CONFLICT', `Task ${ref.taskId} has no running attempt ${attempt} to finish.`);
      this.stmts.setTaskStatus.run(outcome.status, now, t.id);
      if (outcome.status === 'succeeded') {
        for (const a of outcome.artifacts) this.stmts.insertArtifact.run(t.id, attempt, a.name, a.sha, a.size, a.type, a.encoding);
      }
      for (const [field, value] of Object.entries(outcome.metadata ?? {})) this.stmts.insertMeta.run(t.id, field, value, now);
    });
  }

  async listAttempts(ref: TaskRef): Promise<AttemptRecord[]> {
    return this.read(() => {
      const t = this.taskState(ref);
      return (this.stmts.attempts.all(t.id) as AttemptRow[]).map(attemptRecord);
    });
  }

  async listArtifacts(ref: TaskRef, options: { attempt?: number } = {}): Promise<ArtifactRecord[]> {
    return this.read(() => {
      const t = this.taskState(ref);
      let attempt = options.attempt;
      if (attempt === undefined) {
        const row = this.stmts.successfulAttempt.get(t.id) as { attempt: number } | undefined;
        if (!row) return [];
        attempt = row.attempt;
      }
      return (this.stmts.artifacts.all(t.id, attempt) as ArtifactRow[]).map(artifactRecord);
    });
  }

  async getMetadata(ref: TaskRef): Promise<Record<string, string>> {
    return this.read(() => {
      const t = this.taskState(ref);
      const out: Record<string, string> = {};
      for (const r of this.stmts.metadata.all(t.id) as Array<{ field: string; value: string }>) out[r.field] = r.value;
      return out;
    });
  }

  /**
   * One query for a batch: `stmt` selects `task_id` plus a task's rows (a LEFT JOIN: a row with
   * nulls for a task without any), in order. Each id names its entry as the caller spelled it;
   * malformed ids and ids of no task of the run are left out.
   */
  private batch<R extends { task_id: number }, T>(
    set: TaskSet,
    stmt: Database.Statement,
    empty: () => T,
    add: (into: T, row: R) => void,
  ): Record<string, T> {
    return this.read(() => {
      const plan = new TaskBatchPlan(set);
      if (plan.empty) return {};
      const byId = new Map<string, T>();
      // The ids go in as JSON integers (written out, not through Number: 18 digits stay exact).
      for (const row of stmt.all(`[${plan.ids.join(',')}]`, plan.runId, set.flow) as R[]) {
        const id = String(row.task_id);
        let into = byId.get(id);
        if (into === undefined) byId.set(id, (into = empty()));
        add(into, row);
      }
      return plan.result(byId);
    });
  }

  async getTasks(set: TaskSet): Promise<Record<string, TaskRecord>> {
    return this.batch<{ task_id: number } & TaskRow, TaskRecord>(
      set,
      this.stmts.batchTasks,
      () => ({}) as TaskRecord,
      (into, r) => void Object.assign(into, taskRecord(r)),
    );
  }

  async listArtifactsOfTasks(set: TaskSet): Promise<Record<string, ArtifactRecord[]>> {
    return this.batch<{ task_id: number } & ArtifactRow, ArtifactRecord[]>(
      set,
      this.stmts.batchArtifacts,
      () => [],
      (into, r) => {
        if (r.name !== null) into.push(artifactRecord(r));
      },
    );
  }

  async getMetadataOfTasks(set: TaskSet): Promise<Record<string, Record<string, string>>> {
    return this.batch<{ task_id: number; field: string | null; value: string | null }, Record<string, string>>(
      set,
      this.stmts.batchMetadata,
      () => ({}),
      (into, r) => {
        if (r.field !== null) into[r.field] = r.value!;
      },
    );
  }

  async listAttemptsOfTasks(set: TaskSet): Promise<Record<string, AttemptRecord[]>> {
    return this.batch<{ task_id: number } & AttemptRow, AttemptRecord[]>(
      set,
      this.stmts.batchAttempts,
      () => [],
      (into, r) => {
        if (r.attempt !== null) into.push(attemptRecord(r));
      },
    );
  }

  async putMetadata(ref: TaskRef, entries: Record<string, string>): Promise<void> {
    this.tx(() => {
      const t = this.taskState(ref);
      const now = Date.now();
      for (const [field, value] of Object.entries(entries)) this.stmts.insertMeta.run(t.id, field, value, now);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Open (and migrate) a SQLite metadata store. @public */
export function createSqliteMetadataStore(options: SqliteMetadataStoreOptions): SqliteMetadataStore {
  return new SqliteMetadataStore(options);
}
