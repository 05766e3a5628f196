import type { ErrorCode, SerializedError } from '../errors.ts';

/**
 * How an attempt that the executor (not the step) ended is reported: the same records from
 * every executor, so a TIMEOUT or a cancelled attempt reads alike wherever it ran.
 * @internal
 */
export function attemptFailure(code: ErrorCode, message: string, retryable: boolean, pathspec?: string): SerializedError {
  return { name: 'TributaryError', code, message, retryable, context: pathspec ? { pathspec } : {} };
}

/** The attempt was cancelled (the run failed or was aborted): never retried. @internal */
export function cancelledAttempt(reason: string): SerializedError {
  return attemptFailure('ABORTED', `Cancelled: ${reason}.`, false);
}

/**
 * The attempt ran past its `@timeout`. `stopped` is false where the step's code cannot be stopped
 * (in-process): the attempt is over, its code may still run. Retryable, as a system failure.
 * @internal
 */
export function timedOutAttempt(pathspec: string, seconds: number, stopped = true): SerializedError {
  return attemptFailure(
    'TIMEOUT',
    `${pathspec} ran longer than its @timeout of ${seconds}s${stopped ? ' and was stopped' : ''}.`,
    true,
    pathspec,
  );
}
