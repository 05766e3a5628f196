/**
 * The installer used when micromamba is not available: downloads every archive of the lock
 * (four at a time), checks its SHA-256 against the lock (INTEGRITY on mismatch, naming the
 * package), unpacks it into a private staging folder inside the environment, then links the
 * packages in dependency order and writes the `conda-meta` records.
 *
 * Supported: `.tar.bz2` and `.conda` archives (needing `bzip2` and `zstd` on PATH), `paths.json`
 * and the older `files` + `has_prefix` metadata, text and binary prefix replacement, file modes,
 * symlinks inside the environment, `noarch: generic` and `noarch: python` (site-packages
 * placement and entry points). Not done: pre-/post-link scripts (`bin/.<name>-post-link.sh`,
 * discouraged by conda-forge; micromamba runs them), byte-compiling Python files, menu shortcuts,
 * Windows (use micromamba there).
 */

import { mapLimit } from '@tributary/core';
import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LockedPackage } from '@tributary/core';
import { configError, integrityError, throwIfAborted } from '../errors.ts';
import { downloadArchive, type ArchiveDigest } from '../download.ts';
import { archivePath } from './archive-path.ts';
import { packageRecord, HISTORY_FILE } from './conda-meta.ts';
import { findDecompressors, type Decompressor } from './decompress.ts';
import { linkOrder } from './link-order.ts';
import { linkPackage, type UnpackedPackage } from './link-package.ts';
import { sitePackagesOf } from './noarch-python.ts';
import { archiveFormat, decompressorFor, extractPackage, type ArchiveFormat } from './package-archive.ts';
import { readPackageMetadata } from './package-metadata.ts';
import { PrefixWriter } from './prefix-writer.ts';

export interface BuiltinInstallRequest {
  packages: readonly LockedPackage[];
  /** The environment folder (absolute, existing, empty). */
  dir: string;
  platform: string;
  signal: AbortSignal;
}

interface Fetched {
  locked: LockedPackage;
  filename: string;
  digest: ArchiveDigest;
  unpacked: UnpackedPackage;
}

/** Installs `request.packages` into `request.dir`. */
export async function builtinInstall(request: BuiltinInstallRequest): Promise<void> {
  const { dir, signal } = request;
  if (process.platform === 'win32')
    throw configError(
      'The conda resolver installs environments on Windows only through micromamba: install micromamba (and put it on PATH)',
    );
  const archives = request.packages.map((locked) => {
    const filename = archiveFilename(locked.url);
    const format = archiveFormat(filename);
    if (format === undefined)
      throw configError(`${locked.name} ${locked.version} is a ${filename}, not a .conda or .tar.bz2 archive`, { key: locked.url });
    return { locked, filename, format };
  });
  const needed = new Map<Decompressor, string>();
  for (const { format, filename } of archives) if (!needed.has(decompressorFor(format))) needed.set(decompressorFor(format), filename);
  const tools = await findDecompressors(needed);
  const root = await realpath(dir);
  const stagingRoot = join(root, `.tributary-conda-staging-${randomBytes(6).toString('hex')}`);
  await mkdir(stagingRoot);
  try {
    const fetched = await mapLimit(
      archives,
      4,
      (archive, i, shared) => fetchAndUnpack(archive, join(stagingRoot, String(i)), tools, shared),
      {
        signal,
      },
    );
    const python = fetched.find((f) => f.unpacked.metadata.index.name === 'python');
    const sitePackages =
      python &&
      archivePath(
        sitePackagesOf(python.unpacked.metadata.index.version, python.unpacked.metadata.index.python_site_packages_path),
        python.unpacked.label,
      );
    const writer = new PrefixWriter(root);
    const codesign = process.platform === 'darwin' && request.platform === 'osx-arm64';
    const ordered = linkOrder(
      fetched,
      (f) => f.unpacked.metadata.index.name,
      (f) => f.unpacked.metadata.index.depends,
    );
    for (const { locked, filename, digest, unpacked } of ordered) {
      throwIfAborted(signal);
      const paths = await linkPackage(unpacked, { prefix: dir, writer, sitePackages, codesign, signal });
      const record = packageRecord(
        unpacked.metadata.index,
        { url: locked.url, filename, sha256: digest.sha256, md5: digest.md5, size: digest.size },
        paths,
      );
      await writer.writeFile(record.path, record.content, 0o644, unpacked.label);
    }
    await writer.writeFile(HISTORY_FILE, '', 0o644, 'the environment');
  } finally {
    await rm(stagingRoot, { recursive: true, force: true });
  }
}

async function fetchAndUnpack(
  archive: { locked: LockedPackage; filename: string; format: ArchiveFormat },
  staging: string,
  tools: ReadonlyMap<Decompressor, string>,
  signal: AbortSignal,
): Promise<Fetched> {
  throwIfAborted(signal);
  const { locked, filename, format } = archive;
  const label = `${locked.name} ${locked.version} (${filename})`;
  await mkdir(staging);
  const file = `${staging}.${format}`;
  const digest = await downloadArchive(locked.url, file, signal);
  if (digest.sha256 !== locked.sha256.toLowerCase())
    throw integrityError(
      `${label} does not match the lock: its SHA-256 is ${digest.sha256}, the lock says ${locked.sha256} (${locked.url})`,
      {
        key: locked.url,
      },
    );
  const contents = await extractPackage(file, format, staging, tools, label, signal);
  await rm(file, { force: true });
  const metadata = readPackageMetadata(contents, label);
  if (metadata.index.name !== locked.name || metadata.index.version !== locked.version)
    throw integrityError(`${label} holds ${metadata.index.name} ${metadata.index.version}, not what the lock says`, { key: locked.url });
  return { locked, filename, digest, unpacked: { label, staging, contents, metadata } };
}

/** The archive's file name: the last segment of its URL, decoded (`%21` is the `!` of an epoch). */
export function archiveFilename(url: string): string {
  try {
    const path = new URL(url).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  } catch {
    throw configError(`Invalid archive URL ${JSON.stringify(url)} in the @conda lock`, { key: url });
  }
}
