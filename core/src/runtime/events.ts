import type { SerializedError } from '../errors.ts';

/** Progress events a run emits (for progress displays and embedding services). @public */
export type RunEvent =
  | { type: 'run-started'; flow: string; runId: string; steps: string[]; originRunId?: string }
  | { type: 'task-queued'; step: string; count: number }
  | { type: 'task-started'; step: string; pathspec: string; attempt: number }
  | { type: 'task-cloned'; step: string; pathspec: string; originPathspec: string }
  | { type: 'task-finished'; step: string; pathspec: string; attempt: number; durationMs: number }
  | { type: 'task-failed'; step: string; pathspec: string; attempt: number; error: SerializedError; willRetry: boolean }
  | { type: 'run-finished'; flow: string; runId: string; status: 'succeeded' | 'failed' | 'aborted'; durationMs: number };
