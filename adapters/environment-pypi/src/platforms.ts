/** Conda-style platform names (`linux-64`, `osx-arm64`, ...) and the pip platform tags they mean. */

/**
 * The pip `--platform` tags a lock for another machine may use. These are the oldest OS baselines
 * we promise (glibc 2.17, macOS 10.9 / 11.0): pip also accepts wheels for older ones, not newer.
 */
const PIP_PLATFORM_TAGS: Readonly<Record<string, readonly string[]>> = {
  'linux-64': ['manylinux2014_x86_64', 'manylinux_2_17_x86_64', 'linux_x86_64'],
  'linux-aarch64': ['manylinux2014_aarch64', 'manylinux_2_17_aarch64', 'linux_aarch64'],
  'osx-64': ['macosx_10_9_x86_64'],
  'osx-arm64': ['macosx_11_0_arm64'],
  'win-64': ['win_amd64'],
};

/** The pip platform tags of a conda-style platform, or undefined for a platform we do not know. */
export function pipPlatformTags(platform: string): readonly string[] | undefined {
  return Object.hasOwn(PIP_PLATFORM_TAGS, platform) ? PIP_PLATFORM_TAGS[platform] : undefined;
}

/** Names of the platforms a lock can target. */
export const KNOWN_PLATFORMS: readonly string[] = Object.keys(PIP_PLATFORM_TAGS);
