/**
 * Launches processes (tasks, or long-lived task workers) somewhere: local processes, AWS Batch,
 * Kubernetes. The core decides *what* runs (a worker command); the backend decides *where*.
 */

/** @public */
export interface ResourceSpec {
  /** CPUs (may be fractional). */
  cpu?: number;
  /** Memory in MiB. */
  memory?: number;
  gpu?: number;
  /** Scratch disk in MiB. */
  disk?: number;
}

/** @public */
export interface LaunchSpec {
  /** A short human name shown in logs (e.g. the pathspec). */
  name: string;
  /** Executable to run. */
  command: string;
  args: string[];
  /** Variables set in the job. Nothing else of the launching process's environment is passed, except `inheritEnv`. */
  env?: Record<string, string>;
  /**
   * Names of variables a backend whose jobs run on this host (`capabilities.local`) copies from
   * its own environment at launch (path, home, locale, the datastore's credential chain). A
   * remote backend ignores them: the job uses its target's own configuration (IAM role, service
   * account). Only names are in the spec, never values.
   */
  inheritEnv?: string[];
  cwd?: string;
  resources?: ResourceSpec;
  /** Stop the job after this many ms and report `TIMEOUT` (`@timeout` of a job-per-attempt task). */
  timeoutMs?: number;
  /** Ask for a message channel to the process (only when `capabilities.ipc`). */
  ipc?: boolean;
  /**
   * Who the job is (a task attempt's flow, run, step, task and attempt): remote backends put it in
   * labels, annotations, tags and job names, so jobs can be found and matched to tasks.
   */
  identity?: JobIdentity;
  /**
   * The step's settings for this backend (the arguments of `@kubernetes({...})`, `@batch({...})`
   * or `--with kubernetes:key=value`): image, queue, namespace, and so on. Each backend documents
   * and checks its own; a backend that has none ignores them.
   */
  settings?: Record<string, unknown>;
}

/** Who a job is, for labels and names. @public */
export interface JobIdentity {
  flow: string;
  runId: string;
  step: string;
  /** Absent for an array of tasks (each child is one task of the step). */
  taskId?: string;
  attempt: number;
  user?: string;
}

/** @public */
export interface ComputeCapabilities {
  /** The backend can open a bidirectional message channel to the process (long-lived workers). */
  readonly ipc: boolean;
  /** How many jobs the backend runs at once without queueing (informational). */
  readonly maxConcurrency: number;
  /** Can report out-of-memory as a distinct failure. */
  readonly reportsOom: boolean;
  /** Jobs run on this host as this user (they see its files and, through `inheritEnv`, its environment). */
  readonly local?: boolean;
  /**
   * What `stdout` / `stderr` of a job carry: `separate` streams (default), `combined` (both in
   * `stdout`, in order, as a pod log is), or `none` (the platform's logs are elsewhere; task output
   * still reaches `tributary logs` through the datastore).
   */
  readonly output?: 'separate' | 'combined' | 'none';
}

/**
 * Why a job did not succeed.
 * @public
 */
export type ComputeFailureKind =
  'NON_ZERO_EXIT' | 'KILLED' | 'TIMEOUT' | 'CANCELLED' | 'COMPUTE_OOM' | 'COMPUTE_PREEMPTED' | 'COMPUTE_UNSCHEDULABLE' | 'LAUNCH_FAILED';

/** @public */
export interface JobResult {
  status: 'succeeded' | 'failed';
  exitCode: number | null;
  signal: string | null;
  failure?: { kind: ComputeFailureKind; message: string };
}

/** A message channel to a launched process. @public */
export interface JobChannel {
  send(message: unknown): boolean;
  onMessage(listener: (message: unknown) => void): void;
  /** Stop keeping the event loop alive for this channel. */
  unref(): void;
}

/** @public */
export interface ComputeJob {
  readonly id: string;
  /** Raw stdout/stderr of the process. */
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  /** Present when launched with `ipc: true` on a backend that supports it. */
  readonly channel?: JobChannel;
  /** Settles once the process ended; never rejects (failures are in the result). */
  readonly result: Promise<JobResult>;
  /** Stop the job; the result then reports `CANCELLED`. Idempotent. */
  cancel(reason?: string): Promise<void>;
}

/**
 * The ComputeBackend port.
 *
 * Error contract: `launch` rejects with `COMPUTE_FAILED` when the job cannot be started
 * (bad command, quota); a started job's failures are reported in `result`, typed by `kind`.
 * After `close()`, `launch` rejects with `CLOSED`, and running jobs are cancelled.
 * @public
 */
export interface ComputeBackend {
  readonly name: string;
  readonly capabilities: ComputeCapabilities;
  /**
   * How this backend's jobs start a Tributary task: the command of the task entry in its image
   * (e.g. `node /opt/tributary/task.mjs`; the core appends the spec's address). Absent on
   * backends whose jobs run on this host: they run the core's own task entry with this Node.
   */
  readonly taskEntry?: { command: string; args: string[] };
  launch(spec: LaunchSpec, options?: { signal?: AbortSignal }): Promise<ComputeJob>;
  /**
   * Launch `size` copies of one job in one request (a Kubernetes Indexed Job, an AWS Batch array
   * job), at most `parallelism` running at once where the backend can limit it. Each child finds
   * its index in the environment variable `indexEnv` names. Resolves with one handle per child, in
   * index order; cancelling a child stops that child only. Optional: without it, foreach splits
   * are launched one job each.
   */
  launchArray?(spec: LaunchSpec, size: number, options?: { signal?: AbortSignal; parallelism?: number }): Promise<ComputeJob[]>;
  /** The environment variable that carries a child's index in `launchArray` jobs. */
  readonly arrayIndexEnv?: string;
  close(): Promise<void>;
}
