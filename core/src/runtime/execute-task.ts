import { activateEnvironment } from '../environments/activate-environment.ts';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { isMutable, encodeValue } from '../artifacts/serializer.ts';
import { serializeUnknownError, TributaryError } from '../errors.ts';
import { instantiateFlow, makeInputs, type FlowSpec } from '../flow/flow-spec.ts';
import { promoteChangedFields } from '../flow/fields.ts';
import type { TaskState } from '../flow/task-state.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import { sha256 } from '../util/hash.ts';
import type { CardSpec } from '../cards/card-options.ts';
import { cardFacts } from '../cards/card-facts.ts';
import { TaskCardRuntime } from '../cards/task-card-runtime.ts';
import { makeTaskCards } from '../cards/task-cards.ts';
import { TaskLog } from './log-capture.ts';
import { leaveTask, runInTask, type CrashKind, type TaskScope } from './task-context.ts';
import { preciseNow, type CheckpointRecord, type TaskOutcome, type TaskSpec } from './protocol.ts';

/** What a worker needs to run tasks of one flow. @internal */
export interface WorkerContext {
  flowClass: new () => FlowSpec;
  graph: FlowGraph;
  store: ArtifactStore;
}

/** @internal */
export interface ExecuteOptions {
  /** Other code runs in this process meanwhile (in-process executor): attribute output by async context only. */
  shared?: boolean;
  /** Store the log every this many ms while the task runs (one-shot jobs: `tributary logs` shows it live). */
  logFlushMs?: number;
  /** Where echoed output goes (default: this process's stdout/stderr). */
  echoTo?: (stream: 'stdout' | 'stderr', text: string) => void;
}

/**
 * Run one task inside a worker: build the flow instance over its inputs, call the step, then
 * save what it assigned (or changed) as content-addressed artifacts. Returns only references.
 * @internal
 */
export async function executeTask(
  ctx: WorkerContext,
  spec: TaskSpec,
  onEntered: (at: number) => void,
  recordCheckpoint?: (record: CheckpointRecord) => Promise<void>,
  options: ExecuteOptions = {},
): Promise<TaskOutcome> {
  const node = ctx.graph.nodes[spec.step];
  if (!node)
    throw new TributaryError(
      'FLOW_LOAD',
      `Step ${spec.step} is not in the graph of ${ctx.graph.flow}: the flow file changed since the run started.`,
    );
  const st: TaskState = {
    graph: ctx.graph,
    node,
    store: ctx.store.forTask(spec.pathspec),
    current: {
      flow: spec.flow,
      runId: spec.runId,
      step: spec.step,
      taskId: spec.taskId,
      attempt: spec.attempt,
      pathspec: spec.pathspec,
      key: spec.key,
      parameterNames: spec.params,
    },
    manifest: new Map(spec.manifest.map((r) => [r.name, r])),
    params: new Set(spec.params),
    frames: spec.frames,
    ...(spec.inputs ? { inputs: spec.inputs } : {}),
    maxNumSplits: spec.maxNumSplits,
    assigned: new Map(),
    loaded: new Map(),
    deleted: new Set(),
    constructing: false,
    checkpoints: [...(spec.checkpoints ?? [])],
    ...(recordCheckpoint ? { recordCheckpoint } : {}),
  };
  if (!ctx.store.datastore.readSync) await prefetch(ctx.store, st);
  const cardSpecs = (node.decorators.card as CardSpec[] | undefined) ?? spec.cards ?? [];
  const log = new TaskLog(
    spec.pathspec,
    spec.maxLogBytes,
    spec.echo ? `[${spec.pathspec}] ` : undefined,
    (contents) => saveLogs(ctx.store, spec, contents),
    options.echoTo,
  );
  let crashed!: (err: unknown) => void;
  const crash = new Promise<never>((_, reject) => (crashed = reject));
  crash.catch(() => undefined);
  const scope: TaskScope = {
    pathspec: spec.pathspec,
    log,
    finished: false,
    crash: (error, how) => crashed(new EscapedError(spec.pathspec, error, how)),
    ...(options.shared ? { shared: true } : {}),
  };
  const flushing = options.logFlushMs ? setInterval(() => void log.saveIfChanged().catch(() => undefined), options.logFlushMs) : undefined;
  flushing?.unref();
  let cards: TaskCardRuntime | undefined;
  let enteredAtMs = Date.now();
  let outputs: ArtifactRef[] | undefined;
  let failure: unknown;
  if (cardSpecs.length) {
    cards = new TaskCardRuntime({
      specs: cardSpecs,
      store: st.store,
      logKeyPrefix: spec.logKeyPrefix,
      attempt: spec.attempt,
      warn: (m) => log.append('stderr', Buffer.from(`[card] ${m}\n`)),
      facts: (status) => cardFacts(st, spec, status, enteredAtMs, outputs, failure),
    });
    st.cards = cards.cards;
  } else
    st.cards = makeTaskCards({
      specs: [],
      sections: new Map(),
      refresh: async () => {},
      warn: (m) => log.append('stderr', Buffer.from(`[card] ${m}\n`)),
    });
  const deactivate = spec.environment ? activateEnvironment(spec.environment) : undefined;
  try {
    // Everything the step starts (timers, callbacks, child-process handlers) runs in this scope:
    // its output goes to this task's log and its escaped errors fail this task.
    const outcome = await runInTask(scope, async () => {
      const flow = instantiateFlow(ctx.flowClass, st);
      const enteredAt = preciseNow();
      enteredAtMs = Date.now();
      onEntered(enteredAt);
      if (spec.caught) {
        // The @catch fallback: record the failure as data and move on along the static graph.
        const e = spec.caught.error;
        st.assigned.set(spec.caught.var, { code: e.code, name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
        st.transition = { targets: [...node.next] };
      } else {
        const method = (flow as unknown as Record<string, (...a: unknown[]) => unknown>)[spec.step]!;
        const args = node.type === 'join' ? [makeInputs(st)] : [];
        await Promise.race([method.apply(flow, args), crash]);
      }
      if (node.type !== 'end' && !st.transition) {
        throw new TributaryError(
          'TRANSITION_MISMATCH',
          `Step ${spec.step} finished without calling this.next(). Call this.next(...) at the end of the step.`,
          { context: { step: spec.step } },
        );
      }
      const persisted = await Promise.race([persistOutputs(st, spec), crash]);
      outputs = persisted.artifacts;
      // Rendered here, in the task's process and async context: a card's warnings go to its log.
      const stored = cards ? await cards.succeeded() : [];
      return { ...persisted, enteredAt, ...(stored.length ? { cards: stored } : {}) };
    });
    await log.save();
    return { ...outcome, finishedAt: preciseNow() };
  } catch (err) {
    const text = err instanceof Error ? `${err.stack ?? err.message}\n` : `${serializeUnknownError(err).message}\n`;
    log.append('stderr', Buffer.from(text));
    failure = err;
    await cards?.failed().catch(() => undefined);
    await log.save().catch(() => undefined);
    throw err;
  } finally {
    deactivate?.();
    clearInterval(flushing);
    leaveTask(scope);
    log.finish();
    ctx.store.clearPrefetched();
  }
}

/**
 * An error that escaped the step's await chain: thrown in a timer or callback, or a rejected
 * promise nobody awaited. It is the step's failure (USER_CODE), with the original error and stack.
 * @internal
 */
export class EscapedError extends Error {
  constructor(
    pathspec: string,
    readonly original: unknown,
    how: CrashKind,
  ) {
    const what = original instanceof Error ? original.message : serializeUnknownError(original).message;
    super(`${what} (an ${how} in code started by ${pathspec}: await the promise, or catch errors inside the callback)`);
    this.name = original instanceof Error ? original.name : 'Error';
    if (original instanceof Error && original.stack) this.stack = `${original.stack}\n    (${how} in ${pathspec})`;
  }
}

/**
 * A remote datastore cannot be read synchronously (cheaply): fetch, in parallel and before the
 * step runs, the artifacts whose names its source mentions, and its foreach item. Anything else
 * it reads still works, through the store's synchronous fallback.
 */
async function prefetch(store: ArtifactStore, st: TaskState): Promise<void> {
  const reads = new Set(st.node.reads ?? []);
  const wanted: Array<{ sha: string; range?: { offset: number; length: number }; expect?: string }> = [];
  for (const ref of st.manifest.values()) if (reads.has(ref.name)) wanted.push({ sha: ref.sha });
  for (const input of st.inputs ?? []) for (const ref of input.manifest) if (reads.has(ref.name)) wanted.push({ sha: ref.sha });
  if (reads.has('input')) {
    const frame = [...st.frames].reverse().find((f) => f.kind === 'foreach');
    if (frame?.item)
      wanted.push({ sha: frame.item.blob, range: { offset: frame.item.offset, length: frame.item.length }, expect: frame.item.sha });
  }
  await store.prefetch(wanted);
}

async function saveLogs(store: ArtifactStore, spec: TaskSpec, logs: { stdout: Buffer; stderr: Buffer }): Promise<void> {
  // An empty log is not written: most tasks print nothing, and two writes per task add up.
  await Promise.all(
    (['stdout', 'stderr'] as const)
      .filter((s) => logs[s].length > 0)
      .map((s) => store.datastore.put(`${spec.logKeyPrefix}/${spec.attempt}.${s}.log`, logs[s])),
  );
}

async function persistOutputs(st: TaskState, spec: TaskSpec): Promise<Omit<TaskOutcome, 'enteredAt' | 'finishedAt'>> {
  const site = { step: spec.step };
  promoteChangedFields(st); // initialized fields changed in place are saved as assigned (issue 9 item 2)
  const out = new Map<string, ArtifactRef>();
  // Untouched artifacts pass on by reference: no decode, no re-upload.
  for (const [name, ref] of st.manifest) if (!st.deleted.has(name)) out.set(name, ref);
  // A loaded object may have been changed in place (`this.items.push(x)`): re-encode and keep the
  // change if its bytes differ. Identical bytes dedupe to the same address, so this writes nothing.
  for (const [name, value] of st.loaded) {
    if (st.assigned.has(name) || st.deleted.has(name) || st.params.has(name) || !isMutable(value)) continue;
    const ref = st.manifest.get(name)!;
    const enc = encodeValue(value, { ...site, artifact: name });
    if (sha256(enc.bytes) !== ref.sha) {
      const sha = await st.store.putBlob(enc.bytes);
      out.set(name, { name, sha, size: enc.bytes.byteLength, type: enc.type, encoding: enc.encoding });
    }
  }
  const transition = st.transition;
  let foreach: TaskOutcome['foreach'];
  const fvar = transition?.foreachVar;
  const saves: Promise<void>[] = [];
  for (const [name, value] of st.assigned) {
    if (name === fvar) continue;
    saves.push(st.store.save(name, value, site).then((ref) => void out.set(name, ref)));
  }
  await Promise.all(saves);
  if (fvar && transition?.foreachValues) {
    const value = st.assigned.has(fvar) ? st.assigned.get(fvar) : st.loaded.get(fvar);
    const items = transition.foreachValues;
    if (Array.isArray(value)) {
      // The array's own encoding holds each item as a slice: splits read just their slice.
      const saved = await st.store.saveArrayWithItems(fvar, items, site);
      out.set(fvar, saved.ref);
      foreach = { var: fvar, count: items.length, items: saved.items, index: '' };
    } else {
      if (st.assigned.has(fvar)) out.set(fvar, await st.store.save(fvar, value, site));
      const saved = await st.store.saveArrayWithItems(`${fvar} (items)`, items, site);
      foreach = { var: fvar, count: items.length, items: saved.items, index: '' };
    }
  }
  if (foreach) {
    // The item list is stored too, so a resumed run can fan out from a cloned foreach step.
    const index = await st.store.save('_foreach_index', foreach.items, site);
    foreach.index = index.sha;
  }
  return {
    artifacts: [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    targets: transition?.targets ?? [],
    ...(transition?.caseValue !== undefined ? { caseValue: transition.caseValue } : {}),
    ...(foreach ? { foreach } : {}),
  };
}
