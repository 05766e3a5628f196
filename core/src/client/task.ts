import { TributaryError, type ErrorCode } from '../errors.ts';
import type { Frame } from '../flow/task-state.ts';
import type { EnvironmentLock } from '../ports/environment-resolver.ts';
import { MAX_TASK_BATCH, type AttemptStatus, type TaskRecord, type TaskStatus } from '../ports/metadata-store.ts';
import { Artifact } from './artifact.ts';
import { Card } from './card.ts';
import { cardPointerKey, type CardRef } from '../cards/card-ref.ts';
import type { ClientContext } from './client-context.ts';
import type { DataOf } from './data-of.ts';
import { TaskBatch } from './task-batch.ts';

/** One attempt of a task. @public */
export interface TaskAttempt {
  attempt: number;
  status: AttemptStatus;
  startedAt: Date;
  finishedAt?: Date;
  /** What the attempt failed with, typed (`USER_CODE`, `TIMEOUT`, `COMPUTE_OOM`, ...). */
  error?: TributaryError;
}

/** What a task's own code took, from the orchestrator's clock (ms). @public */
export interface TaskTimings {
  /** Dispatched to a worker → user code entered. */
  dispatchMs?: number;
  /** Ready → dispatched (waiting for a free worker). */
  queueMs?: number;
  /** User code entered → finished. */
  runMs?: number;
}

/** The exception a failed step raised, as `@catch` stored it (or as its last attempt recorded it). @public */
export interface TaskException {
  code: string;
  name?: string;
  message: string;
  stack?: string;
  /** The artifact `@catch` stored it in; absent when the task failed without `@catch`. */
  artifact?: string;
}

/**
 * A task: one execution of a step (one split of a foreach). Its record (status, key, timings) is
 * read once; artifacts, metadata and attempts are read on demand, for its whole page at once.
 * @public
 */
export class Task<F = any> {
  /** @internal */
  constructor(
    private readonly ctx: ClientContext,
    readonly record: TaskRecord,
    private readonly batch: TaskBatch = new TaskBatch(ctx, record.flow, record.runId, [record]),
  ) {}

  get flow(): string {
    return this.record.flow;
  }
  get runId(): string {
    return this.record.runId;
  }
  /** The task id. */
  get id(): string {
    return this.record.taskId;
  }
  /** The step's name. */
  get step(): string {
    return this.record.step;
  }
  /** `Flow/run/step/task`. */
  get pathspec(): string {
    return `${this.flow}/${this.runId}/${this.step}/${this.id}`;
  }
  /** Its identity inside the run, stable across resumes: `step[split indices]`, e.g. `fit[2]`. */
  get key(): string {
    return this.record.key;
  }
  get status(): TaskStatus {
    return this.record.status;
  }
  get successful(): boolean {
    return this.record.status === 'succeeded';
  }
  get finished(): boolean {
    return this.record.status === 'succeeded' || this.record.status === 'failed';
  }
  /** Attempts started (0 while pending). */
  get attemptCount(): number {
    return this.record.attempts;
  }
  get createdAt(): Date {
    return new Date(this.record.createdAt);
  }
  get finishedAt(): Date | undefined {
    return this.record.finishedAt === undefined ? undefined : new Date(this.record.finishedAt);
  }
  /** On a task cloned by resume: the task it was cloned from (`Flow/run/step/task`). */
  get originPathspec(): string | undefined {
    return this.record.originPathspec;
  }
  /** The tasks whose outputs were this task's inputs (a join of a 10,000-split foreach: 10 queries). */
  async parents(): Promise<Task<F>[]> {
    const ids = this.record.parents;
    const tasks: Task<F>[] = [];
    for (let i = 0; i < ids.length; i += MAX_TASK_BATCH) {
      const chunk = ids.slice(i, i + MAX_TASK_BATCH);
      const found = await this.ctx.metadata.getTasks({ flow: this.flow, runId: this.runId, taskIds: chunk });
      const records = chunk.map((id) => found[id]).filter((r): r is TaskRecord => r !== undefined);
      const batch = new TaskBatch(this.ctx, this.flow, this.runId, records);
      tasks.push(...records.map((r) => new Task<F>(this.ctx, r, batch)));
    }
    return tasks;
  }

  /** The tasks that took this task's outputs as inputs. */
  async children(): Promise<Task<F>[]> {
    const records = await this.ctx.metadata.listChildren(this.ref);
    const batch = new TaskBatch(this.ctx, this.flow, this.runId, records);
    return records.map((r) => new Task<F>(this.ctx, r, batch));
  }

  /** Metadata entries (the last entry of a field wins). */
  metadata(): Promise<Record<string, string>> {
    return this.batch.metadataOf(this.id);
  }

  /** Every attempt, with its typed error. */
  async attempts(): Promise<TaskAttempt[]> {
    return (await this.batch.attemptsOf(this.id)).map((a) => ({
      attempt: a.attempt,
      status: a.status,
      startedAt: new Date(a.startedAt),
      ...(a.finishedAt !== undefined ? { finishedAt: new Date(a.finishedAt) } : {}),
      ...(a.error
        ? { error: new TributaryError(a.error.code as ErrorCode, a.error.message, { context: { pathspec: this.pathspec } }) }
        : {}),
    }));
  }

  /** The orchestrator's timings of the successful attempt (empty before it finished). */
  async timings(): Promise<TaskTimings> {
    const md = await this.metadata();
    const num = (field: string) => (md[field] === undefined ? {} : { [`${field.replace('-ms', '')}Ms`]: Number(md[field]) });
    return { ...num('dispatch-ms'), ...num('queue-ms'), ...num('run-ms') } as TaskTimings;
  }

  /**
   * The exception that failed this step: the one `@catch` stored (the task then succeeded), or the
   * error of the last attempt of a failed task. `undefined` when the step did not fail.
   */
  async exception(): Promise<TaskException | undefined> {
    const caughtIn = (await this.metadata())['caught-in'];
    if (caughtIn) {
      const stored = (await (await this.artifact(caughtIn)).get()) as Omit<TaskException, 'artifact'>;
      return { ...stored, artifact: caughtIn };
    }
    if (this.status !== 'failed') return undefined;
    const failed = (await this.attempts()).filter((a) => a.error).pop();
    return failed?.error ? { code: failed.error.code, name: 'TributaryError', message: failed.error.message } : undefined;
  }

  /** Where the task sits in its splits, outermost first (foreach and static branches). */
  async frames(): Promise<Frame[]> {
    const text = (await this.metadata()).frames;
    return text ? (JSON.parse(text) as Frame[]) : [];
  }

  /** Its index in the innermost foreach it is part of (`undefined` outside a foreach), as `this.index` saw it. */
  async index(): Promise<number | undefined> {
    return innermostForeach(await this.frames())?.slot;
  }

  /** The foreach item it worked on (`this.input` in the step); `undefined` outside a foreach. */
  async input<V = unknown>(): Promise<V | undefined> {
    const frame = innermostForeach(await this.frames());
    if (!frame?.item) return undefined;
    return (await this.ctx.artifacts(this.flow).forTask(this.pathspec).loadItem(frame.item, frame.var)) as V;
  }

  /** Its artifacts (of the successful attempt), values not yet read: `artifact.get()` reads one. */
  async artifacts(): Promise<Artifact[]> {
    return (await this.batch.artifactsOf(this.id)).map((ref) => new Artifact(this.ctx, this.pathspec, ref));
  }

  /** One artifact, typed from the flow class; `NOT_FOUND` (naming the ones it has) when it has no such artifact. */
  async artifact<K extends string>(name: K): Promise<Artifact<DataOf<F>[K]>> {
    const refs = await this.batch.artifactsOf(this.id);
    const ref = refs.find((r) => r.name === name);
    if (!ref)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${this.pathspec} has no artifact ${JSON.stringify(name)}. ${refs.length ? `It has: ${refs.map((r) => r.name).join(', ')}.` : `It has none (it is ${this.status}).`}`,
        { context: { pathspec: this.pathspec, artifact: name } },
      );
    return new Artifact(this.ctx, this.pathspec, ref);
  }

  /** Every artifact, decoded (in parallel), typed from the flow class. */
  async data(): Promise<DataOf<F>> {
    const artifacts = await this.artifacts();
    const values = await Promise.all(artifacts.map((a) => a.get()));
    return Object.fromEntries(artifacts.map((a, i) => [a.name, values[i]])) as DataOf<F>;
  }

  /** What the task printed to stdout (default: its last attempt; a cloned task's comes from its origin). */
  async stdout(options: { attempt?: number } = {}): Promise<string> {
    return (await this.log('stdout', options.attempt))?.toString('utf8') ?? '';
  }

  /** What the task printed to stderr (see `stdout`). */
  async stderr(options: { attempt?: number } = {}): Promise<string> {
    return (await this.log('stderr', options.attempt))?.toString('utf8') ?? '';
  }

  /**
   * The stored bytes of one stream of one attempt, or `undefined` when none are stored. A task
   * cloned by resume ran in its origin run: without an explicit attempt, its origin's output is read.
   */
  async log(stream: 'stdout' | 'stderr', attempt?: number): Promise<Buffer | undefined> {
    const at = attempt ?? Math.max(0, this.attemptCount - 1);
    const key = `${this.pathspec}/${at}.${stream}.log`;
    if (await this.ctx.datastore.head(key)) return Buffer.from(await this.ctx.datastore.get(key));
    if (attempt === undefined && this.originPathspec) {
      const origin = await this.origin();
      return origin?.log(stream);
    }
    return undefined;
  }

  /**
   * The cards the task rendered (`@card`), in the order the step declares them. A task that is
   * running or failed shows its latest stored cards (live ones, or those rendered with its error);
   * a cloned task shows its origin's. `attempt` picks an earlier attempt's cards (e.g. those a
   * failed attempt rendered with its error, before a retry or the `@catch` fallback succeeded).
   */
  async cards(options: { attempt?: number } = {}): Promise<Card[]> {
    const last = this.attemptCount - 1;
    const at = options.attempt ?? last;
    const recorded = (await this.metadata()).cards;
    if (recorded) {
      const refs = JSON.parse(recorded) as CardRef[];
      if (options.attempt === undefined || refs.some((r) => r.attempt === at)) return refs.map((r) => new Card(this.ctx, this.pathspec, r));
    }
    if (this.attemptCount > 0 && at >= 0 && at <= last) {
      const key = cardPointerKey(this.pathspec, at);
      if (await this.ctx.datastore.head(key)) {
        const refs = JSON.parse(Buffer.from(await this.ctx.datastore.get(key)).toString('utf8')) as CardRef[];
        return refs.map((r) => new Card(this.ctx, this.pathspec, r));
      }
    }
    if (this.originPathspec) return (await this.origin())?.cards() ?? [];
    return [];
  }

  /**
   * The environment the task ran in (`@pypi`, `@conda`, `@npm`): its id (the hash of its lock)
   * and the lock itself (exact versions and hashes, read from the datastore and verified by its
   * hash), or `undefined` for a task without one. A cloned task gives its origin's.
   */
  async environment(): Promise<{ id: string; lock: EnvironmentLock } | undefined> {
    const md = await this.metadata();
    if (!md.environment || !md['environment-lock']) return this.originPathspec ? (await this.origin())?.environment() : undefined;
    const bytes = await this.ctx.artifacts(this.flow).getBlob(md['environment-lock']);
    return { id: md.environment, lock: JSON.parse(Buffer.from(bytes).toString('utf8')) as EnvironmentLock };
  }

  /**
   * One card: by id, or (without one) the task's only card, else its card without an id.
   * `NOT_FOUND` names the cards it has.
   */
  async card(id?: string): Promise<Card> {
    const cards = await this.cards();
    const found = id !== undefined ? cards.find((c) => c.id === id) : cards.length === 1 ? cards[0] : cards.find((c) => c.id === null);
    if (found) return found;
    if (cards.length === 0)
      throw new TributaryError('NOT_FOUND', `Task ${this.pathspec} has no cards (is its step decorated with @card?).`);
    const have = `its cards: ${cards.map((c) => c.id ?? '(no id)').join(', ')}`;
    throw new TributaryError(
      'NOT_FOUND',
      id !== undefined
        ? `Task ${this.pathspec} has no card with id '${id}': ${have}.`
        : `Task ${this.pathspec} has several cards, all with ids: pick one by id (${have}).`,
    );
  }

  /** The task this one was cloned from by resume (read in the global namespace: it may predate a tag). */
  async origin(): Promise<Task<F> | undefined> {
    const spec = this.originPathspec;
    if (!spec) return undefined;
    const [flow, runId, , taskId] = spec.split('/');
    if (!flow || !runId || !taskId) return undefined;
    return new Task<F>(this.ctx, await this.ctx.metadata.getTask({ flow, runId, taskId }));
  }

  /** @internal */
  get ref() {
    return { flow: this.flow, runId: this.runId, taskId: this.id };
  }

  toJSON(): TaskRecord & { pathspec: string } {
    return { pathspec: this.pathspec, ...this.record };
  }
}

function innermostForeach(frames: Frame[]): Frame | undefined {
  for (let i = frames.length - 1; i >= 0; i--) if (frames[i]!.kind === 'foreach') return frames[i];
  return undefined;
}
