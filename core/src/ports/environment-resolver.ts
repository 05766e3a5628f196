/**
 * Turns an environment spec (`@pypi`, `@conda`, `@npm` packages) into a lock (exact versions and
 * hashes, for one target platform) and materializes a lock into a folder. The core names an
 * environment by the hash of its lock (`environmentId`), caches materialized environments by that
 * id and activates them for a step's tasks; resolvers only solve and install.
 */

import type { AdapterLocator } from './adapter-locator.ts';

/** What a step asks for. @public */
export interface EnvironmentSpec {
  /** `pypi`, `conda`, `npm`. */
  kind: string;
  /** Package name → version (exact, or a range the resolver understands). */
  packages: Record<string, string>;
  /** Interpreter or runtime version, e.g. python "3.11". */
  runtime?: string;
  /** Where packages come from: conda channels, pip index URLs or wheel folders (resolver-specific). */
  sources?: string[];
}

/** One package of a lock. @public */
export interface LockedPackage {
  name: string;
  version: string;
  /** Where its archive is. */
  url: string;
  /** Hex SHA-256 of the archive: materializing checks it. */
  sha256: string;
  /** The registry's own integrity string where it has one (npm's `sha512-…`), checked too. */
  integrity?: string;
}

/** The exact environment a spec resolved to, for one platform. Plain JSON; stored in the datastore. @public */
export interface EnvironmentLock {
  kind: string;
  /** Target platform, conda style: `linux-64`, `linux-aarch64`, `osx-64`, `osx-arm64`, `win-64`. */
  platform: string;
  runtime?: string;
  /** Where the packages are fetched from when materializing. */
  sources: string[];
  /** Sorted by name. */
  packages: LockedPackage[];
}

/** How a task enters a materialized environment. @public */
export interface EnvironmentActivation {
  /** Variables set for the task (`VIRTUAL_ENV`, ...). */
  env: Record<string, string>;
  /** Folders put first on the task's `PATH` (so `python3` is the environment's). */
  path: string[];
}

/** @public */
export interface EnvironmentCapabilities {
  readonly kinds: readonly string[];
}

/**
 * The EnvironmentResolver port.
 *
 * Error contract: `lock` of a spec that cannot be satisfied (a missing package or version)
 * rejects with `CONFIG`, its message the solver's own words naming the package at fault; the same
 * spec and sources give the same lock. `materialize` installs exactly the lock (verifying each
 * archive's hash) into `dir`, an empty folder that is the environment's final place. After
 * `close()`, both reject with `CLOSED`.
 * @public
 */
export interface EnvironmentResolver {
  readonly name: string;
  readonly capabilities: EnvironmentCapabilities;
  /**
   * How a remote task job opens this resolver to materialize a stored lock in its container (the
   * task bootstrap bundles the module). Without one, steps with this kind of environment run only
   * on this machine.
   */
  readonly locator?: AdapterLocator;
  lock(spec: EnvironmentSpec, options: { platform: string; signal?: AbortSignal }): Promise<EnvironmentLock>;
  materialize(lock: EnvironmentLock, options: { dir: string; signal?: AbortSignal }): Promise<EnvironmentActivation>;
  close(): Promise<void>;
}
