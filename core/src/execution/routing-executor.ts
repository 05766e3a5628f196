/**
 * A run whose steps run on different compute (some local, some on Kubernetes or Batch): each
 * attempt goes to the executor of its step's compute kind (`AttemptRequest.compute`), local ones
 * to the run's own executor (the warm pool, usually).
 */
import { TributaryError } from '../errors.ts';
import type { AttemptHandle, AttemptListener, AttemptRequest, ExecutorRun, ExecutorRunContext, TaskExecutor } from './task-executor.ts';

/** @internal */
export class RoutingExecutor implements TaskExecutor {
  readonly name: string;
  readonly needsCodePackage: boolean;
  readonly outOfProcess: boolean;

  /** `routes`: executor by compute kind; `local` (optional) takes attempts of steps without one. */
  constructor(private readonly routes: Record<string, TaskExecutor>) {
    const all = Object.values(routes);
    this.name = Object.keys(routes).join('+');
    this.needsCodePackage = all.some((e) => e.needsCodePackage);
    this.outOfProcess = all.some((e) => e.outOfProcess);
  }

  async openRun(run: ExecutorRunContext): Promise<ExecutorRun> {
    const opened: Record<string, ExecutorRun> = {};
    try {
      for (const [kind, executor] of Object.entries(this.routes)) opened[kind] = await executor.openRun(run);
    } catch (err) {
      await Promise.all(Object.values(opened).map((r) => r.close().catch(() => undefined)));
      throw err;
    }
    return new RoutedRun(opened);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.routes).map((e) => e.close()));
  }
}

class RoutedRun implements ExecutorRun {
  constructor(private readonly runs: Record<string, ExecutorRun>) {}

  private target(request: AttemptRequest): ExecutorRun {
    const kind = request.compute?.kind ?? 'local';
    const run = this.runs[kind];
    if (!run) throw new TributaryError('CONFIG', `No executor for ${kind} compute in this run (step ${request.spec.step}).`);
    return run;
  }

  submit(request: AttemptRequest, listener: AttemptListener): AttemptHandle {
    return this.target(request).submit(request, listener);
  }

  submitArray(items: Array<{ request: AttemptRequest; listener: AttemptListener }>): AttemptHandle[] | undefined {
    const run = this.target(items[0]!.request);
    return run.submitArray?.(items);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.runs).map((r) => r.close()));
  }
}
