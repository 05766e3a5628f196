/**
 * Calls to a compute service's API that failed for a reason that passes (throttling, a 5xx, a
 * reset connection) are tried again with truncated exponential backoff and jitter, as Metaflow
 * does for Kubernetes 500s and Batch throttles. Written once for every remote compute adapter.
 */

/** @public */
export interface TransientRetryOptions {
  /** Tell a passing failure from a real one (a 404 is an answer, not a failure). */
  isTransient(err: unknown): boolean;
  /** Give up after this long in total (ms). Default 60000. */
  budgetMs?: number;
  /** First delay (ms). Default 200. */
  baseMs?: number;
  /** Largest delay (ms). Default 5000. */
  maxMs?: number;
  signal?: AbortSignal;
  /** Told of each retry (the adapter may count or log it). */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/** @public */
export async function withTransientRetry<T>(call: () => Promise<T>, o: TransientRetryOptions): Promise<T> {
  const deadline = Date.now() + (o.budgetMs ?? 60_000);
  let delay = o.baseMs ?? 200;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!o.isTransient(err) || o.signal?.aborted || Date.now() + delay > deadline) throw err;
      const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
      o.onRetry?.(err, wait);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          o.signal?.removeEventListener('abort', done);
          resolve();
        }
        o.signal?.addEventListener('abort', done, { once: true });
      });
      // Stopped while waiting: the last error stands, no further call.
      if (o.signal?.aborted) throw err;
      delay = Math.min(delay * 2, o.maxMs ?? 5000);
    }
  }
}

/** HTTP statuses that pass: throttling and server-side errors. @public */
export function isTransientStatus(status: number | undefined): boolean {
  return status === 429 || (status !== undefined && status >= 500 && status < 600);
}
