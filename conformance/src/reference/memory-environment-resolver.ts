import { createHash } from 'node:crypto';
import {
  TributaryError,
  type EnvironmentCapabilities,
  type EnvironmentResolver,
  type EnvironmentSpec,
  type ResolvedEnvironment,
} from '@tributary/core';

/** JSON with object keys sorted, so equal specs serialize identically whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The reference EnvironmentResolver: the id is the SHA-256 of the canonical spec; resolving
 * builds nothing and prefixes nothing. Real resolvers (npm, pypi, conda) lock packages first.
 * @public
 */
export class MemoryEnvironmentResolver implements EnvironmentResolver {
  readonly name = 'memory';
  readonly capabilities: EnvironmentCapabilities = { kinds: ['any'] };
  private readonly resolved = new Map<string, ResolvedEnvironment>();
  private closed = false;
  /** How many environments were actually built (resolve must not rebuild). */
  builds = 0;

  identify(spec: EnvironmentSpec): string {
    return createHash('sha256').update(canonical(spec)).digest('hex').slice(0, 32);
  }

  async resolve(spec: EnvironmentSpec): Promise<ResolvedEnvironment> {
    if (this.closed) throw new TributaryError('CLOSED', 'Memory environment resolver is closed.');
    const envId = this.identify(spec);
    let env = this.resolved.get(envId);
    if (!env) {
      this.builds++;
      env = { id: envId, launchPrefix: [], env: { TRIBUTARY_ENV_ID: envId } };
      this.resolved.set(envId, env);
    }
    return structuredClone(env);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createMemoryEnvironmentResolver(): MemoryEnvironmentResolver {
  return new MemoryEnvironmentResolver();
}
