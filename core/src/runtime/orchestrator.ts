import { availableParallelism } from 'node:os';
import type { ItemRef } from '../artifacts/artifact-store.ts';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { deserializeError, serializeUnknownError, TributaryError, type SerializedError } from '../errors.ts';
import type { Frame, InputSource } from '../flow/task-state.ts';
import type { FlowGraph, GraphNode } from '../graph/ir.ts';
import type { ComputeBackend, ComputeJob } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { ArtifactRecord, ArtifactRef, MetadataStore, NewTask, TaskRef } from '../ports/metadata-store.ts';
import type { RunEvent } from './events.ts';
import { clonedTargets, transitionBlocker } from './resume-rules.ts';
import { workerLaunchSpec } from './worker-launch.ts';
import { preciseNow, type CheckpointRecord, type FromWorker, type TaskOutcome, type TaskSpec, type ToWorker } from './protocol.ts';

/** A task the orchestrator knows about, before and while it runs. */
interface PlannedTask {
  step: string;
  key: string;
  frames: Frame[];
  iteration: number;
  parents: string[];
  manifest: ArtifactRef[];
  inputs?: InputSource[];
  taskId?: string;
  attempt: number;
  readyAt: number;
  dispatchedAt?: number;
  caught?: TaskSpec['caught'];
  /** The metadata write recording this attempt's start (not awaited before dispatch). */
  started?: Promise<void>;
  /** Resume: the origin task this one is cloned from, with what it recorded. */
  cloneOf?: { origin: OriginTask; artifacts: ArtifactRecord[]; meta: Record<string, string> };
}

interface Finished {
  taskId: string;
  step: string;
  pathspec: string;
  manifest: ArtifactRef[];
}

interface PendingJoin {
  expected: number;
  arrived: number;
  slots: Array<Finished | undefined>;
}

interface Worker {
  job: ComputeJob;
  ready: boolean;
  stderrTail: string;
  timer?: NodeJS.Timeout;
  timedOut?: number;
  task?: PlannedTask;
  enteredAt?: number;
  /** Exits after its current task: never given another one. */
  retiring?: boolean;
  /** Both output pipes fully relayed. */
  drained?: Promise<void>;
}

/** @internal */
export interface OrchestratorOptions {
  flow: string;
  runId: string;
  graph: FlowGraph;
  flowModule: string;
  flowExport: string;
  datastore: Datastore;
  metadata: MetadataStore;
  compute: ComputeBackend;
  paramsManifest: ArtifactRef[];
  paramsTaskId: string;
  paramNames: string[];
  maxWorkers?: number;
  maxNumSplits: number;
  echoLogs: boolean;
  maxLogBytes: number;
  workerExecArgv?: string[];
  /** Worker jobs already launched on `compute` with `workerLaunchSpec`, used before new ones. */
  warmWorkers?: ComputeJob[];
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  onTaskOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Resume: the run whose successful tasks are cloned instead of executed. */
  origin?: ResumeOrigin;
  /** Run heartbeat period (ms). Default 5000. */
  heartbeatMs?: number;
}

/** A successful task of the origin run, by key. @internal */
export interface OriginTask {
  taskId: string;
  step: string;
  key: string;
  pathspec: string;
  status: string;
  /** Task ids (in the origin run) of its inputs. */
  parents: string[];
}

/** @internal */
export interface ResumeOrigin {
  runId: string;
  /** Every task of the origin run, by key. */
  tasks: Map<string, OriginTask>;
  /** Steps to re-run even where the origin succeeded (a given step). Their descendants re-run too. */
  rerunSteps: Set<string>;
}

/** @internal */
export interface OrchestratorResult {
  status: 'succeeded' | 'failed' | 'aborted';
  error?: TributaryError;
  /** Task dispatched to a free worker → user code entered, in ms, per started attempt. */
  dispatchLatenciesMs: number[];
  /** Task ready → dispatched (time spent waiting for a free worker), in ms, per started attempt. */
  queueWaitsMs: number[];
  tasks: number;
  /** Tasks cloned from the origin run (resume). */
  cloned: number;
}

/** Signals a process gets for its own faults (as opposed to being killed from outside). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS', 'SIGTRAP']);

const SYSTEM_FAILURES = new Set(['WORKER_LOST', 'TIMEOUT', 'COMPUTE_OOM', 'COMPUTE_PREEMPTED', 'INFRASTRUCTURE', 'COMPUTE_FAILED']);

function sameMembers(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(b);
  return a.every((x) => set.has(x));
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function frameKey(frames: Frame[]): string {
  return frames.length ? `[${frames.map((f) => f.slot).join(',')}]` : '';
}

/**
 * Schedules a run's tasks on a pool of warm workers: ready tasks are dispatched as workers free
 * up, completions are committed to metadata, and successors (branches, foreach splits, joins,
 * switch cases) become ready. Only references and small messages pass through here.
 * @internal
 */
export class Orchestrator {
  private readonly queue: PlannedTask[] = [];
  private readonly workers = new Set<Worker>();
  private readonly joins = new Map<string, PendingJoin>();
  private readonly latencies: number[] = [];
  private readonly queueWaits: number[] = [];
  private spawning = 0;
  private endReached = false;
  private failure?: TributaryError;
  private aborted = false;
  private stopping = false;
  private inFlight = 0;
  private tasks = 0;
  private serial: Promise<void> = Promise.resolve();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly drains = new Set<Promise<void>>();
  /** Resume: task id in this run → the origin task id it was cloned from. */
  private readonly clonedFrom = new Map<string, string>();
  private clones = 0;
  private startupDeaths = 0;
  private checkpointSeq = 0;
  private readonly store: ArtifactStore;
  private settle!: () => void;
  private readonly maxWorkers: number;

  constructor(private readonly o: OrchestratorOptions) {
    this.maxWorkers = Math.max(1, o.maxWorkers ?? availableParallelism());
    this.store = new ArtifactStore(o.datastore, o.flow);
    const originParams = o.origin?.tasks.get('_parameters');
    if (originParams) this.clonedFrom.set(o.paramsTaskId, originParams.taskId);
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

  async run(): Promise<OrchestratorResult> {
    const done = new Promise<void>((resolve) => (this.settle = resolve));
    const onAbort = () => this.enqueue(async () => this.fail(new TributaryError('ABORTED', 'The run was aborted.'), true));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    const heartbeat = setInterval(
      () => void this.o.metadata.heartbeat(this.o.flow, this.o.runId).catch(() => undefined),
      this.o.heartbeatMs ?? 5000,
    );
    heartbeat.unref();
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
    if (this.o.signal?.aborted) onAbort();
    await done;
    clearInterval(heartbeat);
    this.o.signal?.removeEventListener('abort', onAbort);
    await this.stopWorkers();
    // What the workers' exits recorded (cancelled attempts) is on the serial chain: let it land.
    await this.serial;
    const status = this.aborted ? 'aborted' : this.failure || !this.endReached ? 'failed' : 'succeeded';
    const error =
      this.failure ?? (status === 'failed' ? new TributaryError('RUN_FAILED', 'The run ended before reaching its end step.') : undefined);
    return {
      status,
      ...(error ? { error } : {}),
      dispatchLatenciesMs: this.latencies,
      queueWaitsMs: this.queueWaits,
      tasks: this.tasks,
      cloned: this.clones,
    };
  }

  /** Every state change runs on one serial chain: no interleaving between awaits. */
  private enqueue(fn: () => Promise<void>): void {
    this.serial = this.serial
      .then(fn)
      .catch((err) =>
        this.fail(
          TributaryError.is(err)
            ? err
            : new TributaryError('INFRASTRUCTURE', `Orchestrator error: ${(err as Error).message}`, { cause: err }),
        ),
      );
    void this.serial.then(() => this.checkDone());
  }

  private checkDone(): void {
    const idle = this.inFlight === 0 && this.spawning === 0;
    if (idle && (this.queue.length === 0 || this.failure || this.aborted)) this.settle();
  }

  private async makeReady(tasks: PlannedTask[]): Promise<void> {
    let pending = tasks;
    while (pending.length > 0) {
      if (this.failure || this.aborted) return;
      const fresh = pending.filter((t) => t.taskId === undefined);
      await this.findClones(fresh);
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
      for (const t of pending) if (t.cloneOf) next.push(...(await this.cloneTask(t)));
      pending = next;
    }
  }

  /**
   * Resume: mark the tasks that are cloned from the origin run. The rules (resume-rules.ts) are
   * the planner's: the origin task with the same key succeeded, its step is not re-run, its inputs
   * are clones of its own origin inputs, and what it decided at run time fits the current graph.
   */
  private async findClones(fresh: PlannedTask[]): Promise<void> {
    const origin = this.o.origin;
    if (!origin) return;
    const candidates: Array<{ t: PlannedTask; o: OriginTask }> = [];
    for (const t of fresh) {
      if (origin.rerunSteps.has(t.step)) continue;
      const o = origin.tasks.get(t.key);
      if (!o || o.status !== 'succeeded' || o.step !== t.step) continue;
      const from = t.parents.map((p) => this.clonedFrom.get(p));
      if (from.some((p) => p === undefined) || !sameMembers(from as string[], o.parents)) continue;
      candidates.push({ t, o });
    }
    await forEachLimit(candidates, 16, async ({ t, o }) => {
      const ref = { flow: this.o.flow, runId: origin.runId, taskId: o.taskId };
      const [artifacts, meta] = await Promise.all([this.o.metadata.listArtifacts(ref), this.o.metadata.getMetadata(ref)]);
      if (transitionBlocker(this.o.graph.nodes[t.step]!, meta, origin.runId) === undefined) t.cloneOf = { origin: o, artifacts, meta };
    });
  }

  /** Copy an origin task's completion: metadata and artifact references only, no bytes. */
  private async cloneTask(t: PlannedTask): Promise<PlannedTask[]> {
    const { origin: o, meta } = t.cloneOf!;
    const artifacts = t.cloneOf!.artifacts.map(({ attempt: _a, ...a }) => a);
    const node = this.o.graph.nodes[t.step]!;
    const metadata: Record<string, string> = { ...meta, 'origin-pathspec': o.pathspec };
    for (const k of Object.keys(metadata)) if (k.startsWith('checkpoint:')) delete metadata[k];
    // The clone goes where the current graph says (a renamed successor is a new step).
    const targets = clonedTargets(node, meta);
    metadata.targets = JSON.stringify(targets);
    const ref = this.ref(t.taskId!);
    await this.o.metadata.startAttempt(ref, 0);
    await this.o.metadata.finishAttempt(ref, 0, { status: 'succeeded', artifacts, metadata });
    this.clones++;
    this.clonedFrom.set(t.taskId!, o.taskId);
    const pathspec = this.pathspec(t.step, t.taskId!);
    this.emit({ type: 'task-cloned', step: t.step, pathspec, originPathspec: o.pathspec });
    let foreach: TaskOutcome['foreach'];
    if (node.type === 'foreach') {
      const f = JSON.parse(meta.foreach!) as { var: string; count: number; index: string };
      const items = (await this.store.load({ name: '_foreach_index', sha: f.index, encoding: 'msgpack', type: 'Array' })) as ItemRef[];
      foreach = { var: f.var, count: f.count, items, index: f.index };
    }
    const outcome: TaskOutcome = {
      artifacts,
      targets,
      ...(meta['switch-case'] !== undefined ? { caseValue: meta['switch-case'] } : {}),
      ...(foreach ? { foreach } : {}),
      enteredAt: 0,
      finishedAt: 0,
    };
    return this.successors(t, node, { taskId: t.taskId!, step: t.step, pathspec, manifest: outcome.artifacts }, outcome);
  }

  private pump(): void {
    if (this.failure || this.aborted) return;
    for (const w of this.workers) {
      if (this.queue.length === 0) return;
      if (w.ready && !w.task && !w.retiring) this.dispatch(w, this.queue.shift()!);
    }
    const want = Math.min(this.queue.length - this.spawning, this.maxWorkers - this.workers.size - this.spawning);
    for (let i = 0; i < want; i++) void this.spawn();
  }

  private async spawn(): Promise<void> {
    this.spawning++;
    try {
      // A worker started ahead (the CLI starts one while it loads) is used first.
      const job =
        this.o.warmWorkers?.shift() ??
        (await this.o.compute.launch(workerLaunchSpec(`${this.o.flow}/${this.o.runId} worker`, this.o.workerExecArgv)));
      if (!job.channel)
        throw new TributaryError('CONFIG', `Compute backend ${this.o.compute.name} gave no IPC channel; local runs need capabilities.ipc.`);
      const worker: Worker = { job, ready: false, stderrTail: '' };
      this.workers.add(worker);
      // Drain both pipes (a full pipe would block the worker); keep the end of stderr for errors.
      const out = this.o.onTaskOutput;
      // The run is over only when everything its workers printed has been relayed.
      worker.drained = Promise.all([
        this.drain(job.stdout, (text) => (out ? out('stdout', text) : this.o.echoLogs && process.stdout.write(text))),
        this.drain(job.stderr, (text) => {
          worker.stderrTail = (worker.stderrTail + text).slice(-4000);
          if (out) out('stderr', text);
          else if (this.o.echoLogs) process.stderr.write(text);
        }),
      ]).then(() => undefined);
      this.drains.add(worker.drained);
      job.channel.onMessage((m) => this.enqueue(async () => this.onMessage(worker, m as FromWorker)));
      void job.result.then((r) => this.enqueue(async () => this.onExit(worker, r.failure?.message ?? `exit code ${r.exitCode}`, r.signal)));
      const init: ToWorker = {
        t: 'init',
        flowModule: this.o.flowModule,
        flowExport: this.o.flowExport,
        datastore: this.o.datastore.locator!,
        flow: this.o.flow,
      };
      job.channel.send(init);
    } catch (err) {
      this.enqueue(async () =>
        this.fail(
          TributaryError.is(err)
            ? err
            : new TributaryError('COMPUTE_FAILED', `Could not start a worker: ${(err as Error).message}`, { cause: err }),
        ),
      );
    } finally {
      this.enqueue(async () => {
        this.spawning--;
      });
    }
  }

  private dispatch(w: Worker, task: PlannedTask): void {
    const dispatchedAt = preciseNow();
    this.queueWaits.push(dispatchedAt - task.readyAt);
    task.dispatchedAt = dispatchedAt;
    w.task = task;
    w.enteredAt = undefined;
    this.inFlight++;
    const taskId = task.taskId!;
    const spec: TaskSpec = {
      flow: this.o.flow,
      runId: this.o.runId,
      taskId,
      step: task.step,
      key: task.key,
      attempt: task.attempt,
      pathspec: this.pathspec(task.step, taskId),
      manifest: task.manifest,
      params: this.o.paramNames,
      frames: task.frames,
      ...(task.inputs ? { inputs: task.inputs } : {}),
      maxNumSplits: this.o.maxNumSplits,
      readyAt: task.readyAt,
      dispatchedAt,
      echo: this.o.echoLogs,
      logKeyPrefix: `${this.o.flow}/${this.o.runId}/${task.step}/${taskId}`,
      maxLogBytes: this.o.maxLogBytes,
      ...(task.caught ? { caught: task.caught } : {}),
      checkpoints: [],
    };
    const seconds = (this.o.graph.nodes[task.step]!.decorators.timeout as { seconds: number } | undefined)?.seconds;
    if (seconds !== undefined && !task.caught) {
      // @timeout: the worker is stopped (it may be stuck in a loop no signal inside it can
      // break), and the attempt fails as TIMEOUT, which @retry may retry.
      w.timer = setTimeout(() => {
        w.timedOut = seconds;
        void w.job.cancel(`@timeout of ${seconds}s`);
      }, seconds * 1000);
      w.timer.unref();
    }
    // Recording the attempt start is not awaited before dispatch: it is ordered before the
    // completion on the serial chain, and waiting would add a metadata round trip to every task.
    task.started = this.o.metadata.startAttempt(this.ref(taskId), task.attempt);
    task.started.catch(() => undefined);
    if (this.o.graph.nodes[task.step]!.usesCheckpoint) {
      // Earlier checkpoints of this task identity travel with the task (one metadata read,
      // only for steps that use checkpoints).
      void this.checkpointsOf(task).then(
        (checkpoints) => w.job.channel!.send({ t: 'task', spec: { ...spec, checkpoints } } satisfies ToWorker),
        (err) =>
          this.enqueue(async () =>
            this.fail(
              TributaryError.is(err) ? err : new TributaryError('INFRASTRUCTURE', `Cannot read checkpoints: ${(err as Error).message}`),
            ),
          ),
      );
    } else w.job.channel!.send({ t: 'task', spec } satisfies ToWorker);
    this.emit({ type: 'task-started', step: task.step, pathspec: spec.pathspec, attempt: task.attempt });
  }

  private async onMessage(w: Worker, m: FromWorker): Promise<void> {
    switch (m.t) {
      case 'retiring':
        w.retiring = true;
        return;
      case 'ready':
        w.ready = true;
        this.startupDeaths = 0;
        this.pump();
        return;
      case 'fatal':
        await this.fail(deserializeError(m.error));
        return;
      case 'rpc': {
        try {
          await this.o.metadata.putMetadata(this.ref(m.taskId), {
            [`checkpoint:${String(++this.checkpointSeq).padStart(8, '0')}`]: JSON.stringify(m.record),
          });
          w.job.channel?.send({ t: 'rpc-result', id: m.id } satisfies ToWorker);
        } catch (err) {
          w.job.channel?.send({ t: 'rpc-result', id: m.id, error: serializeUnknownError(err) } satisfies ToWorker);
        }
        return;
      }
      case 'entered':
        w.enteredAt = m.at;
        if (w.task) this.latencies.push(m.at - w.task.dispatchedAt!);
        return;
      case 'done': {
        const task = w.task!;
        w.task = undefined;
        clearTimeout(w.timer);
        this.inFlight--;
        await this.onDone(task, m.outcome);
        this.pump();
        return;
      }
      case 'failed': {
        const task = w.task!;
        w.task = undefined;
        clearTimeout(w.timer);
        this.inFlight--;
        await this.onFailed(task, m.error);
        this.pump();
        return;
      }
    }
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

  private async drain(stream: AsyncIterable<Uint8Array>, onText: (text: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
    } catch {
      // the process is gone; its exit is handled by onExit
    }
  }

  private async onExit(w: Worker, why: string, signal: string | null = null): Promise<void> {
    this.workers.delete(w);
    if (!w.ready && !this.failure && !this.aborted && !this.stopping) {
      // A worker killed while starting is replaced; one that keeps dying before 'ready' means the
      // flow module itself cannot load (a syntax error, a native addon that crashes on import),
      // and respawning would loop. A kill from outside (SIGKILL/SIGTERM: OOM killer, an operator)
      // says less about the module, so those get more chances; none resets the count but a ready worker.
      const crashSignal = signal !== null && CRASH_SIGNALS.has(signal);
      this.startupDeaths += signal === null || crashSignal ? 1 : 1 / 4;
      if (this.startupDeaths >= 3) {
        const tail = w.stderrTail.trim();
        await this.fail(
          new TributaryError(
            'FLOW_LOAD',
            `Workers keep exiting while loading ${this.o.flowModule} (last: ${why}).${tail ? `\n${tail}` : ''}`,
          ),
        );
        return;
      }
    }
    const task = w.task;
    clearTimeout(w.timer);
    if (task) {
      w.task = undefined;
      this.inFlight--;
      if (w.timedOut !== undefined && !this.failure && !this.aborted) {
        await this.onFailed(task, {
          name: 'TributaryError',
          code: 'TIMEOUT',
          message: `${this.pathspec(task.step, task.taskId!)} ran longer than its @timeout of ${w.timedOut}s and was stopped.`,
          retryable: true,
          context: { pathspec: this.pathspec(task.step, task.taskId!) },
        });
      } else if (this.failure || this.aborted) {
        await this.recordFailure(task, {
          name: 'TributaryError',
          code: 'ABORTED',
          message: 'Cancelled: the run stopped.',
          retryable: false,
          context: {},
        });
      } else {
        await this.onFailed(task, {
          name: 'TributaryError',
          code: 'WORKER_LOST',
          message: `The worker running ${this.pathspec(task.step, task.taskId!)} died (${why}). Its attempt is recorded as failed.`,
          retryable: true,
          context: { pathspec: this.pathspec(task.step, task.taskId!) },
        });
      }
    }
    this.pump();
  }

  private async recordFailure(task: PlannedTask, error: SerializedError): Promise<void> {
    await task.started?.catch(() => undefined);
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
    this.emit({
      type: 'task-failed',
      step: task.step,
      pathspec: this.pathspec(task.step, task.taskId!),
      attempt: task.attempt,
      error,
      willRetry,
    });
    if (willRetry) {
      const again: PlannedTask = { ...task, attempt: task.attempt + 1, readyAt: preciseNow() };
      const delay = retry.minutesBetween * 60_000;
      if (delay > 0) {
        this.inFlight++;
        const timer = setTimeout(
          () =>
            this.enqueue(async () => {
              this.retryTimers.delete(timer);
              this.inFlight--;
              again.readyAt = preciseNow();
              await this.makeReady([again]);
            }),
          delay,
        );
        this.retryTimers.add(timer);
      } else await this.makeReady([again]);
      return;
    }
    const caught = node.decorators.catch as { var?: string; printException?: boolean } | undefined;
    if (caught && !task.caught && !this.failure && !this.aborted) {
      // @catch: one more attempt that runs no user code, stores the error and goes on.
      if (caught.printException !== false)
        process.stderr.write(
          `${this.pathspec(task.step, task.taskId!)} failed; @catch stores the error${caught.var ? ` in ${caught.var}` : ''} and the flow goes on: ${error.message}\n`,
        );
      await this.makeReady([
        { ...task, attempt: task.attempt + 1, readyAt: preciseNow(), caught: { var: caught.var ?? '_exception', error } },
      ]);
      return;
    }
    const err = deserializeError(error);
    await this.fail(
      new TributaryError('RUN_FAILED', `Task ${this.pathspec(task.step, task.taskId!)} failed: ${error.message}`, {
        cause: err,
        context: { pathspec: this.pathspec(task.step, task.taskId!), step: task.step },
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
    // Tasks still running belong to a run that has failed: stop them now (as Metaflow does);
    // they are recorded as failed and a resume re-runs them.
    for (const w of this.workers) if (w.task) void w.job.cancel('run failed');
    this.checkDone();
  }

  private async stopWorkers(): Promise<void> {
    this.stopping = true;
    // Warm workers the run never needed.
    for (const job of this.o.warmWorkers?.splice(0) ?? []) void job.cancel('not needed');
    const all = [...this.workers];
    for (const w of all) {
      if (w.task) void w.job.cancel('run finished');
      else w.job.channel?.send({ t: 'exit' } satisfies ToWorker);
    }
    await Promise.all(all.map((w) => w.job.result));
    await Promise.all(this.drains);
  }

  private async onDone(task: PlannedTask, outcome: TaskOutcome): Promise<void> {
    await task.started;
    const taskId = task.taskId!;
    const metadata: Record<string, string> = {
      targets: JSON.stringify(outcome.targets),
      'dispatch-ms': (outcome.enteredAt - task.dispatchedAt!).toFixed(3),
      'queue-ms': (task.dispatchedAt! - task.readyAt).toFixed(3),
      'run-ms': (outcome.finishedAt - outcome.enteredAt).toFixed(3),
    };
    if (outcome.caseValue !== undefined) metadata['switch-case'] = outcome.caseValue;
    if (outcome.foreach)
      metadata.foreach = JSON.stringify({ var: outcome.foreach.var, count: outcome.foreach.count, index: outcome.foreach.index });
    await this.o.metadata.finishAttempt(this.ref(taskId), task.attempt, { status: 'succeeded', artifacts: outcome.artifacts, metadata });
    const pathspec = this.pathspec(task.step, taskId);
    this.emit({
      type: 'task-finished',
      step: task.step,
      pathspec,
      attempt: task.attempt,
      durationMs: outcome.finishedAt - outcome.enteredAt,
    });
    const finished: Finished = { taskId, step: task.step, pathspec, manifest: outcome.artifacts };
    await this.makeReady(this.successors(task, this.o.graph.nodes[task.step]!, finished, outcome));
  }

  private successors(task: PlannedTask, node: GraphNode, done: Finished, outcome: TaskOutcome): PlannedTask[] {
    if (node.type === 'end') {
      this.endReached = true;
      return [];
    }
    const readyAt = preciseNow();
    const out: PlannedTask[] = [];
    if (node.type === 'foreach') {
      const f = outcome.foreach!;
      f.items.forEach((item: ItemRef, i: number) => {
        const frames: Frame[] = [...task.frames, { split: node.name, kind: 'foreach', slot: i, count: f.count, var: f.var, item }];
        out.push(...this.arrive(outcome.targets[0]!, frames, 0, done, readyAt));
      });
      return out;
    }
    if (node.type === 'split') {
      outcome.targets.forEach((t, i) => {
        const frames: Frame[] = [...task.frames, { split: node.name, kind: 'static', slot: i, count: outcome.targets.length }];
        out.push(...this.arrive(t, frames, 0, done, readyAt));
      });
      return out;
    }
    const target = outcome.targets[0]!;
    const iteration = node.type === 'switch' && target === node.name ? task.iteration + 1 : 0;
    return this.arrive(target, task.frames, iteration, done, readyAt);
  }

  private arrive(step: string, frames: Frame[], iteration: number, from: Finished, readyAt: number): PlannedTask[] {
    const node = this.o.graph.nodes[step]!;
    if (node.type !== 'join') {
      const key = `${step}${frameKey(frames)}${iteration ? `#${iteration}` : ''}`;
      return [{ step, key, frames, iteration, parents: [from.taskId], manifest: from.manifest, attempt: 0, readyAt }];
    }
    const closing = frames[frames.length - 1]!;
    const outer = frames.slice(0, -1);
    const key = `${step}${frameKey(outer)}`;
    let pending = this.joins.get(key);
    if (!pending) {
      pending = { expected: closing.count, arrived: 0, slots: new Array(closing.count) };
      this.joins.set(key, pending);
    }
    pending.slots[closing.slot] = from;
    if (++pending.arrived < pending.expected) return [];
    this.joins.delete(key);
    const inputs = pending.slots as Finished[];
    return [
      {
        step,
        key,
        frames: outer,
        iteration: 0,
        parents: inputs.map((i) => i.taskId),
        // A join inherits nothing but the parameters (readable in every step, as in Metaflow);
        // everything else comes through `inputs` or mergeArtifacts.
        manifest: this.o.paramsManifest,
        inputs: inputs.map((i) => ({ step: i.step, pathspec: i.pathspec, manifest: i.manifest })),
        attempt: 0,
        readyAt,
      },
    ];
  }
}
