/**
 * Unpacks a downloaded conda package into its staging folder: a `.tar.bz2` (one bzip2 tar) or a
 * `.conda` (a zip holding `info-*.tar.zst` and `pkg-*.tar.zst`).
 */

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { TributaryError } from '@tributary/core';
import { errorText, infrastructureError, integrityError, throwIfAborted } from '../errors.ts';
import { decompress, type Decompressor } from './decompress.ts';
import { emptyContents, extractTar, type PackageContents } from './tar-extract.ts';
import { zipEntries, zipEntryStream } from './zip-entries.ts';

/** The archive formats conda channels serve. */
export type ArchiveFormat = 'tar.bz2' | 'conda';

/** The format of an archive by its file name, or undefined. */
export function archiveFormat(filename: string): ArchiveFormat | undefined {
  if (filename.endsWith('.tar.bz2')) return 'tar.bz2';
  if (filename.endsWith('.conda')) return 'conda';
  return undefined;
}

/** The tool a format needs. */
export function decompressorFor(format: ArchiveFormat): Decompressor {
  return format === 'conda' ? 'zstd' : 'bzip2';
}

/** Unpacks `archive` into `staging`. */
export async function extractPackage(
  archive: string,
  format: ArchiveFormat,
  staging: string,
  tools: ReadonlyMap<Decompressor, string>,
  label: string,
  signal: AbortSignal,
): Promise<PackageContents> {
  const contents = emptyContents();
  const tool = decompressorFor(format);
  const executable = tools.get(tool);
  if (executable === undefined) throw new TypeError(`no ${tool} for ${label}`);
  if (format === 'tar.bz2') {
    // Never without an 'error' listener (it fails as soon as `signal` aborts); `untar` passes failures on.
    const input = createReadStream(archive, { signal }).on('error', () => undefined);
    await untar(tool, executable, input, staging, contents, label, signal);
    return contents;
  }
  const entries = await zipEntries(archive, label);
  const member = (kind: string) =>
    entries.find((e) => !e.name.includes('/') && e.name.startsWith(`${kind}-`) && e.name.endsWith('.tar.zst'));
  const info = member('info');
  const pkg = member('pkg');
  if (info === undefined || pkg === undefined)
    throw integrityError(`${label} is not a valid .conda archive (no info-*.tar.zst or pkg-*.tar.zst in it)`);
  for (const entry of [info, pkg]) {
    throwIfAborted(signal);
    await untar(
      tool,
      executable,
      await zipEntryStream(archive, entry, label, signal),
      staging,
      contents,
      `${label} (${entry.name})`,
      signal,
    );
  }
  return contents;
}

async function untar(
  tool: Decompressor,
  executable: string,
  input: Readable,
  staging: string,
  contents: PackageContents,
  label: string,
  signal: AbortSignal,
): Promise<void> {
  const running = decompress(tool, executable, input, label, signal);
  try {
    // The tar reader reads the stream to its end, so the decompressor can finish.
    await extractTar(running.output, staging, contents, label);
  } catch (error) {
    const truncated = TributaryError.is(error) && error.context.tar === 'truncated';
    if ((TributaryError.is(error) && !truncated) || signal.aborted) {
      running.kill();
      await running.done.catch(() => undefined);
      throw error;
    }
    if (!truncated && typeof (error as NodeJS.ErrnoException).code === 'string') {
      // A file system failure (ENOSPC, EACCES) while writing the staging folder.
      running.kill();
      await running.done.catch(() => undefined);
      throw infrastructureError(`Could not unpack ${label}: ${errorText(error)}`, false, {}, error);
    }
    // A truncated or garbled stream: the decompressor's own verdict explains it best.
    await running.done;
    throw truncated ? error : integrityError(`${label} is not a valid tar archive: ${errorText(error)}`, {}, error);
  }
  await running.done;
}
