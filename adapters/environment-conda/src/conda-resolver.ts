import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ResolverLifecycle,
  type AdapterLocator,
  type EnvironmentActivation,
  type EnvironmentCapabilities,
  type EnvironmentLock,
  type EnvironmentResolver,
  type EnvironmentSpec,
} from '@tributary/core';
import { whenAborted } from './errors.ts';
import { builtinInstall } from './install/builtin-install.ts';
import { checkLock } from './install/check-lock.ts';
import { HISTORY_FILE } from './install/conda-meta.ts';
import { findMicromamba, micromambaInstall } from './install/micromamba.ts';
import { PrefixWriter } from './install/prefix-writer.ts';
import { condaLock } from './lock/conda-lock.ts';
import type { VirtualPackages } from './lock/virtual-packages.ts';
import { KNOWN_PLATFORMS } from './platforms.ts';

/** @public */
export interface CondaResolverOptions {
  /**
   * Channels used when a spec has none: names (`conda-forge`, read from
   * `https://conda.anaconda.org/<name>`), http(s) URLs, or local channel folders (paths or
   * `file://` URLs). Default: none, so every `@conda` must name its channels.
   */
  channels?: string[];
  /**
   * The micromamba that installs environments: a path or a command on PATH. `false`: never use
   * micromamba, always the built-in installer. Default: `micromamba` from PATH when there is one,
   * else the built-in installer (which needs `bzip2` for `.tar.bz2` and `zstd` for `.conda`
   * archives, and supports Linux and macOS).
   */
  micromamba?: string | false;
  /**
   * The virtual packages the solver assumes on the target machine, name → `"version"` or
   * `"version build"`, over the defaults: `__glibc` 2.28, `__linux` 4.18, `__osx` 13.0,
   * `__unix`/`__win`, `__archspec 1 <arch>`, no `__cuda`. `false` removes one. Example:
   * `{ __cuda: '12.4', __glibc: '2.17' }`.
   */
  virtualPackages?: Record<string, string | false>;
}

/**
 * The `conda` EnvironmentResolver: locks `@conda` specs with rattler's solver (WebAssembly, so a
 * lock for linux-64 is made the same way on a Mac), and materializes locks as conda prefixes,
 * through micromamba when it is installed, else with its own installer; every archive's SHA-256
 * is checked against the lock either way.
 *
 * Errors: an unsatisfiable spec, missing channels, or a lock for another platform than this
 * machine's reject with `CONFIG` (the solver's own words for the first); an archive that does
 * not match its hash, or that would write outside the environment, with `INTEGRITY`; a channel
 * that cannot be reached with `INFRASTRUCTURE`. After `close()`, calls reject with `CLOSED`,
 * and so do calls still running (a solve cannot be stopped part-way: its result is dropped).
 * @public
 */
export class CondaResolver implements EnvironmentResolver {
  readonly name = 'conda';
  readonly capabilities: EnvironmentCapabilities = { kinds: ['conda'] };
  readonly locator: AdapterLocator;
  readonly #channels: readonly string[];
  readonly #micromamba: string | false | undefined;
  readonly #virtualPackages: VirtualPackages;
  readonly #lifecycle: ResolverLifecycle;

  constructor(options: CondaResolverOptions = {}) {
    const { channels = [], micromamba, virtualPackages = {} } = options;
    if (!Array.isArray(channels) || channels.some((c) => typeof c !== 'string'))
      throw new TypeError('createCondaResolver: channels must be an array of strings');
    if (micromamba !== undefined && micromamba !== false && typeof micromamba !== 'string')
      throw new TypeError('createCondaResolver: micromamba must be a path, a command name or false');
    if (
      typeof virtualPackages !== 'object' ||
      virtualPackages === null ||
      Object.values(virtualPackages).some((v) => v !== false && typeof v !== 'string')
    )
      throw new TypeError('createCondaResolver: virtualPackages must map names to version strings or false');
    this.#channels = [...channels];
    this.#micromamba = micromamba;
    this.#virtualPackages = { ...virtualPackages };
    this.#lifecycle = new ResolverLifecycle({ kind: 'conda', platforms: KNOWN_PLATFORMS, defaultSources: this.#channels });
    // A remote job finds its own micromamba (or none): a path chosen here means nothing there; `false` is a choice that travels.
    this.locator = {
      module: import.meta.url,
      factory: 'createCondaResolver',
      options: {
        channels: [...this.#channels],
        ...(Object.keys(this.#virtualPackages).length > 0 ? { virtualPackages: { ...this.#virtualPackages } } : {}),
        ...(micromamba === false ? { micromamba: false } : {}),
      },
    };
  }

  /**
   * Solves `spec` for `options.platform` (any conda platform, whatever this machine is) into the
   * exact packages, URLs and SHA-256 hashes. `CONFIG` when it cannot be satisfied, in the solver's words.
   */
  async lock(spec: EnvironmentSpec, options: { platform: string; signal?: AbortSignal }): Promise<EnvironmentLock> {
    return this.#lifecycle.lock(spec, options, (signal, channels) =>
      condaLock({ spec, platform: options.platform, channels, virtualPackages: this.#virtualPackages, signal }).catch((error: unknown) => {
        throw whenAborted(signal, error);
      }),
    );
  }

  /**
   * Installs exactly `lock` into `options.dir` (an empty folder, the environment's final place:
   * files hold its path), checking every archive's hash. Activation: `CONDA_PREFIX` and `<dir>/bin` first on PATH.
   */
  async materialize(lock: EnvironmentLock, options: { dir: string; signal?: AbortSignal }): Promise<EnvironmentActivation> {
    return this.#lifecycle.materialize(lock, options, async (signal) => {
      checkLock(lock);
      const dir = resolve(options.dir);
      await this.#install(lock, dir, signal).catch((error: unknown) => {
        throw whenAborted(signal, error);
      });
      return { env: { CONDA_PREFIX: dir }, path: [join(dir, 'bin')] };
    });
  }

  async #install(lock: EnvironmentLock, dir: string, signal: AbortSignal): Promise<void> {
    if (lock.packages.length === 0) {
      // Nothing to install: an empty environment is a conda-meta folder.
      await new PrefixWriter(await realpath(dir)).writeFile(HISTORY_FILE, '', 0o644, 'the environment');
      return;
    }
    const micromamba = await findMicromamba(this.#micromamba);
    if (micromamba !== undefined) await micromambaInstall({ micromamba, packages: lock.packages, dir, platform: lock.platform, signal });
    else await builtinInstall({ packages: lock.packages, dir, platform: lock.platform, signal });
  }

  /** Later calls, and calls still running, reject with `CLOSED`; running downloads and tools are stopped. */
  async close(): Promise<void> {
    this.#lifecycle.close();
  }
}

/**
 * Creates the `conda` EnvironmentResolver.
 * @public
 */
export function createCondaResolver(options?: CondaResolverOptions): CondaResolver {
  return new CondaResolver(options);
}
