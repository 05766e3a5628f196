import type { SerializedError } from '../errors.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import type { TaskOutcome, TaskSpec } from '../runtime/protocol.ts';

/**
 * What a one-shot task job reads, stored content-addressed in the datastore (a 1,000-input join's
 * spec does not fit a command line): the job is started with its SHA-256 only.
 * @internal
 */
export interface JobSpec {
  format: 1;
  spec: TaskSpec;
  flowExport: string;
  /** How the job opens the datastore (never credentials: those come from the job's own environment). */
  datastore: AdapterLocator;
  /** SHA-256 of the run's code package (a blob in the datastore). */
  codePackage: string;
  /** Where the job writes what it produced. */
  keys: AttemptKeys;
  /** Store the task's output this often while it runs (ms). */
  logFlushMs: number;
  /** `@timeout`, counted from when the step's code is entered (the backend's own limit adds start-up time). */
  timeoutSeconds?: number;
}

/**
 * The spec of an array job (a foreach's splits as one Indexed Job or array job): one blob with
 * every child's spec; each child runs `children[index]`, its index read from the variable the
 * backend sets (`--index-env NAME` on the job's command line).
 * @internal
 */
export interface JobSpecArray {
  format: 1;
  children: JobSpec[];
}

/** Datastore keys of one attempt's results, derived from its pathspec and attempt number. @internal */
export interface AttemptKeys {
  /** The attempt's outcome (JSON), written once, atomically, at the end. */
  outcome: string;
  /** Prefix of its in-task checkpoint records (one JSON object per checkpoint). */
  checkpoints: string;
}

/** @internal */
export function attemptKeys(pathspec: string, attempt: number): AttemptKeys {
  return { outcome: `${pathspec}/${attempt}.outcome.json`, checkpoints: `${pathspec}/${attempt}.checkpoints/` };
}

/** What a job writes at `keys.outcome`. @internal */
export type JobOutcome =
  | { status: 'succeeded'; outcome: TaskOutcome }
  /** `fatal`: the code cannot load at all (retrying cannot help). */
  | { status: 'failed'; error: SerializedError; fatal?: boolean; enteredAt?: number };

/** Exit codes of a task job: what the backend sees even when the outcome could not be written. @public */
export const TASK_EXIT = {
  /** The attempt succeeded; its outcome is stored. */
  SUCCEEDED: 0,
  /** The step's code failed; the outcome (with the error) is stored. */
  USER_FAILURE: 1,
  /** The job could not do its part (datastore, spec, code package): infrastructure failure. */
  INFRASTRUCTURE: 2,
} as const;
