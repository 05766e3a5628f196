/**
 * Conda-style platform names (`linux-64`, `osx-arm64`, ...) as npm's `os`, `cpu` and `libc`, and
 * npm's rule for a package's `os`/`cpu`/`libc` lists (npm-install-checks): `any` allows all, a
 * `!name` excludes that one, plain names allow only those. Linux platforms mean glibc: a lock for
 * `linux-64` leaves out packages that only run on musl (Alpine).
 */

interface NpmPlatform {
  os: string;
  cpu: string;
  libc?: string;
}

const NPM_PLATFORMS: Readonly<Record<string, NpmPlatform>> = {
  'linux-64': { os: 'linux', cpu: 'x64', libc: 'glibc' },
  'linux-aarch64': { os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'osx-64': { os: 'darwin', cpu: 'x64' },
  'osx-arm64': { os: 'darwin', cpu: 'arm64' },
  'win-64': { os: 'win32', cpu: 'x64' },
};

/** Names of the platforms a lock can target. */
export const KNOWN_PLATFORMS: readonly string[] = Object.keys(NPM_PLATFORMS);

/**
 * npm's flags for resolving as if on `platform` (npm 10+: `--os`, `--cpu`, `--libc`). npm uses them
 * to choose optional packages; its check of required ones (EBADPLATFORM) ignores them and looks at
 * this machine.
 */
export function npmPlatformFlags(platform: string): string[] {
  const target = NPM_PLATFORMS[platform];
  if (target === undefined) return [];
  return [`--os=${target.os}`, `--cpu=${target.cpu}`, ...(target.libc === undefined ? [] : [`--libc=${target.libc}`])];
}

/** What a lock entry says it runs on (its `os`, `cpu`, `libc` lists). */
export interface PlatformRequirements {
  os?: unknown;
  cpu?: unknown;
  libc?: unknown;
}

/** Whether a package with these requirements installs on `platform` (a known platform name). */
export function runsOn(requirements: PlatformRequirements, platform: string): boolean {
  const target = NPM_PLATFORMS[platform];
  if (target === undefined) return false;
  if (!allows(requirements.os, target.os) || !allows(requirements.cpu, target.cpu)) return false;
  return target.libc === undefined || allows(requirements.libc, target.libc);
}

function allows(list: unknown, value: string): boolean {
  const entries = typeof list === 'string' ? [list] : Array.isArray(list) ? list.filter((e): e is string => typeof e === 'string') : [];
  if (entries.length === 0 || (entries.length === 1 && entries[0] === 'any')) return true;
  let negated = 0;
  let match = false;
  for (const entry of entries) {
    if (entry.startsWith('!')) {
      negated++;
      if (entry.slice(1) === value) return false;
    } else if (entry === value) match = true;
  }
  return match || negated === entries.length;
}
