import { fileURLToPath } from 'node:url';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { deserializeError, TributaryError, type ErrorCode } from '../errors.ts';
import type { ComputeBackend, ComputeJob, JobResult, LaunchSpec } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import { preciseNow, type CheckpointRecord } from '../runtime/protocol.ts';
import { attemptKeys, type JobOutcome, type JobSpec, type JobSpecArray } from './job-spec.ts';
import { jobEnvironment } from './job-environment.ts';
import { localJobSlots } from './local-job-slots.ts';
import { relayOutput } from './relay-output.ts';
import { tailTaskLogs } from './log-tail.ts';
import { attemptFailure, cancelledAttempt, timedOutAttempt } from './attempt-errors.ts';
import type {
  AttemptEnd,
  AttemptHandle,
  AttemptListener,
  AttemptRequest,
  ExecutorRun,
  ExecutorRunContext,
  TaskExecutor,
} from './task-executor.ts';

/** @public */
export interface JobExecutorOptions {
  /** Where jobs run: any backend (no IPC needed). */
  compute: ComputeBackend;
  /** Close `compute` when the executor is closed. */
  ownsCompute?: boolean;
  /** How often a running task stores its output (ms), so `tributary logs` shows it live. Default 2000. */
  logFlushMs?: number;
  /**
   * `@timeout` is enforced by the job from when the step's code is entered; the backend's own limit
   * (`timeoutMs`, for a step that blocks its event loop) adds this much for the job's start-up
   * (process, image pull, code package). Default 30000.
   */
  startupAllowanceMs?: number;
}

/** How a job that wrote no outcome failed, by the backend's account. */
const FAILURE_CODES: Record<string, ErrorCode> = {
  TIMEOUT: 'TIMEOUT',
  COMPUTE_OOM: 'COMPUTE_OOM',
  COMPUTE_PREEMPTED: 'COMPUTE_PREEMPTED',
  COMPUTE_UNSCHEDULABLE: 'COMPUTE_UNSCHEDULABLE',
  CANCELLED: 'ABORTED',
  LAUNCH_FAILED: 'COMPUTE_FAILED',
};

function taskMainPath(): { path: string; fromSource: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  return { path: fileURLToPath(new URL(fromSource ? './task-main.ts' : './task-main.js', import.meta.url)), fromSource };
}

/**
 * One job per attempt, on any ComputeBackend: the attempt's spec is stored in the datastore and
 * the job is started with its address only; the job fetches the run's code package, runs the
 * attempt and stores its outcome, checkpoints and logs in the datastore; when the job has ended,
 * this executor reads them back and reports to the scheduler. No IPC, and the job needs no
 * metadata credentials: the path every remote backend takes.
 * @public
 */
export class JobExecutor implements TaskExecutor {
  readonly name = 'jobs';
  readonly needsCodePackage = true;
  readonly outOfProcess = true;

  constructor(private readonly o: JobExecutorOptions) {}

  async openRun(run: ExecutorRunContext): Promise<ExecutorRun> {
    const locator = run.datastore.locator;
    if (!locator) throw new TributaryError('CONFIG', `Datastore ${run.datastore.name} has no locator, so task jobs cannot open it.`);
    if (!run.codePackage) throw new TributaryError('CONFIG', 'One job per attempt needs the run to have a code package.');
    return new JobRun(this.o, run, locator, run.codePackage.sha);
  }

  async close(): Promise<void> {
    if (this.o.ownsCompute) await this.o.compute.close();
  }
}

class JobRun implements ExecutorRun {
  private readonly store: ArtifactStore;
  private readonly jobs = new Set<Promise<void>>();
  /** Jobs on this machine share one budget with the other runs of this process. */
  private readonly leaveSlots?: () => void;

  constructor(
    private readonly o: JobExecutorOptions,
    private readonly run: ExecutorRunContext,
    private readonly locator: NonNullable<Datastore['locator']>,
    private readonly codePackage: string,
  ) {
    this.store = new ArtifactStore(run.datastore, run.flow);
    if (o.compute.capabilities.local) this.leaveSlots = localJobSlots.join(run.maxWorkers);
  }

  submit(request: AttemptRequest, listener: AttemptListener): AttemptHandle {
    const attempt = new Attempt(request, listener);
    this.track(this.runSingle(attempt), [attempt]);
    return attempt.handle();
  }

  /**
   * Splits of one foreach as one array job, when the backend has them (`launchArray`) and they
   * are alike (first attempts, same resources, timeout and settings). Otherwise undefined: the
   * scheduler submits them one by one.
   */
  submitArray(items: Array<{ request: AttemptRequest; listener: AttemptListener }>): AttemptHandle[] | undefined {
    const { compute } = this.o;
    if (!compute.launchArray || !compute.arrayIndexEnv || items.length < 2) return undefined;
    const first = items[0]!.request;
    const same = (r: AttemptRequest) =>
      r.spec.attempt === 0 &&
      r.spec.step === first.spec.step &&
      r.timeoutSeconds === first.timeoutSeconds &&
      JSON.stringify(r.resources) === JSON.stringify(first.resources) &&
      JSON.stringify(r.compute) === JSON.stringify(first.compute);
    if (!items.every((i) => same(i.request))) return undefined;
    const attempts = items.map((i) => new Attempt(i.request, i.listener));
    this.track(this.runArray(attempts), attempts);
    return attempts.map((a) => a.handle());
  }

  private track(done: Promise<void>, attempts: Attempt[]): void {
    const guarded = done.catch((err) => {
      for (const a of attempts)
        a.end({
          status: 'failed',
          error: attemptFailure('INFRASTRUCTURE', `Could not run ${a.request.spec.pathspec} as a job: ${(err as Error).message}`, true),
        });
    });
    this.jobs.add(guarded);
    void guarded.then(() => this.jobs.delete(guarded));
  }

  private jobSpecOf(request: AttemptRequest): JobSpec {
    const { spec } = request;
    return {
      format: 1,
      spec,
      flowExport: this.run.flowExport,
      datastore: this.locator,
      codePackage: this.codePackage,
      keys: attemptKeys(spec.pathspec, spec.attempt),
      logFlushMs: this.o.logFlushMs ?? 2000,
      ...(request.timeoutSeconds !== undefined ? { timeoutSeconds: request.timeoutSeconds } : {}),
    };
  }

  /** The job's command, environment and limits (`pathspec` names the task, or the step of an array). */
  private launchSpecOf(request: AttemptRequest, specSha: string, pathspec: string, array: boolean): LaunchSpec {
    const { spec } = request;
    const local = this.o.compute.capabilities.local === true;
    const entry = this.o.compute.taskEntry;
    let command: string;
    let args: string[];
    if (entry) {
      command = entry.command;
      args = [...entry.args, specSha];
    } else {
      const { path, fromSource } = taskMainPath();
      args = this.run.execArgv ? [...this.run.execArgv] : ['--enable-source-maps'];
      if (!this.run.execArgv && fromSource) args.push('--conditions=tributary-source', '--import', import.meta.resolve('tsx'));
      command = process.execPath;
      args.push(path, specSha);
    }
    if (array) args.push('--index-env', this.o.compute.arrayIndexEnv!);
    const env = jobEnvironment({
      identity: {
        // A task process, as a warm worker is (adapters keep per-process notices to the orchestrator).
        TRIBUTARY_WORKER: '1',
        TRIBUTARY_DATASTORE: JSON.stringify(this.locator),
        TRIBUTARY_FLOW: this.run.flow,
        TRIBUTARY_PATHSPEC: array ? pathspec : `${pathspec}/${spec.attempt}`,
        // On this machine the package is unpacked where the project's native packages resolve.
        ...(local ? { TRIBUTARY_EXIT_WITH_LAUNCHER: '1' } : {}),
        ...(local && this.run.projectRoot
          ? {
              TRIBUTARY_CODE_CACHE: `${this.run.projectRoot}/node_modules/.cache/tributary/code`,
              TRIBUTARY_PROJECT_ROOT: this.run.projectRoot,
            }
          : {}),
      },
      envPass: this.run.envPass,
      credentialEnv: this.run.datastore.credentialEnv ?? [],
    });
    return {
      name: array ? pathspec : `${pathspec}/${spec.attempt}`,
      command,
      args,
      env: env.env,
      inheritEnv: env.inheritEnv,
      identity: {
        flow: spec.flow,
        runId: spec.runId,
        step: spec.step,
        ...(array ? {} : { taskId: spec.taskId }),
        attempt: spec.attempt,
        ...(this.run.user ? { user: this.run.user } : {}),
      },
      ...(request.compute ? { settings: request.compute.settings } : {}),
      ...(request.resources ? { resources: request.resources } : {}),
      ...(request.timeoutSeconds !== undefined ? { timeoutMs: request.timeoutSeconds * 1000 + (this.o.startupAllowanceMs ?? 30_000) } : {}),
    };
  }

  private async runSingle(attempt: Attempt): Promise<void> {
    const { request } = attempt;
    const specSha = await this.store.putBlob(Buffer.from(JSON.stringify(this.jobSpecOf(request))));
    if (attempt.signal.aborted) return attempt.end({ status: 'failed', error: cancelledAttempt('the run stopped') });
    const launch = this.launchSpecOf(request, specSha, request.spec.pathspec, false);
    let release = () => {};
    if (this.o.compute.capabilities.local) {
      try {
        release = await localJobSlots.acquire(attempt.signal);
      } catch {
        return attempt.end({ status: 'failed', error: cancelledAttempt('the run stopped') });
      }
    }
    let job: ComputeJob;
    try {
      job = await this.o.compute.launch(launch, { signal: attempt.signal });
    } catch (err) {
      release();
      return attempt.end(this.launchFailure(err, attempt.signal));
    }
    await this.follow(attempt, job);
    release();
  }

  private async runArray(attempts: Attempt[]): Promise<void> {
    const blob: JobSpecArray = { format: 1, children: attempts.map((a) => this.jobSpecOf(a.request)) };
    const specSha = await this.store.putBlob(Buffer.from(JSON.stringify(blob)));
    const first = attempts[0]!.request.spec;
    const controller = new AbortController();
    // The array is launched unless every child was cancelled meanwhile.
    const live = () => attempts.some((a) => !a.signal.aborted);
    for (const a of attempts) a.signal.addEventListener('abort', () => !live() && controller.abort(), { once: true });
    if (!live()) {
      for (const a of attempts) a.end({ status: 'failed', error: cancelledAttempt('the run stopped') });
      return;
    }
    const launch = this.launchSpecOf(attempts[0]!.request, specSha, `${first.flow}/${first.runId}/${first.step}`, true);
    let jobs: ComputeJob[];
    try {
      jobs = await this.o.compute.launchArray!(launch, attempts.length, { signal: controller.signal, parallelism: this.run.maxWorkers });
    } catch (err) {
      for (const a of attempts) a.end(this.launchFailure(err, controller.signal));
      return;
    }
    await Promise.all(attempts.map((a, i) => this.follow(a, jobs[i]!)));
  }

  private launchFailure(err: unknown, signal: AbortSignal): AttemptEnd {
    if (signal.aborted) return { status: 'failed', error: cancelledAttempt('the run stopped') };
    const e = TributaryError.is(err) ? err : new TributaryError('COMPUTE_FAILED', `Cannot start a job: ${(err as Error).message}`);
    return { status: 'failed', error: { ...e.toJSON(), retryable: true } };
  }

  /** From a launched job to the attempt's end: relay its output, then read back what it stored. */
  private async follow(attempt: Attempt, job: ComputeJob): Promise<void> {
    attempt.started(job);
    attempt.listener.dispatched(preciseNow());
    const echo = (stream: 'stdout' | 'stderr', text: string) => {
      if (this.run.onTaskOutput) this.run.onTaskOutput(stream, text);
      else if (this.run.echoLogs) process[stream].write(text);
    };
    const { spec } = attempt.request;
    const relayed = relayOutput(job, echo);
    // A backend that shows no output: what the task stores in the datastore is shown as it arrives.
    const tail =
      this.o.compute.capabilities.output === 'none' && (this.run.echoLogs || this.run.onTaskOutput)
        ? tailTaskLogs(this.run.datastore, (stream) => `${spec.logKeyPrefix}/${spec.attempt}.${stream}.log`, `[${spec.pathspec}] `, echo)
        : undefined;
    const result = await job.result;
    await relayed;
    await tail?.stop();
    const keys = attemptKeys(spec.pathspec, spec.attempt);
    // Checkpoints the job recorded are committed first, even for a killed job: the next attempt resumes from them.
    await this.commitCheckpoints(keys.checkpoints, attempt.listener);
    const outcome = await this.readOutcome(keys.outcome);
    attempt.end(this.endOf(spec.pathspec, attempt.request, result, outcome, attempt.signal.aborted, attempt.listener));
  }

  private endOf(
    pathspec: string,
    request: AttemptRequest,
    result: JobResult,
    outcome: JobOutcome | undefined,
    aborted: boolean,
    listener: AttemptListener,
  ): AttemptEnd {
    if (outcome?.status === 'succeeded' && result.status === 'succeeded') {
      listener.entered(outcome.outcome.enteredAt);
      return { status: 'succeeded', outcome: outcome.outcome };
    }
    if (aborted || result.failure?.kind === 'CANCELLED') return { status: 'failed', error: cancelledAttempt('the run stopped') };
    if (outcome?.status === 'failed') {
      if (outcome.enteredAt !== undefined) listener.entered(outcome.enteredAt);
      if (outcome.fatal) listener.fatal(deserializeError(outcome.error));
      return { status: 'failed', error: outcome.error };
    }
    const kind = result.failure?.kind ?? 'NON_ZERO_EXIT';
    if (kind === 'TIMEOUT') return { status: 'failed', error: timedOutAttempt(pathspec, request.timeoutSeconds!) };
    const code = FAILURE_CODES[kind] ?? 'WORKER_LOST';
    return {
      status: 'failed',
      error: attemptFailure(
        code,
        `The job running ${pathspec} ended without an outcome (${result.failure?.message ?? `exit code ${result.exitCode}`}).`,
        true,
        pathspec,
      ),
    };
  }

  private async readOutcome(key: string): Promise<JobOutcome | undefined> {
    try {
      return JSON.parse(Buffer.from(await this.run.datastore.get(key)).toString('utf8')) as JobOutcome;
    } catch (err) {
      if (TributaryError.is(err) && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  private async commitCheckpoints(prefix: string, listener: AttemptListener): Promise<void> {
    let cursor: string | undefined;
    const keys: string[] = [];
    do {
      const page = await this.run.datastore.list(prefix, cursor ? { cursor } : {});
      keys.push(...page.keys);
      cursor = page.cursor;
    } while (cursor);
    for (const key of keys.sort()) {
      const record = JSON.parse(Buffer.from(await this.run.datastore.get(key)).toString('utf8')) as CheckpointRecord;
      await listener.checkpoint(record);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.jobs]);
    this.leaveSlots?.();
  }
}

/** One attempt as this executor tracks it: its cancel signal, its job once launched, and its single end. */
class Attempt {
  private readonly controller = new AbortController();
  private job?: ComputeJob;
  private over = false;

  constructor(
    readonly request: AttemptRequest,
    readonly listener: AttemptListener,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  started(job: ComputeJob): void {
    this.job = job;
    if (this.signal.aborted) void job.cancel('the run stopped');
  }

  end(end: AttemptEnd): void {
    if (this.over) return;
    this.over = true;
    this.listener.ended(end);
  }

  handle(): AttemptHandle {
    return {
      cancel: (reason) => {
        this.controller.abort();
        void this.job?.cancel(reason);
      },
    };
  }
}
