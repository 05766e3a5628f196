import type { SerializedError } from '../errors.ts';

/** Progress events a run emits (for progress displays and embedding services). @public */
export type RunEvent =
  /**
   * A step environment is ready, before the run starts: `solved` when the solver ran (else a lock
   * kept from an earlier run), `built` when it was built here (else reused from the cache, or,
   * `remote`, left to the steps' containers).
   */
  | {
      type: 'environment-ready';
      kind: string;
      steps: string[];
      id: string;
      platform: string;
      packages: number;
      solved: boolean;
      built: boolean;
      remote: boolean;
      durationMs: number;
    }
  | { type: 'run-started'; flow: string; runId: string; steps: string[]; originRunId?: string }
  | { type: 'task-queued'; step: string; count: number }
  | { type: 'task-started'; step: string; pathspec: string; attempt: number }
  | { type: 'task-cloned'; step: string; pathspec: string; originPathspec: string }
  | { type: 'task-finished'; step: string; pathspec: string; attempt: number; durationMs: number }
  | { type: 'task-failed'; step: string; pathspec: string; attempt: number; error: SerializedError; willRetry: boolean }
  | { type: 'run-finished'; flow: string; runId: string; status: 'succeeded' | 'failed' | 'aborted'; durationMs: number };
