/** The conda resolver's typed errors: every one carries `adapter: 'conda'` in its context. */

import { TributaryError, type ErrorContext } from '@tributary/core';

/** The spec, the lock or this machine's setup is wrong: the user fixes it (the message says how). */
export function configError(message: string, context: ErrorContext = {}, cause?: unknown): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'conda', ...context }, ...(cause === undefined ? {} : { cause }) });
}

/** An archive is not what the lock says, or tries to write outside the environment. */
export function integrityError(message: string, context: ErrorContext = {}, cause?: unknown): TributaryError {
  return new TributaryError('INTEGRITY', message, { context: { adapter: 'conda', ...context }, ...(cause === undefined ? {} : { cause }) });
}

/** A channel or the network failed; `retryable` when trying again may help (5xx, connection errors). */
export function infrastructureError(message: string, retryable: boolean, context: ErrorContext = {}, cause?: unknown): TributaryError {
  return new TributaryError('INFRASTRUCTURE', message, {
    retryable,
    context: { adapter: 'conda', ...context },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Rejects with ABORTED when `signal` is aborted (the lifecycle turns it into CLOSED after `close()`). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new TributaryError('ABORTED', 'Aborted while preparing a conda environment', { context: { adapter: 'conda' } });
}

/**
 * What a failure is once `signal` has aborted: ABORTED, whatever the interrupted tool or stream
 * threw (a killed decompressor, a cut-off download); the lifecycle makes it CLOSED after close().
 */
export function whenAborted(signal: AbortSignal, error: unknown): unknown {
  if (!signal.aborted || TributaryError.is(error, 'ABORTED')) return error;
  return new TributaryError('ABORTED', 'Aborted while preparing a conda environment', { cause: error, context: { adapter: 'conda' } });
}

/** The text of anything thrown (rattler throws strings). */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
