import { TributaryError, type ErrorCode } from 'tributary';

/** An error with the HTTP status it answers with, and a stable code for clients. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The HTTP status of each Tributary error code this service can meet; anything else is a 500. */
const STATUS_OF_CODE: Partial<Record<ErrorCode, number>> = {
  PARAM_INVALID: 400,
  INVALID_KEY: 400,
  NOT_FOUND: 404,
  // A run outside the service's namespace is not one of its models.
  NAMESPACE_MISMATCH: 404,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  // Shutting down: the run was stopped, or a store or the worker pool is already closed.
  ABORTED: 503,
  CLOSED: 503,
  TIMEOUT: 504,
};

/** How an error thrown while handling a request is answered. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (TributaryError.is(err)) return new HttpError(STATUS_OF_CODE[err.code] ?? 500, err.code, err.message);
  return new HttpError(500, 'INTERNAL', 'Internal error (see the service log).');
}

/** The status a finished run that did not succeed answers with: 503 when it was aborted (shutdown), else 500. */
export function statusOfUnsuccessfulRun(status: string): number {
  return status === 'aborted' ? 503 : 500;
}
