/**
 * Which task a piece of code belongs to. A warm worker runs task after task in one process, and
 * a step's callbacks (timers, stream handlers, promise continuations) can outlive the step: the
 * async context, not "whatever runs now", tells whose output and whose crash it is.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskLog } from './log-capture.ts';

/** A task in a worker, while it runs and for a short while after. @internal */
export interface TaskScope {
  pathspec: string;
  log: TaskLog;
  /** True once the task's outcome was reported: a failure now cannot change it. */
  finished: boolean;
  /** Fail the running task with an error thrown outside its await chain. */
  crash(error: unknown, how: CrashKind): void;
  /**
   * The process runs other code at the same time (an in-process executor in the orchestrator):
   * only code in this task's async context is its, never "whatever runs now".
   */
  shared?: boolean;
}

/** How an error escaped a step. @internal */
export type CrashKind = 'uncaught exception' | 'unhandled rejection';

const storage = new AsyncLocalStorage<TaskScope>();
let running: TaskScope | undefined;

/** Run `fn` as the body of a task: everything it starts, directly or not, belongs to `scope`. @internal */
export function runInTask<T>(scope: TaskScope, fn: () => Promise<T>): Promise<T> {
  if (!scope.shared) running = scope;
  return storage.run(scope, fn);
}

/** The task is over (its outcome is about to be reported). @internal */
export function leaveTask(scope: TaskScope): void {
  scope.finished = true;
  if (running === scope) running = undefined;
}

/**
 * The task the current code belongs to: its async context, else the task running right now
 * (code started before any task, e.g. at module load, has no context of its own).
 * @internal
 */
export function currentTaskScope(): TaskScope | undefined {
  return storage.getStore() ?? running;
}

/** The task running right now in this worker, if any. @internal */
export function runningTaskScope(): TaskScope | undefined {
  return running;
}

/** The task of the current async context only (no "whatever runs now" fallback). @internal */
export function contextTaskScope(): TaskScope | undefined {
  return storage.getStore();
}

/** True when the calling code belongs to a task (its step body or anything it started). @internal */
export function insideTask(): boolean {
  return storage.getStore() !== undefined;
}

let workerProcess = false;

/** This process is a task worker (set once by the worker entry point). @internal */
export function markWorkerProcess(): void {
  workerProcess = true;
}

/** True in a task worker process. @internal */
export function isWorkerProcess(): boolean {
  return workerProcess;
}
