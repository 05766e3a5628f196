/**
 * The job state machine, as real Batch runs it:
 * SUBMITTED → (PENDING while dependencies run) → RUNNABLE → (capacity) → STARTING → RUNNING →
 * SUCCEEDED | FAILED, `stepMs` apart, so pollers really see the intermediate states. A failed attempt
 * goes back to RUNNABLE while `retryStrategy` allows; a timed-out or terminated one never does (the
 * real service's rule). An array parent stays PENDING while its children run, and ends when they all
 * have: SUCCEEDED if every child did, else FAILED.
 */
import { randomUUID } from 'node:crypto';
import type { ContainerExit, ContainerRuntime } from '@tributary/conformance/testing';
import { CapacityScheduler } from './capacity.ts';
import type { JobFaults } from './faults.ts';
import { ACCOUNT, isDone, toJobDetail, type Attempt, type BatchWorld, type EmulatedJob } from './model.ts';
import { shouldRetry, type AttemptOutcome } from './retry-rules.ts';
import {
  ARRAY_CHILD_FAILED,
  ATTEMPT_TIMEOUT,
  DEPENDENT_JOB_FAILED,
  ESSENTIAL_CONTAINER_EXITED,
  HOST_TERMINATED,
  OUT_OF_MEMORY,
  TASK_FAILED_TO_START,
  cannotPull,
  cannotStart,
} from './status-reasons.ts';

export interface JobEngineOptions {
  world: BatchWorld;
  stepMs: number;
  runtime: ContainerRuntime;
  faults: JobFaults;
  /** What the platform adds to every container, under the job's own environment. */
  containerEnv: Record<string, string>;
}

/** How an attempt ended: what the retry rules see, plus whether it may be retried at all. */
interface Ending extends AttemptOutcome {
  succeeded?: boolean;
  /** Timeouts and TerminateJob end the job whatever the retry strategy says. */
  final?: boolean;
}

export class JobEngine {
  /** Every job and array child, in creation order. */
  private readonly jobs = new Map<string, EmulatedJob>();
  private readonly live = new Set<NonNullable<Attempt['process']>>();
  private readonly scheduler: CapacityScheduler<EmulatedJob>;
  // One "cluster" and "instance" per emulator, for taskArn / containerInstanceArn.
  private readonly clusterId = randomUUID();
  private readonly instanceId = randomUUID().replaceAll('-', '');
  private closed = false;

  constructor(private readonly options: JobEngineOptions) {
    this.scheduler = new CapacityScheduler(
      options.world.computeEnvironment.maxVcpus,
      (job) => this.admit(job),
      (job) => this.starting(job),
    );
  }

  /** Containers running now. */
  get running(): number {
    return this.live.size;
  }

  /** vCPUs held by STARTING and RUNNING jobs. */
  get usedVcpus(): number {
    return this.scheduler.usedVcpus;
  }

  get(id: string): EmulatedJob | undefined {
    return this.jobs.get(id);
  }

  all(): EmulatedJob[] {
    return [...this.jobs.values()];
  }

  /** Takes a job (with its array children) in as SUBMITTED. */
  submit(job: EmulatedJob): void {
    for (const j of [job, ...(job.children ?? [])]) {
      this.jobs.set(j.id, j);
      this.after(j, () => this.leaveSubmitted(j));
    }
  }

  /**
   * TerminateJob (`how: 'terminate'`) stops the container of a STARTING or RUNNING job; CancelJob
   * leaves those alone, as the real API does ("jobs that progressed to STARTING or RUNNING aren't
   * canceled"). Both fail an earlier job with `reason` without running it. No-op on finished jobs.
   * @returns whether the job (or one of an array's children) was affected.
   */
  terminate(job: EmulatedJob, reason: string, how: 'terminate' | 'cancel'): boolean {
    if (job.children) {
      const affected = job.children.map((c) => this.terminate(c, reason, how)).some(Boolean);
      if (affected && !isDone(job)) {
        job.endReason = reason;
        if (how === 'cancel') job.isCancelled = true;
        else job.isTerminated = true;
      }
      return affected;
    }
    if (isDone(job) || (how === 'cancel' && (job.status === 'STARTING' || job.status === 'RUNNING'))) return false;
    if (how === 'cancel') job.isCancelled = true;
    else job.isTerminated = true;
    const process = job.current?.process;
    if (job.status === 'RUNNING' && process) {
      // The attempt ends when the container does; its exit handler fails the job with this reason.
      job.current!.stopReason = reason;
      process.stop();
      return true;
    }
    job.current = undefined;
    this.finish(job, 'FAILED', reason);
    return true;
  }

  /** The job (and its children) disappears from the API, as if purged; its container is killed. */
  vanish(job: EmulatedJob): void {
    for (const j of [job, ...(job.children ?? [])]) {
      this.jobs.delete(j.id);
      clearTimeout(j.timer);
      clearTimeout(j.current?.faultTimer);
      j.current?.process?.kill();
      j.current = undefined;
      this.scheduler.withdraw(j);
      this.scheduler.release(j);
    }
  }

  /** Stops every transition; the caller closes the runtime, which kills what still runs. */
  close(): void {
    this.closed = true;
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      clearTimeout(job.current?.faultTimer);
    }
  }

  // --- transitions -------------------------------------------------------------------------

  /** Runs `fn` one step from now, unless the job vanished or the emulator stopped meanwhile. */
  private after(job: EmulatedJob, fn: () => void): void {
    clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (!this.closed && this.jobs.get(job.id) === job) fn();
    }, this.options.stepMs);
  }

  private leaveSubmitted(job: EmulatedJob): void {
    if (job.children) {
      job.status = 'PENDING';
      return;
    }
    const dependencies = this.dependencyState(job);
    if (dependencies === 'failed') return this.failDependent(job);
    if (dependencies === 'ready') return this.toRunnable(job);
    job.status = 'PENDING';
  }

  /** Plain `jobId` dependencies (array children inherit their parent's); N_TO_N and SEQUENTIAL are not modelled. */
  private dependencyState(job: EmulatedJob): 'ready' | 'waiting' | 'failed' {
    const ids = (job.parent ?? job).dependsOn.flatMap((d) => (d.jobId ? [d.jobId] : []));
    const dependencies = ids.map((id) => this.jobs.get(id));
    if (dependencies.some((d) => d?.status === 'FAILED')) return 'failed';
    return dependencies.every((d) => d?.status === 'SUCCEEDED') ? 'ready' : 'waiting';
  }

  private failDependent(job: EmulatedJob): void {
    if (job.parent && !isDone(job.parent)) job.parent.endReason ??= DEPENDENT_JOB_FAILED;
    this.finish(job, 'FAILED', DEPENDENT_JOB_FAILED);
  }

  /** A job finished: the PENDING jobs that depend on it may move on, or fail with it. */
  private releaseDependents(done: EmulatedJob): void {
    for (const job of this.jobs.values()) {
      if (job.status !== 'PENDING' || job.children || job.timer) continue;
      if (!(job.parent ?? job).dependsOn.some((d) => d.jobId === done.id)) continue;
      const dependencies = this.dependencyState(job);
      if (dependencies === 'failed') this.failDependent(job);
      else if (dependencies === 'ready') this.after(job, () => this.toRunnable(job));
    }
  }

  /** Queued for capacity; it may start one step from now at the earliest. */
  private toRunnable(job: EmulatedJob): void {
    job.status = 'RUNNABLE';
    job.eligible = false;
    this.scheduler.enqueue(job);
    this.after(job, () => {
      job.eligible = true;
      this.scheduler.pump();
    });
  }

  /** Asked by the scheduler once the job fits: faults are decided here, once per attempt. */
  private admit(job: EmulatedJob): boolean {
    if (!job.eligible || job.stuck) return false;
    const fault = this.options.faults.take(toJobDetail(job));
    if (fault?.fault === 'stuck-runnable') {
      job.stuck = true;
      return false;
    }
    const { region, computeEnvironment } = this.options.world;
    const taskId = randomUUID().replaceAll('-', '');
    const cluster = `${computeEnvironment.name}_Batch_${this.clusterId}`;
    job.current = {
      taskArn: `arn:aws:ecs:${region}:${ACCOUNT}:task/${cluster}/${taskId}`,
      containerInstanceArn: `arn:aws:ecs:${region}:${ACCOUNT}:container-instance/${cluster}/${this.instanceId}`,
      logStreamName: `${job.definition.jobDefinitionName}/default/${taskId}`,
      ...(fault ? { fault } : {}),
    };
    return true;
  }

  private starting(job: EmulatedJob): void {
    job.eligible = false;
    job.status = 'STARTING';
    const image = job.definition.containerProperties?.image ?? '';
    this.after(job, () => (job.current?.fault?.fault === 'image-pull' ? this.failToStart(job, cannotPull(image)) : this.run(job)));
  }

  private failToStart(job: EmulatedJob, reason: string): void {
    this.endAttempt(job, { reason, statusReason: TASK_FAILED_TO_START });
  }

  private run(job: EmulatedJob): void {
    const attempt = job.current!;
    if (job.command.length === 0) {
      // A real container would run its image's CMD; here there is no image to have one.
      return this.failToStart(job, cannotStart('no command: neither containerOverrides.command nor containerProperties.command is set'));
    }
    let process: NonNullable<Attempt['process']>;
    try {
      const seconds = job.timeout?.attemptDurationSeconds;
      process = this.options.runtime.run({
        argv: job.command,
        env: this.containerEnv(job),
        ...(job.memoryMiB !== undefined ? { memoryLimitMiB: job.memoryMiB } : {}),
        ...(seconds !== undefined ? { deadlineMs: seconds * 1000 } : {}),
      });
    } catch (e) {
      return this.failToStart(job, cannotStart((e as Error).message));
    }
    if (process.pid <= 0) {
      // No process: the executable does not exist. Docker fails the container's creation, so the
      // attempt never reaches RUNNING.
      const argv0 = job.command[0]!;
      void process.exited.then(() => {
        if (!this.closed && job.current === attempt && this.jobs.get(job.id) === job) {
          this.failToStart(job, cannotStart(`failed to create task for container: exec: "${argv0}": executable file not found in $PATH`));
        }
      });
      return;
    }
    job.status = 'RUNNING';
    attempt.process = process;
    attempt.startedAt = job.startedAt = process.startedAt;
    if (job.parent) job.parent.startedAt ??= process.startedAt;
    this.live.add(process);
    const fault = attempt.fault;
    if (fault && fault.fault !== 'image-pull' && fault.fault !== 'stuck-runnable') {
      attempt.faultTimer = setTimeout(() => {
        attempt.firedFault = fault.fault;
        process.kill(fault.fault === 'oom' ? 'oom' : 'killed');
      }, fault.afterMs);
    }
    void process.exited.then((exit) => {
      this.live.delete(process);
      clearTimeout(attempt.faultTimer);
      // Vanished, or the emulator stopped: nobody will ask.
      if (this.closed || job.current !== attempt || this.jobs.get(job.id) !== job) return;
      this.endAttempt(job, ending(attempt, exit, job.memoryMiB !== undefined));
    });
  }

  /** Records the attempt, then retries it, or ends the job. */
  private endAttempt(job: EmulatedJob, end: Ending): void {
    const attempt = job.current!;
    const { exitCode, reason, statusReason } = end;
    job.attempts.push({
      container: {
        ...(exitCode !== undefined ? { exitCode } : {}),
        ...(reason !== undefined ? { reason } : {}),
        logStreamName: attempt.logStreamName,
        taskArn: attempt.taskArn,
        containerInstanceArn: attempt.containerInstanceArn,
        networkInterfaces: [],
      },
      ...(attempt.startedAt !== undefined ? { startedAt: attempt.startedAt } : {}),
      stoppedAt: Date.now(),
      statusReason,
    });
    job.logs.push(attempt.process?.log() ?? '');
    job.current = undefined;
    if (end.succeeded) this.finish(job, 'SUCCEEDED', statusReason);
    else if (!end.final && shouldRetry(job.retryStrategy, job.attempts.length, end)) this.toRunnable(job);
    else this.finish(job, 'FAILED', statusReason);
    this.scheduler.release(job);
  }

  private finish(job: EmulatedJob, status: 'SUCCEEDED' | 'FAILED', statusReason: string | undefined): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    job.eligible = false;
    job.status = status;
    job.statusReason = statusReason;
    job.stoppedAt = Date.now();
    this.scheduler.withdraw(job);
    this.scheduler.release(job);
    if (job.parent) this.settleParent(job.parent);
    this.releaseDependents(job);
  }

  private settleParent(parent: EmulatedJob): void {
    if (isDone(parent) || !parent.children!.every(isDone)) return;
    const failed = parent.children!.some((c) => c.status === 'FAILED');
    this.finish(parent, failed ? 'FAILED' : 'SUCCEEDED', failed ? (parent.endReason ?? ARRAY_CHILD_FAILED) : undefined);
  }

  /** The platform's variables, the declared environment, then what the Batch agent adds; nothing of the emulator's own. */
  private containerEnv(job: EmulatedJob): Record<string, string> {
    const env: Record<string, string> = { ...this.options.containerEnv };
    for (const { name, value } of job.environment) if (name) env[name] = value ?? '';
    env.AWS_BATCH_JOB_ID = job.id;
    env.AWS_BATCH_JOB_ATTEMPT = String(job.attempts.length + 1);
    env.AWS_BATCH_JQ_NAME = job.queue.name;
    env.AWS_BATCH_CE_NAME = this.options.world.computeEnvironment.name;
    if (job.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.index);
    return env;
  }
}

/**
 * What DescribeJobs reports of an attempt whose container ended. Out of memory only when the
 * runtime's memory watch (the emulated cgroup OOM killer) or an injected fault killed it: a
 * process that SIGKILLs itself exits 137 like any other error, as in a real container.
 */
function ending(attempt: Attempt, exit: ContainerExit, _memoryLimited: boolean): Ending {
  if (attempt.stopReason !== undefined) return { exitCode: exit.exitCode, statusReason: attempt.stopReason, final: true };
  if (exit.reason === 'deadline') return { statusReason: ATTEMPT_TIMEOUT, final: true };
  if (attempt.firedFault === 'spot' || attempt.firedFault === 'host-terminated') return { statusReason: HOST_TERMINATED };
  const oomKilled = exit.reason === 'oom';
  if (oomKilled || attempt.firedFault === 'oom') return { exitCode: 137, reason: OUT_OF_MEMORY, statusReason: ESSENTIAL_CONTAINER_EXITED };
  return { exitCode: exit.exitCode, statusReason: ESSENTIAL_CONTAINER_EXITED, succeeded: exit.exitCode === 0 };
}
