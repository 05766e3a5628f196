import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentLock, EnvironmentResolver, EnvironmentSpec } from '../ports/environment-resolver.ts';
import { canonicalJson } from './environment-id.ts';

/**
 * Locks already solved on this machine, by spec, platform and resolver (its name and shareable
 * options, such as its default sources): a spec that was locked once keeps its lock (the same exact
 * versions and hashes) until the spec or the resolver's configuration changes, as a lockfile does;
 * the solver is not run again. Delete `<home>/environments/locks` to re-resolve ranges.
 */
export class LockCache {
  constructor(readonly dir: string) {}

  private file(spec: EnvironmentSpec, platform: string, resolver: EnvironmentResolver): string {
    const key = canonicalJson({ spec, platform, resolver: resolver.name, options: resolver.locator?.options ?? null });
    return join(this.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  async get(spec: EnvironmentSpec, platform: string, resolver: EnvironmentResolver): Promise<EnvironmentLock | undefined> {
    try {
      return JSON.parse(await readFile(this.file(spec, platform, resolver), 'utf8')) as EnvironmentLock;
    } catch {
      return undefined;
    }
  }

  async put(spec: EnvironmentSpec, platform: string, resolver: EnvironmentResolver, lock: EnvironmentLock): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.file(spec, platform, resolver);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, canonicalJson(lock));
    await rename(tmp, file);
  }
}
