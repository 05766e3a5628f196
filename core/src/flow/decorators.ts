import {
  ensureStepRecord,
  recordParam,
  type CatchOptions,
  type ParamOptions,
  type ResourcesOptions,
  type RetryOptions,
  type TimeoutOptions,
} from './registry.ts';
import { recordFlowName } from './flow-name.ts';
import type { FlowSpec } from './flow-spec.ts';
import type { BatchSettings, KubernetesSettings } from '../compute/remote-settings.ts';
import { addCardSpec, cardSpecOf, type CardOptions, type CardSpec } from '../cards/card-options.ts';

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

function notAMethod(decorator: string, context: { kind: string; name: string | symbol; static?: boolean; private?: boolean }): TypeError {
  const name = String(context.name);
  if (context.kind === 'field' && !context.static && !context.private) {
    // `@step train = () => {...}` is a property holding a function, made per instance: the class
    // has no method to find, run or parse, so it must be a method.
    return new TypeError(
      `${decorator} on ${name}: ${name} is a field (an arrow function property?), not a method. ` +
        `Steps are methods: write \`@step ${name}() { ... }\` instead of \`@step ${name} = () => { ... }\`.`,
    );
  }
  const what = `${context.static ? 'static ' : ''}${context.private ? 'private ' : ''}${context.kind}`;
  return new TypeError(`${decorator} can only decorate a public instance method (got ${what} ${name}).`);
}

function methodDecorator(decorator: string, apply: (rec: ReturnType<typeof ensureStepRecord>) => void): StepDecorator {
  return (fn, context) => {
    assertStandard(context, decorator);
    if (context.kind !== 'method' || context.static || context.private) throw notAMethod(decorator, context);
    apply(ensureStepRecord(fn, String(context.name), context.metadata));
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
  // Bare `@step` gets the decorated thing and its context; on a field that thing is undefined, so
  // the context, not the argument, tells a decorator call from `@step({ ... })`.
  if (context !== undefined) assertStandard(context, '@step');
  if (typeof arg === 'function' || (typeof context === 'object' && context !== null && 'kind' in context)) {
    methodDecorator('@step', (rec) => {
      rec.isStep = true;
    })(arg as Function, context as ClassMethodDecoratorContext);
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

/**
 * Run this step's tasks on Kubernetes: a batch/v1 Job per attempt (an Indexed Job for the splits
 * of a foreach). The run's orchestrator stays where it was started; the datastore must be one
 * the cluster reaches (S3, GCS, Azure). `--with kubernetes` does this for every step.
 * @public
 */
export function kubernetes(settings: KubernetesSettings = {}): StepDecorator {
  return computeDecorator('kubernetes', settings);
}

/**
 * Run this step's tasks on AWS Batch: a job per attempt (an array job for the splits of a
 * foreach), on the job definition of its image and resources. `--with batch` does this for every step.
 * @public
 */
export function batch(settings: BatchSettings = {}): StepDecorator {
  return computeDecorator('batch', settings);
}

function computeDecorator(kind: 'kubernetes' | 'batch', settings: object): StepDecorator {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    throw new TypeError(`@${kind} takes an object of settings, e.g. @${kind}({ cpu: 2 }).`);
  // Stored in the graph: only JSON-safe settings survive, and must (the job spec is built from them).
  const copy = JSON.parse(JSON.stringify(settings)) as Record<string, unknown>;
  return methodDecorator(`@${kind}`, (rec) => {
    const other = rec.decorations.other;
    const clash = kind === 'kubernetes' ? 'batch' : 'kubernetes';
    if (other[clash] !== undefined) throw new TypeError(`@${kind} and @${clash} on one step: a step runs on one compute, pick one.`);
    other[kind] = copy;
  });
}

/**
 * Attach a visual report to the step: each task renders it to one self-contained HTML page when
 * it ends (in its own process), stored in the datastore. `type: 'default'` shows the task's
 * parameters, artifacts, timings and the graph; the step adds components with
 * `this.card.append(...)`. Several cards on one step need ids: `this.card['<id>']`.
 * @public
 */
export function card(options: CardOptions = {}): StepDecorator {
  const spec = cardSpecOf(options);
  return (fn, context) => {
    assertStandard(context, '@card');
    if (context.kind !== 'method' || context.static || context.private) throw notAMethod('@card', context);
    const rec = ensureStepRecord(fn, String(context.name), context.metadata);
    rec.decorations.other.card = addCardSpec((rec.decorations.other.card as CardSpec[] | undefined) ?? [], spec, String(context.name));
  };
}

/** A decorator the local runtime records without acting on (e.g. `@batch`, `@kubernetes`, `@card`). @internal */
export function recordedDecorator(name: string) {
  return (options: Record<string, unknown> = {}): StepDecorator =>
    methodDecorator(`@${name}`, (rec) => {
      rec.decorations.other[name] = options;
    });
}

/**
 * Declares a flow parameter on a field: `@param() folds = 3` (the initializer is the default and
 * gives the type: number, boolean, string, or json for objects and arrays) or
 * `@param({ default: 3 }) folds!: number`. Without a default the parameter is required.
 * Parameters are artifacts: readable in every step, recorded with the run.
 * @public
 */
export function param<T>(options: ParamOptions<T> = {}) {
  return (_value: undefined, context: ClassFieldDecoratorContext): void => {
    assertStandard(context, '@param');
    if (context.kind !== 'field' || context.static || context.private) {
      throw new TypeError(`@param can only decorate a public instance field (got ${context.kind} ${String(context.name)}).`);
    }
    // The initializer's value is known only when an instance is made: params.ts reads it then.
    recordParam(context.metadata, { ...options, name: String(context.name) });
  };
}

/** Options of `@flow(...)`. @public */
export interface FlowOptions {
  /** The flow's name, which keys its runs and artifacts (see `flowNameOf`). */
  name: string;
}

/** What `@flow(...)` returns: a standard class decorator for a FlowSpec subclass. @public */
export type FlowDecorator = <C extends abstract new (...args: never[]) => FlowSpec>(value: C, context: ClassDecoratorContext<C>) => void;

/**
 * Names a flow explicitly, like `static flowName = 'TrainFlow'`: `@flow({ name: 'TrainFlow' })`.
 * The name then survives a bundler that minifies or renames the class.
 * @public
 */
export function flow(options: FlowOptions): FlowDecorator {
  if (typeof options !== 'object' || options === null) throw new TypeError("@flow needs options: @flow({ name: 'TrainFlow' }).");
  return (value, context) => {
    if (typeof context !== 'object' || context === null || !('kind' in context)) {
      throw new TypeError(
        '@flow is a standard (TC39) decorator but was called as a legacy one. ' +
          'Remove "experimentalDecorators" from your tsconfig.json (Tributary needs no compiler flags).',
      );
    }
    if (context.kind !== 'class') throw new TypeError(`@flow decorates a flow class (got ${String(context.kind)}).`);
    recordFlowName(value, options.name);
  };
}
