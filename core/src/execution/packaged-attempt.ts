/**
 * The part of a task job that runs from inside the code package: this module is bundled into the
 * package with the flow and the datastore adapter, so the job runs the very code the run started
 * with, whatever is installed where it runs.
 */
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { SyncReader } from '../artifacts/sync-reader.ts';
import { serializeUnknownError, TributaryError } from '../errors.ts';
import { FlowSpec } from '../flow/flow-spec.ts';
import { buildGraph } from '../graph/build-graph.ts';
import type { Datastore } from '../ports/datastore.ts';
import { executeTask } from '../runtime/execute-task.ts';
import { flushLateOutput, routeTaskOutput } from '../runtime/log-capture.ts';
import { currentTaskScope, markWorkerProcess, type CrashKind } from '../runtime/task-context.ts';
import { flowClassFrom, importFlowModuleWith } from '../runtime/import-flow-module.ts';
import { TASK_EXIT, type JobOutcome, type JobSpec } from './job-spec.ts';

/** @internal */
export interface PackagedAttemptInput {
  job: JobSpec;
  /** The package's own import of the flow module (lazy: it runs as a flow module import, see import-flow-module.ts). */
  loadFlow: () => Promise<Record<string, unknown>>;
  loadDatastore: () => Promise<Record<string, unknown>>;
  /** URL of the package's `task.mjs` (it exports `openDatastore`, for the synchronous-read thread). */
  packageUrl: string;
}

function onEscapedError(error: unknown, how: CrashKind): void {
  const scope = currentTaskScope();
  if (scope && !scope.finished) return scope.crash(error, how);
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`[tributary] ${how}${scope ? ` in code started by ${scope.pathspec} after it finished` : ''}: ${text}\n`);
}

/** Run the job's attempt; resolves with the process exit code (see TASK_EXIT). @internal */
export async function runPackagedAttempt(input: PackagedAttemptInput): Promise<number> {
  const { job } = input;
  markWorkerProcess();
  process.on('uncaughtException', (err) => onEscapedError(err, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => onEscapedError(reason, 'unhandled rejection'));
  routeTaskOutput();
  const factory = (await input.loadDatastore())[job.datastore.factory];
  if (typeof factory !== 'function')
    throw new TributaryError('CONFIG', `The code package has no datastore factory ${job.datastore.factory}.`);
  const datastore = (await factory(job.datastore.options)) as Datastore;
  const write = (outcome: JobOutcome) => datastore.put(job.keys.outcome, Buffer.from(JSON.stringify(outcome)));
  try {
    let flowClass: Function;
    try {
      // As a worker imports it: a module that starts a run at top level starts nothing here.
      const mod = await importFlowModuleWith(input.loadFlow, `from code package ${job.codePackage}`);
      flowClass = flowClassFrom(mod, job.flowExport, 'the code package');
      if (typeof flowClass !== 'function' || !(flowClass.prototype instanceof FlowSpec))
        throw new TributaryError('FLOW_LOAD', `The code package has no exported FlowSpec subclass named ${job.flowExport}.`);
    } catch (err) {
      // Every attempt would fail the same way: fatal, no retry. The error is stored in the outcome
      // and in the task's log, where `tributary logs` finds it.
      const error = TributaryError.is(err)
        ? err
        : new TributaryError('FLOW_LOAD', `The flow module does not load: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      const text = `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`;
      await datastore.put(`${job.spec.logKeyPrefix}/${job.spec.attempt}.stderr.log`, Buffer.from(text)).catch(() => undefined);
      process.stderr.write(text);
      await write({ status: 'failed', error: serializeUnknownError(error), fatal: true });
      return TASK_EXIT.INFRASTRUCTURE;
    }
    const store = new ArtifactStore(datastore, job.spec.flow);
    // Reads the step's source does not name go through a helper thread that opens the package's
    // own copy of the adapter (the orchestrator's module path means nothing where the job runs).
    if (!datastore.readSync)
      store.syncReader = new SyncReader({ module: input.packageUrl, factory: 'openDatastore', options: job.datastore.options });
    const ctx = { flowClass: flowClass as new () => FlowSpec, graph: buildGraph(flowClass), store };
    let enteredAt: number | undefined;
    let seq = 0;
    const stopAfter = (seconds: number) =>
      // The clock starts when the step's code is entered (not when the job started). It stops a
      // step waiting on I/O; one that blocks the event loop is stopped by the backend's own limit.
      setTimeout(() => {
        const pathspec = job.spec.pathspec;
        const error = new TributaryError('TIMEOUT', `${pathspec} ran longer than its @timeout of ${seconds}s and was stopped.`, {
          context: { pathspec },
        });
        void (async () => {
          await currentTaskScope()
            ?.log.save()
            .catch(() => undefined);
          await write({ status: 'failed', error: { ...serializeUnknownError(error), retryable: true }, enteredAt: enteredAt! });
          process.exit(TASK_EXIT.USER_FAILURE);
        })();
      }, seconds * 1000).unref();
    try {
      const outcome = await executeTask(
        ctx,
        job.spec,
        (at) => {
          enteredAt = at;
          if (job.timeoutSeconds !== undefined) stopAfter(job.timeoutSeconds);
        },
        // No orchestrator to talk to: a checkpoint is durable once its record is in the datastore
        // (the orchestrator commits it to metadata when the job has ended, even a killed one).
        async (record) =>
          void (await datastore.put(`${job.keys.checkpoints}${String(++seq).padStart(8, '0')}.json`, Buffer.from(JSON.stringify(record)))),
        { logFlushMs: job.logFlushMs },
      );
      await write({ status: 'succeeded', outcome });
      return TASK_EXIT.SUCCEEDED;
    } catch (err) {
      const error = serializeUnknownError(err, { pathspec: job.spec.pathspec, step: job.spec.step });
      await write({ status: 'failed', error, ...(enteredAt !== undefined ? { enteredAt } : {}) });
      return TASK_EXIT.USER_FAILURE;
    }
  } finally {
    await flushLateOutput().catch(() => undefined);
    await datastore.close().catch(() => undefined);
  }
}
