/**
 * Typed errors. Every error a user can hit carries a stable string `code`, a `retryable` flag and
 * structured context. The brand is a `Symbol.for` key so `TributaryError.is()` works across
 * duplicate package copies and across realms.
 */

import { inspect } from 'node:util';

const BRAND = Symbol.for('tributary.error');

/**
 * Stable error codes. Messages may change between versions; codes do not.
 * @public
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INTEGRITY'
  | 'CONFLICT'
  | 'ABORTED'
  | 'CLOSED'
  | 'INVALID_KEY'
  | 'GRAPH_INVALID'
  | 'TRANSITION_MISMATCH'
  | 'SERIALIZATION'
  | 'PARAM_INVALID'
  | 'FOREACH_TOO_MANY_SPLITS'
  | 'FLOW_LOAD'
  | 'CONFIG'
  | 'USER_CODE'
  | 'WORKER_LOST'
  | 'TIMEOUT'
  | 'COMPUTE_OOM'
  | 'COMPUTE_PREEMPTED'
  | 'COMPUTE_UNSCHEDULABLE'
  | 'COMPUTE_FAILED'
  | 'INFRASTRUCTURE'
  | 'RUN_FAILED'
  | 'NAMESPACE_MISMATCH'
  | 'UNAUTHORIZED';

/**
 * Structured context attached to an error: which adapter, key, pathspec, step or artifact.
 * @public
 */
export interface ErrorContext {
  adapter?: string;
  key?: string;
  pathspec?: string;
  step?: string;
  artifact?: string;
  path?: string;
  [extra: string]: unknown;
}

/** @public */
export interface TributaryErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  context?: ErrorContext;
}

/**
 * Base class of every error Tributary throws on purpose.
 * @public
 */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any Tributary error (optionally of the given code), even from another package copy. */
  static is(value: unknown, code?: ErrorCode): value is TributaryError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (value as TributaryError).code === code)
    );
  }

  /** A plain-object form that survives structured clone / JSON (used between processes). */
  toJSON(): SerializedError {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      context: this.context,
      stack: this.stack,
    };
  }
}

/**
 * The wire form of an error sent between processes.
 * @public
 */
export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
  context: ErrorContext;
  stack?: string | undefined;
}

/** Rebuild an error that crossed a process boundary. @internal */
export function deserializeError(e: SerializedError): TributaryError {
  const err = new TributaryError(e.code, e.message, { retryable: e.retryable, context: e.context });
  if (e.stack) err.stack = e.stack;
  return err;
}

/** Turn anything thrown by user code into a serialized USER_CODE error, keeping its stack. @internal */
export function serializeUnknownError(err: unknown, context: ErrorContext = {}): SerializedError {
  try {
    return serializeThrown(err, context);
  } catch {
    // Reading the thrown value threw (a hostile Proxy, a getter): report what can be said safely.
    return { name: 'Error', code: 'USER_CODE', message: `Non-error thrown: ${describeThrown(err)}`, retryable: false, context };
  }
}

function serializeThrown(err: unknown, context: ErrorContext): SerializedError {
  if (TributaryError.is(err)) {
    const j = err.toJSON();
    return { ...j, context: { ...context, ...j.context } };
  }
  if (err instanceof Error) {
    return {
      name: err.name,
      code: 'USER_CODE',
      message: `${err.name}: ${err.message}`,
      retryable: false,
      context,
      stack: err.stack,
    };
  }
  return { name: 'Error', code: 'USER_CODE', message: `Non-error thrown: ${describeThrown(err)}`, retryable: false, context };
}

/**
 * The content of a thrown non-Error, bounded: `throw { code: 42 }` must read as that object, not
 * `[object Object]`, and a huge or hostile value must not flood the log or throw again.
 */
function describeThrown(value: unknown): string {
  if (typeof value === 'string') return value.length > 2000 ? `${value.slice(0, 2000)}… (${value.length} characters)` : value;
  let text: string;
  try {
    text = inspect(value, {
      depth: 3,
      breakLength: Infinity,
      compact: true,
      maxArrayLength: 20,
      maxStringLength: 500,
      customInspect: false,
    });
  } catch {
    try {
      text = String(value);
    } catch {
      text = `a value of type ${typeof value}`;
    }
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/** @internal */
export function notFound(message: string, context: ErrorContext = {}): TributaryError {
  return new TributaryError('NOT_FOUND', message, { context });
}

/** @internal */
export function aborted(signal: AbortSignal | undefined, context: ErrorContext = {}): TributaryError {
  const reason = signal?.reason instanceof Error ? signal.reason.message : 'the operation was aborted';
  return new TributaryError('ABORTED', `Aborted: ${reason}`, { context, cause: signal?.reason });
}

/** @internal */
export function throwIfAborted(signal: AbortSignal | undefined, context: ErrorContext = {}): void {
  if (signal?.aborted) throw aborted(signal, context);
}
