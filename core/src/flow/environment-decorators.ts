/**
 * `@pypi`, `@conda` and `@npm` on steps, and `@pypiBase`, `@condaBase`, `@npmBase` on the flow
 * class as defaults for every step without one of its own (as in Metaflow, a step's own
 * decorator replaces the flow's, it does not merge with it).
 */
import { isAbsolute, resolve } from 'node:path';
import type { EnvironmentSpec } from '../ports/environment-resolver.ts';
import { ensureStepRecord } from './registry.ts';
import type { StepDecorator } from './decorators.ts';

/** Options of `@pypi` / `@pypiBase`. @public */
export interface PypiOptions {
  /** Package → exact version (`{ numpy: '2.1.0' }`) or a pip specifier (`'>=2,<3'`). */
  packages?: Record<string, string>;
  /** Python version, e.g. `'3.11'` (default: the `python3` on PATH). */
  python?: string;
  /** Package indexes (URLs) or wheel folders (paths; relative ones from the working directory) to resolve from, instead of the resolver's default. */
  sources?: string[];
  /** `true`: this step runs without an environment, even when the flow has a `@pypiBase`. */
  disabled?: boolean;
}

/** Options of `@conda` / `@condaBase`. @public */
export interface CondaOptions {
  /** Package → conda version spec (`{ numpy: '2.1.0' }`, `'>=1.26,<2'`, `'1.26.*'`). */
  packages?: Record<string, string>;
  /** Python version, e.g. `'3.11'` (solved as the `python` package). */
  python?: string;
  /** Conda channels (URLs, names, or folders: relative ones from the working directory) to solve against, instead of the resolver's default. */
  channels?: string[];
  /** `true`: this step runs without an environment, even when the flow has a `@condaBase`. */
  disabled?: boolean;
}

/** Options of `@npm` / `@npmBase`. @public */
export interface NpmOptions {
  /** Package → exact version (`{ 'left-pad': '1.3.0' }`), an npm range, or a `file:` tarball. */
  packages?: Record<string, string>;
  /** Node major version the lock is for, e.g. `'20'` (default: any; materializing checks it). */
  node?: string;
  /** A registry URL and/or folders of package tarballs (relative ones from the working directory), instead of the resolver's default. */
  sources?: string[];
  /** `true`: this step runs without an environment, even when the flow has an `@npmBase`. */
  disabled?: boolean;
}

const KINDS = ['pypi', 'conda', 'npm'] as const;
const bases = new WeakMap<Function, EnvironmentSpec>();

const OPTIONS: Record<string, readonly string[]> = {
  pypi: ['packages', 'python', 'sources', 'disabled'],
  conda: ['packages', 'python', 'channels', 'disabled'],
  npm: ['packages', 'node', 'sources', 'disabled'],
};

/** What a step's own `disabled: true` records: no environment, and the flow's default does not apply. @internal */
export interface DisabledEnvironment {
  kind: string;
  disabled: true;
}

function specOf(kind: string, decorator: string, options: PypiOptions & CondaOptions & NpmOptions): EnvironmentSpec | DisabledEnvironment {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`${decorator} takes an object, e.g. ${decorator}({ packages: { name: '1.0.0' } }).`);
  const known = OPTIONS[kind]!;
  for (const key of Object.keys(options))
    if (!known.includes(key))
      throw new TypeError(`${decorator} has no option ${JSON.stringify(key)}: its options are ${known.join(', ')}.`);
  if (options.disabled !== undefined) {
    if (options.disabled !== true && options.disabled !== false) throw new TypeError(`${decorator}: disabled is true or false.`);
    if (options.disabled) {
      if (decorator.endsWith('Base')) throw new TypeError(`${decorator}({ disabled: true }) means nothing: leave the decorator out.`);
      if (Object.keys(options).length > 1)
        throw new TypeError(`${decorator}({ disabled: true }) runs the step without an environment: give no other option.`);
      return { kind, disabled: true };
    }
  }
  const packages = options.packages ?? {};
  if (typeof packages !== 'object' || packages === null || Array.isArray(packages))
    throw new TypeError(`${decorator}: packages is an object of name → version, e.g. { numpy: '2.1.0' }.`);
  for (const [name, version] of Object.entries(packages))
    if (typeof version !== 'string' || version.trim() === '' || name.trim() === '')
      throw new TypeError(`${decorator}: package ${JSON.stringify(name)} needs a version string, e.g. { ${name || 'numpy'}: '2.1.0' }.`);
  const sources = options.channels ?? options.sources;
  if (sources !== undefined && (!Array.isArray(sources) || sources.some((x) => typeof x !== 'string' || x.trim() === '')))
    throw new TypeError(`${decorator}: ${options.channels ? 'channels' : 'sources'} is a list of URLs or folders.`);
  const runtime = options.python ?? options.node;
  return {
    kind,
    packages: { ...packages },
    ...(runtime !== undefined ? { runtime: String(runtime) } : {}),
    ...(sources?.length ? { sources: sources.map(absoluteIfPath) } : {}),
  };
}

/**
 * A relative folder (`./wheels`, `fx/channel`) becomes absolute, from the working directory where
 * the flow is defined: the spec, its lock and its cache key then name one folder wherever the run
 * is started from. URLs and bare names (a conda channel such as `conda-forge`) stay as given.
 */
function absoluteIfPath(source: string): string {
  if (source.includes('://') || isAbsolute(source)) return source;
  if (!source.startsWith('.') && !source.includes('/') && !source.includes('\\')) return source;
  return resolve(source);
}

function stepEnvironment(kind: string, options: object): StepDecorator {
  const decorator = `@${kind}`;
  const spec = specOf(kind, decorator, options);
  return (fn, context) => {
    if (context.kind !== 'method' || context.static || context.private)
      throw new TypeError(`${decorator} can only decorate a public instance method (got ${String(context.kind)} ${String(context.name)}).`);
    const rec = ensureStepRecord(fn, String(context.name), context.metadata);
    const other = rec.decorations.other.environment as EnvironmentSpec | DisabledEnvironment | undefined;
    if (other)
      throw new TypeError(
        other.kind === kind
          ? `Step ${String(context.name)} has ${decorator} twice: keep one, with all its packages.`
          : `Step ${String(context.name)} has both @${other.kind} and ${decorator}: a step runs in one environment, and kinds are not combined. Keep one, and move the work that needs the other into a step of its own.`,
      );
    rec.decorations.other.environment = spec;
  };
}

function baseEnvironment(kind: string, options: object) {
  const decorator = `@${kind}Base`;
  const spec = specOf(kind, decorator, options);
  return (value: Function, context: ClassDecoratorContext): void => {
    if (context.kind !== 'class') throw new TypeError(`${decorator} decorates a flow class (got ${String(context.kind)}).`);
    const other = bases.get(value);
    if (other)
      throw new TypeError(`${String(context.name)} has both @${other.kind}Base and ${decorator}: a flow has one default environment.`);
    bases.set(value, spec as EnvironmentSpec);
  };
}

/** Run the step in a Python virtual environment with these pinned packages. @public */
export const pypi = (options: PypiOptions = {}): StepDecorator => stepEnvironment('pypi', options);
/** Run the step in a conda environment solved from these channels. @public */
export const conda = (options: CondaOptions = {}): StepDecorator => stepEnvironment('conda', options);
/** Give the step these npm packages, installed into a content-addressed prefix. @public */
export const npm = (options: NpmOptions = {}): StepDecorator => stepEnvironment('npm', options);
/** `@pypi` for every step of the flow that has no environment decorator of its own. @public */
export const pypiBase = (options: PypiOptions = {}) => baseEnvironment('pypi', options);
/** `@conda` for every step of the flow that has no environment decorator of its own. @public */
export const condaBase = (options: CondaOptions = {}) => baseEnvironment('conda', options);
/** `@npm` for every step of the flow that has no environment decorator of its own. @public */
export const npmBase = (options: NpmOptions = {}) => baseEnvironment('npm', options);

/** The flow-level default environment of a class (or of the nearest base class that has one). @internal */
export function baseEnvironmentOf(flowClass: Function): EnvironmentSpec | undefined {
  for (let c: Function | null = flowClass; c && c !== Function.prototype; c = Object.getPrototypeOf(c) as Function | null) {
    const spec = bases.get(c);
    if (spec) return spec;
  }
  return undefined;
}

export const ENVIRONMENT_KINDS: readonly string[] = KINDS;
