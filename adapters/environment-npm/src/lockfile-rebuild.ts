/**
 * The package.json and package-lock.json that make `npm ci` install exactly a lock. Each entry
 * goes back to its install path (`node_modules/<name>`) with what npm needs to trust the tree
 * without asking a registry: version, resolved URL and integrity from the lock, and, from the
 * archive's own package.json, its dependency edges (so nested duplicates are not pruned as
 * extraneous) and `bin` (so `node_modules/.bin` is linked). An optional dependency the lock left
 * out (one for another platform) is left out of the edges too: `npm ci` would otherwise try to
 * fetch it. The root depends on every top-level package at its exact version: that is the tree
 * npm placed.
 */

import type { LockedPackage } from '@tributary/core';

/** A locked package with what materializing learned from its verified archive. */
export interface VerifiedPackage {
  locked: LockedPackage;
  /** The archive's package.json. */
  manifest: Record<string, unknown>;
  /** npm's integrity of the bytes (the lock's when it has one). */
  integrity: string;
}

const ROOT_NAME = 'tributary-environment';
const NESTED = '/node_modules/';

const PACKAGE = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

/** Whether a lock entry's name is an install path of packages (`a`, `a/node_modules/@s/b`): nothing else may become a path. */
export function isLockName(name: string): boolean {
  return typeof name === 'string' && name.split(NESTED).every((part) => PACKAGE.test(part));
}

/** The folder name a lock entry is installed under (`c/node_modules/@s/b` → `@s/b`). */
export function installedName(name: string): string {
  const at = name.lastIndexOf(NESTED);
  return at === -1 ? name : name.slice(at + NESTED.length);
}

/** package.json and package-lock.json (as objects) installing `packages`, their archives at `resolvedOf(i)`. */
export function rebuildLockfile(
  packages: readonly VerifiedPackage[],
  resolvedOf: (index: number) => string,
): { packageJson: Record<string, unknown>; lockfile: Record<string, unknown> } {
  const dependencies: Record<string, string> = {};
  const records: Record<string, unknown> = {};
  const installed = new Set(packages.map((p) => p.locked.name));
  packages.forEach(({ locked, manifest, integrity }, i) => {
    const folder = installedName(locked.name);
    const realName = typeof manifest.name === 'string' ? manifest.name : folder;
    const alias = realName !== folder;
    if (!locked.name.includes(NESTED)) dependencies[folder] = alias ? `npm:${realName}@${locked.version}` : locked.version;
    records[`node_modules/${locked.name}`] = {
      ...(alias ? { name: realName } : {}),
      version: locked.version,
      resolved: resolvedOf(i),
      integrity,
      ...edges(manifest, (dep) => reachable(locked.name, dep, installed)),
      ...bin(manifest, realName),
      ...pick(manifest, ['engines', 'os', 'cpu', 'libc', 'license']),
    };
  });
  const packageJson = { name: ROOT_NAME, version: '0.0.0', private: true, dependencies };
  const lockfile = {
    name: ROOT_NAME,
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: ROOT_NAME, version: '0.0.0', dependencies }, ...records },
  };
  return { packageJson, lockfile };
}

/** Whether a dependency `dep` of the package installed at `name` finds a package of the lock, the way Node looks (its own node_modules, then its parents'). */
function reachable(name: string, dep: string, installed: ReadonlySet<string>): boolean {
  const parts = name.split(NESTED);
  for (let i = parts.length; i >= 0; i--) if (installed.has([...parts.slice(0, i), dep].join(NESTED))) return true;
  return false;
}

/**
 * Dependency edges as npm writes them in a lock: optional ones only under `optionalDependencies`,
 * and only those the lock has; bundled ones named, as they come inside the archive.
 */
function edges(manifest: Record<string, unknown>, inLock: (dep: string) => boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const declared = record(manifest.optionalDependencies) ?? {};
  const required = Object.fromEntries(Object.entries(record(manifest.dependencies) ?? {}).filter(([n]) => declared[n] === undefined));
  const optional = Object.fromEntries(Object.entries(declared).filter(([n]) => inLock(n)));
  if (Object.keys(required).length > 0) out.dependencies = required;
  if (Object.keys(optional).length > 0) out.optionalDependencies = optional;
  const bundled = manifest.bundleDependencies ?? manifest.bundledDependencies;
  const bundledNames =
    bundled === true ? Object.keys(required) : Array.isArray(bundled) ? bundled.filter((n) => typeof n === 'string') : [];
  if (bundledNames.length > 0) out.bundleDependencies = bundledNames;
  const peers = record(manifest.peerDependencies);
  if (peers !== undefined && Object.keys(peers).length > 0) {
    out.peerDependencies = peers;
    const meta = record(manifest.peerDependenciesMeta);
    if (meta !== undefined) out.peerDependenciesMeta = meta;
  }
  return out;
}

/** `bin` as npm normalizes it: a string names one command, called like the package (without scope). */
function bin(manifest: Record<string, unknown>, name: string): Record<string, unknown> {
  if (typeof manifest.bin === 'string') return { bin: { [name.replace(/^@[^/]+\//, '')]: manifest.bin } };
  const commands = record(manifest.bin);
  // `directories.bin` (a folder of commands) is not linked: npm's registry expands it at publish time, a raw tarball does not.
  return commands !== undefined && Object.keys(commands).length > 0 ? { bin: commands } : {};
}

function pick(manifest: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => manifest[k] !== undefined).map((k) => [k, manifest[k]]));
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
