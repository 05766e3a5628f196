import {
  checkTagChange,
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
} from '@tributary/core';

interface TaskState {
  record: TaskRecord;
  attempts: AttemptRecord[];
  artifacts: Map<number, ArtifactRecord[]>;
  metadata: Array<[string, string]>;
}

const clone = <T>(v: T): T => structuredClone(v);

function id(kind: string, value: string): number {
  if (!/^\d{1,15}$/.test(value))
    throw new TributaryError('NOT_FOUND', `No ${kind} with id ${JSON.stringify(value)}: ids are decimal numbers.`);
  return Number(value);
}

/**
 * A time bound of `listRuns` as an integer (createdAt is whole milliseconds, so rounding up keeps
 * both `>= since` and `< until` exact; infinities clamp). NaN or a non-number is PARAM_INVALID.
 */
function timeBound(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TributaryError('PARAM_INVALID', `RunQuery.${name} must be a time in epoch milliseconds; got ${String(value)}.`);
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, Math.ceil(value)));
}

/**
 * The reference MetadataStore: plain maps in memory, every method atomic by construction
 * (JavaScript runs it to completion). It spells out the contract the SQLite and Postgres stores
 * must match; the conformance suite's model-based properties compare them with it.
 * @public
 */
export class MemoryMetadataStore implements MetadataStore {
  readonly name = 'memory';
  readonly capabilities: MetadataCapabilities = { multiWriter: false, batchRegistration: true };
  private readonly runs = new Map<number, RunRecord>();
  private readonly tasks = new Map<number, TaskState>();
  private readonly keys = new Set<string>();
  private nextRun = 1;
  private nextTask = 1;
  private closed = false;

  private live(): void {
    if (this.closed) throw new TributaryError('CLOSED', 'Memory metadata store is closed.', { context: { adapter: 'memory' } });
  }

  private run(flow: string, runId: string): RunRecord {
    const run = this.runs.get(id('run', runId));
    if (!run || run.flow !== flow)
      throw new TributaryError('NOT_FOUND', `No run ${flow}/${runId}.`, { context: { pathspec: `${flow}/${runId}` } });
    return run;
  }

  private task(ref: TaskRef): TaskState {
    const t = this.tasks.get(id('task', ref.taskId));
    if (!t || t.record.flow !== ref.flow || t.record.runId !== ref.runId)
      throw new TributaryError('NOT_FOUND', `No task ${ref.flow}/${ref.runId}/*/${ref.taskId}.`);
    return t;
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    this.live();
    const rec: RunRecord = {
      ...clone(run),
      graph: clone(run.graph ?? null),
      runId: String(this.nextRun++),
      status: 'running',
      createdAt: Date.now(),
    };
    if (run.originRunId === undefined) delete rec.originRunId;
    this.runs.set(Number(rec.runId), rec);
    return clone(rec);
  }

  async getRun(flow: string, runId: string): Promise<RunRecord> {
    this.live();
    return clone(this.run(flow, runId));
  }

  async listRuns(query: RunQuery): Promise<Page<RunRecord>> {
    this.live();
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const cursor = query.cursor === undefined ? Infinity : id('cursor', query.cursor);
    const since = timeBound('since', query.since);
    const until = timeBound('until', query.until);
    const all = [...this.runs.values()]
      .filter((r) => (!query.flow || r.flow === query.flow) && (!query.status || r.status === query.status) && Number(r.runId) < cursor)
      .filter(
        (r) =>
          (query.user === undefined || r.user === query.user) &&
          (since === undefined || r.createdAt >= since) &&
          (until === undefined || r.createdAt < until),
      )
      .filter((r) => this.hasTags(r, query.tags ?? []))
      .sort((a, b) => Number(b.runId) - Number(a.runId));
    const items = all.slice(0, limit).map(clone);
    return all.length > limit ? { items, cursor: items[items.length - 1]!.runId } : { items };
  }

  async latestRun(flow: string, options: { status?: RunStatus } = {}): Promise<RunRecord | undefined> {
    const page = await this.listRuns({ flow, ...(options.status ? { status: options.status } : {}), limit: 1 });
    return page.items[0];
  }

  async finishRun(flow: string, runId: string, status: Exclude<RunStatus, 'running'>): Promise<void> {
    this.live();
    const run = this.run(flow, runId);
    if (run.status !== 'running')
      throw new TributaryError('CONFLICT', `Run ${flow}/${runId} is already ${run.status}; it cannot become ${status}.`);
    run.status = status;
    run.finishedAt = Date.now();
  }

  async heartbeat(flow: string, runId: string): Promise<void> {
    this.live();
    this.run(flow, runId).heartbeatAt = Date.now();
  }

  private hasTags(r: RunRecord, tags: string[]): boolean {
    return tags.every((t) => r.tags.includes(t) || r.systemTags.includes(t));
  }

  /** Remove `remove`, then add `add`: everything is checked before anything changes. */
  private mutateTags(flow: string, runId: string, remove: string[], add: string[]): void {
    this.live();
    const run = this.run(flow, runId);
    checkTagChange(run.systemTags, remove, add);
    const set = new Set(run.tags);
    for (const t of remove) set.delete(t);
    for (const t of add) set.add(t);
    run.tags = [...set];
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
    this.live();
    const flows = new Set<string>();
    for (const r of this.runs.values()) if (this.hasTags(r, query.tags ?? [])) flows.add(r.flow);
    return [...flows].sort();
  }

  private checkNew(task: NewTask, pending: Set<string>): string {
    this.run(task.flow, task.runId);
    const key = `${task.runId}\u0000${task.key}`;
    if (this.keys.has(key) || pending.has(key))
      throw new TributaryError('ALREADY_EXISTS', `Run ${task.flow}/${task.runId} already has a task ${task.key}.`);
    for (const p of task.parents) id('task', p);
    pending.add(key);
    return key;
  }

  private insert(task: NewTask, key: string, now: number): TaskRecord {
    const record: TaskRecord = { ...clone(task), taskId: String(this.nextTask++), status: 'pending', attempts: 0, createdAt: now };
    if (task.originPathspec === undefined) delete record.originPathspec;
    this.keys.add(key);
    this.tasks.set(Number(record.taskId), { record, attempts: [], artifacts: new Map(), metadata: [] });
    return clone(record);
  }

  async registerTask(task: NewTask): Promise<TaskRecord> {
    return (await this.registerTasks([task]))[0]!;
  }

  async registerTasks(tasks: NewTask[]): Promise<TaskRecord[]> {
    this.live();
    const pending = new Set<string>();
    const keys = tasks.map((t) => this.checkNew(t, pending)); // validate all first: all or none
    const now = Date.now();
    return tasks.map((t, i) => this.insert(t, keys[i]!, now));
  }

  async getTask(ref: TaskRef): Promise<TaskRecord> {
    this.live();
    return clone(this.task(ref).record);
  }

  async listTasks(query: TaskQuery): Promise<Page<TaskRecord>> {
    this.live();
    const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
    const runId = id('run', query.runId);
    const cursor = query.cursor === undefined ? 0 : id('cursor', query.cursor);
    const all = [...this.tasks.values()]
      .map((t) => t.record)
      .filter(
        (r) =>
          Number(r.runId) === runId &&
          r.flow === query.flow &&
          (!query.step || r.step === query.step) &&
          (!query.status || r.status === query.status) &&
          Number(r.taskId) > cursor,
      )
      .sort((a, b) => Number(a.taskId) - Number(b.taskId));
    const items = all.slice(0, limit).map(clone);
    return all.length > limit ? { items, cursor: items[items.length - 1]!.taskId } : { items };
  }

  async listChildren(ref: TaskRef): Promise<TaskRecord[]> {
    this.live();
    const t = this.task(ref);
    return [...this.tasks.values()]
      .map((x) => x.record)
      .filter((r) => r.runId === t.record.runId && r.parents.includes(t.record.taskId))
      .sort((a, b) => Number(a.taskId) - Number(b.taskId))
      .map(clone);
  }

  async startAttempt(ref: TaskRef, attempt: number): Promise<void> {
    this.live();
    const t = this.task(ref);
    const r = t.record;
    if (r.status === 'succeeded')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; it cannot start attempt ${attempt}.`);
    if (r.status === 'running')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} has attempt ${r.attempts - 1} running; finish it before starting another.`);
    if (attempt !== r.attempts)
      throw new TributaryError(
        'CONFLICT',
        `Task ${ref.taskId}: attempts are numbered in order; expected attempt ${r.attempts}, got ${attempt}.`,
      );
    t.attempts.push({ attempt, status: 'running', startedAt: Date.now() });
    r.attempts = attempt + 1;
    r.status = 'running';
  }

  async finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome): Promise<void> {
    this.live();
    const t = this.task(ref);
    if (t.record.status === 'succeeded')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} already succeeded; a task completes exactly once.`);
    const a = t.attempts.find((x) => x.attempt === attempt);
    if (!a || a.status !== 'running')
      throw new TributaryError('CONFLICT', `Task ${ref.taskId} has no running attempt ${attempt} to finish.`);
    const now = Date.now();
    a.status = outcome.status;
    a.finishedAt = now;
    if (outcome.status === 'failed') a.error = { ...outcome.error };
    t.record.status = outcome.status;
    t.record.finishedAt = now;
    if (outcome.status === 'succeeded')
      t.artifacts.set(
        attempt,
        outcome.artifacts.map((x) => ({ ...x, attempt })).sort((x, y) => (x.name < y.name ? -1 : 1)),
      );
    for (const [k, v] of Object.entries(outcome.metadata ?? {})) t.metadata.push([k, v]);
  }

  async listAttempts(ref: TaskRef): Promise<AttemptRecord[]> {
    this.live();
    return clone(this.task(ref).attempts);
  }

  async listArtifacts(ref: TaskRef, options: { attempt?: number } = {}): Promise<ArtifactRecord[]> {
    this.live();
    const t = this.task(ref);
    const attempt = options.attempt ?? [...t.attempts].reverse().find((a) => a.status === 'succeeded')?.attempt;
    return attempt === undefined ? [] : clone(t.artifacts.get(attempt) ?? []);
  }

  async getMetadata(ref: TaskRef): Promise<Record<string, string>> {
    this.live();
    return Object.fromEntries(this.task(ref).metadata);
  }

  /** The tasks of a batch that exist in its run, keyed by the ids as given; malformed or unknown ids are left out. */
  private batch(set: TaskSet): Array<[string, TaskState]> {
    this.live();
    const plan = new TaskBatchPlan(set);
    const found = new Map<string, TaskState>();
    if (!plan.empty)
      for (const id of plan.ids) {
        const t = this.tasks.get(Number(id));
        if (t && t.record.flow === set.flow && t.record.runId === plan.runId) found.set(id, t);
      }
    return Object.entries(plan.result(found));
  }

  async getTasks(set: TaskSet): Promise<Record<string, TaskRecord>> {
    const out: Record<string, TaskRecord> = {};
    for (const [taskId, t] of this.batch(set)) out[taskId] = clone(t.record);
    return out;
  }

  async listArtifactsOfTasks(set: TaskSet): Promise<Record<string, ArtifactRecord[]>> {
    const out: Record<string, ArtifactRecord[]> = {};
    for (const [taskId, t] of this.batch(set)) {
      const attempt = [...t.attempts].reverse().find((a) => a.status === 'succeeded')?.attempt;
      out[taskId] = attempt === undefined ? [] : clone(t.artifacts.get(attempt) ?? []);
    }
    return out;
  }

  async getMetadataOfTasks(set: TaskSet): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [taskId, t] of this.batch(set)) out[taskId] = Object.fromEntries(t.metadata);
    return out;
  }

  async listAttemptsOfTasks(set: TaskSet): Promise<Record<string, AttemptRecord[]>> {
    const out: Record<string, AttemptRecord[]> = {};
    for (const [taskId, t] of this.batch(set)) out[taskId] = clone(t.attempts);
    return out;
  }

  async putMetadata(ref: TaskRef, entries: Record<string, string>): Promise<void> {
    this.live();
    const t = this.task(ref);
    for (const [k, v] of Object.entries(entries)) t.metadata.push([k, v]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createMemoryMetadataStore(): MemoryMetadataStore {
  return new MemoryMetadataStore();
}
