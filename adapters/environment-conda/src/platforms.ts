/**
 * The conda platforms (subdirs) a lock can target, and the generic CPU name of each (what
 * `__archspec` reports on such a machine without a finer microarchitecture).
 */

const ARCHITECTURES: Readonly<Record<string, string>> = {
  'linux-64': 'x86_64',
  'linux-aarch64': 'aarch64',
  'linux-ppc64le': 'ppc64le',
  'linux-s390x': 's390x',
  'linux-armv7l': 'armv7l',
  'osx-64': 'x86_64',
  'osx-arm64': 'arm64',
  'win-64': 'x86_64',
  'win-arm64': 'arm64',
};

/** Platforms a `@conda` lock can be made for. */
export const KNOWN_PLATFORMS: readonly string[] = Object.keys(ARCHITECTURES);

/** The generic architecture of a known platform (`linux-64` → `x86_64`). */
export function platformArchitecture(platform: string): string | undefined {
  return Object.hasOwn(ARCHITECTURES, platform) ? ARCHITECTURES[platform] : undefined;
}

/** `linux`, `osx` or `win`. */
export function platformFamily(platform: string): string {
  return platform.split('-')[0] ?? platform;
}
