import {
  hostPlatform,
  ResolverLifecycle,
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
  /**
   * Sources used when a spec has none: wheel folders (paths or `file://` URLs, which must exist) or index URLs (the first is
   * pip's `--index-url`, the rest `--extra-index-url`). Default: PyPI (`https://pypi.org/simple`), whatever pip's configuration says.
   */
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
 *
 * Packages come only from the spec's sources (else the resolver's, else PyPI): pip runs without
 * its configuration, so neither a pip.conf nor `PIP_*` variables (`PIP_INDEX_URL`,
 * `PIP_FIND_LINKS`, `PIP_CONSTRAINT`, ...) of the machine can change a lock or what a lock
 * installs. Only settings of how pip connects are passed on: `PIP_CERT`, `PIP_CLIENT_CERT`,
 * `PIP_PROXY`, `PIP_TRUSTED_HOST`, `PIP_TIMEOUT`, `PIP_DEFAULT_TIMEOUT`, `PIP_RETRIES`,
 * `PIP_KEYRING_PROVIDER` (and the usual `HTTPS_PROXY`, `REQUESTS_CA_BUNDLE`). Sources must not
 * hold credentials (a lock records its sources): pip takes a private index's credentials from
 * `~/.netrc` or from the `keyring` package, which need no pip configuration.
 *
 * A spec's packages are PyPI names, optionally with extras (`requests[socks]`), each with a
 * version (`2.1.0`, meaning `==2.1.0`; a release prefix `2.*`), a specifier list (`>=2.1,<3`), or
 * `*` / `''` for any version. Anything else is refused with `CONFIG`.
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

  /**
   * Resolves `spec` to exact versions and SHA-256 hashes for `options.platform`. Unsatisfiable specs reject with `CONFIG` (pip's
   * words, and its connection warnings when an index could not be reached), as do an invalid name or version and a wheel folder
   * that does not exist.
   */
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

  /**
   * Installs exactly `lock` into `options.dir` (an empty folder), checking every archive's hash: an archive whose bytes changed
   * since locking rejects with `INTEGRITY` naming the package; a wheel folder that no longer exists with `CONFIG`.
   */
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
