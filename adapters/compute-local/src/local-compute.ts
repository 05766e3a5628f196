import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import {
  TributaryError,
  type ComputeBackend,
  type ComputeCapabilities,
  type ComputeJob,
  type JobChannel,
  type JobResult,
  type LaunchSpec,
} from '@tributary/core';

/** @public */
export interface LocalComputeOptions {
  /** Grace period between SIGTERM and SIGKILL on cancel, in ms. Default 2000. */
  killGraceMs?: number;
  /**
   * Offer no IPC channel (`capabilities.ipc` false): a run then starts every task attempt as its
   * own process through the job-per-attempt path, as on remote compute (`local-jobs://`).
   */
  jobsOnly?: boolean;
}

let nextId = 0;

/** A job's environment: what the spec sets, plus the named variables copied from ours (this is the same host). */
function environmentOf(spec: LaunchSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of spec.inheritEnv ?? []) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return Object.assign(env, spec.env);
}

/**
 * Runs each job as a child process of this one. With `ipc`, the child gets a Node IPC channel:
 * that is how the local runtime keeps a pool of warm task workers.
 * @public
 */
export class LocalCompute implements ComputeBackend {
  readonly name: string;
  readonly capabilities: ComputeCapabilities;
  private readonly running = new Set<ComputeJob>();
  private closed = false;

  constructor(private readonly options: LocalComputeOptions = {}) {
    this.name = options.jobsOnly ? 'local-jobs' : 'local';
    this.capabilities = { ipc: !options.jobsOnly, maxConcurrency: availableParallelism(), reportsOom: false, local: true };
  }

  async launch(spec: LaunchSpec, options: { signal?: AbortSignal } = {}): Promise<ComputeJob> {
    if (this.closed) throw new TributaryError('CLOSED', 'Local compute backend is closed.', { context: { adapter: 'local' } });
    if (options.signal?.aborted) throw new TributaryError('ABORTED', `Launch of ${spec.name} aborted.`);
    if (spec.ipc && !this.capabilities.ipc)
      throw new TributaryError('COMPUTE_FAILED', `Compute backend ${this.name} offers no IPC channel (${spec.name}).`, {
        context: { adapter: 'local' },
      });
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: environmentOf(spec),
        // A job's stdin is a pipe this process never writes to: it ends when this process does
        // (even by SIGKILL), so a job can tell it was orphaned (TRIBUTARY_EXIT_WITH_LAUNCHER).
        stdio: spec.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
        serialization: 'advanced',
      });
    } catch (err) {
      throw new TributaryError('COMPUTE_FAILED', `Cannot start ${spec.command}: ${(err as Error).message}`, {
        cause: err,
        context: { adapter: 'local' },
      });
    }
    const job = new LocalJob(`local-${process.pid}-${++nextId}`, child, spec, this.options.killGraceMs ?? 2000);
    // A spawn error (ENOENT) is reported asynchronously: surface it as a launch failure.
    const launched = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', () => resolve(false));
    });
    if (!launched) {
      const r = await job.result;
      throw new TributaryError('COMPUTE_FAILED', `Cannot start ${spec.command}: ${r.failure?.message ?? 'spawn failed'}`, {
        context: { adapter: 'local' },
      });
    }
    this.running.add(job);
    void job.result.then(() => this.running.delete(job));
    options.signal?.addEventListener('abort', () => void job.cancel('aborted'), { once: true });
    return job;
  }

  /**
   * Take over a process this program started itself with `spec` (stdio ignore/pipe/pipe, plus an
   * IPC channel when `spec.ipc`, and advanced serialization), before this backend existed: the
   * CLI starts its first worker this way while it is still loading. The job behaves as if
   * `launch(spec)` had started it.
   */
  adopt(child: ChildProcess, spec: LaunchSpec): ComputeJob {
    if (this.closed) throw new TributaryError('CLOSED', 'Local compute backend is closed.', { context: { adapter: 'local' } });
    const job = new LocalJob(`local-${process.pid}-${++nextId}`, child, spec, this.options.killGraceMs ?? 2000);
    this.running.add(job);
    void job.result.then(() => this.running.delete(job));
    return job;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((j) => j.cancel('backend closed')));
  }
}

class LocalJob implements ComputeJob {
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  readonly channel?: JobChannel;
  readonly result: Promise<JobResult>;
  private cancelled?: string;
  private timedOut = false;
  private exited = false;

  constructor(
    readonly id: string,
    private readonly child: ChildProcess,
    spec: LaunchSpec,
    private readonly graceMs: number,
  ) {
    this.stdout = child.stdout!;
    this.stderr = child.stderr!;
    if (spec.ipc) {
      this.channel = {
        send: (message) => {
          if (!child.connected) return false;
          child.send(message as never);
          return true;
        },
        onMessage: (listener) => void child.on('message', listener),
        unref: () => child.channel?.unref(),
      };
    }
    let timer: NodeJS.Timeout | undefined;
    if (spec.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        this.timedOut = true;
        child.kill('SIGKILL');
      }, spec.timeoutMs);
      timer.unref();
    }
    this.result = new Promise<JobResult>((resolve) => {
      let spawnError: Error | undefined;
      child.once('error', (err) => {
        spawnError = err;
        if (child.pid === undefined)
          resolve({ status: 'failed', exitCode: null, signal: null, failure: { kind: 'LAUNCH_FAILED', message: err.message } });
      });
      child.once('close', (code, signal) => {
        this.exited = true;
        if (timer) clearTimeout(timer);
        if (spawnError && child.pid === undefined) return;
        if (code === 0 && !this.timedOut) return resolve({ status: 'succeeded', exitCode: 0, signal: null });
        const failure: NonNullable<JobResult['failure']> = this.timedOut
          ? { kind: 'TIMEOUT', message: `timed out after ${spec.timeoutMs} ms` }
          : this.cancelled !== undefined
            ? { kind: 'CANCELLED', message: `cancelled (${this.cancelled})` }
            : signal
              ? { kind: 'KILLED', message: `killed by ${signal}` }
              : { kind: 'NON_ZERO_EXIT', message: `exited with code ${code}` };
        resolve({ status: 'failed', exitCode: code, signal, failure });
      });
    });
  }

  async cancel(reason = 'cancelled'): Promise<void> {
    if (this.exited) return;
    this.cancelled ??= reason;
    this.child.kill('SIGTERM');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), this.graceMs);
    kill.unref();
    await this.result;
    clearTimeout(kill);
  }
}

/** Create a local-process compute backend. @public */
export function createLocalCompute(options: LocalComputeOptions = {}): LocalCompute {
  return new LocalCompute(options);
}
