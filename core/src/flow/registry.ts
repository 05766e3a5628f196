/**
 * Where decorators record what they learn about a flow class. Step facts live on the method
 * function itself (a WeakMap keyed by it), class-level facts (params) in standard decorator
 * metadata. Both work with tsc and esbuild output without `experimentalDecorators`.
 */

// Standard decorator metadata needs `Symbol.metadata`; Node 20 lacks it. tsc reads it at class
// definition time, esbuild falls back to `Symbol.for('Symbol.metadata')`: this makes both agree.
import { callerModule } from '../util/caller-module.ts';

(Symbol as unknown as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

/** @public */
export interface RetryOptions {
  /** Extra attempts after the first (default 3, at most 4). */
  times?: number;
  /** Wait between attempts, in minutes (default 0). */
  minutesBetween?: number;
  /** Retry every failure (`'all'`, default) or only system failures (`'system'`: worker lost, timeout, OOM, infrastructure). */
  only?: 'all' | 'system';
}

/** @public */
export interface CatchOptions {
  /** Artifact that receives the exception once retries are spent. */
  var?: string;
  /** Print the exception (default true). */
  printException?: boolean;
}

/** @public */
export interface TimeoutOptions {
  seconds?: number;
  minutes?: number;
  hours?: number;
}

/** @public */
export interface ResourcesOptions {
  cpu?: number;
  /** MiB. */
  memory?: number;
  gpu?: number;
  /** MiB. */
  disk?: number;
}

/** Everything the decorators said about one step. @public */
export interface StepDecorations {
  retry?: RetryOptions;
  catch?: CatchOptions;
  timeout?: TimeoutOptions;
  resources?: ResourcesOptions;
  /** Decorators the local runtime records but does not act on (batch, kubernetes, card, ...). */
  other: Record<string, unknown>;
}

/** @internal */
export interface StepRecord {
  name: string;
  fn: Function;
  isStep: boolean;
  start: boolean;
  end: boolean;
  decorations: StepDecorations;
  /** File URL of the module that defined the step (found from the decorator's call stack). */
  definedIn?: string;
}

/** @public */
export type ParamType = 'string' | 'number' | 'boolean' | 'json';

/** @public */
export interface ParamOptions<T = unknown> {
  /** Value used when the parameter is not given. A parameter without a default is required. */
  default?: T;
  /** Shown by `tributary run <flow> --help`. */
  help?: string;
  /** Parsing of command-line values; inferred from the default (option or initializer) when omitted (else `string`). */
  type?: ParamType;
  /** Fail when not given (implied when there is no default). */
  required?: boolean;
}

/** A parameter as its decorator was written; params.ts resolves it against the field's initializer. @internal */
export interface ParamRecord extends ParamOptions {
  name: string;
}

const steps = new WeakMap<Function, StepRecord>();

/** @internal */
export function stepRecordOf(fn: unknown): StepRecord | undefined {
  return typeof fn === 'function' ? steps.get(fn) : undefined;
}

/**
 * The step records of one class by method name, kept in its decorator metadata. A decorator that
 * wraps a step hands the next decorator (and the prototype) another function: the name finds the
 * same record, and the wrapper is made to point at it too.
 */
const STEPS = 'tributary:steps';
function ownStepNames(metadata: DecoratorMetadataObject | undefined, create: boolean): Map<string, StepRecord> | undefined {
  if (!metadata) return undefined;
  if (Object.prototype.hasOwnProperty.call(metadata, STEPS)) return metadata[STEPS] as Map<string, StepRecord>;
  if (!create) return undefined;
  const own = new Map<string, StepRecord>();
  metadata[STEPS] = own;
  return own;
}

/** @internal */
export function ensureStepRecord(fn: Function, name: string, metadata?: DecoratorMetadataObject): StepRecord {
  let rec = steps.get(fn) ?? ownStepNames(metadata, false)?.get(name);
  if (!rec) {
    const definedIn = callerModule();
    rec = { name, fn, isStep: false, start: false, end: false, decorations: { other: {} }, ...(definedIn ? { definedIn } : {}) };
  }
  steps.set(fn, rec);
  ownStepNames(metadata, true)?.set(name, rec);
  return rec;
}

const PARAMS = 'tributary:params';

/** @internal */
export function recordParam(metadata: DecoratorMetadataObject | undefined, param: ParamRecord): void {
  if (!metadata) {
    throw new TypeError(
      `@param ${param.name}: decorator metadata is unavailable. Import '@tributary/core' before defining the flow class.`,
    );
  }
  const own = Object.prototype.hasOwnProperty.call(metadata, PARAMS)
    ? (metadata[PARAMS] as ParamRecord[])
    : ((metadata[PARAMS] = [...((metadata[PARAMS] as ParamRecord[] | undefined) ?? [])]) as ParamRecord[]);
  own.push(param);
}

/** Parameters declared on a flow class and its ancestors. @internal */
export function paramsOf(flowClass: Function): ParamRecord[] {
  const meta = (flowClass as unknown as Record<symbol, DecoratorMetadataObject | undefined>)[
    (Symbol as unknown as { metadata: symbol }).metadata
  ];
  return [...((meta?.[PARAMS] as ParamRecord[] | undefined) ?? [])];
}

function ownMetadataOf(cls: unknown): DecoratorMetadataObject | undefined {
  const key = (Symbol as unknown as { metadata: symbol }).metadata;
  if (typeof cls !== 'function' || !Object.prototype.hasOwnProperty.call(cls, key)) return undefined;
  return (cls as unknown as Record<symbol, DecoratorMetadataObject | undefined>)[key];
}

/** Every method marked `@step` on a flow class (own and inherited), by name. @internal */
export function stepsOf(flowClass: Function): Map<string, StepRecord> {
  const found = new Map<string, StepRecord>();
  for (let proto = flowClass.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (found.has(key) || key === 'constructor') continue;
      const desc = Object.getOwnPropertyDescriptor(proto, key);
      let rec = desc && 'value' in desc ? stepRecordOf(desc.value) : undefined;
      if (!rec && typeof desc?.value === 'function') {
        // `@logged @step train()`: the prototype holds logged's wrapper of the recorded method.
        rec = ownStepNames(ownMetadataOf(proto.constructor), false)?.get(key);
        if (rec) steps.set(desc.value, rec); // so that this.next(this.train) knows the wrapper
      }
      if (rec?.isStep) found.set(key, rec);
    }
  }
  return found;
}
