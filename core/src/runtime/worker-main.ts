/**
 * Entry point of a task worker process. It loads the flow module once, then runs task after
 * task sent by the orchestrator over IPC: a warm worker, so a task pays neither a Node start
 * nor a re-import of the flow.
 */
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { SyncReader } from '../artifacts/sync-reader.ts';
import { deserializeError, serializeUnknownError, TributaryError } from '../errors.ts';
import { FlowSpec } from '../flow/flow-spec.ts';
import { buildGraph } from '../graph/build-graph.ts';
import { loadCardRenderer } from '../cards/load-card-renderer.ts';
import type { Datastore } from '../ports/datastore.ts';
import { executeTask, type WorkerContext } from './execute-task.ts';
import { flowClassFrom, importFlowModule } from './import-flow-module.ts';
import { flushLateOutput, routeTaskOutput } from './log-capture.ts';
import { currentTaskScope, markWorkerProcess, runningTaskScope, type CrashKind } from './task-context.ts';
import { openAdapter } from './open-adapter.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

let ctx: WorkerContext | undefined;
let queue = Promise.resolve();
let nextRpc = 0;
const pendingRpc = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

/** Ask the orchestrator to record something durably; resolves when it is committed. */
function rpc(msg: Omit<Extract<FromWorker, { t: 'rpc' }>, 'id' | 't'>): Promise<void> {
  const id = ++nextRpc;
  return new Promise<void>((resolve, reject) => {
    pendingRpc.set(id, { resolve, reject });
    send({ t: 'rpc', id, ...msg });
  });
}

async function init(msg: Extract<ToWorker, { t: 'init' }>): Promise<void> {
  Object.assign(process.env, msg.env);
  const flowClass = flowClassFrom(await importFlowModule(msg.flowModule), msg.flowExport, msg.flowModule);
  if (typeof flowClass !== 'function' || !(flowClass.prototype instanceof FlowSpec)) {
    throw new TributaryError(
      'FLOW_LOAD',
      `Module ${msg.flowModule} has no exported FlowSpec subclass named ${msg.flowExport}. Export the flow class.`,
    );
  }
  const datastore = await openAdapter<Datastore>(msg.datastore);
  const store = new ArtifactStore(datastore, msg.flow);
  if (!datastore.readSync) store.syncReader = new SyncReader(msg.datastore);
  const graph = buildGraph(flowClass);
  ctx = { flowClass: flowClass as WorkerContext['flowClass'], graph, store };
  // A flow with cards: load their libraries now, while the worker waits for its first task.
  if (Object.values(graph.nodes).some((n) => n.decorators.card)) void loadCardRenderer().catch(() => undefined);
}

/**
 * Leave once the task output that is still being saved is stored. A step's timer may still print
 * after the run ended: wait for the event loop to go idle, at most a second.
 */
let leaving = false;
function leave(code: number): void {
  if (leaving) return;
  leaving = true;
  process.channel?.unref();
  const exit = () => void flushLateOutput().finally(() => process.exit(code));
  setTimeout(exit, 1000).unref();
  process.once('beforeExit', exit);
}

/** After an uncaught exception the process may be in any state: finish the current task, then go. */
let tainted = false;
let busy = false;

/** The orchestrator's end of our stdout/stderr is gone (it was killed): nobody is left to serve. */
function orphaned(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
}

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    // Writing here again would fail again: leave at once, without a word.
    if (orphaned(err)) process.exit(0);
  });
}

function onEscapedError(error: unknown, how: CrashKind): void {
  if (orphaned(error) && !process.connected) process.exit(0);
  if (how === 'uncaught exception') tainted = true;
  const scope = currentTaskScope();
  if (scope && !scope.finished) {
    scope.crash(error, how);
    return;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(
    `[tributary] ${how}${scope ? ` in code started by ${scope.pathspec} after it finished` : ' in the worker'}: ${text}\n`,
  );
  if (tainted && !busy) {
    send({ t: 'retiring' });
    leave(1);
  }
}

// In-process flag, not the environment: processes a step starts (a `tributary run` of another
// flow, say) inherit TRIBUTARY_WORKER but are not workers themselves.
markWorkerProcess();
process.on('uncaughtException', (err) => onEscapedError(err, 'uncaught exception'));
process.on('unhandledRejection', (reason) => onEscapedError(reason, 'unhandled rejection'));
routeTaskOutput();

process.on('message', (raw) => {
  const msg = raw as ToWorker;
  if (msg.t === 'exit') {
    leave(0);
    return;
  }
  if (msg.t === 'flush') {
    // Outside the task queue: the task that is about to be stopped is what holds it.
    void (runningTaskScope()?.log.save() ?? Promise.resolve()).catch(() => undefined).then(() => send({ t: 'flushed' }));
    return;
  }
  if (msg.t === 'rpc-result') {
    // Answered outside the task queue: the task awaiting it is what holds the queue.
    const p = pendingRpc.get(msg.id);
    pendingRpc.delete(msg.id);
    if (msg.error) p?.reject(deserializeError(msg.error));
    else p?.resolve();
    return;
  }
  queue = queue.then(async () => {
    if (msg.t === 'init') {
      try {
        await init(msg);
        send({ t: 'ready' });
      } catch (err) {
        send({ t: 'fatal', error: serializeUnknownError(err) });
      }
      return;
    }
    const spec = msg.spec;
    busy = true;
    try {
      if (!ctx) throw new TributaryError('INFRASTRUCTURE', 'Worker received a task before init.');
      const outcome = await executeTask(
        ctx,
        spec,
        (at) => send({ t: 'entered', taskId: spec.taskId, at }),
        (record) => rpc({ taskId: spec.taskId, op: 'checkpoint', record }),
      );
      // Told first, so the next attempt is not handed to a process that is about to leave.
      if (tainted) send({ t: 'retiring' });
      send({ t: 'done', taskId: spec.taskId, outcome });
    } catch (err) {
      if (tainted) send({ t: 'retiring' });
      send({ t: 'failed', taskId: spec.taskId, error: serializeUnknownError(err, { pathspec: spec.pathspec, step: spec.step }) });
    } finally {
      busy = false;
    }
    // A worker that saw an uncaught exception is replaced rather than trusted with the next task.
    if (tainted) leave(1);
  });
});

// The orchestrator going away (even by SIGKILL) closes the IPC channel: leave with it.
process.on('disconnect', () => leave(0));
