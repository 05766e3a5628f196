/**
 * Virtual packages (`__glibc`, `__linux`, `__osx`, `__unix`, `__win`, `__archspec`, `__cuda`) are
 * what a conda solver knows about the target machine: many conda-forge builds depend on
 * `__glibc >=2.17` or `__osx >=11.0`. A lock is made for a platform, often not this machine's
 * (remote steps lock for linux-64 on a laptop), so the resolver assumes a baseline instead of
 * probing: glibc 2.28 and Linux 4.18 (RHEL 8 and newer, Debian 10+, Ubuntu 20.04+), macOS 13.0,
 * no CUDA (the same defaults as pixi's system requirements). `virtualPackages` changes them.
 *
 * rattler's WASM `simpleSolve` has no virtual-package argument; records passed as locked packages
 * are candidates the solver can pick, which is what a virtual package is. They are left out of
 * the lock.
 */

import { configError } from '../errors.ts';
import { platformArchitecture, platformFamily } from '../platforms.ts';

/** Virtual package name → `"version"` or `"version build"`; `false` removes a default. */
export type VirtualPackages = Readonly<Record<string, string | false>>;

/** The record shape rattler's `simpleSolve` accepts for locked packages. */
export interface SolverRecord {
  url: string;
  packageName: string;
  version: string;
  build: string;
  buildNumber: number;
  filename: string;
  subdir: string;
  depends: string[];
}

const VERSION = /^[A-Za-z0-9_.+!]+$/;

/** The default virtual packages of a platform. */
export function defaultVirtualPackages(platform: string): Record<string, string> {
  const arch = platformArchitecture(platform) ?? '0';
  switch (platformFamily(platform)) {
    case 'linux':
      return { __unix: '0', __linux: '4.18', __glibc: '2.28', __archspec: `1 ${arch}` };
    case 'osx':
      return { __unix: '0', __osx: '13.0', __archspec: `1 ${arch}` };
    case 'win':
      return { __win: '0', __archspec: `1 ${arch}` };
    default:
      return {};
  }
}

/** The virtual packages of `platform` with `overrides` applied, as solver records sorted by name. */
export function virtualPackageRecords(platform: string, overrides: VirtualPackages = {}): SolverRecord[] {
  const merged: Record<string, string | false> = { ...defaultVirtualPackages(platform), ...overrides };
  return Object.entries(merged)
    .filter((entry): entry is [string, string] => entry[1] !== false)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => {
      if (!/^__[a-z0-9_.-]+$/.test(name))
        throw configError(`Invalid virtual package name ${JSON.stringify(name)}: virtual packages start with "__"`);
      const [version = '', build = '0', ...rest] = value.trim().split(/\s+/);
      if (!VERSION.test(version) || !VERSION.test(build) || rest.length > 0)
        throw configError(`Invalid virtual package ${name}=${JSON.stringify(value)}: use "version" or "version build", e.g. "2.28"`);
      const filename = `${name}-${version}-${build}.conda`;
      return {
        url: `https://virtual.invalid/${platform}/${filename}`,
        packageName: name,
        version,
        build,
        buildNumber: 0,
        filename,
        subdir: platform,
        depends: [],
      };
    });
}

/** True for a virtual package's name. */
export function isVirtualPackage(name: string): boolean {
  return name.startsWith('__');
}
