/**
 * Fetches a package archive's bytes from where a lock says it is: a `file:` URL (read from disk)
 * or an http(s) URL (downloaded). Downloads carry no credentials: a registry that wants a token
 * for its tarballs is not supported yet (npm itself would send the `.npmrc` token).
 */

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '@tributary/core';

/** The archive's bytes; `CONFIG` when it is not there, `INFRASTRUCTURE` (retryable) when the network failed. */
export async function readArchive(url: string, what: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  if (signal?.aborted) throw aborted(what, signal.reason);
  if (/^file:/i.test(url)) {
    try {
      return await readFile(fileURLToPath(url), signal === undefined ? {} : { signal });
    } catch (error) {
      if (signal?.aborted) throw aborted(what, error);
      throw new TributaryError('CONFIG', `The archive of ${what} cannot be read at ${url}: ${(error as Error).message}`, {
        cause: error,
        context: { adapter: 'npm', path: url },
      });
    }
  }
  if (!/^https?:/i.test(url)) {
    throw new TributaryError('CONFIG', `The archive of ${what} is at ${url}, which is neither a file nor an http(s) URL`, {
      context: { adapter: 'npm', path: url },
    });
  }
  let response: Response;
  try {
    response = await fetch(url, signal === undefined ? {} : { signal });
  } catch (error) {
    if (signal?.aborted) throw aborted(what, error);
    throw new TributaryError('INFRASTRUCTURE', `Could not download the archive of ${what} from ${url}: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
      context: { adapter: 'npm', path: url },
    });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    const transient = response.status === 429 || response.status >= 500;
    throw new TributaryError(
      transient ? 'INFRASTRUCTURE' : 'CONFIG',
      `Downloading the archive of ${what} from ${url} failed: HTTP ${response.status}`,
      {
        retryable: transient,
        context: { adapter: 'npm', path: url, status: response.status },
      },
    );
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    if (signal?.aborted) throw aborted(what, error);
    throw new TributaryError('INFRASTRUCTURE', `Downloading the archive of ${what} from ${url} broke off: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
      context: { adapter: 'npm', path: url },
    });
  }
}

function aborted(what: string, cause: unknown): TributaryError {
  return new TributaryError('ABORTED', `Aborted while fetching the archive of ${what}`, { cause, context: { adapter: 'npm' } });
}
