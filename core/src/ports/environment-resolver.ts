/**
 * Turns an environment spec (`@pypi`, `@conda`, `@npm` packages) into a locked,
 * content-addressed environment and a launch prefix.
 */

/** @public */
export interface EnvironmentSpec {
  kind: string;
  packages: Record<string, string>;
  /** Interpreter or runtime version, e.g. python "3.11" or node "20". */
  runtime?: string;
}

/** @public */
export interface ResolvedEnvironment {
  /** Content address of the locked environment: same spec → same id. */
  id: string;
  /** Prepended to the worker command (e.g. an interpreter path or an `env` wrapper). */
  launchPrefix: string[];
  env: Record<string, string>;
}

/** @public */
export interface EnvironmentCapabilities {
  readonly kinds: readonly string[];
}

/**
 * The EnvironmentResolver port.
 *
 * Error contract: `resolve` is idempotent (resolving the same spec twice returns the same id and
 * does not rebuild); an unresolvable spec rejects with `CONFIG` naming the package at fault.
 * @public
 */
export interface EnvironmentResolver {
  readonly name: string;
  readonly capabilities: EnvironmentCapabilities;
  /** The id `resolve` would return, without building anything. */
  identify(spec: EnvironmentSpec): string;
  resolve(spec: EnvironmentSpec, options?: { signal?: AbortSignal }): Promise<ResolvedEnvironment>;
  close(): Promise<void>;
}
