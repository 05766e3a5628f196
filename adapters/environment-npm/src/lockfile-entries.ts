/**
 * The packages of an npm `package-lock.json` (lockfileVersion 2 or 3, its `packages` map), as a
 * lock names them: by install path below the top `node_modules/`. The package npm puts at
 * `node_modules/left-pad` is `left-pad` (`@scope/name` keeps its scope), a second version nested
 * under its dependent `c` at `node_modules/c/node_modules/left-pad` is `c/node_modules/left-pad`.
 * The path is what npm's hoisted layout decided, the same for the same resolution; it tells
 * duplicates apart and is the key to put back when installing.
 *
 * Left out: the root, packages bundled inside another's tarball (`inBundle`: its archive and hash
 * cover them), and optional packages that do not run on the target platform (an optional
 * dependency for another OS or CPU, e.g. `@esbuild/darwin-arm64` in a `linux-64` lock). Refused,
 * as `CONFIG`: folders and other links (`file:` folders, workspaces: no archive to hash), git
 * dependencies, entries without a `resolved` URL, and required packages that do not run on the
 * target platform.
 */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '@tributary/core';
import { runsOn } from './platforms.ts';

/** A package of npm's lock, before its archive is hashed. */
export interface LockfileEntry {
  /** Install path below the top `node_modules/`. */
  name: string;
  version: string;
  /** `file://` URL (absolute) or http(s) URL of its archive. */
  resolved: string;
  integrity?: string | undefined;
}

interface LockfileRecord {
  version?: unknown;
  resolved?: unknown;
  integrity?: unknown;
  link?: unknown;
  inBundle?: unknown;
  optional?: unknown;
  devOptional?: unknown;
  os?: unknown;
  cpu?: unknown;
  libc?: unknown;
}

const TOP = 'node_modules/';

/**
 * The entries of a parsed package-lock.json for `platform`, sorted by name. `projectDir` is the
 * folder it was written in: npm writes local tarballs as paths relative to it.
 */
export function lockfileEntries(lockfile: unknown, platform: string, projectDir: string): LockfileEntry[] {
  const packages = (lockfile as { packages?: unknown } | null)?.packages;
  const version = (lockfile as { lockfileVersion?: unknown } | null)?.lockfileVersion;
  if (typeof packages !== 'object' || packages === null || (version !== 2 && version !== 3)) {
    throw config(
      `npm wrote a package-lock.json without a lockfileVersion 2 or 3 packages map (lockfileVersion ${String(version)}): use npm 7 or newer`,
    );
  }
  const out: LockfileEntry[] = [];
  for (const [key, value] of Object.entries(packages as Record<string, LockfileRecord>)) {
    if (key === '') continue;
    if (!key.startsWith(TOP))
      throw config(`npm's lock has ${key}, which is not in node_modules (a workspace?): @npm installs packages only`);
    const name = key.slice(TOP.length);
    const record = value ?? {};
    if (record.inBundle === true) continue;
    if (record.link === true) {
      throw config(`${name} is a folder (${String(record.resolved)}), which cannot be locked by hash: npm pack it and give the tarball`);
    }
    if (!runsOn(record, platform)) {
      if (record.optional === true || record.devOptional === true) continue;
      throw config(
        `${name} ${String(record.version)} does not run on ${platform} (os ${JSON.stringify(record.os ?? 'any')}, cpu ${JSON.stringify(record.cpu ?? 'any')})`,
      );
    }
    if (typeof record.version !== 'string' || typeof record.resolved !== 'string') {
      throw config(`npm's lock gives ${name} no version or resolved URL: ${JSON.stringify(record)}`);
    }
    out.push({
      name,
      version: record.version,
      resolved: archiveUrl(name, record.resolved, projectDir),
      ...(typeof record.integrity === 'string' ? { integrity: record.integrity } : {}),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function archiveUrl(name: string, resolved: string, projectDir: string): string {
  if (/^https?:\/\//i.test(resolved)) return resolved;
  if (/^file:/i.test(resolved)) {
    const rest = resolved.slice(5);
    return /^\/\//.test(rest) ? resolved : pathToFileURL(resolve(projectDir, rest)).href;
  }
  throw config(
    `${name} comes from ${resolved} (git or another source without an archive hash): publish it, or npm pack it and give the tarball`,
  );
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'npm' } });
}
