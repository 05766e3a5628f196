import { TributaryError } from '../errors.ts';
import { paramsOf, type ParamRecord } from './registry.ts';

function coerce(p: ParamRecord, value: unknown, flow: string): unknown {
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
  const declared = paramsOf(flowClass);
  const names = new Set(declared.map((p) => p.name));
  for (const key of Object.keys(given)) {
    if (!names.has(key)) {
      throw new TributaryError(
        'PARAM_INVALID',
        `Unknown parameter --${key} for ${flowClass.name}. ${declared.length ? `Its parameters are: ${declared.map((p) => `--${p.name}`).join(', ')}.` : 'It declares no parameters.'}`,
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
          `Missing required parameter --${p.name} for ${flowClass.name}.${p.help ? ` (${p.help})` : ''}`,
          { context: { artifact: p.name } },
        );
      continue;
    }
    out[p.name] = coerce(p, value, flowClass.name);
  }
  return out;
}

/** The parameters a flow declares (name, type, default, help). @public */
export function describeParams(
  flowClass: Function,
): Array<{ name: string; type: string; default?: unknown; help?: string; required: boolean }> {
  return paramsOf(flowClass).map((p) => ({
    name: p.name,
    type: p.type,
    ...('default' in p ? { default: p.default } : {}),
    ...(p.help ? { help: p.help } : {}),
    required: p.required === true,
  }));
}
