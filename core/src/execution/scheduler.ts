import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { deserializeError, TributaryError, type SerializedError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { ResourceSpec } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { ArtifactRef, MetadataStore, NewTask, TaskRef } from '../ports/metadata-store.ts';
import type { RunEvent } from '../runtime/events.ts';
import { preciseNow, type CheckpointRecord, type TaskOutcome, type TaskSpec } from '../runtime/protocol.ts';
import type { FinishedTask, PlannedTask, ResumeOrigin } from './planned-task.ts';
import { ResumeCloner } from './resume-cloner.ts';
import type { StepCompute } from './step-compute.ts';
import { Successors } from './successors.ts';
import type { AttemptEnd, AttemptHandle, AttemptListener, AttemptRequest, ExecutorRun } from './task-executor.ts';
import { taskEnvironment, type PreparedEnvironment } from '../environments/prepare-environments.ts';
import type { CardSpec } from '../cards/card-options.ts';

/** @internal */
export interface SchedulerOptions {
  flow: string;
  /** Cards for steps that declare none (`--with card`). */
  defaultCards?: CardSpec[];
  runId: string;
  graph: FlowGraph;
  datastore: Datastore;
  metadata: MetadataStore;
  /** Where attempts run (this run's session on a TaskExecutor). */
  executor: ExecutorRun;
  paramsManifest: ArtifactRef[];
  paramsTaskId: string;
  paramNames: string[];
  /** Tasks of this run running at once. */
  maxWorkers: number;
  maxNumSplits: number;
  echoLogs: boolean;
  maxLogBytes: number;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  /** Resume: the run whose successful tasks are cloned instead of executed. */
  origin?: ResumeOrigin;
  /** Run heartbeat period (ms). Default 5000. */
  heartbeatMs?: number;
  /** Steps that run on remote compute, and their settings (absent: local). */
  stepCompute?: Record<string, StepCompute | undefined>;
  /** Steps with an environment (`@pypi`...), prepared before the run started. */
  environments?: Record<string, PreparedEnvironment>;
}

/** @internal */
export interface SchedulerResult {
  status: 'succeeded' | 'failed' | 'aborted';
  error?: TributaryError;
  /** Attempt dispatched → user code entered, in ms, per started attempt. */
  dispatchLatenciesMs: number[];
  /** Task ready → dispatched (time spent waiting for a free slot), in ms, per started attempt. */
  queueWaitsMs: number[];
  tasks: number;
  /** Tasks cloned from the origin run (resume). */
  cloned: number;
}

/** Failures of the machinery rather than of the step's code: what `@retry({ only: 'system' })` retries. */
const SYSTEM_FAILURES = new Set([
  'WORKER_LOST',
  'TIMEOUT',
  'COMPUTE_OOM',
  'COMPUTE_PREEMPTED',
  'COMPUTE_UNSCHEDULABLE',
  'INFRASTRUCTURE',
  'COMPUTE_FAILED',
]);

/**
 * The scheduling policy of a run, whatever runs its attempts: ready tasks are submitted to the
 * executor (at most `maxWorkers` at once), outcomes are committed to metadata, successors become
 * ready, failures are retried or caught, resumed runs clone what they can, and in-task checkpoints
 * are recorded. Only references and small records pass through here.
 * @internal
 */
export class Scheduler {
  private readonly queue: PlannedTask[] = [];
  private readonly running = new Map<PlannedTask, AttemptHandle>();
  private readonly latencies: number[] = [];
  private readonly queueWaits: number[] = [];
  private readonly successors: Successors;
  private readonly cloner: ResumeCloner;
  private readonly store: ArtifactStore;
  private failure?: TributaryError;
  private aborted = false;
  /** Attempts submitted or about to be (reading their checkpoints), and retries waiting for their delay. */
  private inFlight = 0;
  private tasks = 0;
  private serial: Promise<void> = Promise.resolve();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private checkpointSeq = 0;
  private settle!: () => void;

  constructor(private readonly o: SchedulerOptions) {
    this.store = new ArtifactStore(o.datastore, o.flow);
    this.successors = new Successors(o.graph, o.paramsManifest);
    this.cloner = new ResumeCloner({
      flow: o.flow,
      runId: o.runId,
      graph: o.graph,
      metadata: o.metadata,
      store: this.store,
      origin: o.origin,
      paramsTaskId: o.paramsTaskId,
    });
  }

  private emit(e: RunEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // a broken progress display must not break the run
    }
  }

  private ref(taskId: string): TaskRef {
    return { flow: this.o.flow, runId: this.o.runId, taskId };
  }

  private pathspec(step: string, taskId: string): string {
    return `${this.o.flow}/${this.o.runId}/${step}/${taskId}`;
  }

  async run(): Promise<SchedulerResult> {
    const done = new Promise<void>((resolve) => (this.settle = resolve));
    const onAbort = () => this.enqueue(async () => this.fail(new TributaryError('ABORTED', 'The run was aborted.'), true));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    const heartbeat = setInterval(
      () => void this.o.metadata.heartbeat(this.o.flow, this.o.runId).catch(() => undefined),
      this.o.heartbeatMs ?? 5000,
    );
    heartbeat.unref();
    // A signal aborted already: nothing starts.
    if (this.o.signal?.aborted) onAbort();
    this.enqueue(async () => {
      await this.makeReady([
        {
          step: this.o.graph.start,
          key: this.o.graph.start,
          frames: [],
          iteration: 0,
          parents: [this.o.paramsTaskId],
          manifest: this.o.paramsManifest,
          attempt: 0,
          readyAt: preciseNow(),
        },
      ]);
    });
    await done;
    clearInterval(heartbeat);
    this.o.signal?.removeEventListener('abort', onAbort);
    // What cancelled attempts recorded is on the serial chain: let it land.
    await this.serial;
    const status = this.aborted ? 'aborted' : this.failure || !this.successors.endReached ? 'failed' : 'succeeded';
    const error =
      this.failure ?? (status === 'failed' ? new TributaryError('RUN_FAILED', 'The run ended before reaching its end step.') : undefined);
    return {
      status,
      ...(error ? { error } : {}),
      dispatchLatenciesMs: this.latencies,
      queueWaitsMs: this.queueWaits,
      tasks: this.tasks,
      cloned: this.cloner.cloned,
    };
  }

  /** Every state change runs on one serial chain: no interleaving between awaits. */
  private enqueue(fn: () => Promise<void>): void {
    this.serial = this.serial
      .then(fn)
      .catch((err) =>
        this.fail(
          TributaryError.is(err) ? err : new TributaryError('INFRASTRUCTURE', `Scheduler error: ${(err as Error).message}`, { cause: err }),
        ),
      );
    void this.serial.then(() => this.checkDone());
  }

  private checkDone(): void {
    if (this.inFlight === 0 && (this.queue.length === 0 || this.failure || this.aborted)) this.settle();
  }

  private async makeReady(tasks: PlannedTask[]): Promise<void> {
    let pending = tasks;
    while (pending.length > 0) {
      if (this.failure || this.aborted) return;
      const fresh = pending.filter((t) => t.taskId === undefined);
      await this.cloner.mark(fresh);
      if (fresh.length) {
        const news: NewTask[] = fresh.map((t) => ({
          flow: this.o.flow,
          runId: this.o.runId,
          step: t.step,
          key: t.key,
          parents: t.parents,
          ...(t.cloneOf ? { originPathspec: t.cloneOf.origin.pathspec } : {}),
        }));
        const records = fresh.length === 1 ? [await this.o.metadata.registerTask(news[0]!)] : await this.o.metadata.registerTasks(news);
        records.forEach((r, i) => (fresh[i]!.taskId = r.taskId));
        this.tasks += fresh.length;
      }
      const toRun = pending.filter((t) => !t.cloneOf);
      this.queue.push(...toRun);
      const byStep = new Map<string, number>();
      for (const t of toRun) byStep.set(t.step, (byStep.get(t.step) ?? 0) + 1);
      for (const [step, count] of byStep) this.emit({ type: 'task-queued', step, count });
      this.pump();
      // Cloned tasks finish right here; their successors are handled in the next round.
      const next: PlannedTask[] = [];
      for (const t of pending) {
        if (!t.cloneOf) continue;
        const outcome = await this.cloner.clone(t);
        const pathspec = this.pathspec(t.step, t.taskId!);
        this.emit({ type: 'task-cloned', step: t.step, pathspec, originPathspec: t.cloneOf.origin.pathspec });
        next.push(...this.successors.of(t, { taskId: t.taskId!, step: t.step, pathspec, manifest: outcome.artifacts }, outcome));
      }
      pending = next;
    }
  }

  private pump(): void {
    while (!this.failure && !this.aborted && this.queue.length > 0 && this.inFlight - this.retryTimers.size < this.o.maxWorkers) {
      if (this.startArray()) continue;
      this.start(this.queue.shift()!);
    }
  }

  /**
   * The splits of a foreach on remote compute go to the executor at once, as one array job
   * (one request for N tasks; the executor keeps at most maxWorkers running). First attempts
   * only: a retried split runs as its own job.
   */
  private startArray(): boolean {
    const head = this.queue[0]!;
    const node = this.o.graph.nodes[head.step]!;
    if (!this.o.executor.submitArray || !this.o.stepCompute?.[head.step] || head.attempt !== 0 || node.usesCheckpoint || head.caught)
      return false;
    let n = 1;
    while (n < this.queue.length && this.queue[n]!.step === head.step && this.queue[n]!.attempt === 0 && !this.queue[n]!.caught) n++;
    if (n < 2) return false;
    const group = this.queue.slice(0, n);
    const prepared = group.map((t) => this.prepare(t, []));
    const handles = this.o.executor.submitArray(prepared.map(({ request, listener }) => ({ request, listener })));
    if (!handles) return false;
    this.queue.splice(0, n);
    this.inFlight += n;
    handles.forEach((h, i) => prepared[i]!.track(h));
    return true;
  }

  private specOf(task: PlannedTask, checkpoints: CheckpointRecord[]): TaskSpec {
    const taskId = task.taskId!;
    const pathspec = this.pathspec(task.step, taskId);
    const env = this.o.environments?.[task.step];
    return {
      flow: this.o.flow,
      runId: this.o.runId,
      taskId,
      step: task.step,
      key: task.key,
      attempt: task.attempt,
      pathspec,
      manifest: task.manifest,
      params: this.o.paramNames,
      frames: task.frames,
      ...(task.inputs ? { inputs: task.inputs } : {}),
      maxNumSplits: this.o.maxNumSplits,
      readyAt: task.readyAt,
      dispatchedAt: task.readyAt,
      echo: this.o.echoLogs,
      logKeyPrefix: pathspec,
      maxLogBytes: this.o.maxLogBytes,
      ...(task.caught ? { caught: task.caught } : {}),
      ...(task.failures?.length ? { failures: task.failures } : {}),
      ...(this.o.defaultCards && !this.o.graph.nodes[task.step]?.decorators.card ? { cards: this.o.defaultCards } : {}),
      checkpoints,
      ...(env ? { environment: taskEnvironment(env) } : {}),
    };
  }

  private start(task: PlannedTask): void {
    this.inFlight++;
    const node = this.o.graph.nodes[task.step]!;
    if (!node.usesCheckpoint) {
      this.submit(task, []);
      return;
    }
    // Earlier checkpoints of this task identity travel with the task (one metadata read, only
    // for steps that use checkpoints).
    void this.checkpointsOf(task).then(
      (checkpoints) => this.submit(task, checkpoints),
      (err) =>
        this.enqueue(async () => {
          this.inFlight--;
          await this.fail(
            TributaryError.is(err) ? err : new TributaryError('INFRASTRUCTURE', `Cannot read checkpoints: ${(err as Error).message}`),
          );
        }),
    );
  }

  private submit(task: PlannedTask, checkpoints: CheckpointRecord[]): void {
    if (this.failure || this.aborted) {
      // The run stopped while this attempt's checkpoints were read: it never starts.
      this.enqueue(async () => void this.inFlight--);
      return;
    }
    const { request, listener, track } = this.prepare(task, checkpoints);
    track(this.o.executor.submit(request, listener));
  }

  /** An attempt's request and the listener that commits what the executor reports of it. */
  private prepare(
    task: PlannedTask,
    checkpoints: CheckpointRecord[],
  ): { request: AttemptRequest; listener: AttemptListener; track: (handle: AttemptHandle) => void } {
    const node = this.o.graph.nodes[task.step]!;
    const seconds = (node.decorators.timeout as { seconds: number } | undefined)?.seconds;
    const resources = node.decorators.resources as ResourceSpec | undefined;
    const compute = this.o.stepCompute?.[task.step];
    let ended = false;
    const listener: AttemptListener = {
      dispatched: (at) => {
        task.dispatchedAt = at;
        this.queueWaits.push(at - task.readyAt);
        // Recording the attempt start is not awaited: it is ordered before the completion on the
        // serial chain, and waiting would add a metadata round trip to every task.
        task.started = this.o.metadata.startAttempt(this.ref(task.taskId!), task.attempt);
        task.started.catch(() => undefined);
        this.emit({ type: 'task-started', step: task.step, pathspec: this.pathspec(task.step, task.taskId!), attempt: task.attempt });
      },
      entered: (at) => {
        task.enteredAt = at;
        if (task.dispatchedAt !== undefined) this.latencies.push(at - task.dispatchedAt);
      },
      // An attempt that is over (timed out in-process, cancelled) records nothing more.
      checkpoint: (record) =>
        ended
          ? Promise.reject(
              new TributaryError('ABORTED', `${record.pathspec} attempt ${record.attempt} is over: its checkpoint is not recorded.`),
            )
          : this.o.metadata.putMetadata(this.ref(task.taskId!), {
              [`checkpoint:${String(++this.checkpointSeq).padStart(8, '0')}`]: JSON.stringify(record),
            }),
      fatal: (error) => this.enqueue(async () => this.fail(error)),
      ended: (end: AttemptEnd) => {
        if (ended) return;
        ended = true;
        this.enqueue(async () => {
          this.running.delete(task);
          this.inFlight--;
          if (end.status === 'succeeded') await this.onDone(task, end.outcome);
          else if (this.failure || this.aborted) await this.recordFailure(task, end.error);
          else await this.onFailed(task, end.error);
          this.pump();
        });
      },
    };
    const request: AttemptRequest = {
      spec: this.specOf(task, checkpoints),
      ...(seconds !== undefined && !task.caught ? { timeoutSeconds: seconds } : {}),
      ...(resources ? { resources } : {}),
      // A @catch attempt runs no user code: it runs where the step's other attempts ran.
      ...(compute ? { compute } : {}),
    };
    return { request, listener, track: (handle) => void (ended || this.running.set(task, handle)) };
  }

  /** Checkpoints saved by this task identity: this task's earlier attempts, then origin runs'. */
  private async checkpointsOf(task: PlannedTask): Promise<CheckpointRecord[]> {
    const refs: TaskRef[] = [this.ref(task.taskId!)];
    const o = this.o.origin?.tasks.get(task.key);
    if (o) refs.push({ flow: this.o.flow, runId: this.o.origin!.runId, taskId: o.taskId });
    const all: CheckpointRecord[] = [];
    for (const ref of refs) {
      const meta = await this.o.metadata.getMetadata(ref);
      for (const [k, v] of Object.entries(meta)) if (k.startsWith('checkpoint:')) all.push(JSON.parse(v) as CheckpointRecord);
    }
    return all.sort((a, b) => a.savedAt - b.savedAt);
  }

  private async recordFailure(task: PlannedTask, error: SerializedError): Promise<void> {
    await task.started?.catch(() => undefined);
    if (!task.started) await this.o.metadata.startAttempt(this.ref(task.taskId!), task.attempt);
    await this.o.metadata.finishAttempt(this.ref(task.taskId!), task.attempt, {
      status: 'failed',
      error: { code: error.code, message: error.message },
    });
  }

  private async onFailed(task: PlannedTask, error: SerializedError): Promise<void> {
    await this.recordFailure(task, error);
    const node = this.o.graph.nodes[task.step]!;
    const retry = node.decorators.retry as { times: number; minutesBetween: number; only: 'all' | 'system' } | undefined;
    const eligible = retry && (retry.only === 'all' || SYSTEM_FAILURES.has(error.code));
    const willRetry = !!eligible && task.attempt < retry.times && !this.failure && !this.aborted;
    const pathspec = this.pathspec(task.step, task.taskId!);
    this.emit({ type: 'task-failed', step: task.step, pathspec, attempt: task.attempt, error, willRetry });
    const failure = { attempt: task.attempt, code: error.code, message: error.message.split('\n')[0]!.slice(0, 500) };
    const next: PlannedTask = { ...task, attempt: task.attempt + 1, readyAt: preciseNow(), failures: [...(task.failures ?? []), failure] };
    delete next.started;
    delete next.dispatchedAt;
    delete next.enteredAt;
    if (willRetry) {
      const delay = retry.minutesBetween * 60_000;
      if (delay > 0) {
        this.inFlight++;
        const timer = setTimeout(
          () =>
            this.enqueue(async () => {
              this.retryTimers.delete(timer);
              this.inFlight--;
              next.readyAt = preciseNow();
              await this.makeReady([next]);
            }),
          delay,
        );
        this.retryTimers.add(timer);
      } else await this.makeReady([next]);
      return;
    }
    const caught = node.decorators.catch as { var?: string; printException?: boolean } | undefined;
    if (caught && !task.caught && !this.failure && !this.aborted) {
      // @catch: one more attempt that runs no user code, stores the error and goes on.
      if (caught.printException !== false)
        process.stderr.write(
          `${pathspec} failed; @catch stores the error${caught.var ? ` in ${caught.var}` : ''} and the flow goes on: ${error.message}\n`,
        );
      await this.makeReady([{ ...next, caught: { var: caught.var ?? '_exception', error } }]);
      return;
    }
    await this.fail(
      new TributaryError('RUN_FAILED', `Task ${pathspec} failed: ${error.message}`, {
        cause: deserializeError(error),
        context: { pathspec, step: task.step },
      }),
    );
  }

  private async fail(err: TributaryError, abort = false): Promise<void> {
    if (this.failure || this.aborted) return;
    if (abort) this.aborted = true;
    this.failure = err;
    this.queue.length = 0;
    for (const t of this.retryTimers) clearTimeout(t);
    this.inFlight -= this.retryTimers.size;
    this.retryTimers.clear();
    // Attempts still running belong to a run that has failed: stop them now (as Metaflow does);
    // they are recorded as failed and a resume re-runs them.
    for (const handle of this.running.values()) handle.cancel(abort ? 'run aborted' : 'run failed');
    this.checkDone();
  }

  private async onDone(task: PlannedTask, outcome: TaskOutcome): Promise<void> {
    await task.started;
    const taskId = task.taskId!;
    const dispatchedAt = task.dispatchedAt ?? task.readyAt;
    const metadata: Record<string, string> = {
      targets: JSON.stringify(outcome.targets),
      'dispatch-ms': (outcome.enteredAt - dispatchedAt).toFixed(3),
      'queue-ms': (dispatchedAt - task.readyAt).toFixed(3),
      'run-ms': (outcome.finishedAt - outcome.enteredAt).toFixed(3),
    };
    if (outcome.caseValue !== undefined) metadata['switch-case'] = outcome.caseValue;
    // For clients: where the task sits in its splits (its foreach index and input item), and the
    // artifact @catch stored the exception in.
    if (task.frames.length) metadata.frames = JSON.stringify(task.frames);
    if (task.caught) metadata['caught-in'] = task.caught.var;
    if (outcome.cards?.length) metadata.cards = JSON.stringify(outcome.cards);
    if (outcome.foreach)
      metadata.foreach = JSON.stringify({ var: outcome.foreach.var, count: outcome.foreach.count, index: outcome.foreach.index });
    const env = this.o.environments?.[task.step];
    if (env) {
      metadata.environment = env.id;
      metadata['environment-lock'] = env.lockSha;
    }
    await this.o.metadata.finishAttempt(this.ref(taskId), task.attempt, { status: 'succeeded', artifacts: outcome.artifacts, metadata });
    const pathspec = this.pathspec(task.step, taskId);
    this.emit({
      type: 'task-finished',
      step: task.step,
      pathspec,
      attempt: task.attempt,
      durationMs: outcome.finishedAt - outcome.enteredAt,
    });
    const finished: FinishedTask = { taskId, step: task.step, pathspec, manifest: outcome.artifacts };
    await this.makeReady(this.successors.of(task, finished, outcome));
  }
}
