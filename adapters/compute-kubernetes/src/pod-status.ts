/**
 * What a pod's status means for its attempt (pure; the cases are Kubernetes' own): OOMKilled,
 * eviction, preemption and node loss, the pod deadline (`@timeout`), images that cannot be pulled
 * and secrets that are missing, a pod no node can take.
 */
import type { RemoteJobStatus } from '@tributary/core';

/** Waiting reasons after which the container will not start without someone changing something. */
const UNSTARTABLE = new Set([
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
]);
/** Pod reasons of a pod stopped by the cluster rather than by its code. */
const DISRUPTED = new Set(['Evicted', 'Preempting', 'Shutdown', 'NodeShutdown', 'NodeLost', 'Terminated', 'UnexpectedAdmissionError']);

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function condition(pod: any, type: string): Condition | undefined {
  return (pod?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

/** The pod's first container's status (the task container). */
function container(pod: any): any {
  return pod?.status?.containerStatuses?.[0];
}

/** The attempt's status from its pod. `deleted`: the pod is gone (a DELETED watch event). */
export function podStatus(pod: any, deleted = false): RemoteJobStatus {
  const phase: string | undefined = pod?.status?.phase;
  const cs = container(pod);
  const terminated = cs?.state?.terminated;
  const disruption = condition(pod, 'DisruptionTarget');
  const disrupted =
    (disruption?.status === 'True' ? disruption : undefined) ?? (DISRUPTED.has(pod?.status?.reason) ? pod.status : undefined);
  const name = pod?.metadata?.name ?? 'pod';
  if (phase === 'Succeeded') return { state: 'succeeded' };
  if (phase === 'Failed' || (deleted && phase !== 'Succeeded')) {
    if (pod?.status?.reason === 'DeadlineExceeded')
      return {
        state: 'failed',
        kind: 'TIMEOUT',
        message: `Pod ${name} ran past its deadline (activeDeadlineSeconds).`,
        exitCode: terminated?.exitCode ?? null,
      };
    if (terminated?.reason === 'OOMKilled')
      return {
        state: 'failed',
        kind: 'COMPUTE_OOM',
        message: `Pod ${name} ran out of memory (OOMKilled, exit code 137): raise its memory.`,
        exitCode: 137,
      };
    if (disrupted) {
      const why = [disrupted.reason, disrupted.message].filter(Boolean).join(': ');
      return {
        state: 'failed',
        kind: 'COMPUTE_PREEMPTED',
        message: `Pod ${name} was stopped by the cluster (${why || 'disruption'}).`,
        exitCode: terminated?.exitCode ?? null,
      };
    }
    if (deleted && !terminated)
      return { state: 'gone', message: `Pod ${name} was deleted before it finished (outside Tributary, or with its node).` };
    if (terminated) {
      const code = terminated.exitCode as number;
      const message =
        code === 137
          ? 'killed (exit code 137)'
          : code === 139
            ? 'segmentation fault (exit code 139)'
            : `${terminated.reason ?? 'Error'} (exit code ${code})`;
      return {
        state: 'failed',
        kind: 'NON_ZERO_EXIT',
        message: `Pod ${name}: ${message}${terminated.message ? `: ${terminated.message}` : ''}.`,
        exitCode: code,
      };
    }
    return {
      state: 'failed',
      kind: 'NON_ZERO_EXIT',
      message: `Pod ${name} failed: ${pod?.status?.reason ?? ''} ${pod?.status?.message ?? ''}`.trim(),
      exitCode: null,
    };
  }
  if (phase === 'Running') return { state: 'running' };
  const waiting = cs?.state?.waiting;
  if (waiting && UNSTARTABLE.has(waiting.reason))
    return { state: 'unstartable', reason: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False')
    return { state: 'pending', reason: `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? ''}`.trim() };
  return { state: 'pending', ...(waiting?.reason ? { reason: waiting.reason } : {}) };
}

/** A pod's creation order (the newest pod of an index or job is its current try). */
export function createdAt(obj: any): number {
  const t = Date.parse(obj?.metadata?.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}
