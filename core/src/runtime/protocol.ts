/** Messages between the orchestrator and its worker processes. Small: never artifact bytes. */
import type { ItemRef } from '../artifacts/artifact-store.ts';
import type { SerializedError } from '../errors.ts';
import type { Frame, InputSource } from '../flow/task-state.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import type { CardRef } from '../cards/card-ref.ts';
import type { CardSpec } from '../cards/card-options.ts';

import type { AdapterLocator } from '../ports/adapter-locator.ts';
export type { AdapterLocator };

/** @internal */
export interface TaskSpec {
  flow: string;
  runId: string;
  taskId: string;
  step: string;
  key: string;
  attempt: number;
  pathspec: string;
  manifest: ArtifactRef[];
  params: string[];
  frames: Frame[];
  inputs?: InputSource[];
  maxNumSplits: number;
  /** Epoch ms (fractional) when the task became ready (its inputs existed). */
  readyAt: number;
  /** Epoch ms when the orchestrator handed it to a free worker: dispatch latency starts here. */
  dispatchedAt: number;
  /** Echo the task's output to the worker's own stdout/stderr, prefixed. */
  echo: boolean;
  logKeyPrefix: string;
  maxLogBytes: number;
  /**
   * Set on the fallback attempt of a `@catch` step whose retries are spent: the step body is not
   * called; the error is stored in `catch.var` and the task takes its static transition.
   */
  caught?: { var: string; error: SerializedError };
  /** Cards of a step that declares none (the run's `--with card`). */
  cards?: CardSpec[];
  /** How this task's earlier attempts in this run failed, oldest first (its cards show them). */
  failures?: Array<{ attempt: number; code: string; message: string }>;
  /** In-task checkpoints already saved by this task identity (earlier attempts, origin runs), oldest first. */
  checkpoints: CheckpointRecord[];
  /** The step's environment (`@pypi`...): its id, and how the task enters it. */
  environment?: TaskEnvironment;
}

/**
 * A task's environment. Local tasks get it built, with its activation; a remote task job gets
 * `materialize` instead and builds it in its container from the stored lock (the job fills in
 * `env` and `path` before the attempt runs).
 * @internal
 */
export interface TaskEnvironment {
  id: string;
  env: Record<string, string>;
  path: string[];
  materialize?: {
    /** Content address of the lock (canonical JSON) in the datastore. */
    lockSha: string;
    /** How the job opens the resolver (the bootstrap bundles it). */
    resolver: AdapterLocator;
  };
}

/** One in-task checkpoint, as recorded in metadata. @public */
export interface CheckpointRecord {
  /** Content address of the saved state. */
  sha: string;
  encoding: string;
  type: string;
  size: number;
  /** 'value' or 'directory'. */
  kind: 'value' | 'directory';
  name: string;
  /** Pathspec and attempt of the task that saved it. */
  pathspec: string;
  attempt: number;
  /** Epoch ms. */
  savedAt: number;
}

/** @internal */
export interface TaskOutcome {
  artifacts: ArtifactRef[];
  targets: string[];
  caseValue?: string;
  /** `index`: content address of the stored item list (so a resume can fan out without re-running). */
  foreach?: { var: string; count: number; items: ItemRef[]; index: string };
  /** Epoch ms when user code was entered. */
  enteredAt: number;
  finishedAt: number;
  /** The task's stored cards (`@card`). */
  cards?: CardRef[];
}

/** @internal */
export type ToWorker =
  | {
      t: 'init';
      flowModule: string;
      flowExport: string;
      datastore: AdapterLocator;
      flow: string;
      /** Set in the worker's environment before anything loads: the datastore's credential variables and those passed by name. */
      env?: Record<string, string>;
    }
  | { t: 'task'; spec: TaskSpec }
  | { t: 'rpc-result'; id: number; error?: SerializedError }
  /** Store the running task's output now (it is about to be stopped); answered with `flushed`. */
  | { t: 'flush' }
  | { t: 'exit' };

/** @internal */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'fatal'; error: SerializedError }
  | { t: 'entered'; taskId: string; at: number }
  | { t: 'done'; taskId: string; outcome: TaskOutcome }
  | { t: 'failed'; taskId: string; error: SerializedError }
  /** The worker will exit after its current task (it saw an uncaught exception): send it nothing more. */
  | { t: 'retiring' }
  | { t: 'flushed' }
  | { t: 'rpc'; id: number; taskId: string; op: 'checkpoint'; record: CheckpointRecord };

/** Current epoch time in ms with sub-ms precision, comparable across processes. @internal */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
