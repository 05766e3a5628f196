/**
 * Fault injection: what goes wrong on a real cluster without the job's code being at fault (memory
 * kills, evictions, lost nodes, unschedulable or unpullable pods), and API-level failures, so an
 * adapter's failure classification and retries can be tested.
 */
import { injected, type ApiError } from './api-errors.ts';
import type { KubeJob } from './model.ts';

/** @public */
export type PodFaultKind = 'oom' | 'evict' | 'stuck-pending' | 'image-pull' | 'node-lost';

/**
 * A fault applied to pods as the job controller creates them.
 * - `oom`: the container is SIGKILLed `afterMs` after it started; terminated `OOMKilled`, exit 137, pod Failed.
 * - `evict`: killed; pod Failed with reason `Evicted` and a `DisruptionTarget` condition (`TerminationByKubelet`).
 * - `node-lost`: killed; `DisruptionTarget` (`DeletionByTaintManager`), the pod is marked Failed and deleted.
 * - `stuck-pending`: never scheduled (`PodScheduled: False`, `Unschedulable`); no container runs.
 * - `image-pull`: scheduled, but the container waits in `ErrImagePull`, then `ImagePullBackOff`, forever.
 * @public
 */
export interface FaultRule {
  /** Picks the pods it applies to: called with the Job (as stored) and, for Indexed Jobs, the pod's completion index. */
  match: (job: KubeJob, index?: number) => boolean;
  fault: PodFaultKind;
  /** How many pods it applies to before it is spent. Default: all. */
  times?: number;
  /** For `oom`, `evict` and `node-lost`: ms after the container started. Default 50. */
  afterMs?: number;
}

/** Makes the next `times` matching requests fail with a Status of that code. @public */
export interface ApiFaultRule {
  status: 500 | 429 | 503;
  times: number;
  /** Picks the requests: method, URL path (no query) and the operation name as counted in `requests` (`'read job'`). Default: all. */
  match?: (method: string, path: string, operation: string) => boolean;
}

export interface PlannedFault {
  fault: PodFaultKind;
  afterMs: number;
}

export class PodFaults {
  private rules: Array<FaultRule & { left: number }> = [];

  inject(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? Infinity });
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault a new pod carries, if any; the first matching rule with uses left is spent by one. */
  take(job: KubeJob, index: number | undefined): PlannedFault | undefined {
    for (const rule of this.rules) {
      if (rule.left <= 0 || !rule.match(job, index)) continue;
      rule.left--;
      return { fault: rule.fault, afterMs: rule.afterMs ?? 50 };
    }
    return undefined;
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

  take(method: string, path: string, operation: string): ApiError | undefined {
    for (const rule of this.rules) {
      if (rule.left <= 0 || (rule.match && !rule.match(method, path, operation))) continue;
      rule.left--;
      return injected(rule.status);
    }
    return undefined;
  }
}
