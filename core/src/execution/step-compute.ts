/**
 * Which compute each step of a run runs on: its own `@kubernetes` / `@batch`, else the run's
 * `--with kubernetes|batch[:key=value,...]`, else local (the run's executor).
 */
import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';

/** Kinds of remote compute a step can name. @internal */
export const REMOTE_KINDS = ['kubernetes', 'batch'] as const;

/** @internal */
export interface StepCompute {
  kind: string;
  settings: Record<string, unknown>;
}

function value(raw: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^[[{]/.test(raw)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      // not JSON: a plain string
    }
  }
  return raw;
}

/** Split `a=1,b=[1,2],c={"x":1,"y":2}` at the commas outside brackets and quotes. */
function splitPairs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter(Boolean);
}

/** `kubernetes`, or `batch:queue=gpu,memory=16384` (values: numbers, booleans, JSON, else strings). @internal */
export function parseWith(spec: string): StepCompute {
  if (typeof spec !== 'string') throw new TributaryError('PARAM_INVALID', `with takes strings like 'kubernetes' or 'batch:queue=gpu'.`);
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  if (!(REMOTE_KINDS as readonly string[]).includes(kind))
    throw new TributaryError('PARAM_INVALID', `--with ${kind}: unknown; use ${REMOTE_KINDS.join(' or ')} (e.g. --with kubernetes:cpu=2).`);
  const settings: Record<string, unknown> = {};
  if (colon >= 0) {
    for (const pair of splitPairs(spec.slice(colon + 1))) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new TributaryError('PARAM_INVALID', `--with ${spec}: settings are key=value pairs separated by commas.`);
      settings[pair.slice(0, eq)] = value(pair.slice(eq + 1));
    }
  }
  return { kind, settings };
}

/** The compute of every step: undefined means local. @internal */
export function stepComputes(graph: FlowGraph, withSpecs: readonly string[]): Record<string, StepCompute | undefined> {
  const given = withSpecs.map(parseWith);
  if (new Set(given.map((g) => g.kind)).size > 1)
    throw new TributaryError(
      'PARAM_INVALID',
      `--with ${given.map((g) => g.kind).join(' and --with ')}: a run's steps default to one compute; pick one.`,
    );
  const out: Record<string, StepCompute | undefined> = {};
  for (const name of graph.order) {
    const d = graph.nodes[name]!.decorators;
    const own = REMOTE_KINDS.filter((k) => d[k] !== undefined);
    if (own.length > 1)
      throw new TributaryError('CONFIG', `Step ${name} has both @kubernetes and @batch: a step runs on one compute, pick one.`);
    const kind = own[0];
    // A step's own decorator wins; `--with` of the same kind adds the settings the step did not set.
    if (kind) {
      const fromWith = Object.assign({}, ...given.filter((g) => g.kind === kind).map((g) => g.settings)) as Record<string, unknown>;
      out[name] = { kind, settings: { ...fromWith, ...(d[kind] as Record<string, unknown>) } };
    } else if (given[0])
      out[name] = { kind: given[0].kind, settings: Object.assign({}, ...given.map((g) => g.settings)) as Record<string, unknown> };
  }
  return out;
}
