/**
 * The source of truth for what ran and what finished: flows, runs, tasks, attempts, artifact
 * references, metadata, tags, lineage and heartbeats. Strongly consistent: a task's outputs are
 * visible exactly when its successful attempt is committed here.
 */

/** @public */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'aborted';
/** @public */
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed';
/** @public */
export type AttemptStatus = 'running' | 'succeeded' | 'failed';

/** @public */
export interface NewRun {
  flow: string;
  user: string;
  params: Record<string, unknown>;
  tags: string[];
  /** Immutable tags set by the system (e.g. `user:alice`, `runtime:node20`). */
  systemTags: string[];
  /** SHA-256 of the flow's source module. */
  codeHash: string;
  /** The static graph as JSON (for clients and cards). */
  graph: unknown;
  /** Set for a resumed run. */
  originRunId?: string;
}

/** @public */
export interface RunRecord extends NewRun {
  /** Decimal string, unique per store, increasing in creation order. */
  runId: string;
  status: RunStatus;
  /** Epoch milliseconds. */
  createdAt: number;
  finishedAt?: number;
  heartbeatAt?: number;
}

/** @public */
export interface NewTask {
  flow: string;
  runId: string;
  step: string;
  /** Stable identity of the task inside its run: `step[foreach indices][iteration]`, e.g. `fit[2]`. Unique per run. */
  key: string;
  /** Task ids of the tasks whose outputs are this task's inputs. */
  parents: string[];
  /** Set on a task cloned by resume: the task it was cloned from (`Flow/run/step/task`). */
  originPathspec?: string;
}

/** @public */
export interface TaskRecord extends NewTask {
  /** Decimal string, unique per store. */
  taskId: string;
  status: TaskStatus;
  /** Number of attempts started (0 while pending). */
  attempts: number;
  createdAt: number;
  finishedAt?: number;
}

/** @public */
export interface TaskRef {
  flow: string;
  runId: string;
  taskId: string;
}

/** A reference to an artifact's bytes in the datastore (content address) plus how to decode them. @public */
export interface ArtifactRef {
  name: string;
  /** Hex SHA-256 of the stored bytes. */
  sha: string;
  /** Stored size in bytes. */
  size: number;
  /** The value's type as a user would name it (`number`, `Map`, `Float64Array`, ...). */
  type: string;
  /** How the bytes decode (`msgpack`, `raw`, ...). */
  encoding: string;
}

/** @public */
export interface ArtifactRecord extends ArtifactRef {
  attempt: number;
}

/** @public */
export interface AttemptError {
  code: string;
  message: string;
}

/** @public */
export type AttemptOutcome =
  | {
      status: 'succeeded';
      artifacts: ArtifactRef[];
      /** Extra per-task facts committed atomically with the completion (transition, foreach info...). */
      metadata?: Record<string, string>;
    }
  | { status: 'failed'; error: AttemptError; metadata?: Record<string, string> };

/** @public */
export interface AttemptRecord {
  attempt: number;
  status: AttemptStatus;
  startedAt: number;
  finishedAt?: number;
  error?: AttemptError;
}

/** @public */
export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass back as `cursor`. */
  cursor?: string;
}

/** @public */
export interface RunQuery {
  flow?: string;
  /** Runs carrying all these tags (user or system). */
  tags?: string[];
  status?: RunStatus;
  /** Runs recorded with this user (`NewRun.user`). */
  user?: string;
  /** Runs created at or after this time (epoch ms, inclusive). */
  since?: number;
  /** Runs created before this time (epoch ms, exclusive). */
  until?: number;
  cursor?: string;
  /** Default 100. */
  limit?: number;
}

/** The most task ids one batch read takes. @public */
export const MAX_TASK_BATCH = 1000;

/** @public */
export interface FlowQuery {
  /** Only flows with at least one run carrying all these tags (user or system). */
  tags?: string[];
}

/**
 * Several tasks of one run, for the batch reads (`listArtifactsOfTasks`, ...): one query for a
 * whole page of tasks instead of one per task. At most {@link MAX_TASK_BATCH} ids.
 * @public
 */
export interface TaskSet {
  flow: string;
  runId: string;
  taskIds: string[];
}

/** @public */
export interface TaskQuery {
  flow: string;
  runId: string;
  step?: string;
  status?: TaskStatus;
  cursor?: string;
  /** Default 1000. */
  limit?: number;
}

/** @public */
export interface MetadataCapabilities {
  /** Safe for several processes/hosts writing at once. */
  readonly multiWriter: boolean;
  /** `registerTasks` inserts a batch in one transaction. */
  readonly batchRegistration: boolean;
  /**
   * The writes that take {@link WriteOptions} honour `idempotencyKey`: a repeat of a call with the
   * same key is applied at most once. Clients that retry over a network (the HTTP adapter) rely on it.
   */
  readonly idempotencyKeys?: boolean;
}

/**
 * Options of a write that a client may retry after an ambiguous failure (the request may or may not
 * have been applied, its reply was lost).
 * @public
 */
export interface WriteOptions {
  /**
   * Names one logical call; a fresh random value (a UUID) per call, reused by each of its retries.
   * On a store with `capabilities.idempotencyKeys`, a repeat with the key of a call that was applied
   * returns what that call returned (the same run, the same task ids, success) instead of writing
   * twice or failing with `CONFLICT` / `ALREADY_EXISTS`. Any other call is judged as usual.
   */
  idempotencyKey?: string;
}

/** @public */
export interface MetadataEntry {
  field: string;
  value: string;
  ts: number;
}

/**
 * The MetadataStore port.
 *
 * Error contract (all errors are `TributaryError`):
 * - Reads of a missing run or task throw `NOT_FOUND`.
 * - `registerTask` with a `key` already used in that run throws `ALREADY_EXISTS`.
 * - Status changes only move forward: `finishRun` on a run that is not `running`, `startAttempt` on a
 *   finished task, or a second successful completion of a task throw `CONFLICT`. Each of these is a
 *   single atomic transaction.
 * - `startAttempt` numbers must be consecutive from 0; anything else throws `CONFLICT`.
 * - An unreachable database throws `INFRASTRUCTURE` (retryable); after `close()`, `CLOSED`.
 * @public
 */
export interface MetadataStore {
  readonly name: string;
  readonly capabilities: MetadataCapabilities;

  createRun(run: NewRun, options?: WriteOptions & { signal?: AbortSignal }): Promise<RunRecord>;
  getRun(flow: string, runId: string): Promise<RunRecord>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<Page<RunRecord>>;
  /** The newest run of a flow (optionally with a given status), or `undefined`. */
  latestRun(flow: string, options?: { status?: RunStatus }): Promise<RunRecord | undefined>;
  finishRun(flow: string, runId: string, status: Exclude<RunStatus, 'running'>, options?: WriteOptions): Promise<void>;
  heartbeat(flow: string, runId: string): Promise<void>;
  addTags(flow: string, runId: string, tags: string[]): Promise<void>;
  removeTags(flow: string, runId: string, tags: string[]): Promise<void>;
  /**
   * Remove `remove`, then add `add`, in one transaction (readers never see the run with neither).
   * A system tag in either list throws `CONFLICT` and changes nothing.
   */
  replaceTags(flow: string, runId: string, remove: string[], add: string[]): Promise<void>;
  /** Names of the flows that have runs (optionally: a run with all `tags`), sorted. */
  listFlows(query?: FlowQuery): Promise<string[]>;

  registerTask(task: NewTask, options?: WriteOptions): Promise<TaskRecord>;
  /** Register many tasks atomically (all or none). */
  registerTasks(tasks: NewTask[], options?: WriteOptions): Promise<TaskRecord[]>;
  getTask(ref: TaskRef): Promise<TaskRecord>;
  /** In creation order. */
  listTasks(query: TaskQuery): Promise<Page<TaskRecord>>;
  /** Lineage downwards: the tasks that take this task's outputs as inputs, in creation order. */
  listChildren(ref: TaskRef): Promise<TaskRecord[]>;

  /** Record that attempt `attempt` (0-based) of a task started. */
  startAttempt(ref: TaskRef, attempt: number, options?: WriteOptions): Promise<void>;
  /** Finish an attempt; on success the task's artifacts and metadata are committed in the same transaction. */
  finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome, options?: WriteOptions): Promise<void>;
  listAttempts(ref: TaskRef): Promise<AttemptRecord[]>;
  /** Artifacts of the given attempt, or of the successful attempt when omitted. */
  listArtifacts(ref: TaskRef, options?: { attempt?: number }): Promise<ArtifactRecord[]>;
  /** Metadata entries of a task (append-only; the last entry of a field wins). */
  getMetadata(ref: TaskRef): Promise<Record<string, string>>;
  /**
   * `listArtifacts` (of each successful attempt) for many tasks of one run, in one query. The
   * result has an entry for every id that names a task of the run (`[]` for a task with no
   * successful attempt); ids of no such task are left out. More than {@link MAX_TASK_BATCH} ids
   * throw `PARAM_INVALID`.
   */
  listArtifactsOfTasks(tasks: TaskSet): Promise<Record<string, ArtifactRecord[]>>;
  /** `getMetadata` for many tasks of one run, in one query; entries as in `listArtifactsOfTasks`. */
  getMetadataOfTasks(tasks: TaskSet): Promise<Record<string, Record<string, string>>>;
  /** `listAttempts` for many tasks of one run, in one query; entries as in `listArtifactsOfTasks`. */
  listAttemptsOfTasks(tasks: TaskSet): Promise<Record<string, AttemptRecord[]>>;
  /** `getTask` for many tasks of one run, in one query; entries as in `listArtifactsOfTasks`. */
  getTasks(tasks: TaskSet): Promise<Record<string, TaskRecord>>;
  putMetadata(ref: TaskRef, entries: Record<string, string>): Promise<void>;

  close(): Promise<void>;
}
