/**
 * Fault injection: what goes wrong in real Batch without the job's code being at fault (memory,
 * spot reclaim, lost hosts, unpullable images, no instance that fits), and API-level failures
 * (service faults, throttling), so adapters' failure classification and retries can be tested.
 */
import type { JobDetail } from '@aws-sdk/client-batch';
import { serverError, throttled, type BatchApiError, type OperationName } from './protocol.ts';

/** @public */
export type FaultKind = 'oom' | 'spot' | 'stuck-runnable' | 'image-pull' | 'host-terminated';

/**
 * A fault applied to job attempts as they start.
 * - `oom`: the container is SIGKILLed `afterMs` after RUNNING; FAILED with exit code 137 and reason
 *   "OutOfMemoryError: Container killed due to memory usage".
 * - `spot` / `host-terminated`: killed `afterMs` after RUNNING; FAILED with no exit code and
 *   statusReason "Host EC2 (instance i-…) terminated." (a spot reclaim looks the same in the API).
 * - `stuck-runnable`: the job stays RUNNABLE forever, as when no instance type fits it.
 * - `image-pull`: the attempt fails in STARTING with "CannotPullContainerError: …", "Task failed to start".
 * @public
 */
export interface FaultRule {
  /** Picks the jobs (or array children) it applies to; called with the job as it is about to start. */
  match: (job: JobDetail) => boolean;
  fault: FaultKind;
  /** How many attempts it affects before it is spent. Default: all. */
  times?: number;
  /** Delay after RUNNING of the kill faults, ms. Default 50. */
  afterMs?: number;
}

/** Makes the next `times` requests (of `operation`, e.g. `DescribeJobs`, or of any) fail. @public */
export interface ApiFaultRule {
  status: 500 | 429;
  times: number;
  operation?: string;
}

/** The fault an attempt carries from its start. */
export interface PlannedFault {
  fault: FaultKind;
  afterMs: number;
}

export class JobFaults {
  private rules: Array<{ rule: FaultRule; left: number }> = [];

  inject(rule: FaultRule): void {
    this.rules.push({ rule, left: rule.times ?? Infinity });
  }

  clear(): void {
    this.rules = [];
  }

  /** The first unspent rule that matches the starting attempt, spending one of its times. */
  take(job: JobDetail): PlannedFault | undefined {
    const hit = this.rules.find((r) => r.left > 0 && r.rule.match(job));
    if (!hit) return undefined;
    hit.left--;
    return { fault: hit.rule.fault, afterMs: hit.rule.afterMs ?? 50 };
  }
}

export class ApiFaults {
  private rules: Array<ApiFaultRule & { left: number }> = [];

  add(rule: ApiFaultRule): void {
    this.rules.push({ ...rule, left: rule.times });
  }

  clear(): void {
    this.rules = [];
  }

  /** The error to answer this request with, if a rule still applies to it. */
  take(operation: OperationName): BatchApiError | undefined {
    const hit = this.rules.find((r) => r.left > 0 && (r.operation === undefined || r.operation.toLowerCase() === operation.toLowerCase()));
    if (!hit) return undefined;
    hit.left--;
    return hit.status === 429 ? throttled() : serverError();
  }
}
