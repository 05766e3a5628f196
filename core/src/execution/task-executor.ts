/**
 * The execution seam: the scheduler decides *which* attempt runs and what happens after it; a
 * TaskExecutor decides *where and how* it runs. Three ship with the core: a warm pool of worker
 * processes (IPC), one job per attempt on any ComputeBackend (no IPC, the path of remote compute),
 * and in-process (tests, and services that want no processes).
 */
import type { SerializedError, TributaryError } from '../errors.ts';
import type { FlowSpec } from '../flow/flow-spec.ts';
import type { ResourceSpec } from '../ports/compute-backend.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { CheckpointRecord, TaskOutcome, TaskSpec } from '../runtime/protocol.ts';

/** What every attempt of one run shares, given to the executor once per run. @public */
export interface ExecutorRunContext {
  flow: string;
  runId: string;
  /** The flow class (in-process executors call it directly; process-based ones import `flowModule`). */
  flowClass: new () => FlowSpec;
  /** URL of the module workers import (the built bundle of a TypeScript flow). */
  flowModule: string;
  flowExport: string;
  datastore: Datastore;
  /** The run's code package (job-per-attempt executors), when the executor asked for one. */
  codePackage?: { sha: string };
  /** Tasks of this run running at once (the scheduler never submits more). */
  maxWorkers: number;
  /** Echo task output (prefixed) to this process, or to `onTaskOutput`. */
  echoLogs: boolean;
  onTaskOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Environment variables passed to every job by name (`--env-pass`), with their values here. */
  envPass: string[];
  /** Node arguments for worker and job processes. */
  execArgv?: string[];
  /** The flow's project folder (nearest package.json), when it is on this machine. */
  projectRoot?: string;
  /** Who started the run (remote jobs carry it in labels and names). */
  user?: string;
}

/** One attempt to run. @public */
export interface AttemptRequest {
  spec: TaskSpec;
  /** `@timeout`: the executor stops the attempt after this long and reports `TIMEOUT`. */
  timeoutSeconds?: number;
  /** `@resources`: what the attempt asks of the compute backend. */
  resources?: ResourceSpec;
  /** The step runs on remote compute (`@kubernetes`, `@batch`, `--with`): which, and the step's settings for it. */
  compute?: { kind: string; settings: Record<string, unknown> };
}

/** How an attempt ended. @public */
export type AttemptEnd = { status: 'succeeded'; outcome: TaskOutcome } | { status: 'failed'; error: SerializedError };

/** What an executor tells the scheduler about one attempt. Every method may be called from any tick. @public */
export interface AttemptListener {
  /** The attempt left the executor's queue and is starting (epoch ms): queue wait ends here. */
  dispatched(at: number): void;
  /** User code was entered (epoch ms). */
  entered(at: number): void;
  /** Commit an in-task checkpoint durably (resolves once recorded). */
  checkpoint(record: CheckpointRecord): Promise<void>;
  /** The flow's code cannot be loaded at all: retrying cannot help, the run fails. */
  fatal(error: TributaryError): void;
  /** The attempt is over. Called exactly once, also for a cancelled attempt (`ABORTED`). */
  ended(end: AttemptEnd): void;
}

/** A submitted attempt. @public */
export interface AttemptHandle {
  /** Stop it (queued or running); it then ends `failed` with `ABORTED`. Idempotent. */
  cancel(reason: string): void;
}

/** A run's session on an executor. @public */
export interface ExecutorRun {
  submit(request: AttemptRequest, listener: AttemptListener): AttemptHandle;
  /**
   * The splits of one foreach, all at once, as one array job (one request to the backend
   * however many splits). Returns one handle per item, or undefined when this executor does not
   * take them as an array: the scheduler then submits them one by one. The executor keeps at
   * most `maxWorkers` of them running. Optional.
   */
  submitArray?(items: Array<{ request: AttemptRequest; listener: AttemptListener }>): AttemptHandle[] | undefined;
  /** The run is over: attempts still running are cancelled; resolves when everything they printed is relayed. */
  close(): Promise<void>;
}

/**
 * Runs task attempts. One executor may serve many runs at once (`openRun` per run).
 * @public
 */
export interface TaskExecutor {
  readonly name: string;
  /** True when runs need a code package stored in the datastore (jobs that start from nothing). */
  readonly needsCodePackage: boolean;
  /** True when tasks run in other processes (the datastore must then have a `locator`). */
  readonly outOfProcess: boolean;
  openRun(run: ExecutorRunContext): Promise<ExecutorRun>;
  /** Stop everything this executor started. */
  close(): Promise<void>;
}
