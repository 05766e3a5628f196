/**
 * The attempt state machine every remote ComputeBackend shares (Kubernetes, AWS Batch, yours):
 * the adapter watches or polls its service and reports what it sees with `observe`; this turns
 * that into one settled `JobResult`, whatever order things happen in. It owns what is easy to get
 * wrong per adapter: a job pending too long becomes `COMPUTE_UNSCHEDULABLE` (and is stopped), a
 * job that vanished is a typed failure instead of a hang, `cancel` is idempotent and settles only
 * once the service has been told, and reports after the end are ignored.
 */
import type { ComputeFailureKind, ComputeJob, JobResult } from '../ports/compute-backend.ts';
import { constants } from 'node:os';
import { emptyStream } from '../util/adapter-streams.ts';

/** The signal behind a container exit code above 128, if it names one. @public */
export function signalOfExitCode(code: number | null | undefined): string | null {
  if (code === null || code === undefined || code <= 128 || code > 128 + 64) return null;
  const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return entry ? entry[0] : null;
}

/** What an adapter saw of a job on its service. @public */
export type RemoteJobStatus =
  /** Accepted, not running yet. `reason` says why (queued, no node fits, pulling the image). */
  | { state: 'pending'; reason?: string }
  /** It cannot start and waiting will not help (bad image, missing secret): fail it now. */
  | { state: 'unstartable'; reason: string }
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; kind: ComputeFailureKind; message: string; exitCode?: number | null; signal?: string | null }
  /** The service no longer knows the job (deleted outside, purged, node lost with it). */
  | { state: 'gone'; message?: string };

/** @public */
export interface RemoteJobOptions {
  /** The service's id of the job (shown in messages). */
  id: string;
  /** What the service is called in messages ("Kubernetes", "AWS Batch"). */
  service: string;
  /** Fail a job still pending after this long with `COMPUTE_UNSCHEDULABLE`. Default: never. */
  pendingTimeoutMs?: number;
  /** Ask the service to stop the job (delete, terminate). Called at most once. */
  terminate(reason: string): Promise<void>;
  stdout?: AsyncIterable<Uint8Array>;
  stderr?: AsyncIterable<Uint8Array>;
  /** Called once the job's result is settled (the adapter stops watching it). */
  onSettled?: () => void;
}

/** A remote job as the core sees it, driven by the adapter's observations. @public */
export class RemoteJob implements ComputeJob {
  readonly id: string;
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  readonly result: Promise<JobResult>;
  private settle!: (r: JobResult) => void;
  private settled = false;
  private started = false;
  private lastPending?: string;
  private pendingTimer?: NodeJS.Timeout;
  private terminating?: Promise<void>;

  constructor(private readonly o: RemoteJobOptions) {
    this.id = o.id;
    this.stdout = o.stdout ?? emptyStream();
    this.stderr = o.stderr ?? emptyStream();
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.resetPendingClock();
  }

  /**
   * Start counting the pending time again. A child of an array job waits its turn behind its
   * siblings: its adapter resets the clock whenever a sibling starts or ends, so
   * `pendingTimeoutMs` measures time without progress, not time in the queue.
   */
  resetPendingClock(): void {
    clearTimeout(this.pendingTimer);
    if (this.settled || this.started || this.o.pendingTimeoutMs === undefined || !Number.isFinite(this.o.pendingTimeoutMs)) return;
    this.pendingTimer = setTimeout(() => this.pendingTooLong(), this.o.pendingTimeoutMs);
    this.pendingTimer.unref();
  }

  /** True once the result is settled. */
  get done(): boolean {
    return this.settled;
  }

  /** Report what the service says of the job now. */
  observe(status: RemoteJobStatus): void {
    if (this.settled || this.terminating) return;
    switch (status.state) {
      case 'pending':
        if (status.reason) this.lastPending = status.reason;
        return;
      case 'unstartable':
        this.stopAndFail('COMPUTE_UNSCHEDULABLE', `${this.o.service} job ${this.id} cannot start: ${status.reason}`);
        return;
      case 'running':
        this.started = true;
        clearTimeout(this.pendingTimer);
        return;
      case 'succeeded':
        this.finish({ status: 'succeeded', exitCode: 0, signal: null });
        return;
      case 'failed': {
        // Container runtimes report a signal as exit code 128 + its number (137: SIGKILL).
        const signal = status.signal ?? signalOfExitCode(status.exitCode);
        const kind = status.kind === 'NON_ZERO_EXIT' && signal ? 'KILLED' : status.kind;
        this.finish({ status: 'failed', exitCode: status.exitCode ?? null, signal, failure: { kind, message: status.message } });
        return;
      }
      case 'gone':
        this.finish({
          status: 'failed',
          exitCode: null,
          signal: null,
          failure: {
            kind: 'KILLED',
            message:
              status.message ??
              `${this.o.service} job ${this.id} disappeared before it finished (deleted outside Tributary, or lost with its node).`,
          },
        });
        return;
    }
  }

  /** Stop the job; the result then reports `CANCELLED` once the service was told. Idempotent. */
  cancel(reason = 'cancelled'): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.terminating ??= this.terminate(reason).then(() =>
      this.finish({ status: 'failed', exitCode: null, signal: null, failure: { kind: 'CANCELLED', message: reason } }),
    );
    return this.terminating;
  }

  private pendingTooLong(): void {
    if (this.settled || this.started || this.terminating) return;
    const waited = Math.round(this.o.pendingTimeoutMs! / 1000);
    this.stopAndFail(
      'COMPUTE_UNSCHEDULABLE',
      `${this.o.service} job ${this.id} was still pending after ${waited} s${this.lastPending ? ` (${this.lastPending})` : ''}: ` +
        `no capacity fits it, or it cannot start. Check the job's resources and the cluster or queue, or raise pendingTimeout.`,
    );
  }

  private stopAndFail(kind: ComputeFailureKind, message: string): void {
    this.terminating ??= this.terminate(message).then(() =>
      this.finish({ status: 'failed', exitCode: null, signal: null, failure: { kind, message } }),
    );
  }

  private async terminate(reason: string): Promise<void> {
    try {
      await this.o.terminate(reason);
    } catch {
      // Already gone, or the service is unreachable: the job is given up either way.
    }
  }

  private finish(result: JobResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.pendingTimer);
    this.settle(result);
    this.o.onSettled?.();
  }
}
