import type { AttemptError, MetadataStore, TaskRecord, TaskStatus } from '../ports/metadata-store.ts';

async function tasksWithStatus(metadata: MetadataStore, flow: string, runId: string, status: TaskStatus): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await metadata.listTasks({ flow, runId, status, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/**
 * Give every task of a stopped run a final status, so nothing of a finished run reads as
 * `pending` or `running`: a running attempt is recorded failed with `error`; a task that never
 * started gets one failed attempt saying it never ran (`ABORTED`). Returns how many tasks it
 * finished.
 * @internal
 */
export async function finalizeUnfinishedTasks(
  metadata: MetadataStore,
  flow: string,
  runId: string,
  error: AttemptError,
  /** How the run ended, for tasks that never started: `failed`, `was aborted`... */
  ended = 'stopped',
): Promise<number> {
  let n = 0;
  for (const task of await tasksWithStatus(metadata, flow, runId, 'running')) {
    const ref = { flow, runId, taskId: task.taskId };
    const last = (await metadata.listAttempts(ref)).at(-1);
    if (last?.status === 'running') {
      await metadata.finishAttempt(ref, last.attempt, { status: 'failed', error });
      n++;
    }
  }
  for (const task of await tasksWithStatus(metadata, flow, runId, 'pending')) {
    const ref = { flow, runId, taskId: task.taskId };
    await metadata.startAttempt(ref, task.attempts);
    await metadata.finishAttempt(ref, task.attempts, {
      status: 'failed',
      error: { code: 'ABORTED', message: `Never started: the run ${ended} before this task ran.` },
    });
    n++;
  }
  return n;
}
