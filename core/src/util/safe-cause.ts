import { redactUrl } from './redact-url.ts';

/**
 * A copy of an SDK or network error that is safe to keep as the `cause` of a TributaryError:
 * its name, `code`, message and stack (credentials redacted from the text), and the same for its
 * own causes, but none of its other properties. SDK errors carry the request and response they
 * came from (`$metadata`, `$response`, `request.headers` with signatures or session tokens), which
 * `util.inspect`, JSON or a service's error logger would otherwise print.
 * @public
 */
export function safeCause(err: unknown, depth = 3): Error | undefined {
  if (err === undefined || err === null) return undefined;
  if (!(err instanceof Error) && typeof err !== 'object') return new Error(redactUrl(String(err)));
  const src = err as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
  const copy = new Error(redactUrl(typeof src.message === 'string' ? src.message : String(src.message ?? '')));
  copy.name = typeof src.name === 'string' ? src.name : 'Error';
  if (typeof src.code === 'string' || typeof src.code === 'number') (copy as Error & { code?: unknown }).code = src.code;
  copy.stack = typeof src.stack === 'string' ? redactUrl(src.stack) : `${copy.name}: ${copy.message}`;
  if (depth > 0 && src.cause !== undefined) {
    const cause = safeCause(src.cause, depth - 1);
    if (cause) Object.defineProperty(copy, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
  return copy;
}
