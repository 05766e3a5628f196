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
import { npmLock } from './npm-lock.ts';
import { npmMaterialize } from './npm-materialize.ts';
import { specDependencies } from './npm-spec.ts';
import { normalizeSources } from './npm-sources.ts';
import { KNOWN_PLATFORMS } from './platforms.ts';

/** @public */
export interface NpmResolverOptions {
  /**
   * The npm command to run (on PATH, or a path). Default: `npm`. npm 9.4 or newer (lockfile v3,
   * `--install-strategy`). On Windows give the path of a Node-run npm: `npm.cmd` cannot be started
   * without a shell.
   */
  npm?: string;
  /**
   * Sources used when a spec has none: folders of package tarballs (paths or `file://` URLs, e.g.
   * what `npm pack` wrote), resolved from as a registry; at most one registry URL, asked for names
   * no folder has; and registries of scopes, `@scope:https://registry.example/`, asked for every
   * name of their scope (`@scope/…`), folders not. Default: none, which is the public registry
   * (`https://registry.npmjs.org/`).
   *
   * npm's configuration (`.npmrc`, `npm_config_*` variables) never says where packages come from
   * or how they resolve: `registry=` and `@scope:registry=` there are ignored, give them as sources.
   * Its credentials for a registry (`//registry.example/:_authToken=${TOKEN}` in the user's
   * `.npmrc`, `$NPM_CONFIG_USERCONFIG` or `~/.npmrc`) still apply, and so do its proxy, CA and cache
   * settings.
   */
  sources?: string[];
}

const RUNTIME = /^\d+(\.\d+){0,2}$/;

/**
 * The `npm` EnvironmentResolver: locks `@npm` specs with npm's own resolver
 * (`npm install --package-lock-only`) and materializes locks with `npm ci`, from archives whose
 * SHA-256 was checked first. A step's `import` and `require` of the packages then resolve from the
 * environment's `node_modules` (the core's import hook reads the activation's `NODE_PATH`). Steps
 * import them inside the step (`await import('left-pad')`): a top-level import runs when the flow
 * module loads, before any environment is entered.
 *
 * A lock names each package by its install path below `node_modules/` (`left-pad`, and a nested
 * duplicate `c/node_modules/left-pad`); `url` is the archive npm resolved (a registry URL, or the
 * `file://` URL of a tarball given by path or found in a folder source), `integrity` npm's, and
 * `sha256` that of the archive's bytes. A lock is for one platform: optional packages for another
 * OS or CPU are left out. `runtime` is the spec's Node version when it names one (tasks run in the
 * Node that runs the flow: materializing then checks that this Node is that version); else none.
 * A lock depends on the spec, its sources and npm, not on the machine's npm configuration:
 * `.npmrc` files and `npm_config_*` variables only lend their registry credentials, proxy, CA and
 * cache settings (see `NpmResolverOptions.sources`). Install scripts never run
 * (`--ignore-scripts`): packages that build native code at install do not work. Archive downloads
 * carry no registry token: registries that want one for tarballs are not supported yet.
 * @public
 */
export class NpmResolver implements EnvironmentResolver {
  readonly name = 'npm';
  readonly capabilities: EnvironmentCapabilities = { kinds: ['npm'] };
  readonly locator: AdapterLocator;
  readonly #npm: string;
  readonly #defaultSources: readonly string[];
  readonly #lifecycle: ResolverLifecycle;

  constructor(options: NpmResolverOptions = {}) {
    this.#npm = options.npm ?? 'npm';
    this.#defaultSources = [...(options.sources ?? [])];
    this.#lifecycle = new ResolverLifecycle({ kind: 'npm', platforms: KNOWN_PLATFORMS, defaultSources: this.#defaultSources });
    // A path to npm chosen here means nothing in a remote container; a command name does.
    const npm = options.npm !== undefined && !/[\\/]/.test(options.npm) ? { npm: options.npm } : {};
    this.locator = { module: import.meta.url, factory: 'createNpmResolver', options: { ...npm, sources: [...this.#defaultSources] } };
  }

  /**
   * Resolves `spec` to exact versions, archive URLs and hashes for `options.platform`. Unsatisfiable
   * specs reject with `CONFIG` in npm's words (`No matching version found for left-pad@9.9.9`, E404);
   * an archive that does not match npm's integrity with `INTEGRITY`; a registry that cannot be
   * reached (npm's `ENOTFOUND`, `ECONNREFUSED`, `ETIMEDOUT`...) or that keeps answering 429 or 5xx,
   * with `INFRASTRUCTURE` (retryable) naming the registry. npm retries twice within about 5 s.
   */
  async lock(spec: EnvironmentSpec, options: { platform: string; signal?: AbortSignal }): Promise<EnvironmentLock> {
    return this.#lifecycle.lock(spec, options, async (signal, given) => {
      const { platform } = options;
      if (spec.runtime !== undefined && !RUNTIME.test(spec.runtime)) {
        throw this.#lifecycle.config(`Invalid Node version ${JSON.stringify(spec.runtime)} for @npm: use a version such as "20"`);
      }
      const dependencies = specDependencies(spec.packages);
      const sources = normalizeSources(given);
      const packages = await npmLock({ npm: this.#npm, dependencies, sources, platform, signal });
      return { kind: 'npm', platform, ...(spec.runtime !== undefined ? { runtime: spec.runtime } : {}), sources, packages };
    });
  }

  /**
   * Installs exactly `lock` into `options.dir` (an empty folder, the environment's final place).
   * An archive whose bytes changed since locking rejects with `INTEGRITY` naming the package; a
   * lock for another platform or Node version with `CONFIG`.
   */
  async materialize(lock: EnvironmentLock, options: { dir: string; signal?: AbortSignal }): Promise<EnvironmentActivation> {
    return this.#lifecycle.materialize(lock, options, async (signal) => {
      const node = process.versions.node;
      if (lock.runtime !== undefined && node !== lock.runtime && !node.startsWith(`${lock.runtime}.`)) {
        throw this.#lifecycle.config(
          `This @npm lock is for Node ${lock.runtime} and tasks here run in Node ${node}: run the flow with Node ${lock.runtime}`,
        );
      }
      return npmMaterialize({ npm: this.#npm, packages: lock.packages, dir: options.dir, signal });
    });
  }

  /** Stops running npm processes; later calls reject with `CLOSED`. */
  async close(): Promise<void> {
    this.#lifecycle.close();
  }
}

/**
 * Creates the `npm` EnvironmentResolver.
 * @public
 */
export function createNpmResolver(options?: NpmResolverOptions): NpmResolver {
  return new NpmResolver(options);
}
