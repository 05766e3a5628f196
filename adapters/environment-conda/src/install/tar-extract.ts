/**
 * Unpacks a package's tar payload (read by core's `readTarEntries`) into a private staging folder:
 * regular files and folders only. Symbolic links are recorded, not created, so nothing written
 * here can be redirected through a link, and every name is checked (`archivePath`) before it is
 * used. Of `info/`, only the metadata the installer reads is kept, in memory. Written on our own
 * tar reader rather than by running `tar` so that every entry passes these checks whatever tar
 * the machine has.
 */

import { copyFile, mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readTarEntries, TributaryError, type TarEntry } from '@tributary/core';
import { integrityError } from '../errors.ts';
import { archivePath, isArchiveRoot } from './archive-path.ts';

/** What a package's archive holds, as unpacked into its staging folder. */
export interface PackageContents {
  /** Regular files written to the staging folder, with their modes. */
  files: Map<string, number>;
  /** Symbolic links: path → target. */
  symlinks: Map<string, string>;
  directories: Set<string>;
  /** The kept `info/` files (`index.json`, `paths.json`, ...), by path. */
  info: Map<string, Buffer>;
}

/** The `info/` files the installer reads. */
const KEPT_INFO = new Set(['info/index.json', 'info/paths.json', 'info/files', 'info/has_prefix', 'info/link.json', 'info/noarch.json']);
/** Longest pax header or GNU long name we read (they hold a path or two). */
const MAX_META = 1 << 20;
/** Largest kept `info/` file (paths.json of the biggest packages is a few MB). */
const MAX_INFO = 256 << 20;

export function emptyContents(): PackageContents {
  return { files: new Map(), symlinks: new Map(), directories: new Set(), info: new Map() };
}

/**
 * Unpacks the tar stream `source` into `staging`, adding to `contents`. A malformed archive is
 * INTEGRITY with `context.tar` set (`truncated` when the stream ends inside an entry).
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  staging: string,
  contents: PackageContents,
  label: string,
): Promise<void> {
  try {
    for await (const entry of readTarEntries(source, { maxMetaBytes: MAX_META, label }))
      await extractEntry(entry, staging, contents, label);
  } catch (error) {
    // The reader's own verdicts, as this adapter's errors.
    if (TributaryError.is(error, 'INTEGRITY') && error.context.adapter === undefined && typeof error.context.tar === 'string')
      throw integrityError(error.message, { tar: error.context.tar }, error);
    throw error;
  }
}

async function extractEntry(entry: TarEntry, staging: string, contents: PackageContents, label: string): Promise<void> {
  if (entry.type === 'directory' && isArchiveRoot(entry.path)) return;
  const path = archivePath(entry.path, label);
  const mode = entry.mode & 0o777;
  switch (entry.type) {
    case 'file':
      if (path.startsWith('info/')) {
        if (KEPT_INFO.has(path)) {
          if (entry.size > MAX_INFO) throw integrityError(`${label} has an oversized ${path}`);
          contents.info.set(path, await entry.read());
        }
      } else {
        await writeEntry(entry, staging, path, label);
        contents.files.set(path, mode);
        contents.symlinks.delete(path);
      }
      return;
    case 'hardlink': {
      const target = archivePath(entry.linkName, label);
      const targetMode = contents.files.get(target);
      if (path.startsWith('info/')) return;
      if (targetMode === undefined)
        throw integrityError(`${label} has a hard link ${path} to ${target}, which is not a file before it`, { path });
      await prepareParent(staging, path, label);
      await copyFile(join(staging, target), join(staging, path)).catch((error: unknown) => {
        throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
      });
      contents.files.set(path, targetMode);
      return;
    }
    case 'symlink':
      if (path.startsWith('info/')) return;
      contents.symlinks.set(path, entry.linkName);
      contents.files.delete(path);
      return;
    case 'directory':
      if (path.startsWith('info/')) return;
      await mkdir(join(staging, path), { recursive: true }).catch((error: unknown) => {
        throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
      });
      contents.directories.add(path);
      return;
    default:
      throw integrityError(
        `${label} has a tar entry ${path} of type ${JSON.stringify(entry.typeFlag)} (device, FIFO...), which a package cannot install`,
        { path },
      );
  }
}

async function writeEntry(entry: TarEntry, staging: string, path: string, label: string): Promise<void> {
  await prepareParent(staging, path, label);
  const file = await open(join(staging, path), 'w', 0o600).catch((error: unknown) => {
    throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
  });
  try {
    for await (const chunk of entry.body) await file.write(chunk);
  } finally {
    await file.close();
  }
}

async function prepareParent(staging: string, path: string, label: string): Promise<void> {
  await mkdir(dirname(join(staging, path)), { recursive: true }).catch((error: unknown) => {
    throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
  });
}
