/**
 * What an AWS Batch JobDetail means for its attempt (pure): the status flow, and the failure
 * kinds behind Batch's reasons (OutOfMemoryError, "Host EC2 ... terminated", the attempt
 * duration, images that cannot be pulled).
 */
import type { RemoteJobStatus } from '@tributary/core';

const QUEUED = new Set(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING']);

export function batchStatus(job: any): RemoteJobStatus {
  const status: string = job?.status ?? 'SUBMITTED';
  const reason: string = job?.statusReason ?? '';
  if (QUEUED.has(status)) return { state: 'pending', reason: `${status}${reason ? `: ${reason}` : ''}` };
  if (status === 'RUNNING') return { state: 'running' };
  if (status === 'SUCCEEDED') return { state: 'succeeded' };
  const last = job?.attempts?.at?.(-1)?.container ?? {};
  const container = job?.container ?? {};
  const why: string = container.reason ?? last.reason ?? '';
  const code = container.exitCode ?? last.exitCode;
  const exitCode: number | null = typeof code === 'number' ? code : null;
  const id = job?.jobId ?? 'job';
  if (/^OutOfMemoryError/i.test(why))
    return { state: 'failed', kind: 'COMPUTE_OOM', message: `Batch job ${id} ran out of memory (${why}): raise its memory.`, exitCode };
  if (/^Host EC2 .*terminated/i.test(reason) || /spot/i.test(reason))
    return { state: 'failed', kind: 'COMPUTE_PREEMPTED', message: `Batch job ${id} lost its instance (${reason}).`, exitCode };
  if (/attempt duration exceeded timeout/i.test(reason))
    return { state: 'failed', kind: 'TIMEOUT', message: `Batch job ${id} ran past its attempt duration.`, exitCode };
  if (/^Cannot(Pull|Start|Create)Container/i.test(why) || /^(CannotPull|CannotStart)/i.test(reason))
    return {
      state: 'failed',
      kind: 'COMPUTE_UNSCHEDULABLE',
      message: `Batch job ${id} could not start its container: ${why || reason}.`,
      exitCode,
    };
  return {
    state: 'failed',
    kind: 'NON_ZERO_EXIT',
    message: `Batch job ${id} failed: ${[reason, why, exitCode !== null ? `exit code ${exitCode}` : ''].filter(Boolean).join(', ')}.`,
    exitCode,
  };
}
