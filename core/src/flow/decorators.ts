import {
  ensureStepRecord,
  recordParam,
  type CatchOptions,
  type ParamOptions,
  type ParamType,
  type ResourcesOptions,
  type RetryOptions,
  type TimeoutOptions,
} from './registry.ts';

/** What `@step(...)`, `@retry(...)` and the other step decorators return. @public */
export type StepDecorator = (fn: Function, context: ClassMethodDecoratorContext) => void;

function assertStandard(context: unknown, decorator: string): asserts context is ClassMethodDecoratorContext | ClassFieldDecoratorContext {
  if (typeof context !== 'object' || context === null || !('kind' in context)) {
    throw new TypeError(
      `${decorator} is a standard (TC39) decorator but was called as a legacy one. ` +
        `Remove "experimentalDecorators" from your tsconfig.json (Tributary needs no compiler flags).`,
    );
  }
}

function methodDecorator(decorator: string, apply: (rec: ReturnType<typeof ensureStepRecord>) => void): StepDecorator {
  return (fn, context) => {
    assertStandard(context, decorator);
    if (context.kind !== 'method' || context.static || context.private) {
      throw new TypeError(`${decorator} can only decorate a public instance method (got ${context.kind} ${String(context.name)}).`);
    }
    apply(ensureStepRecord(fn, String(context.name)));
  };
}

/** Options of `@step(...)`. @public */
export interface StepOptions {
  /** Mark this step as the entry step (otherwise the step named `start`). */
  start?: boolean;
  /** Mark this step as the terminal step (otherwise the step named `end`). */
  end?: boolean;
}

/**
 * Marks a method as a step. Use bare (`@step start() {}`) or with options (`@step({ end: true })`).
 * @public
 */
export function step(fn: Function, context: ClassMethodDecoratorContext): void;
/** @public */
export function step(options: StepOptions): StepDecorator;
export function step(arg: Function | StepOptions, context?: ClassMethodDecoratorContext): void | StepDecorator {
  if (typeof arg === 'function') {
    methodDecorator('@step', (rec) => {
      rec.isStep = true;
    })(arg, context as ClassMethodDecoratorContext);
    return;
  }
  const options = arg ?? {};
  return methodDecorator('@step', (rec) => {
    rec.isStep = true;
    rec.start = options.start === true;
    rec.end = options.end === true;
  });
}

/**
 * Retry a failed task: same task id, new attempt.
 * @public
 */
export function retry(options: RetryOptions = {}): StepDecorator {
  const times = options.times ?? 3;
  if (!Number.isInteger(times) || times < 0 || times > 4) {
    throw new TypeError(`@retry({ times: ${times} }): times must be an integer from 0 to 4.`);
  }
  return methodDecorator('@retry', (rec) => {
    rec.decorations.retry = { times, minutesBetween: options.minutesBetween ?? 0, only: options.only ?? 'all' };
  });
}

/**
 * After retries are spent, store the exception in an artifact and let the flow go on.
 * @public
 */
export function catchFailure(options: CatchOptions = {}): StepDecorator {
  return methodDecorator('@catch', (rec) => {
    rec.decorations.catch = { printException: true, ...options };
  });
}

/**
 * Stop the task when it runs longer than this; the failure is typed `TIMEOUT` and is retryable.
 * @public
 */
export function timeout(options: TimeoutOptions): StepDecorator {
  const seconds = (options.seconds ?? 0) + (options.minutes ?? 0) * 60 + (options.hours ?? 0) * 3600;
  if (!(seconds > 0)) throw new TypeError('@timeout needs a positive seconds, minutes or hours.');
  return methodDecorator('@timeout', (rec) => {
    rec.decorations.timeout = { seconds };
  });
}

/**
 * Resources a step needs. A hint for remote backends; the local runtime records it.
 * @public
 */
export function resources(options: ResourcesOptions): StepDecorator {
  return methodDecorator('@resources', (rec) => {
    rec.decorations.resources = { ...options };
  });
}

/** A decorator the local runtime records without acting on (e.g. `@batch`, `@kubernetes`, `@card`). @internal */
export function recordedDecorator(name: string) {
  return (options: Record<string, unknown> = {}): StepDecorator =>
    methodDecorator(`@${name}`, (rec) => {
      rec.decorations.other[name] = options;
    });
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
 * Declares a flow parameter on a field: `@param({ default: 3 }) folds!: number`.
 * Parameters are artifacts: readable in every step, recorded with the run.
 * @public
 */
export function param<T>(options: ParamOptions<T> = {}) {
  return (_value: undefined, context: ClassFieldDecoratorContext): void => {
    assertStandard(context, '@param');
    if (context.kind !== 'field' || context.static || context.private) {
      throw new TypeError(`@param can only decorate a public instance field (got ${context.kind} ${String(context.name)}).`);
    }
    const name = String(context.name);
    recordParam(context.metadata, {
      ...options,
      name,
      type: options.type ?? inferType(options.default),
      required: options.required ?? !('default' in options),
    } as never);
  };
}
