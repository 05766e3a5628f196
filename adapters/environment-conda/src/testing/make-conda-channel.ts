/**
 * Builds a conda channel folder offline, for tests and examples of `@conda` on machines that
 * cannot reach a real channel: real `.conda` / `.tar.bz2` archives (compressed with the `zstd` and
 * `bzip2` commands) and `repodata.json` per subdir with their SHA-256, MD5 and size.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPlatform } from '@tributary/core';
import { tarArchive, type TarEntry } from './tar-writer.ts';
import { zipArchive } from './zip-writer.ts';

/**
 * A 255-byte prefix placeholder, like the one conda-build writes into the files it builds: write
 * it into a fixture file's content where the environment's folder belongs, and list the file in
 * `prefixFiles`.
 * @public
 */
export const CONDA_FIXTURE_PLACEHOLDER: string = `/opt/tributary-fixture/_h_env${'_placehold'.repeat(30)}`.slice(0, 255);

/** A package to build into a test channel. @public */
export interface CondaFixturePackage {
  name: string;
  version: string;
  /** Default `'0'`. */
  build?: string;
  buildNumber?: number;
  /** Default: `'noarch'` for noarch packages, else this machine's platform. */
  subdir?: string;
  depends?: string[];
  /** Files the package installs: path in the environment → content. */
  files?: Record<string, string | Uint8Array>;
  /** Files (of `files`) installed executable (mode 755; the others get 644). */
  executables?: string[];
  /** Symbolic links: path → target. */
  symlinks?: Record<string, string>;
  /** Files (of `files`) holding `placeholder`, and how to replace it. */
  prefixFiles?: Record<string, 'text' | 'binary'>;
  /** Default `CONDA_FIXTURE_PLACEHOLDER`. */
  placeholder?: string;
  /** Default `'conda'`. */
  format?: 'conda' | 'tar.bz2';
  noarch?: 'python' | 'generic';
  /** Entry points of a `noarch: python` package (`'name = module:function'`). */
  entryPoints?: string[];
  /** Write `info/files` and `info/has_prefix` (as conda-build 2 did) instead of `info/paths.json`. */
  legacyMetadata?: boolean;
  /** Leave the SHA-256 out of the repodata (as old channels do: MD5 only). */
  omitSha256?: boolean;
  /** Extra tar entries written as given, unchecked (to test archives that try to write outside the environment). */
  rawEntries?: TarEntry[];
}

/** A package as built into the channel. @public */
export interface CondaChannelPackage {
  name: string;
  version: string;
  build: string;
  subdir: string;
  filename: string;
  /** The archive's path on disk. */
  path: string;
  sha256: string;
  md5: string;
  size: number;
}

/** Options of `makeCondaChannel`. @public */
export interface CondaChannelOptions {
  /** Subdirs to write a (maybe empty) `repodata.json` for, besides `noarch` and the packages' own. */
  subdirs?: string[];
}

/**
 * Builds a conda channel in `dir`: `<subdir>/<name>-<version>-<build>.<format>` archives and a
 * `repodata.json` for `noarch`, each package's subdir and `options.subdirs`. Serve it with
 * `serveCondaChannel`, or use the folder as a channel. Calling it again on the same folder
 * rewrites the `repodata.json` files it writes (with only the packages of that call). Needs
 * `zstd` (for `.conda`) and `bzip2` (for `.tar.bz2`) on PATH.
 * @public
 */
export function makeCondaChannel(
  dir: string,
  packages: readonly CondaFixturePackage[],
  options: CondaChannelOptions = {},
): CondaChannelPackage[] {
  const repodata = new Map<string, { packages: Record<string, unknown>; 'packages.conda': Record<string, unknown> }>();
  const subdirOf = (subdir: string) => {
    let data = repodata.get(subdir);
    if (data === undefined) repodata.set(subdir, (data = { packages: {}, 'packages.conda': {} }));
    return data;
  };
  for (const subdir of ['noarch', ...(options.subdirs ?? [])]) subdirOf(subdir);
  const built = packages.map((pkg) => {
    const build = pkg.build ?? '0';
    const subdir = pkg.subdir ?? (pkg.noarch !== undefined ? 'noarch' : hostPlatform());
    const format = pkg.format ?? 'conda';
    const filename = `${pkg.name}-${pkg.version}-${build}.${format}`;
    const index = {
      name: pkg.name,
      version: pkg.version,
      build,
      build_number: pkg.buildNumber ?? 0,
      depends: pkg.depends ?? [],
      subdir,
      license: 'MIT',
      ...(pkg.noarch !== undefined ? { noarch: pkg.noarch } : {}),
    };
    const archive = packageArchive(pkg, index, format);
    mkdirSync(join(dir, subdir), { recursive: true });
    const path = join(dir, subdir, filename);
    writeFileSync(path, archive);
    const sha256 = createHash('sha256').update(archive).digest('hex');
    const md5 = createHash('md5').update(archive).digest('hex');
    subdirOf(subdir)[format === 'conda' ? 'packages.conda' : 'packages'][filename] = {
      ...index,
      md5,
      ...(pkg.omitSha256 ? {} : { sha256 }),
      size: archive.length,
    };
    return { name: pkg.name, version: pkg.version, build, subdir, filename, path, sha256, md5, size: archive.length };
  });
  for (const [subdir, data] of repodata) {
    mkdirSync(join(dir, subdir), { recursive: true });
    writeFileSync(join(dir, subdir, 'repodata.json'), `${JSON.stringify({ info: { subdir }, repodata_version: 1, ...data }, null, 1)}\n`);
  }
  return built;
}

function packageArchive(pkg: CondaFixturePackage, index: Record<string, unknown>, format: 'conda' | 'tar.bz2'): Buffer {
  const placeholder = pkg.placeholder ?? CONDA_FIXTURE_PLACEHOLDER;
  const files = Object.entries(pkg.files ?? {}).map(
    ([path, content]) => [path, typeof content === 'string' ? Buffer.from(content) : Buffer.from(content)] as const,
  );
  const symlinks = Object.entries(pkg.symlinks ?? {});
  const executables = new Set(pkg.executables ?? []);
  const prefixFiles = pkg.prefixFiles ?? {};
  const payload: TarEntry[] = [
    ...files.map(([path, content]): TarEntry => ({ path, type: 'file', content, mode: executables.has(path) ? 0o755 : 0o644 })),
    ...symlinks.map(([path, target]): TarEntry => ({ path, type: 'symlink', target })),
    ...(pkg.rawEntries ?? []),
  ];
  const text = (value: unknown) => Buffer.from(typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
  const info: TarEntry[] = [{ path: 'info/index.json', type: 'file', content: text(index) }];
  const allPaths = [...files.map(([p]) => p), ...symlinks.map(([p]) => p)].sort();
  if (pkg.legacyMetadata) {
    info.push({ path: 'info/files', type: 'file', content: text(allPaths.map((p) => `${p}\n`).join('')) });
    const lines = Object.entries(prefixFiles).map(([path, mode]) =>
      placeholder === '/opt/anaconda1anaconda2anaconda3' && mode === 'text' ? path : `"${placeholder}" ${mode} "${path}"`,
    );
    if (lines.length > 0) info.push({ path: 'info/has_prefix', type: 'file', content: text(lines.map((l) => `${l}\n`).join('')) });
  } else {
    const byPath = new Map(files);
    const paths = allPaths.map((path) => {
      const content = byPath.get(path);
      if (content === undefined) return { _path: path, path_type: 'softlink' };
      const mode = prefixFiles[path];
      return {
        _path: path,
        path_type: 'hardlink',
        sha256: createHash('sha256').update(content).digest('hex'),
        size_in_bytes: content.length,
        ...(mode !== undefined ? { prefix_placeholder: placeholder, file_mode: mode } : {}),
      };
    });
    info.push({ path: 'info/paths.json', type: 'file', content: text({ paths, paths_version: 1 }) });
  }
  if (pkg.noarch === 'python')
    info.push({
      path: 'info/link.json',
      type: 'file',
      content: text({ noarch: { type: 'python', entry_points: pkg.entryPoints ?? [] }, package_metadata_version: 1 }),
    });
  if (format === 'tar.bz2') return execFileSync('bzip2', ['-c'], { input: tarArchive([...info, ...payload]), maxBuffer: 1 << 30 });
  const stem = `${pkg.name}-${pkg.version}-${index.build as string}`;
  const zstd = (entries: TarEntry[]) => execFileSync('zstd', ['-q', '-c'], { input: tarArchive(entries), maxBuffer: 1 << 30 });
  return zipArchive([
    ['metadata.json', text({ conda_pkg_format_version: 2 })],
    [`info-${stem}.tar.zst`, zstd(info)],
    [`pkg-${stem}.tar.zst`, zstd(payload)],
  ]);
}
