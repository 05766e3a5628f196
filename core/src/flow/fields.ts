/**
 * Field declarations of a flow class. An initialized field (`items: number[] = []`) is the value
 * an artifact has while no step has stored it: steps start from it, and a step that changes it,
 * by assignment or in place, stores the change as an artifact like any other. An unchanged
 * default is not stored; it is code, made again by every task. A declaration without a value
 * (`x!: number`) gives no default.
 */
import { encodeValue, isMutable } from '../artifacts/serializer.ts';
import { TributaryError } from '../errors.ts';
import { RESERVED_NAMES } from '../graph/build-graph.ts';
import { GraphError } from '../graph/graph-error.ts';
import { sha256 } from '../util/hash.ts';
import { flowLabel } from './flow-name.ts';
import type { TaskState } from './task-state.ts';

type Probe = { fields: ReadonlyMap<string, unknown> } | { error: TributaryError };
const probed = new WeakMap<Function, Probe>();

function reservedField(flow: string, name: string): string {
  return (
    `Field ${name} of ${flow} is initialized, but this.${name} belongs to Tributary (a member of every flow) and the field would hide it. ` +
    `Rename the field. (A declaration without a value, \`${name}!: T\`, is allowed and ignored.)`
  );
}

/** Make one instance outside any task and read its own fields (cached per class). */
function probe(flowClass: Function): Probe {
  const hit = probed.get(flowClass);
  if (hit) return hit;
  let result: Probe;
  try {
    const instance = new (flowClass as new () => Record<string, unknown>)();
    result = { fields: new Map(Object.keys(instance).map((k) => [k, instance[k]])) };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    result = {
      error: new TributaryError(
        'FLOW_LOAD',
        `Could not read the field initializers of ${flowLabel(flowClass)}: creating an instance outside any step threw: ${why}. ` +
          'Parameter defaults written as initializers are read that way, when the flow is loaded: ' +
          'move code that needs a running task (this.input, this.current...) into a step, or give the default as @param({ default }).',
        { cause: err, context: { flow: flowLabel(flowClass) } },
      ),
    };
  }
  probed.set(flowClass, result);
  return result;
}

/**
 * Refuse, before anything runs, an initialized field that would hide a member of every flow
 * (`index = 0`). A class whose initializers need a running task cannot be checked here; its
 * tasks check it when they build the instance.
 * @internal
 */
export function checkFieldDeclarations(flowClass: Function): void {
  const p = probe(flowClass);
  if (!('fields' in p)) return;
  for (const [key, value] of p.fields) {
    if (RESERVED_NAMES.has(key) && value !== undefined) {
      throw new GraphError(flowLabel(flowClass), 'reserved-name', reservedField(flowLabel(flowClass), key), key);
    }
  }
}

/**
 * What a flow's field initializers produce, by name, from one instance made outside any task
 * (so they also run when the flow is loaded). Used for parameter defaults.
 * @internal
 */
export function fieldInitializers(flowClass: Function): ReadonlyMap<string, unknown> {
  const p = probe(flowClass);
  if ('error' in p) throw p.error;
  return p.fields;
}

/**
 * Right after a task's flow instance is built: drop bare declarations of reserved members
 * (`input!: number` would shadow the getter with `undefined`) and refuse initialized ones.
 * @internal
 */
export function settleFieldDeclarations(st: TaskState, target: object): void {
  for (const key of Object.keys(target)) {
    if (!RESERVED_NAMES.has(key)) continue;
    if ((target as Record<string, unknown>)[key] !== undefined) throw new TypeError(reservedField(st.graph.flow, key));
    Reflect.deleteProperty(target, key);
  }
  st.target = target;
  st.fieldBaselines = new Map();
}

/**
 * A step read an initialized field (no artifact of that name is in scope): note its encoding, so
 * a change made in place can be found at the end. Only fields a step reads pay for this, once. A
 * value that cannot be stored (a function, a client object) is a helper, not an artifact.
 * @internal
 */
export function noteFieldRead(st: TaskState, key: string): void {
  const target = st.target as Record<string, unknown> | undefined;
  const baselines = st.fieldBaselines;
  if (!target || !baselines || baselines.has(key) || !Object.prototype.hasOwnProperty.call(target, key)) return;
  const value = target[key];
  if (!isMutable(value) || st.params.has(key)) return;
  try {
    baselines.set(key, sha256(encodeValue(value, { step: st.node.name, artifact: key }).bytes));
  } catch (err) {
    if (!TributaryError.is(err, 'SERIALIZATION')) throw err;
    baselines.set(key, null);
  }
}

/**
 * At the end of a step: an initialized field changed in place (`this.items.push(1)`) becomes an
 * assigned artifact, and so does a default the step fans out over, so it is stored like any
 * foreach variable. Defaults an artifact of the same name replaced (merged in a join) are left.
 * @internal
 */
export function promoteChangedFields(st: TaskState): void {
  const target = st.target as Record<string, unknown> | undefined;
  if (!target) return;
  const visible = (name: string) =>
    !st.assigned.has(name) && !st.deleted.has(name) && !st.manifest.has(name) && Object.prototype.hasOwnProperty.call(target, name);
  for (const [name, before] of st.fieldBaselines ?? []) {
    if (before === null || !visible(name)) continue;
    const value = target[name];
    // Encoding again is the only way to see a change deep inside; a value that no longer
    // encodes fails here, naming the field, rather than being dropped.
    if (sha256(encodeValue(value, { step: st.node.name, artifact: name }).bytes) !== before) st.assigned.set(name, value);
  }
  const fvar = st.transition?.foreachVar;
  if (fvar !== undefined && visible(fvar)) st.assigned.set(fvar, target[fvar]);
}
