import { inspect, isDeepStrictEqual } from 'node:util';
import { TributaryError } from '../errors.ts';
import { fieldInitializers } from './fields.ts';
import { flowLabel } from './flow-name.ts';
import { paramsOf, type ParamType } from './registry.ts';

/** A parameter with its default and type settled. */
interface DeclaredParam {
  name: string;
  type: ParamType;
  hasDefault: boolean;
  default?: unknown;
  help?: string;
  required: boolean;
}

function inferType(value: unknown): ParamType {
  switch (typeof value) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'undefined':
      return 'string';
    default:
      return 'json';
  }
}

/**
 * The parameters of a flow class with defaults from `@param({ default })` or from the field's
 * initializer (`@param() epochs = 10`), which also gives the type when none is declared.
 */
function declaredParams(flowClass: Function): DeclaredParam[] {
  const records = paramsOf(flowClass);
  if (records.length === 0) return [];
  const initial = fieldInitializers(flowClass);
  return records.map((p) => {
    const init = initial.get(p.name);
    const optionDefault = 'default' in p;
    if (optionDefault && init !== undefined && !isDeepStrictEqual(p.default, init)) {
      throw new TypeError(
        `@param ${p.name} of ${flowLabel(flowClass)} has two defaults: ${inspect(p.default)} in @param({ default }) and ${inspect(init)} as its initializer. Keep one (e.g. \`@param() ${p.name} = ...\`).`,
      );
    }
    const hasDefault = optionDefault || init !== undefined;
    const value = optionDefault ? p.default : init;
    return {
      name: p.name,
      type: p.type ?? inferType(value),
      hasDefault,
      ...(hasDefault ? { default: value } : {}),
      ...(p.help ? { help: p.help } : {}),
      required: p.required ?? !hasDefault,
    };
  });
}

function coerce(p: DeclaredParam, value: unknown, flow: string): unknown {
  const bad = (why: string) =>
    new TributaryError('PARAM_INVALID', `Parameter --${p.name} of ${flow} ${why}.${p.help ? ` (${p.help})` : ''}`, {
      context: { artifact: p.name },
    });
  switch (p.type) {
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(`must be a number, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1' || value === 'yes') return true;
      if (value === 'false' || value === '0' || value === 'no') return false;
      throw bad(`must be true or false, got ${JSON.stringify(value)}`);
    case 'json':
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value);
      } catch {
        throw bad(`must be JSON, got ${JSON.stringify(value)}`);
      }
    default:
      if (typeof value !== 'string') throw bad(`must be a string, got ${typeof value}`);
      return value;
  }
}

/**
 * Resolve a run's parameter values: defaults applied, strings from the command line parsed by
 * type, unknown or missing parameters rejected with a `PARAM_INVALID` error.
 * @public
 */
export function resolveParams(flowClass: Function, given: Record<string, unknown> = {}): Record<string, unknown> {
  const declared = declaredParams(flowClass);
  const names = new Set(declared.map((p) => p.name));
  for (const key of Object.keys(given)) {
    if (!names.has(key)) {
      throw new TributaryError(
        'PARAM_INVALID',
        `Unknown parameter --${key} for ${flowLabel(flowClass)}. ${declared.length ? `Its parameters are: ${declared.map((p) => `--${p.name}`).join(', ')}.` : 'It declares no parameters.'}`,
        { context: { artifact: key } },
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const p of declared) {
    const value = given[p.name] ?? p.default;
    if (value === undefined) {
      if (p.required)
        throw new TributaryError(
          'PARAM_INVALID',
          `Missing required parameter --${p.name} for ${flowLabel(flowClass)}.${p.help ? ` (${p.help})` : ''}`,
          { context: { artifact: p.name } },
        );
      continue;
    }
    out[p.name] = coerce(p, value, flowLabel(flowClass));
  }
  return out;
}

/**
 * The parameters a flow declares (name, type, default, help). A default written as the field's
 * initializer counts, and gives the type when none is declared.
 * @public
 */
export function describeParams(
  flowClass: Function,
): Array<{ name: string; type: ParamType; default?: unknown; help?: string; required: boolean }> {
  return declaredParams(flowClass).map((p) => ({
    name: p.name,
    type: p.type,
    ...(p.hasDefault ? { default: p.default } : {}),
    ...(p.help ? { help: p.help } : {}),
    required: p.required === true,
  }));
}
