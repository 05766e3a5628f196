/**
 * Locks a `@conda` spec: rattler solves its match specs against the channels for the target
 * platform and `noarch` (with that platform's virtual packages), and the lock lists every package
 * of the solution (the transitive closure, virtual packages left out) with its archive URL and
 * SHA-256, sorted by name. Nothing runs on the target platform, so a linux-64 lock is made the
 * same way on any machine.
 *
 * A repodata entry without a SHA-256 (old channels list only MD5) gets one by fetching and hashing
 * its archive once, at lock time (checked against the repodata's MD5 when it has one), so every
 * lock can be materialized with its hashes checked.
 */

import { mapLimit } from '@tributary/core';
import { stat } from 'node:fs/promises';
import type { EnvironmentLock, EnvironmentSpec, LockedPackage } from '@tributary/core';
import { configError, integrityError } from '../errors.ts';
import { hashArchive } from '../download.ts';
import { serveDirectory, type ServedDirectory } from '../serve-directory.ts';
import { normalizeChannels, type Channel } from './channels.ts';
import { matchSpecs } from './match-specs.ts';
import { rattlerSolve, type SolvedRecord } from './rattler-solve.ts';
import { isVirtualPackage, virtualPackageRecords, type VirtualPackages } from './virtual-packages.ts';

/** What to lock. */
export interface CondaLockRequest {
  spec: EnvironmentSpec;
  platform: string;
  /** The channels to solve from (the spec's, else the resolver's). */
  channels: readonly string[];
  virtualPackages: VirtualPackages;
  signal: AbortSignal;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The lock of `request.spec` for `request.platform`. */
export async function condaLock(request: CondaLockRequest): Promise<EnvironmentLock> {
  const { spec, platform, signal } = request;
  if (request.channels.length === 0)
    throw configError(
      "@conda needs channels to solve from: give them on the step, @conda({ channels: ['conda-forge'], ... }), or to the resolver, createCondaResolver({ channels: ['conda-forge'] })",
    );
  const channels = normalizeChannels(request.channels);
  const specs = matchSpecs(spec.packages, spec.runtime);
  const virtual = virtualPackageRecords(platform, request.virtualPackages);
  const solved = await withSolverChannels(channels, async (solverChannels, toLockUrl) => {
    const records = await rattlerSolve({
      specs,
      channels: solverChannels,
      platform,
      virtualPackages: virtual,
      describeChannels: channels.map((c) => c.id).join(', '),
      signal,
    });
    return records.filter((r) => !isVirtualPackage(r.name)).map((r) => ({ ...r, url: toLockUrl(r.url) }));
  });
  const packages = await mapLimit(solved, 4, (record, _, shared) => lockedPackage(record, shared), { signal });
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    kind: 'conda',
    platform,
    ...(spec.runtime !== undefined ? { runtime: spec.runtime } : {}),
    sources: channels.map((c) => c.id),
    packages,
  };
}

/**
 * Runs `solve` with channel locations the solver can fetch: local folders are served over
 * loopback for the duration, and the URLs of their packages are mapped back to `file://` URLs.
 */
async function withSolverChannels<T>(
  channels: readonly Channel[],
  solve: (solverChannels: string[], toLockUrl: (url: string) => string) => Promise<T>,
): Promise<T> {
  const bridges: { served: ServedDirectory; id: string }[] = [];
  try {
    const solverChannels: string[] = [];
    for (const channel of channels) {
      if (channel.kind === 'remote') {
        solverChannels.push(channel.id);
        continue;
      }
      const info = await stat(channel.folder).catch(() => undefined);
      if (!info?.isDirectory()) throw configError(`The @conda channel folder ${channel.folder} does not exist`, { path: channel.folder });
      const served = await serveDirectory(channel.folder);
      bridges.push({ served, id: channel.id });
      solverChannels.push(served.url);
    }
    return await solve(solverChannels, (url) => {
      for (const { served, id } of bridges) if (url.startsWith(`${served.url}/`)) return id + url.slice(served.url.length);
      return url;
    });
  } finally {
    await Promise.all(bridges.map((b) => b.served.close()));
  }
}

async function lockedPackage(record: SolvedRecord, signal: AbortSignal): Promise<LockedPackage> {
  let sha256 = record.sha256;
  if (sha256 === undefined) {
    const digest = await hashArchive(record.url, signal);
    if (record.md5 !== undefined && record.md5 !== digest.md5)
      throw integrityError(`${record.filename} does not match its repodata: MD5 ${digest.md5}, the channel says ${record.md5}`, {
        key: record.url,
      });
    sha256 = digest.sha256;
  }
  if (!SHA256.test(sha256))
    throw integrityError(`The repodata of ${record.filename} has an invalid SHA-256 ${JSON.stringify(sha256)}`, { key: record.url });
  return { name: record.name, version: record.version, url: record.url, sha256 };
}
