import { createHash } from 'node:crypto';
import {
  TributaryError,
  type EnvironmentActivation,
  type EnvironmentCapabilities,
  type EnvironmentLock,
  type EnvironmentResolver,
  type EnvironmentSpec,
} from '@tributary/core';

/**
 * The reference EnvironmentResolver: every `name@version` exists (except versions starting with
 * `0.0.0-missing`), locks to that exact version with a made-up archive hash, and materializes as
 * an empty folder. Real resolvers (pypi, conda, npm) solve and install for real.
 * @public
 */
export class MemoryEnvironmentResolver implements EnvironmentResolver {
  readonly name = 'memory';
  readonly capabilities: EnvironmentCapabilities = { kinds: ['any'] };
  private closed = false;
  /** How many environments were materialized. */
  builds = 0;

  async lock(spec: EnvironmentSpec, options: { platform: string }): Promise<EnvironmentLock> {
    this.live();
    const packages = Object.entries(spec.packages)
      .map(([name, version]) => {
        if (version.startsWith('0.0.0-missing'))
          throw new TributaryError('CONFIG', `No version ${version} of ${name} exists (memory resolver).`, { context: { package: name } });
        return {
          name,
          version,
          url: `memory://${name}/${version}`,
          sha256: createHash('sha256').update(`${name}@${version}`).digest('hex'),
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      kind: spec.kind,
      platform: options.platform,
      ...(spec.runtime !== undefined ? { runtime: spec.runtime } : {}),
      sources: [...(spec.sources ?? [])],
      packages,
    };
  }

  async materialize(lock: EnvironmentLock, options: { dir: string }): Promise<EnvironmentActivation> {
    this.live();
    this.builds++;
    return {
      env: { TRIBUTARY_MEMORY_ENV: `${lock.kind}:${lock.packages.map((p) => `${p.name}@${p.version}`).join(',')}` },
      path: [options.dir],
    };
  }

  private live(): void {
    if (this.closed) throw new TributaryError('CLOSED', 'Memory environment resolver is closed.');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createMemoryEnvironmentResolver(): MemoryEnvironmentResolver {
  return new MemoryEnvironmentResolver();
}
