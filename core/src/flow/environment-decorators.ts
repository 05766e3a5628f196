/**
 * `@pypi`, `@conda` and `@npm` on steps, and `@pypiBase`, `@condaBase`, `@npmBase` on the flow
 * class as defaults for every step without one of its own (as in Metaflow, a step's own
 * decorator replaces the flow's, it does not merge with it).
 */
import type { EnvironmentSpec } from '../ports/environment-resolver.ts';
import { ensureStepRecord } from './registry.ts';
import type { StepDecorator } from './decorators.ts';

/** Options of `@pypi` / `@pypiBase`. @public */
export interface PypiOptions {
  /** Package → exact version (`{ numpy: '2.1.0' }`) or a pip specifier (`'>=2,<3'`). */
  packages?: Record<string, string>;
  /** Python version, e.g. `'3.11'` (default: the `python3` on PATH). */
  python?: string;
  /** Package indexes (URLs) or wheel folders (paths) to resolve from, instead of the resolver's default. */
  sources?: string[];
}

/** Options of `@conda` / `@condaBase`. @public */
export interface CondaOptions {
  /** Package → conda version spec (`{ numpy: '2.1.0' }`, `'>=1.26,<2'`, `'1.26.*'`). */
  packages?: Record<string, string>;
  /** Python version, e.g. `'3.11'` (solved as the `python` package). */
  python?: string;
  /** Conda channels (URLs) to solve against, instead of the resolver's default. */
  channels?: string[];
}

/** Options of `@npm` / `@npmBase`. @public */
export interface NpmOptions {
  /** Package → exact version (`{ 'left-pad': '1.3.0' }`), an npm range, or a `file:` tarball. */
  packages?: Record<string, string>;
  /** Node major version the lock is for, e.g. `'20'` (default: any; materializing checks it). */
  node?: string;
  /** A registry URL and/or folders of package tarballs, instead of the resolver's default. */
  sources?: string[];
}

const KINDS = ['pypi', 'conda', 'npm'] as const;
const bases = new WeakMap<Function, EnvironmentSpec>();

function specOf(kind: string, decorator: string, options: PypiOptions & CondaOptions & NpmOptions): EnvironmentSpec {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`${decorator} takes an object, e.g. ${decorator}({ packages: { name: '1.0.0' } }).`);
  const packages = options.packages ?? {};
  for (const [name, version] of Object.entries(packages))
    if (typeof version !== 'string' || version.trim() === '' || name.trim() === '')
      throw new TypeError(`${decorator}: package ${JSON.stringify(name)} needs a version string, e.g. { ${name || 'numpy'}: '2.1.0' }.`);
  const sources = options.channels ?? options.sources;
  const runtime = options.python ?? options.node;
  return {
    kind,
    packages: { ...packages },
    ...(runtime !== undefined ? { runtime: String(runtime) } : {}),
    ...(sources?.length ? { sources: [...sources] } : {}),
  };
}

function stepEnvironment(kind: string, options: object): StepDecorator {
  const decorator = `@${kind}`;
  const spec = specOf(kind, decorator, options);
  return (fn, context) => {
    if (context.kind !== 'method' || context.static || context.private)
      throw new TypeError(`${decorator} can only decorate a public instance method (got ${String(context.kind)} ${String(context.name)}).`);
    const rec = ensureStepRecord(fn, String(context.name), context.metadata);
    const other = rec.decorations.other.environment as EnvironmentSpec | undefined;
    if (other)
      throw new TypeError(
        `Step ${String(context.name)} has both @${other.kind} and ${decorator}: a step runs in one environment. Keep one (put the packages of both in it).`,
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
    bases.set(value, spec);
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
