/**
 * Locks a spec with npm's resolver: `npm install --package-lock-only` in a scratch project whose
 * package.json depends on the spec's packages writes the package-lock.json npm would install
 * (the transitive closure, placed in the hoisted layout, with resolved URLs and integrity)
 * without installing anything. Each archive is then read once (from disk, or downloaded) to
 * record its SHA-256 and to check it against npm's integrity. npm is told the lock's platform
 * (`--os`, `--cpu`, `--libc`), and optional packages for other platforms are left out of the lock
 * (`lockfile-entries.ts`). npm (11) still checks required packages against this machine: a
 * required package that only runs elsewhere (`"os": ["darwin"]` locked on Linux) fails with its
 * EBADPLATFORM, whatever the target.
 *
 * Only the sources say where packages come from (`npm-sources.ts`): npm is given the registry
 * (`--registry`, the public one when no source names one), each scope's registry
 * (`--@scope:registry=`), and none of this machine's npm configuration but its credentials and
 * how it reaches registries (`run-npm.ts`). Folder sources are served to npm as a registry for the
 * time of the lock; the URLs npm records for them are turned back into `file://` URLs of the
 * tarballs, so a lock from folders is only materializable where the same files exist. Scratch
 * paths never reach the lock.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapLimit, TributaryError, type LockedPackage } from '@tributary/core';
import { readArchive } from './archive.ts';
import { indexTarballFolders, startFolderRegistry, type FolderRegistry } from './folder-registry.ts';
import { matchesIntegrity, sha256Hex } from './integrity.ts';
import { lockfileEntries, type LockfileEntry } from './lockfile-entries.ts';
import { PUBLIC_REGISTRY, splitSources } from './npm-sources.ts';
import { npmPlatformFlags } from './platforms.ts';
import { NPM_COMMON_FLAGS, npmErrorText, npmNetworkFailure, redactRegistryText, runNpm, type NpmNetworkFailure } from './run-npm.ts';

export interface NpmLockRequest {
  npm: string;
  /** From `specDependencies`. */
  dependencies: Record<string, string>;
  /** Normalized sources. */
  sources: readonly string[];
  platform: string;
  signal?: AbortSignal | undefined;
}

/** Archives read at once (downloads of a large tree). */
const PARALLEL_ARCHIVES = 8;

/** The packages npm resolves the dependencies to, sorted by name. */
export async function npmLock(request: NpmLockRequest): Promise<LockedPackage[]> {
  const names = Object.keys(request.dependencies);
  if (names.length === 0) return [];
  const { registry, scopes, folders } = splitSources(request.sources);
  const work = await mkdtemp(join(tmpdir(), 'tributary-npm-lock-'));
  let served: FolderRegistry | undefined;
  try {
    const args = ['install', '--package-lock-only', ...NPM_COMMON_FLAGS, ...npmPlatformFlags(request.platform)];
    if (folders.length > 0) {
      served = await startFolderRegistry(await indexTarballFolders(folders), registry);
      args.push('--registry', served.url);
    } else args.push('--registry', registry ?? PUBLIC_REGISTRY);
    for (const [scope, url] of scopes) args.push(`--${scope}:registry=${url}`);
    const project = { name: 'tributary-npm-lock', version: '0.0.0', private: true, dependencies: request.dependencies };
    await writeFile(join(work, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
    const result = await runNpm(request.npm, args, { cwd: work, signal: request.signal });
    if (result.exitCode !== 0) {
      const network = npmNetworkFailure(result.stderr);
      const registries = [...scopes.values(), ...(registry !== undefined ? [registry] : folders.length === 0 ? [PUBLIC_REGISTRY] : [])];
      if (network !== undefined) throw unreachable(network, registries);
      throw new TributaryError('CONFIG', `npm could not resolve ${describe(request.dependencies)}: ${npmErrorText(result.stderr)}`, {
        context: { adapter: 'npm' },
      });
    }
    const lockfile: unknown = JSON.parse(await readFile(join(work, 'package-lock.json'), 'utf8'));
    const entries = lockfileEntries(lockfile, request.platform, work);
    return await mapLimit(entries, PARALLEL_ARCHIVES, (entry, _, signal) => lockedPackage(entry, served, signal), {
      signal: request.signal,
    });
  } finally {
    await served?.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function lockedPackage(
  entry: LockfileEntry,
  served: FolderRegistry | undefined,
  signal: AbortSignal | undefined,
): Promise<LockedPackage> {
  const { name, version } = entry;
  const fromFolder = served?.tarballAt(entry.resolved);
  const what = `${name}@${version}`;
  let url = entry.resolved;
  let sha256: string;
  if (fromFolder !== undefined) {
    // Hashed when the folder was read; served bytes are the file's.
    url = pathToFileURL(fromFolder.file).href;
    sha256 = fromFolder.sha256;
    if (entry.integrity !== undefined && entry.integrity !== fromFolder.integrity) throw integrity(what, url, entry.integrity);
  } else {
    const bytes = await readArchive(url, what, signal);
    sha256 = sha256Hex(bytes);
    if (entry.integrity !== undefined && matchesIntegrity(bytes, entry.integrity) === false) throw integrity(what, url, entry.integrity);
  }
  return { name, version, url, sha256, ...(entry.integrity !== undefined ? { integrity: entry.integrity } : {}) };
}

function integrity(what: string, url: string, expected: string): TributaryError {
  return new TributaryError('INTEGRITY', `The archive of ${what} at ${url} does not match npm's integrity ${expected}`, {
    context: { adapter: 'npm', path: url },
  });
}

/**
 * A registry npm could not reach (`ENOTFOUND`, `ECONNREFUSED`, `ETIMEDOUT`...) or that answered
 * 429 or 5xx after npm's retries: `INFRASTRUCTURE`, retryable (the spec may be fine), naming the
 * registry (of `registries`, the one the failed request was for) with credentials redacted.
 */
export function unreachable(failure: NpmNetworkFailure, registries: readonly string[]): TributaryError {
  const registry = registryOf(failure.url, registries);
  const what =
    registry !== undefined
      ? `the registry ${registry}`
      : failure.url !== undefined
        ? originOf(failure.url)
        : `the registry ${registries.length > 0 ? registries.join(' or ') : '(npm did not say which)'}`;
  const message =
    failure.status !== undefined
      ? `npm got HTTP ${failure.status} (${failure.code}) from ${what}, also when it tried again: ${failure.reason}`
      : `npm could not reach ${what} (${failure.code}): ${failure.reason}`;
  return new TributaryError('INFRASTRUCTURE', redactRegistryText(message), {
    retryable: true,
    context: {
      adapter: 'npm',
      code: failure.code,
      ...(registry !== undefined ? { registry: redactRegistryText(registry) } : {}),
      ...(failure.status !== undefined ? { status: failure.status } : {}),
    },
  });
}

/** The registry a URL npm asked for belongs to: the longest of `registries` it starts with. */
function registryOf(url: string | undefined, registries: readonly string[]): string | undefined {
  if (url === undefined) return registries.length === 1 ? registries[0] : undefined;
  const base = (r: string) => (r.endsWith('/') ? r : `${r}/`);
  const matching = registries.filter((r) => url.startsWith(base(r)) || url === r).sort((a, b) => b.length - a.length);
  return matching[0];
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function describe(dependencies: Record<string, string>): string {
  return Object.entries(dependencies)
    .map(([name, version]) => `${name}@${version}`)
    .join(' ');
}
