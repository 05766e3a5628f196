import { TributaryError } from '@tributary/core';

/** How the adapter retries transient failures. @public */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 8. */
  attempts?: number;
  /** First backoff, ms; doubles each retry, with full jitter. Default 50. */
  baseDelayMs?: number;
  /** Longest backoff, ms. Default 2000. */
  maxDelayMs?: number;
}

/**
 * A failure a retry may cure: the connection broke or timed out, or the service answered that it
 * (or its database) is unavailable. Every call is safe to retry: reads change nothing, writes carry
 * an idempotency key, and tag changes and heartbeats are idempotent by nature.
 */
export function isTransient(err: unknown): boolean {
  if (TributaryError.is(err)) return err.retryable;
  // undici refusing the request itself (a bad header value): no retry sends it differently.
  if ((err as { code?: unknown } | undefined)?.code === 'UND_ERR_INVALID_ARG') return false;
  return !isTlsTrustError(err);
}

/** The server's certificate is not trusted (or does not name the host): no retry will change that. */
export function isTlsTrustError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/.test(code);
}

/** The wait before retry number `retry` (1-based): exponential, capped, with full jitter. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  const base = policy.baseDelayMs ?? 50;
  const max = policy.maxDelayMs ?? 2000;
  return Math.random() * Math.min(max, base * 2 ** (retry - 1));
}
