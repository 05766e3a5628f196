/**
 * Batch's own retries: `retryStrategy.attempts` (1-10) and `evaluateOnExit` rules (at most 5). The
 * first rule whose every given condition matches decides RETRY or EXIT; when none matches the job is
 * retried while attempts remain. Patterns are exact, or a prefix when they end in `*`.
 */
import type { EvaluateOnExit, RetryStrategy } from '@aws-sdk/client-batch';
import { clientError } from './protocol.ts';

/** How an attempt ended, as the rules see it. */
export interface AttemptOutcome {
  exitCode?: number;
  reason?: string;
  statusReason?: string;
}

/** Rejects what real Batch rejects at SubmitJob / RegisterJobDefinition. */
export function validateRetryStrategy(strategy: RetryStrategy | undefined): void {
  if (strategy === undefined) return;
  const { attempts, evaluateOnExit } = strategy;
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1 || attempts > 10)) {
    throw clientError('retryStrategy.attempts must be between 1 and 10');
  }
  if (evaluateOnExit === undefined) return;
  if (!Array.isArray(evaluateOnExit) || evaluateOnExit.length > 5) throw clientError('retryStrategy.evaluateOnExit takes at most 5 rules');
  for (const rule of evaluateOnExit) {
    if (!/^(retry|exit)$/i.test(String(rule.action))) throw clientError(`evaluateOnExit action must be RETRY or EXIT, got ${rule.action}`);
    if (rule.onExitCode !== undefined && !/^[0-9]*\*?$/.test(rule.onExitCode)) {
      throw clientError(`evaluateOnExit.onExitCode may hold only digits and a trailing *: ${rule.onExitCode}`);
    }
    for (const pattern of [rule.onExitCode, rule.onReason, rule.onStatusReason]) {
      if (pattern !== undefined && pattern.length > 512) throw clientError('evaluateOnExit patterns are at most 512 characters');
    }
  }
}

/** Whether an attempt that did not succeed is followed by another one. */
export function shouldRetry(strategy: RetryStrategy | undefined, attemptsMade: number, outcome: AttemptOutcome): boolean {
  if (attemptsMade >= (strategy?.attempts ?? 1)) return false;
  const rule = strategy?.evaluateOnExit?.find((r) => matches(r, outcome));
  // The action is case-insensitive in the real API.
  return rule ? String(rule.action).toUpperCase() === 'RETRY' : true;
}

function matches(rule: EvaluateOnExit, outcome: AttemptOutcome): boolean {
  return (
    glob(rule.onExitCode, outcome.exitCode === undefined ? undefined : String(outcome.exitCode)) &&
    glob(rule.onReason, outcome.reason) &&
    glob(rule.onStatusReason, outcome.statusReason)
  );
}

/** An absent pattern matches anything; an absent value (no exit code after a host loss) only `*`. */
function glob(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (pattern.endsWith('*')) return (value ?? '').startsWith(pattern.slice(0, -1)) && (value !== undefined || pattern === '*');
  return value === pattern;
}
