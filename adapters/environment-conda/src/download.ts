/**
 * Fetches a package archive (http(s) or `file://`) while hashing it: to a file for installing, or
 * only hashed when a lock needs the SHA-256 its repodata does not give. Streams, so archives of
 * any size take constant memory.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '@tributary/core';
import { configError, errorText, infrastructureError } from './errors.ts';

/** The hashes and size of what was fetched. */
export interface ArchiveDigest {
  sha256: string;
  md5: string;
  size: number;
}

/** Fetches `url` into `file` (created), returning its digests. */
export function downloadArchive(url: string, file: string, signal: AbortSignal): Promise<ArchiveDigest> {
  return fetchArchive(url, file, signal);
}

/** The digests of the archive at `url`, not kept. */
export function hashArchive(url: string, signal: AbortSignal): Promise<ArchiveDigest> {
  return fetchArchive(url, undefined, signal);
}

async function fetchArchive(url: string, file: string | undefined, signal: AbortSignal): Promise<ArchiveDigest> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  const out = file === undefined ? undefined : await open(file, 'wx');
  try {
    for await (const chunk of archiveChunks(url, signal)) {
      sha256.update(chunk);
      md5.update(chunk);
      size += chunk.byteLength;
      if (out !== undefined) await out.write(chunk);
    }
  } catch (error) {
    if (TributaryError.is(error)) throw error;
    if (signal.aborted) throw aborted(url, error);
    throw infrastructureError(`Could not fetch ${url}: ${errorText(error)}`, true, { key: url }, error);
  } finally {
    await out?.close();
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex'), size };
}

async function* archiveChunks(url: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (error) {
      throw configError(`Invalid file URL ${url} in the @conda lock`, { key: url }, error);
    }
    try {
      yield* createReadStream(path, { signal });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw configError(`The archive ${path} of the @conda lock is gone: lock the environment again`, { key: url }, error);
      throw error;
    }
    return;
  }
  if (scheme !== 'http' && scheme !== 'https')
    throw configError(`Unsupported archive URL ${url} in the @conda lock: use http(s) or file URLs`, { key: url });
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (error) {
    if (signal.aborted) throw aborted(url, error);
    throw infrastructureError(`Could not fetch ${url}: ${errorText(error)}`, true, { key: url }, error);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    const what = `Fetching ${url} failed with HTTP ${response.status} ${response.statusText}`.trim();
    if (response.status === 404 || response.status === 410)
      throw configError(`${what}: the channel no longer has it; lock the environment again`, { key: url });
    if (response.status === 401 || response.status === 403)
      throw configError(`${what}: the channel needs access rights this machine does not have`, { key: url });
    throw infrastructureError(what, response.status >= 500 || response.status === 429, { key: url });
  }
  if (response.body === null) return;
  yield* response.body as unknown as AsyncIterable<Uint8Array>;
}

function aborted(url: string, cause: unknown): TributaryError {
  return new TributaryError('ABORTED', `Aborted while fetching ${url}`, { cause, context: { adapter: 'conda', key: url } });
}
