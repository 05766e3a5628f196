/**
 * Field declarations of a flow class. An initialized field (`items: number[] = []`) is the value
 * an artifact has while no step has stored it: steps start from it, and a step that changes it,
 * by assignment or in place, stores the change as an artifact like any other. An unchanged
 * default is not stored; it is code, made again by every task. A declaration without a value
 * (`x!: number`) defines nothing of its own.
 */
import { encodeValue, isMutable } from '../artifacts/serializer.ts';
import { TributaryError } from '../errors.ts';
import { RESERVED_NAMES } from '../graph/build-graph.ts';
import { GraphError } from '../graph/graph-error.ts';
import { sha256 } from '../util/hash.ts';
import type { TaskState } from './task-state.ts';

const probed = new WeakMap<Function, ReadonlyMap<string, unknown>>();

function reservedField(flow: string, name: string): string {
  return (
    `Field ${name} of ${flow} is initialized, but this.${name} belongs to Tributary (a member of every flow) and the field would hide it. ` +
    `Rename the field. (A declaration without a value, \`${name}!: T\`, is allowed and ignored.)`
  );
}

/**
 * What a flow's field initializers produce, by name, from one instance made outside any task.
 * Checks the declarations too: a field may not hide a member of every flow (`input`, `index`...).
 * Field initializers therefore run when the flow is loaded, not only in tasks.
 * @internal
 */
export function fieldInitializers(flowClass: Function): ReadonlyMap<string, unknown> {
  const hit = probed.get(flowClass);
  if (hit) return hit;
  let instance: Record<string, unknown>;
  try {
    instance = new (flowClass as new () => Record<string, unknown>)();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TributaryError(
      'FLOW_LOAD',
      `Could not read the field initializers of ${flowClass.name}: creating an instance outside any step threw: ${why}. ` +
        'Field initializers run when the flow is loaded and at the start of every task, outside any step: ' +
        'move code that needs a running task (this.input, this.current...) into a step, and check that no field is named like a member of every flow.',
      { cause: err, context: { flow: flowClass.name } },
    );
  }
  const fields = new Map<string, unknown>();
  for (const key of Object.keys(instance)) {
    const value = instance[key];
    if (RESERVED_NAMES.has(key)) {
      if (value === undefined) continue;
      throw new GraphError(flowClass.name, 'reserved-name', reservedField(flowClass.name, key), key);
    }
    fields.set(key, value);
  }
  probed.set(flowClass, fields);
  return fields;
}

/**
 * Right after a task's flow instance is built: drop bare declarations of reserved members
 * (`input!: number` would shadow the getter with `undefined`), and note the encoding of every
 * initialized field that a step could change in place, so a change can be found at the end.
 * A value that cannot be stored (a function, a client object) is a helper, not an artifact.
 * @internal
 */
export function noteFieldDefaults(st: TaskState, target: object): void {
  const baselines = new Map<string, string>();
  for (const key of Object.keys(target)) {
    const value = (target as Record<string, unknown>)[key];
    if (RESERVED_NAMES.has(key)) {
      if (value !== undefined) throw new TypeError(reservedField(st.graph.flow, key));
      Reflect.deleteProperty(target, key);
      continue;
    }
    // A parameter or an inherited artifact of this name hides the default from every read.
    if (!isMutable(value) || st.params.has(key) || st.manifest.has(key)) continue;
    try {
      baselines.set(key, sha256(encodeValue(value, { step: st.node.name, artifact: key }).bytes));
    } catch (err) {
      if (!TributaryError.is(err, 'SERIALIZATION')) throw err;
    }
  }
  st.fieldBaselines = baselines;
  st.target = target;
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
    if (!visible(name)) continue;
    const value = target[name];
    // Encoding again is the only way to see a change deep inside; a value that no longer
    // encodes fails here, naming the field, rather than being dropped.
    if (sha256(encodeValue(value, { step: st.node.name, artifact: name }).bytes) !== before) st.assigned.set(name, value);
  }
  const fvar = st.transition?.foreachVar;
  if (fvar !== undefined && visible(fvar)) st.assigned.set(fvar, target[fvar]);
}
