import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { serializeUnknownError } from '../errors.ts';
import { buildGraph } from '../graph/build-graph.ts';
import { executeTask, type WorkerContext } from '../runtime/execute-task.ts';
import { routeTaskOutput } from '../runtime/log-capture.ts';
import { preciseNow } from '../runtime/protocol.ts';
import { contextTaskScope, type CrashKind } from '../runtime/task-context.ts';
import { cancelledAttempt, timedOutAttempt } from './attempt-errors.ts';
import type { AttemptHandle, AttemptListener, AttemptRequest, ExecutorRun, ExecutorRunContext, TaskExecutor } from './task-executor.ts';

/**
 * While attempts run here, an error that escapes a step (a throw in its timer, a rejection nobody
 * awaited) fails that step, as in a worker. Errors of other code are left as Node (or the
 * service's own handlers) would treat them.
 */
let attemptsRunning = 0;
const EVENTS = { 'uncaught exception': 'uncaughtException', 'unhandled rejection': 'unhandledRejection' } as const;

function escaped(error: unknown, how: CrashKind): void {
  const scope = contextTaskScope();
  if (scope && !scope.finished) return scope.crash(error, how);
  if (scope) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`[tributary] ${how} in code started by ${scope.pathspec} after it finished: ${text}\n`);
    return;
  }
  if (process.listenerCount(EVENTS[how]) > 1) return; // the service handles its own
  // Nobody else listens: what Node does without handlers.
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
const onException = (error: unknown) => escaped(error, 'uncaught exception');
const onRejection = (reason: unknown) => escaped(reason, 'unhandled rejection');

function attemptStarted(): void {
  attemptsRunning++;
  // Checked every time: code that removed all listeners meanwhile does not switch the routing off.
  if (!process.listeners('uncaughtException').includes(onException)) process.on('uncaughtException', onException);
  if (!process.listeners('unhandledRejection').includes(onRejection)) process.on('unhandledRejection', onRejection);
}

function attemptEnded(): void {
  if (--attemptsRunning === 0) {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  }
}

/**
 * Runs attempts in this process, concurrently, each in its own async context (its output and its
 * escaped promise rejections are its own). For tests (the scheduler with in-memory adapters, in
 * milliseconds) and for services that want no child processes. What a process boundary gives is
 * not there: a step that blocks the event loop blocks the caller, a `@timeout` ends the attempt
 * (recorded `TIMEOUT`) but cannot stop code that keeps running, and a crash is the caller's.
 * @public
 */
export class InProcessExecutor implements TaskExecutor {
  readonly name = 'in-process';
  readonly needsCodePackage = false;
  readonly outOfProcess = false;

  async openRun(run: ExecutorRunContext): Promise<ExecutorRun> {
    routeTaskOutput();
    const ctx: WorkerContext = {
      flowClass: run.flowClass,
      graph: buildGraph(run.flowClass),
      store: new ArtifactStore(run.datastore, run.flow),
    };
    const running = new Set<Promise<void>>();
    return {
      submit(request: AttemptRequest, listener: AttemptListener): AttemptHandle {
        let settle!: (end: Parameters<AttemptListener['ended']>[0]) => void;
        const ended = new Promise<Parameters<AttemptListener['ended']>[0]>((resolve) => (settle = resolve));
        let timer: NodeJS.Timeout | undefined;
        const finish = (end: Parameters<AttemptListener['ended']>[0]) => {
          clearTimeout(timer);
          settle(end);
        };
        const spec = { ...request.spec, dispatchedAt: preciseNow() };
        listener.dispatched(spec.dispatchedAt);
        if (request.timeoutSeconds !== undefined) {
          const seconds = request.timeoutSeconds;
          timer = setTimeout(
            () =>
              finish({
                status: 'failed',
                error: timedOutAttempt(spec.pathspec, seconds, false),
              }),
            seconds * 1000,
          );
          timer.unref();
        }
        attemptStarted();
        executeTask(
          ctx,
          spec,
          (at) => listener.entered(at),
          (record) => listener.checkpoint(record),
          {
            shared: true,
            ...(run.onTaskOutput ? { echoTo: run.onTaskOutput } : {}),
          },
        )
          .then(
            (outcome) => finish({ status: 'succeeded', outcome }),
            (err) => finish({ status: 'failed', error: serializeUnknownError(err, { pathspec: spec.pathspec, step: spec.step }) }),
          )
          // Late errors of the step's leftovers are still routed for a moment (as a worker does).
          .finally(() => setTimeout(attemptEnded, 1000).unref());
        const reported = ended.then((end) => listener.ended(end));
        running.add(reported);
        void reported.then(() => running.delete(reported));
        return {
          cancel: (reason) => finish({ status: 'failed', error: cancelledAttempt(reason) }),
        };
      },
      async close() {
        await Promise.all([...running]);
      },
    };
  }

  async close(): Promise<void> {}
}
