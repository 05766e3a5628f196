import {
  hostPlatform,
  ResolverLifecycle,
  TributaryError,
  type AdapterLocator,
  type EnvironmentActivation,
  type EnvironmentCapabilities,
  type EnvironmentLock,
  type EnvironmentResolver,
  type EnvironmentSpec,
} from '@tributary/core';
import { pipLock } from './pip-lock.ts';
import { pipMaterialize } from './pip-materialize.ts';
import { normalizeSources } from './pip-sources.ts';
import { KNOWN_PLATFORMS } from './platforms.ts';
import { InterpreterFinder } from './python-interpreter.ts';
import { specRequirements } from './requirements.ts';

/** @public */
export interface PypiResolverOptions {
  /**
   * The Python interpreter to use (a command on PATH or a path). Default: `python<runtime>` when
   * the spec names a runtime and that command runs, else `python3` (whose version must then be
   * the runtime's).
   */
  python?: string;
  /** Sources used when a spec has none: wheel folders (paths or `file://` URLs) or index URLs. Default: pip's own (PyPI). */
  sources?: string[];
}

/**
 * The `pypi` EnvironmentResolver: locks `@pypi` specs with pip's resolver
 * (`pip install --dry-run --report`) and materializes locks as virtual environments, installing exactly the locked
 * packages with their hashes checked (`--require-hashes`). Needs Python 3 with pip 23 or newer.
 *
 * A lock for this machine's platform is resolved by the spec's interpreter; a lock for another
 * platform resolves binary wheels for that platform's tags and the spec's Python version (any
 * local interpreter can do that), and can only be materialized on such a machine.
 * @public
 */
export class PypiResolver implements EnvironmentResolver {
  readonly name = 'pypi';
  readonly capabilities: EnvironmentCapabilities = { kinds: ['pypi'] };
  readonly locator: AdapterLocator;
  readonly #interpreters: InterpreterFinder;
  readonly #defaultSources: readonly string[];
  readonly #lifecycle: ResolverLifecycle;

  constructor(options: PypiResolverOptions = {}) {
    this.#interpreters = new InterpreterFinder(options.python);
    this.#defaultSources = [...(options.sources ?? [])];
    this.#lifecycle = new ResolverLifecycle({ kind: 'pypi', platforms: KNOWN_PLATFORMS, defaultSources: this.#defaultSources });
    // A remote job finds its own interpreter (python<runtime>, python3): a path chosen here means nothing there.
    this.locator = { module: import.meta.url, factory: 'createPypiResolver', options: { sources: [...this.#defaultSources] } };
  }

  /** Resolves `spec` to exact versions and SHA-256 hashes for `options.platform`. Unsatisfiable specs reject with `CONFIG` (pip's words). */
  async lock(spec: EnvironmentSpec, options: { platform: string; signal?: AbortSignal }): Promise<EnvironmentLock> {
    return this.#lifecycle.lock(spec, options, async (signal, given) => {
      const { platform } = options;
      const requirements = specRequirements(spec.packages);
      const sources = normalizeSources(given);
      const host = hostPlatform();
      const crossPlatform = platform !== host;
      // For another platform pip only needs the target Python version, not that interpreter.
      const python =
        crossPlatform && spec.runtime !== undefined
          ? await this.#interpreters.find(spec.runtime).catch(() => this.#interpreters.find(undefined))
          : await this.#interpreters.find(spec.runtime);
      const runtime = crossPlatform
        ? (spec.runtime ?? python.majorMinor)
        : spec.runtime !== undefined && spec.runtime.split('.').length >= 2
          ? spec.runtime
          : python.majorMinor;
      const packages = await pipLock({
        python,
        requirements,
        sources,
        crossPlatform: crossPlatform ? { platform, pythonVersion: spec.runtime } : undefined,
        signal,
      });
      return { kind: 'pypi', platform, runtime, sources, packages };
    });
  }

  /** Installs exactly `lock` into `options.dir` (an empty folder), checking every archive's hash. */
  async materialize(lock: EnvironmentLock, options: { dir: string; signal?: AbortSignal }): Promise<EnvironmentActivation> {
    return this.#lifecycle.materialize(lock, options, async (signal) => {
      const python = await this.#interpreters.find(lock.runtime);
      return pipMaterialize({ python, packages: lock.packages, sources: normalizeSources(lock.sources), dir: options.dir, signal });
    });
  }

  /** Stops running pip processes; later calls reject with `CLOSED`. */
  async close(): Promise<void> {
    this.#lifecycle.close();
  }
}

/**
 * Creates the `pypi` EnvironmentResolver.
 * @public
 */
export function createPypiResolver(options?: PypiResolverOptions): PypiResolver {
  return new PypiResolver(options);
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
