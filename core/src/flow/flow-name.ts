/**
 * A flow's identity. The flow name keys every run in the metadata store and every artifact
 * prefix in the datastore, so it must not change behind the user's back: a bundler that minifies
 * `TrainFlow` to `t`, or renames a second `TrainFlow` to `TrainFlow2`, would otherwise start a new,
 * empty namespace (a resume finds no origin, runs split between two names). A flow may name
 * itself explicitly (`static flowName = 'TrainFlow'` or `@flow({ name: 'TrainFlow' })`); the
 * class name is only the default, and a default that looks machine-made is refused.
 */
import { TributaryError } from '../errors.ts';
import { validateName } from '../util/keys.ts';

const decorated = new WeakMap<Function, string>();

/** validateName's rule, as a test: the messages here say more about flow names than its own. */
function validFlowName(name: string): boolean {
  try {
    validateName('flow', name);
    return true;
  } catch {
    return false;
  }
}

const NAME_RULE = "letters, digits, '_', '-' and '.', starting with a letter, digit or '_', at most 255 characters";

function className(flowClass: Function): string {
  return flowClass.name || '(anonymous)';
}

/** Recorded by the `@flow({ name })` class decorator. @internal */
export function recordFlowName(flowClass: Function, name: unknown): void {
  if (typeof name !== 'string') {
    throw new TypeError(`@flow({ name }) on ${className(flowClass)}: name must be a string (got ${typeof name}).`);
  }
  if (!validFlowName(name)) {
    throw new TributaryError(
      'INVALID_KEY',
      `@flow({ name: ${JSON.stringify(name)} }) on ${className(flowClass)}: a flow name uses ${NAME_RULE}. Choose another name.`,
      { context: { flow: name } },
    );
  }
  decorated.set(flowClass, name);
}

/** The class's own explicit name (never an inherited one), or undefined. */
function explicitName(flowClass: Function): { name: string; from: string } | undefined {
  let fromStatic: unknown;
  if (Object.prototype.hasOwnProperty.call(flowClass, 'flowName')) {
    fromStatic = (flowClass as { flowName?: unknown }).flowName;
    // `static flowName?: string` without a value still defines an own (undefined) property.
    if (fromStatic !== undefined && typeof fromStatic !== 'string') {
      throw new TypeError(`static flowName of ${className(flowClass)} must be a string (got ${typeof fromStatic}).`);
    }
  }
  const fromDecorator = decorated.get(flowClass);
  if (typeof fromStatic === 'string' && fromDecorator !== undefined && fromStatic !== fromDecorator) {
    throw new TypeError(
      `${className(flowClass)} is named twice: static flowName = ${JSON.stringify(fromStatic)} and @flow({ name: ${JSON.stringify(fromDecorator)} }). Keep one.`,
    );
  }
  if (typeof fromStatic === 'string') return { name: fromStatic, from: `static flowName = ${JSON.stringify(fromStatic)}` };
  if (fromDecorator !== undefined) return { name: fromDecorator, from: `@flow({ name: ${JSON.stringify(fromDecorator)} })` };
  return undefined;
}

/** The nearest ancestor class that names itself explicitly. */
function namedAncestor(flowClass: Function): { cls: Function; name: string; from: string } | undefined {
  for (
    let p: unknown = Object.getPrototypeOf(flowClass);
    typeof p === 'function' && p !== Function.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    const named = explicitName(p);
    if (named) return { cls: p, ...named };
  }
  return undefined;
}

function refuse(code: 'CONFIG' | 'INVALID_KEY', flowClass: Function, why: string, suggestion = 'TrainFlow'): never {
  throw new TributaryError(
    code,
    `Flow class ${JSON.stringify(flowClass.name)} ${why} The flow name keys its runs and artifacts, so Tributary will not guess: ` +
      `give the flow an explicit name, e.g. \`static flowName = '${suggestion}'\` in the class (or @flow({ name: '${suggestion}' })).`,
    { context: { flow: flowClass.name } },
  );
}

const ANONYMOUS = 'has no name of its own (an anonymous class).';

/**
 * Why a class name, used as the default flow name, looks made by a tool rather than a person, or
 * undefined. Minifiers give classes 1–2 character names (`t`, `Zt`, `_a`); bundlers rename the
 * second of two classes called `TrainFlow` to `TrainFlow2` (esbuild) or `TrainFlow$1` (rollup);
 * an anonymous class gets `''` or `default`. Names like `ETL` or `A2BFlow` pass.
 */
function machineMade(name: string): string | undefined {
  if (name === 'default' || name.endsWith('_default')) return ANONYMOUS;
  if (name.length <= 2) return 'has a 1–2 character name, which looks minified.';
  // A bundler's rename of a second class with one name (esbuild: TrainFlow → TrainFlow2) cannot be
  // told from a name chosen that way (ModelV2): not refused, and the README says to name bundled flows.
  return undefined;
}

/**
 * The name of a flow: the key of its runs in the metadata store and of its artifacts in the
 * datastore. It is the class's own explicit name (`static flowName = 'TrainFlow'`, or
 * `@flow({ name: 'TrainFlow' })`) when it has one, which is trusted if it is a valid name;
 * otherwise its class name, refused (`CONFIG`) when it looks minified or renamed by a bundler
 * (1–2 characters, anonymous) and (`INVALID_KEY`) when it is not a valid name.
 * A subclass of an explicitly named flow must name itself: it is another flow.
 * @public
 */
export function flowNameOf(flowClass: Function): string {
  if (typeof flowClass !== 'function') throw new TypeError(`flowNameOf expects a flow class (got ${typeof flowClass}).`);
  const explicit = explicitName(flowClass);
  if (explicit) {
    if (!validFlowName(explicit.name)) {
      throw new TributaryError('INVALID_KEY', `${explicit.from} of ${className(flowClass)} is not a valid flow name: use ${NAME_RULE}.`, {
        context: { flow: explicit.name },
      });
    }
    return explicit.name;
  }
  const ancestor = namedAncestor(flowClass);
  if (ancestor) {
    const name = flowClass.name;
    const suggestion = validFlowName(name) && !machineMade(name) ? name : `${ancestor.name}Variant`;
    throw new TributaryError(
      'CONFIG',
      `Flow class ${className(flowClass)} extends ${className(ancestor.cls)}, which is named by ${ancestor.from}, and has no name of its own. ` +
        `A subclass is another flow and must not share its parent's runs and artifacts: give it its own name, e.g. \`static flowName = '${suggestion}'\`.`,
      { context: { flow: flowClass.name } },
    );
  }
  const name = flowClass.name;
  if (name === '') refuse('CONFIG', flowClass, ANONYMOUS);
  if (!validFlowName(name)) {
    const why = name.includes('$')
      ? `cannot be a flow name: it contains '$' (bundlers rename colliding classes to names like TrainFlow$1), and flow names use ${NAME_RULE}.`
      : `cannot be a flow name: flow names use ${NAME_RULE}.`;
    const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '');
    refuse('INVALID_KEY', flowClass, why, validFlowName(cleaned) ? cleaned : 'TrainFlow');
  }
  const why = machineMade(name);
  if (why) refuse('CONFIG', flowClass, why, /[0-9]$/.test(name) && name.length > 2 ? name : 'TrainFlow');
  return name;
}

/**
 * How messages name a flow class: its explicit name when it has one (with the class name when
 * that differs, since the class may be minified), else its class name. Never throws.
 * @internal
 */
export function flowLabel(flowClass: Function): string {
  let explicit: string | undefined;
  try {
    explicit = explicitName(flowClass)?.name;
  } catch {
    explicit = undefined;
  }
  const cls = flowClass.name || 'an anonymous class';
  return explicit === undefined || explicit === flowClass.name ? cls : `${explicit} (class ${cls})`;
}
