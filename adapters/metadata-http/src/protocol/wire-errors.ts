import { redactUrl, TributaryError, type ErrorCode } from '@tributary/core';

/** How an error travels: the typed error's code, message and whether a retry may succeed. @public */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  pathspec?: string;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  NAMESPACE_MISMATCH: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  PARAM_INVALID: 400,
  INVALID_KEY: 400,
  UNAUTHORIZED: 401,
  // The backing store closed under the request: this instance is shutting down, another may answer.
  CLOSED: 503,
  INFRASTRUCTURE: 503,
  TIMEOUT: 504,
};

/** The HTTP status that carries an error code. @public */
export function statusOfCode(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/**
 * What the service sends for an error a handler threw. Typed errors keep their code and message
 * (redacted); anything else is an internal error whose details stay in the service's log.
 * @public
 */
export function toWireError(err: unknown): WireError {
  if (TributaryError.is(err)) {
    const closed = err.code === 'CLOSED';
    const pathspec = typeof err.context.pathspec === 'string' ? err.context.pathspec : undefined;
    return {
      code: closed ? 'INFRASTRUCTURE' : err.code,
      message: closed ? 'The metadata service is shutting down; retry on another instance.' : redactUrl(err.message),
      retryable: closed || err.retryable,
      ...(pathspec ? { pathspec } : {}),
    };
  }
  return { code: 'INFRASTRUCTURE', message: 'The metadata service failed on this request (see its log).', retryable: false };
}

/** Rebuild the typed error a service answered with. @public */
export function fromWireError(status: number, body: unknown, where: string): TributaryError {
  const e = (body as { error?: Partial<WireError> } | undefined)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    const message = e.code === 'UNAUTHORIZED' ? `The metadata service at ${where} refused the request. ${e.message}` : e.message;
    return new TributaryError(e.code as ErrorCode, message, {
      retryable: e.retryable === true,
      context: { adapter: 'http', ...(e.pathspec ? { pathspec: e.pathspec } : {}) },
    });
  }
  const retryable = status === 429 || status === 502 || status === 503 || status === 504;
  return new TributaryError('INFRASTRUCTURE', `The metadata service at ${where} answered HTTP ${status}.`, {
    retryable,
    context: { adapter: 'http' },
  });
}
