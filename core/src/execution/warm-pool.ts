import { availableParallelism } from 'node:os';
import { deserializeError, serializeUnknownError, TributaryError, type SerializedError } from '../errors.ts';
import type { ComputeBackend, ComputeJob } from '../ports/compute-backend.ts';
import { preciseNow, type FromWorker, type ToWorker } from '../runtime/protocol.ts';
import { workerLaunchSpec } from '../runtime/worker-launch.ts';
import { sha256 } from '../util/hash.ts';
import { attemptFailure, cancelledAttempt, timedOutAttempt } from './attempt-errors.ts';
import { relayOutput } from './relay-output.ts';
import type {
  AttemptEnd,
  AttemptHandle,
  AttemptListener,
  AttemptRequest,
  ExecutorRun,
  ExecutorRunContext,
  TaskExecutor,
} from './task-executor.ts';

/** Signals a process gets for its own faults (as opposed to being killed from outside). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS', 'SIGTRAP']);

/** @public */
export interface WarmPoolOptions {
  /** Where workers run: a backend with `capabilities.ipc`. */
  compute: ComputeBackend;
  /**
   * Workers alive at once, over every run using the pool. Default: the number of cores, or the
   * largest `maxWorkers` of the runs using the pool, whichever is larger.
   */
  size?: number;
  /** Close `compute` when the pool is closed. */
  ownsCompute?: boolean;
  /** Worker jobs already launched on `compute` with `workerLaunchSpec`, used before new ones. */
  warmWorkers?: ComputeJob[];
  /**
   * Keep idle workers this long after the last run using the pool ended, for the next run (a
   * service answering one request after another). Default 0: workers exit with the last run, so
   * a script's process can end. While workers are kept, this process stays alive.
   */
  keepWarmMs?: number;
}

/** Workers load one flow module with one datastore: attempts of runs with the same context share them. */
interface Context {
  key: string;
  init: Extract<ToWorker, { t: 'init' }>;
  execArgv: string[] | undefined;
  /** Workers that died before becoming ready, weighted by how (see onExit). */
  startupDeaths: number;
}

interface Attempt {
  session: Session;
  request: AttemptRequest;
  listener: AttemptListener;
  worker?: Worker;
  ended: boolean;
  cancelled?: string;
  timer?: NodeJS.Timeout;
  timedOut?: number;
}

interface Worker {
  job: ComputeJob;
  context: Context;
  ready: boolean;
  stderrTail: string;
  attempt?: Attempt;
  /** The session of the last attempt it ran: where its output is relayed. */
  session?: Session;
  /** Exits after its current attempt: never given another one. */
  retiring?: boolean;
  /** Waiting for the worker to have stored the output of an attempt about to be stopped. */
  onFlushed?: () => void;
  /** Asked to exit (or being stopped). */
  stopping?: boolean;
  /** Settles when the process has ended and its exit was handled. */
  exited?: Promise<void>;
  /** Settles when everything it printed was relayed. */
  drained?: Promise<void>;
}

class Session implements ExecutorRun {
  readonly queue: Attempt[] = [];
  readonly running = new Set<Attempt>();
  closed = false;
  /** Called when the last running attempt of a closed session ended. */
  onIdle?: () => void;

  constructor(
    private readonly pool: WarmPool,
    readonly run: ExecutorRunContext,
    readonly context: Context,
  ) {}

  submit(request: AttemptRequest, listener: AttemptListener): AttemptHandle {
    const attempt: Attempt = { session: this, request, listener, ended: false };
    this.queue.push(attempt);
    this.pool.pump();
    return { cancel: (reason) => this.pool.cancel(attempt, reason) };
  }

  async close(): Promise<void> {
    await this.pool.closeSession(this);
  }
}

/**
 * A pool of warm task workers: long-lived processes on an IPC-capable backend that load the flow
 * once and run attempt after attempt, so a task pays neither a Node start nor a re-import. One
 * pool serves every run of a process that uses it, with one worker budget, fairly: a free worker
 * goes to the runs in turn (round robin), not to whichever run queued the most.
 * @public
 */
export class WarmPool implements TaskExecutor {
  readonly name = 'warm-pool';
  readonly needsCodePackage = false;
  readonly outOfProcess = true;
  private readonly sessions: Session[] = [];
  private readonly workers = new Set<Worker>();
  private readonly contexts = new Map<string, Context>();
  private readonly warm: ComputeJob[];
  private readonly spawning = new Map<Context, number>();
  private readonly spawns = new Set<Promise<void>>();
  private readonly drains = new Set<Promise<void>>();
  private readonly exits = new Set<Promise<void>>();
  private turn = 0;
  private closed = false;
  private idleTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly o: WarmPoolOptions) {
    if (!o.compute.capabilities.ipc)
      throw new TributaryError(
        'CONFIG',
        `Compute backend ${o.compute.name} cannot host warm workers (no IPC): use the job-per-attempt executor.`,
      );
    this.warm = o.warmWorkers ? [...o.warmWorkers] : [];
  }

  /** Hand over workers launched ahead (the CLI starts one while it loads): used before new ones. */
  adoptWarm(jobs: ComputeJob[]): void {
    this.warm.push(...jobs);
  }

  /** Worker processes alive now (for benchmarks and diagnostics). */
  get size(): number {
    return this.workers.size;
  }

  async openRun(run: ExecutorRunContext): Promise<ExecutorRun> {
    if (this.closed || this.closing) throw new TributaryError('CLOSED', 'The warm pool is closed.');
    clearTimeout(this.idleTimer);
    const datastore = run.datastore.locator;
    if (!datastore) throw new TributaryError('CONFIG', `Datastore ${run.datastore.name} has no locator, so task workers cannot open it.`);
    // The worker's environment, sent with init: the datastore's credential chain (a local
    // process, on this host) and what the user passes by name. Nothing else of ours.
    const env: Record<string, string> = {};
    for (const name of [...(run.datastore.credentialEnv ?? []), ...run.envPass]) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    const init: Extract<ToWorker, { t: 'init' }> = {
      t: 'init',
      flowModule: run.flowModule,
      flowExport: run.flowExport,
      datastore,
      flow: run.flow,
      env,
    };
    // A hash: the environment values it covers stay out of any printed state.
    const key = sha256(Buffer.from(JSON.stringify([init, run.execArgv ?? null])));
    let context = this.contexts.get(key);
    if (!context) {
      context = { key, init, execArgv: run.execArgv, startupDeaths: 0 };
      this.contexts.set(key, context);
    }
    const session = new Session(this, run, context);
    this.sessions.push(session);
    return session;
  }

  private budget(): number {
    if (this.o.size !== undefined) return Math.max(1, this.o.size);
    return Math.max(availableParallelism(), ...this.sessions.map((s) => s.run.maxWorkers));
  }

  private idleWorker(context: Context): Worker | undefined {
    for (const w of this.workers) if (w.context === context && w.ready && !w.attempt && !w.retiring) return w;
    return undefined;
  }

  /** Workers a context holds: alive and not on their way out, plus those being launched. */
  private held(context: Context): number {
    let n = this.spawning.get(context) ?? 0;
    for (const w of this.workers) if (w.context === context && !w.retiring) n++;
    return n;
  }

  /**
   * Each context with work (attempts queued or running) may hold an equal part of the budget; a
   * context below its part with attempts waiting is starved, and gets the room of one above it.
   */
  private fairness(): { share: number; starved: Context[] } {
    const demand = new Map<Context, number>();
    // An open run counts even between two of its tasks (it is committing one, about to queue the
    // next): taking its last worker then would cost it a process start per task.
    for (const s of this.sessions)
      if (!s.closed) demand.set(s.context, (demand.get(s.context) ?? 0) + Math.max(1, s.queue.length + s.running.size));
    const active = [...demand.values()].filter((n) => n > 0).length;
    const share = Math.max(1, Math.floor(this.budget() / Math.max(1, active)));
    const starved: Context[] = [];
    for (const s of this.sessions) {
      const c = s.context;
      if (s.queue.length > 0 && !starved.includes(c) && this.held(c) < Math.min(share, demand.get(c) ?? 0)) starved.push(c);
    }
    return { share, starved };
  }

  /** Give free workers to queued attempts, runs taking turns; start workers where needed. */
  pump(): void {
    if (this.closed) return;
    for (let progress = true; progress;) {
      progress = false;
      for (let i = 0; i < this.sessions.length; i++) {
        const index = (this.turn + i) % this.sessions.length;
        const session = this.sessions[index]!;
        if (session.queue.length === 0) continue;
        const w = this.idleWorker(session.context);
        if (!w) continue;
        // Another flow waits below its share while this one is above it: the worker makes room.
        const { share, starved } = this.fairness();
        if (starved.some((c) => c !== w.context) && this.held(w.context) > share) {
          this.retire(w, 'making room for another flow');
          progress = true;
          break;
        }
        this.dispatch(w, session.queue.shift()!);
        this.turn = (index + 1) % this.sessions.length;
        progress = true;
        break;
      }
    }
    // Start workers for what is still queued, within the budget: starved contexts first.
    const wanted = new Map<Context, number>();
    for (const s of this.sessions) wanted.set(s.context, (wanted.get(s.context) ?? 0) + s.queue.length);
    for (const w of this.workers) if (!w.ready && !w.retiring) wanted.set(w.context, (wanted.get(w.context) ?? 0) - 1);
    for (const [c, n] of this.spawning) wanted.set(c, (wanted.get(c) ?? 0) - n);
    const { share, starved } = this.fairness();
    const order = [...wanted.keys()].sort(
      (x, y) => Number(starved.includes(y)) - Number(starved.includes(x)) || this.held(x) - this.held(y),
    );
    // Workers on their way out still count: the budget is a bound on processes alive at once.
    let total = this.workers.size;
    for (const n of this.spawning.values()) total += n;
    for (let more = true; more;) {
      more = false;
      for (const context of order) {
        const n = wanted.get(context) ?? 0;
        if (n <= 0) continue;
        if (total >= this.budget()) {
          if (starved.includes(context)) this.makeRoom(context, share);
          continue;
        }
        wanted.set(context, n - 1);
        total++;
        const spawned = this.spawn(context);
        this.spawns.add(spawned);
        void spawned.then(() => this.spawns.delete(spawned));
        more = true;
      }
    }
  }

  /**
   * The budget is full and `context` is below its share: retire an idle worker of another context
   * (one nobody waits for first, else one above its share). Its exit makes the room (onExit pumps).
   */
  private makeRoom(context: Context, share: number): void {
    // One at a time: a worker already on its way out makes the room.
    for (const w of this.workers) if (w.stopping && !w.attempt) return;
    const idle = [...this.workers].filter((w) => w.context !== context && !w.attempt && !w.retiring && w.ready);
    // First a worker no open run uses (left from runs that ended), else one of a context above its share.
    const victim =
      idle.find((w) => !this.sessions.some((s) => s.context === w.context && !s.closed)) ?? idle.find((w) => this.held(w.context) > share);
    if (victim) this.retire(victim, 'making room for another flow');
  }

  /** Take a worker out of service: it gets nothing more, is asked to exit, and is stopped if it does not. */
  private retire(w: Worker, reason: string): void {
    if (w.stopping) return;
    w.retiring = true;
    w.stopping = true;
    if (w.attempt || !w.job.channel?.send({ t: 'exit' } satisfies ToWorker)) {
      void w.job.cancel(reason);
      return;
    }
    // A worker whose event loop is held (code a step left behind) cannot act on `exit`.
    setTimeout(() => void w.job.cancel(`${reason}: it did not exit`), 3000).unref();
  }

  private async spawn(context: Context): Promise<void> {
    this.spawning.set(context, (this.spawning.get(context) ?? 0) + 1);
    try {
      // A worker started ahead (the CLI starts one while it loads) is used first.
      const job =
        (context.execArgv === undefined ? this.warm.shift() : undefined) ??
        (await this.o.compute.launch(workerLaunchSpec(`${context.init.flow} worker`, context.execArgv)));
      if (!job.channel) throw new TributaryError('CONFIG', `Compute backend ${this.o.compute.name} gave no IPC channel.`);
      const worker: Worker = { job, context, ready: false, stderrTail: '' };
      this.workers.add(worker);
      const drained = relayOutput(job, (stream, text) => {
        if (stream === 'stderr') worker.stderrTail = (worker.stderrTail + text).slice(-4000);
        const run = (worker.attempt?.session ?? worker.session)?.run;
        if (run?.onTaskOutput) run.onTaskOutput(stream, text);
        else if (run?.echoLogs) process[stream].write(text);
      });
      worker.drained = drained;
      this.drains.add(drained);
      void drained.then(() => this.drains.delete(drained));
      job.channel.onMessage((m) => this.onMessage(worker, m as FromWorker));
      const exit = job.result.then((r) => this.onExit(worker, r.failure?.message ?? `exit code ${r.exitCode}`, r.signal));
      worker.exited = exit;
      this.exits.add(exit);
      void exit.then(() => this.exits.delete(exit));
      job.channel.send(context.init);
    } catch (err) {
      const error = TributaryError.is(err)
        ? err
        : new TributaryError('COMPUTE_FAILED', `Could not start a worker: ${(err as Error).message}`, { cause: err });
      this.fatal(context, error);
    } finally {
      this.spawning.set(context, (this.spawning.get(context) ?? 1) - 1);
    }
  }

  /** A context cannot run anything: every run using it fails. */
  private fatal(context: Context, error: TributaryError): void {
    for (const s of this.sessions) {
      if (s.context !== context) continue;
      for (const a of [...s.queue, ...s.running]) a.listener.fatal(error);
    }
  }

  private dispatch(w: Worker, attempt: Attempt): void {
    const at = preciseNow();
    attempt.worker = w;
    w.attempt = attempt;
    w.session = attempt.session;
    attempt.session.running.add(attempt);
    attempt.listener.dispatched(at);
    const seconds = attempt.request.timeoutSeconds;
    if (seconds !== undefined) {
      // @timeout: the worker is stopped (it may be stuck in a loop no signal inside it can
      // break), and the attempt fails as TIMEOUT, which @retry may retry.
      attempt.timer = setTimeout(() => {
        attempt.timedOut = seconds;
        // What the step printed is stored first (it is what its owner will want to read), unless
        // the worker is too stuck to answer within a second.
        w.retiring = true; // whatever happens now, it gets no other attempt
        const stop = () => void w.job.cancel(`@timeout of ${seconds}s`);
        w.onFlushed = stop;
        if (!w.job.channel?.send({ t: 'flush' } satisfies ToWorker)) stop();
        else setTimeout(stop, 1000).unref();
      }, seconds * 1000);
      attempt.timer.unref();
    }
    w.job.channel!.send({ t: 'task', spec: { ...attempt.request.spec, dispatchedAt: at } } satisfies ToWorker);
  }

  private end(attempt: Attempt, end: AttemptEnd): void {
    if (attempt.ended) return;
    attempt.ended = true;
    clearTimeout(attempt.timer);
    attempt.session.running.delete(attempt);
    if (attempt.worker?.attempt === attempt) attempt.worker.attempt = undefined;
    attempt.listener.ended(end);
    if (attempt.session.running.size === 0) attempt.session.onIdle?.();
  }

  private onMessage(w: Worker, m: FromWorker): void {
    const attempt = w.attempt;
    switch (m.t) {
      case 'retiring':
        w.retiring = true;
        return;
      case 'flushed':
        w.onFlushed?.();
        w.onFlushed = undefined;
        return;
      case 'ready':
        w.ready = true;
        w.context.startupDeaths = 0;
        this.pump();
        return;
      case 'fatal':
        // It cannot load the flow: it serves nobody, and holds no room.
        this.retire(w, 'the flow does not load');
        this.fatal(w.context, deserializeError(m.error));
        return;
      case 'rpc': {
        const reply = (error?: SerializedError) =>
          void w.job.channel?.send({ t: 'rpc-result', id: m.id, ...(error ? { error } : {}) } satisfies ToWorker);
        // A checkpoint saved by code a finished task left behind belongs to no attempt running now.
        if (!attempt || attempt.request.spec.taskId !== m.taskId)
          return reply(
            serializeUnknownError(new TributaryError('ABORTED', `Task ${m.taskId} is not running: its checkpoint is not recorded.`)),
          );
        attempt.listener.checkpoint(m.record).then(
          () => reply(),
          (err) => reply(serializeUnknownError(err)),
        );
        return;
      }
      case 'entered':
        attempt?.listener.entered(m.at);
        return;
      case 'done':
        if (attempt) this.end(attempt, { status: 'succeeded', outcome: m.outcome });
        this.pump();
        return;
      case 'failed':
        if (attempt) this.end(attempt, { status: 'failed', error: m.error });
        this.pump();
        return;
    }
  }

  private onExit(w: Worker, why: string, signal: string | null): void {
    this.workers.delete(w);
    const context = w.context;
    if (!w.ready && !w.retiring && !this.closed && this.sessions.some((s) => s.context === context && !s.closed)) {
      // A worker killed while starting is replaced; one that keeps dying before 'ready' means the
      // flow module itself cannot load (a syntax error, a native addon that crashes on import),
      // and respawning would loop. A kill from outside (SIGKILL/SIGTERM: OOM killer, an operator)
      // says less about the module, so those get more chances; none resets the count but a ready worker.
      context.startupDeaths += signal === null || CRASH_SIGNALS.has(signal) ? 1 : 1 / 4;
      if (context.startupDeaths >= 3) {
        const tail = w.stderrTail.trim();
        this.fatal(
          context,
          new TributaryError(
            'FLOW_LOAD',
            `Workers keep exiting while loading ${context.init.flowModule} (last: ${why}).${tail ? `\n${tail}` : ''}`,
          ),
        );
        return;
      }
    }
    const attempt = w.attempt;
    if (attempt) {
      const pathspec = attempt.request.spec.pathspec;
      if (attempt.timedOut !== undefined) this.end(attempt, { status: 'failed', error: timedOutAttempt(pathspec, attempt.timedOut) });
      else if (attempt.cancelled !== undefined) this.end(attempt, { status: 'failed', error: cancelledAttempt(attempt.cancelled) });
      else {
        const message = `The worker running ${pathspec} died (${why}). Its attempt is recorded as failed.`;
        this.end(attempt, { status: 'failed', error: attemptFailure('WORKER_LOST', message, true, pathspec) });
      }
    }
    this.pump();
  }

  /** @internal */
  cancel(attempt: Attempt, reason: string): void {
    if (attempt.ended) return;
    attempt.cancelled ??= reason;
    const queued = attempt.session.queue.indexOf(attempt);
    if (queued >= 0) {
      attempt.session.queue.splice(queued, 1);
      this.end(attempt, { status: 'failed', error: cancelledAttempt(reason) });
      return;
    }
    if (attempt.worker) {
      // Whether or not its `done` arrives before the kill, the worker gets no other attempt.
      attempt.worker.retiring = true;
      void attempt.worker.job.cancel(reason);
    }
  }

  /** @internal */
  async closeSession(session: Session): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    for (const a of [...session.queue, ...session.running]) this.cancel(a, 'run finished');
    // Its attempts end when their workers have exited.
    if (session.running.size > 0) await new Promise<void>((resolve) => (session.onIdle = resolve));
    this.sessions.splice(this.sessions.indexOf(session), 1);
    if (this.sessions.length > 0) this.pump();
    else if (this.o.keepWarmMs) this.idleTimer = setTimeout(() => void this.stopAll(), this.o.keepWarmMs);
    else await this.stopAll();
  }

  /** No run uses the pool: workers exit, and everything they printed is relayed before this resolves. */
  private async stopAll(): Promise<void> {
    // A worker being launched now would outlive the pool: let the launches land first.
    await Promise.all([...this.spawns]);
    // A run that arrived meanwhile keeps the pool.
    if (this.sessions.length > 0 && !this.closed) return;
    for (const job of this.warm.splice(0)) void job.cancel('not needed');
    const all = [...this.workers];
    for (const w of all) this.retire(w, 'pool stopped');
    // Only these workers: ones a run that opened meanwhile starts are not waited for.
    await Promise.all(all.map((w) => w.exited));
    await Promise.all(all.map((w) => w.drained));
  }

  async close(): Promise<void> {
    // Refuse new runs first: a run opening while the pool closes would never be served.
    this.closing = true;
    for (const s of [...this.sessions]) await this.closeSession(s);
    clearTimeout(this.idleTimer);
    this.closed = true;
    await this.stopAll();
    if (this.o.ownsCompute) await this.o.compute.close();
  }
}
