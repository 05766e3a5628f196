import { TributaryError } from '../errors.ts';
import { RESERVED_NAMES } from '../graph/build-graph.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import { describeKind } from '../artifacts/serializer.ts';
import { taskCheckpoints, type TaskCheckpoints } from './checkpoints.ts';
import { makeTaskCards, type TaskCards } from '../cards/task-cards.ts';
import { noteFieldRead, settleFieldDeclarations } from './fields.ts';
import { stepRecordOf } from './registry.ts';
import type { CurrentTask, Frame, InputSource, TaskState, Transition } from './task-state.ts';

const STATE = Symbol('tributary.taskState');
let constructingWith: TaskState | undefined;

/** Options of `this.next(...)`. @public */
export interface NextOptions {
  /** Fan out: one task per item of this artifact. */
  foreach?: string;
  /** Switch: the artifact whose value picks the case. */
  condition?: string;
}

/** Options of `mergeArtifacts`. @public */
export interface MergeOptions {
  /** Artifacts not to merge. */
  exclude?: string[];
  /** Merge only these (each must exist in some input). */
  include?: string[];
}

/**
 * The inputs of a join step: iterable, array-like (`length`, index, `map`...), and addressable
 * by step name in a branch join (`inputs.train.score`).
 * @public
 */
export type Inputs<F = Record<string, any>> = ReadonlyArray<F> & { readonly [K in StepNames<F>]: F };

/** Names of a flow's methods other than FlowSpec's own: its steps (and helpers). @public */
export type StepNames<F> = Exclude<
  { [K in keyof F]: F[K] extends (...args: any[]) => any ? K : never }[keyof F],
  keyof FlowSpec | number | symbol
>;

function stateOf(flow: object): TaskState {
  const st = (flow as Record<symbol, TaskState | undefined>)[STATE];
  if (!st)
    throw new TributaryError('CONFIG', 'This flow instance is not running a step: steps run through runFlow() or the tributary CLI.');
  return st;
}

/** Resolve an artifact of the running task (assigned > loaded > visible in the manifest). */
function readArtifact(st: TaskState, name: string): { found: boolean; value?: unknown } {
  if (st.assigned.has(name)) return { found: true, value: st.assigned.get(name) };
  if (st.deleted.has(name)) return { found: false };
  if (st.loaded.has(name)) return { found: true, value: st.loaded.get(name) };
  const ref = st.manifest.get(name);
  if (!ref) return { found: false };
  const value = st.store.loadSync(ref);
  st.loaded.set(name, value);
  return { found: true, value };
}

function inputView(st: TaskState, source: InputSource): Record<string, unknown> {
  const manifest = new Map(source.manifest.map((r) => [r.name, r]));
  const cache = new Map<string, unknown>();
  return new Proxy(Object.create(null) as Record<string, unknown>, {
    get(_t, key) {
      if (typeof key === 'symbol') return undefined;
      if (cache.has(key)) return cache.get(key);
      const ref = manifest.get(key);
      if (!ref) return undefined;
      const value = st.store.loadSync(ref);
      cache.set(key, value);
      return value;
    },
    has: (_t, key) => typeof key === 'string' && manifest.has(key),
    ownKeys: () => [...manifest.keys()],
    getOwnPropertyDescriptor: (_t, key) =>
      typeof key === 'string' && manifest.has(key)
        ? { configurable: true, enumerable: true, writable: false, value: undefined }
        : undefined,
    set(_t, key) {
      throw new TypeError(`Join inputs are read-only: assign this.${String(key)} in the join step instead.`);
    },
  });
}

/** Build the `inputs` argument of a join. @internal */
export function makeInputs(st: TaskState): Inputs {
  const views = (st.inputs ?? []).map((s) => inputView(st, s));
  const sourceOf = new WeakMap<object, InputSource>();
  views.forEach((v, i) => sourceOf.set(v, st.inputs![i]!));
  const arr = Object.freeze(views) as unknown as Record<string, unknown>;
  return new Proxy(arr, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !(key in target)) {
        const i = st.inputs!.findIndex((s) => s.step === key);
        if (i >= 0) return views[i];
      }
      return Reflect.get(target, key, receiver);
    },
    has: (target, key) => Reflect.has(target, key) || (typeof key === 'string' && st.inputs!.some((s) => s.step === key)),
  }) as unknown as Inputs;
}

/** Source step and pathspec of a join input. @internal */
export const inputSources = (st: TaskState) => st.inputs ?? [];

/**
 * Base class of every flow. Methods marked `@step` are the steps; every property a step assigns
 * is an artifact, saved when the step ends and visible to every step downstream.
 * @public
 */
export abstract class FlowSpec {
  constructor() {
    const st = constructingWith;
    if (!st) return;
    constructingWith = undefined;
    Object.defineProperty(this, STATE, { value: st });
    st.target = this;
    // Field declarations define own properties on the target during construction (with either
    // [[Define]] or [[Set]] semantics: both land in the traps below while constructing). They are
    // defaults, read only when no artifact of that name is in scope (see fields.ts).
    return new Proxy(this, {
      get(target, key, receiver) {
        if (typeof key === 'symbol' || RESERVED_NAMES.has(key)) return Reflect.get(target, key, receiver);
        if (!st.constructing) {
          const r = readArtifact(st, key);
          if (r.found) return r.value;
          noteFieldRead(st, key);
        }
        return Reflect.get(target, key, receiver);
      },
      set(target, key, value, receiver) {
        if (typeof key === 'symbol' || st.constructing) return Reflect.set(target, key, value, receiver);
        assignArtifact(st, target, key, value);
        return true;
      },
      defineProperty(target, key, desc) {
        if (typeof key === 'symbol' || st.constructing || !('value' in desc)) return Reflect.defineProperty(target, key, desc);
        assignArtifact(st, target, key, desc.value);
        return true;
      },
      deleteProperty(target, key) {
        if (typeof key === 'symbol') return Reflect.deleteProperty(target, key);
        if (st.params.has(key)) throw new TypeError(`Parameter '${key}' is read-only.`);
        st.assigned.delete(key);
        st.loaded.delete(key);
        st.deleted.add(key);
        return Reflect.deleteProperty(target, key);
      },
      has(target, key) {
        if (typeof key === 'string' && !st.deleted.has(key) && (st.assigned.has(key) || st.manifest.has(key))) return true;
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        const keys = new Set<string | symbol>(Reflect.ownKeys(target));
        for (const k of st.manifest.keys()) if (!st.deleted.has(k)) keys.add(k);
        for (const k of st.assigned.keys()) keys.add(k);
        return [...keys];
      },
      getOwnPropertyDescriptor(target, key) {
        if (typeof key === 'string' && !st.constructing) {
          const r = readArtifact(st, key);
          if (r.found) return { configurable: true, enumerable: true, writable: true, value: r.value };
        }
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
  }

  /**
   * Go to the next step(s): `this.next(this.a)`, a branch `this.next(this.a, this.b)`, a foreach
   * `this.next(this.a, { foreach: 'items' })` or a switch
   * `this.next({ hi: this.h, lo: this.l }, { condition: 'route' })`.
   */
  next(...args: unknown[]): void {
    recordTransition(this, stateOf(this), args);
  }

  /** The item of the innermost foreach this task belongs to. Only this item is read from storage. */
  get input(): any {
    const st = stateOf(this);
    const frame = [...st.frames].reverse().find((f) => f.kind === 'foreach');
    if (!frame?.item)
      throw new TributaryError('CONFIG', `Step ${st.node.name} is not inside a foreach: this.input is only set in foreach splits.`);
    st.itemCache ??= { value: st.store.loadItemSync(frame.item, frame.var) };
    return st.itemCache.value;
  }

  /** Index of this task's item in the innermost foreach. */
  get index(): number {
    const st = stateOf(this);
    const frame = [...st.frames].reverse().find((f) => f.kind === 'foreach');
    if (!frame)
      throw new TributaryError('CONFIG', `Step ${st.node.name} is not inside a foreach: this.index is only set in foreach splits.`);
    return frame.slot;
  }

  /** The foreach levels this task is in, outermost first. */
  get foreachStack(): ReadonlyArray<{ step: string; var: string; index: number; count: number }> {
    return stateOf(this)
      .frames.filter((f) => f.kind === 'foreach')
      .map((f) => ({ step: f.split, var: f.var!, index: f.slot, count: f.count }));
  }

  /** In-task checkpoints: `await this.checkpoint.save(state)`, `await this.checkpoint.latest()`. */
  get checkpoint(): TaskCheckpoints {
    const st = stateOf(this);
    return (st.checkpointApi ??= taskCheckpoints(st));
  }

  /**
   * The step's cards (`@card`): `this.card.append(new Markdown('# Report'))` adds to its default
   * card, `this.card['summary']` to the card with that id, `await this.card.refresh()` stores them
   * while the step runs. Without `@card`, what is appended is dropped (with a warning in the log).
   */
  get card(): TaskCards {
    const st = stateOf(this);
    return (st.cards ??= makeTaskCards({ specs: [], sections: new Map(), refresh: async () => {}, warn: (m) => console.warn(m) }));
  }

  /** Facts about the running task (flow, run id, step, task id, attempt, pathspec). */
  get current(): CurrentTask {
    return stateOf(this).current;
  }

  /**
   * In a join: take over every artifact that has the same value (same hash) in all inputs that
   * carry it. Artifacts assigned in this step are left alone. Differing values throw `CONFLICT`.
   */
  mergeArtifacts(inputs: Inputs<any>, options: MergeOptions = {}): void {
    const st = stateOf(this);
    if (!st.inputs) throw new TributaryError('CONFIG', `mergeArtifacts() can only be called in a join step; ${st.node.name} is not one.`);
    void inputs;
    const exclude = new Set(options.exclude ?? []);
    const candidates = new Map<string, Array<{ step: string; ref: ArtifactRef }>>();
    for (const src of st.inputs) {
      for (const ref of src.manifest) {
        if (exclude.has(ref.name) || st.assigned.has(ref.name) || st.deleted.has(ref.name)) continue;
        if (options.include && !options.include.includes(ref.name)) continue;
        const list = candidates.get(ref.name) ?? [];
        list.push({ step: src.step, ref });
        candidates.set(ref.name, list);
      }
    }
    for (const name of options.include ?? []) {
      if (!candidates.has(name) && !st.assigned.has(name)) {
        throw new TributaryError('CONFLICT', `mergeArtifacts in step ${st.node.name}: include names '${name}', which no input has.`, {
          context: { step: st.node.name, artifact: name },
        });
      }
    }
    for (const [name, list] of candidates) {
      const shas = new Set(list.map((c) => c.ref.sha));
      if (shas.size > 1) {
        const steps = [...new Set(list.map((c) => c.step))].join(', ');
        throw new TributaryError(
          'CONFLICT',
          `Step ${st.node.name} cannot merge artifact '${name}': its value differs between inputs (from ${steps}). ` +
            `Assign this.${name} in the join before calling mergeArtifacts, or pass { exclude: ['${name}'] }.`,
          { context: { step: st.node.name, artifact: name } },
        );
      }
      st.manifest.set(name, list[0]!.ref);
    }
  }
}

function assignArtifact(st: TaskState, target: object, key: string, value: unknown): void {
  if (RESERVED_NAMES.has(key)) throw new TypeError(`'${key}' is reserved by Tributary and cannot be an artifact name.`);
  if (st.params.has(key)) throw new TypeError(`Parameter '${key}' is read-only; assign a different artifact name.`);
  const member = Reflect.get(Object.getPrototypeOf(target), key);
  if (typeof member === 'function') throw new TypeError(`'${key}' is a method of ${st.graph.flow}; it cannot be assigned as an artifact.`);
  st.deleted.delete(key);
  st.loaded.delete(key);
  st.assigned.set(key, value);
}

function stepName(st: TaskState, value: unknown, where: string): string {
  const rec = stepRecordOf(value);
  if (!rec?.isStep) {
    throw new TributaryError(
      'TRANSITION_MISMATCH',
      `Step ${st.node.name}: ${where} of this.next() is not a step of ${st.graph.flow}. Pass a step method, e.g. this.next(this.end).`,
      { context: { step: st.node.name } },
    );
  }
  return rec.name;
}

function recordTransition(flow: FlowSpec, st: TaskState, args: unknown[]): void {
  const step = st.node.name;
  if (st.transition)
    throw new TributaryError('TRANSITION_MISMATCH', `Step ${step} called this.next() twice. Call it once, at the end of the step.`, {
      context: { step },
    });
  if (st.node.type === 'end')
    throw new TributaryError('TRANSITION_MISMATCH', `The end step ${step} must not call this.next().`, { context: { step } });
  let transition: Transition;
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    const opts = (args[1] ?? {}) as NextOptions;
    if (typeof opts.condition !== 'string')
      throw new TributaryError('TRANSITION_MISMATCH', `Step ${step}: a switch needs { condition: 'artifact' }.`, { context: { step } });
    const cases = Object.entries(first as Record<string, unknown>).map(([k, v]) => [k, stepName(st, v, `case '${k}'`)] as const);
    const value = (flow as unknown as Record<string, unknown>)[opts.condition];
    const chosen = cases.find(([k]) => k === String(value));
    if (!chosen) {
      throw new TributaryError(
        'TRANSITION_MISMATCH',
        `Switch condition variable '${opts.condition}' has value ${JSON.stringify(value)} in step ${step}, which is not one of the cases: ${cases.map(([k]) => JSON.stringify(k)).join(', ')}.`,
        { context: { step } },
      );
    }
    transition = { targets: [chosen[1]], condition: opts.condition, caseValue: chosen[0] };
    const expected = st.node.switchCases ?? {};
    const same =
      st.node.type === 'switch' &&
      st.node.condition === opts.condition &&
      cases.length === Object.keys(expected).length &&
      cases.every(([k, v]) => expected[k] === v);
    if (!same) mismatch(st, `{ ${cases.map(([k, v]) => `${k}: ${v}`).join(', ')} } on '${opts.condition}'`);
  } else {
    let opts: NextOptions = {};
    let targetsArgs = args;
    const last = args[args.length - 1];
    if (args.length > 1 && last !== null && typeof last === 'object') {
      opts = last as NextOptions;
      targetsArgs = args.slice(0, -1);
    }
    if (targetsArgs.length === 0)
      throw new TributaryError('TRANSITION_MISMATCH', `Step ${step} called this.next() with no step.`, { context: { step } });
    const targets = targetsArgs.map((a, i) => stepName(st, a, `argument ${i + 1}`));
    transition = { targets };
    if (opts.foreach !== undefined) {
      transition.foreachVar = opts.foreach;
      const value = (flow as unknown as Record<string, unknown>)[opts.foreach];
      if (value === undefined)
        throw new TributaryError(
          'TRANSITION_MISMATCH',
          `Foreach variable '${opts.foreach}' in step ${step} is not set. Assign this.${opts.foreach} before this.next().`,
          { context: { step } },
        );
      if (value === null || (typeof value !== 'string' && typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function')) {
        const isAsync = typeof (value as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] === 'function';
        throw new TributaryError(
          'TRANSITION_MISMATCH',
          `Foreach variable '${opts.foreach}' in step ${step} is not iterable (got ${describeKind(value)}). ` +
            (isAsync
              ? `It is async: collect its items first (const items = []; for await (const x of it) items.push(x); this.${opts.foreach} = items).`
              : 'Assign an array, or any iterable: a Set, a Map (its [key, value] entries), a string (its characters), a generator.'),
          { context: { step } },
        );
      }
      // Any iterable fans out, as in Metaflow (a string: one split per character). One that is not
      // data itself (a generator, an iterator) is consumed here; its items become the artifact.
      const items = Array.isArray(value) ? value : Array.from(value as Iterable<unknown>);
      if (!isStorableIterable(value)) {
        st.deleted.delete(opts.foreach);
        st.loaded.delete(opts.foreach);
        st.assigned.set(opts.foreach, items);
      }
      if (items.length === 0)
        throw new TributaryError('TRANSITION_MISMATCH', `Foreach iterator over '${opts.foreach}' in step ${step} produced zero splits.`, {
          context: { step },
        });
      if (items.length > st.maxNumSplits) {
        throw new TributaryError(
          'FOREACH_TOO_MANY_SPLITS',
          `Foreach in step ${step} yielded ${items.length} child steps which is more than the current maximum of ${st.maxNumSplits} children. You can raise the maximum with the --max-num-splits option (or maxNumSplits in runFlow).`,
          { context: { step } },
        );
      }
      transition.foreachValues = items;
    }
    const n = st.node;
    const ok =
      n.type === 'foreach'
        ? transition.foreachVar === n.foreachVar && targets.length === 1 && targets[0] === n.next[0]
        : transition.foreachVar === undefined &&
          n.type !== 'switch' &&
          targets.length === n.next.length &&
          targets.every((t, i) => t === n.next[i]);
    if (!ok) mismatch(st, transition.foreachVar ? `${targets.join(', ')} with foreach '${transition.foreachVar}'` : targets.join(', '));
  }
  st.transition = transition;
}

/** Iterables that are stored as themselves; any other is stored as the array of its items. */
function isStorableIterable(value: unknown): boolean {
  return Array.isArray(value) || typeof value === 'string' || value instanceof Set || value instanceof Map || ArrayBuffer.isView(value);
}

function mismatch(st: TaskState, got: string): never {
  const n = st.node;
  const expected =
    n.type === 'switch'
      ? `{ ${Object.entries(n.switchCases ?? {})
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')} } on '${n.condition}'`
      : n.type === 'foreach'
        ? `${n.next[0]} with foreach '${n.foreachVar}'`
        : n.next.join(', ');
  throw new TributaryError(
    'TRANSITION_MISMATCH',
    `Based on static analysis of the code, step ${n.name} was expected to transition to ${expected}. However, when the code was executed, this.next() was called with ${got}. ` +
      `Write every this.next() call in ${n.name} literally, with the same steps and options.`,
    { context: { step: n.name } },
  );
}

/** Create a flow instance bound to a task's state. @internal */
export function instantiateFlow<F extends FlowSpec>(flowClass: new () => F, st: TaskState): F {
  constructingWith = st;
  st.constructing = true;
  try {
    const flow = new flowClass();
    settleFieldDeclarations(st, st.target ?? flow);
    return flow;
  } finally {
    constructingWith = undefined;
    st.constructing = false;
  }
}

export type { CurrentTask, Frame };
