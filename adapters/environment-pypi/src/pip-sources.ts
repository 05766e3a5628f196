/**
 * Where packages come from: local wheel folders (a path or a `file://` URL, given to pip as
 * `--find-links`, with `--no-index` unless an index is also given) and package indexes (http(s)
 * URLs: the first is `--index-url`, the rest `--extra-index-url`). No sources: PyPI
 * (`https://pypi.org/simple`), named explicitly. pip's own configuration never adds any (see
 * `pipEnvironment`).
 */

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '@tributary/core';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const INDEX = /^https?:\/\//i;

/** The index pip uses when a lock has no sources. */
export const PYPI_INDEX = 'https://pypi.org/simple';

/**
 * Sources as a lock records them: paths made absolute (so the lock does not depend on the working
 * folder), URLs as given, order kept (it decides which index is primary).
 */
export function normalizeSources(sources: readonly string[]): string[] {
  return sources.map((source) => {
    const trimmed = source.trim();
    if (trimmed === '') throw config('An empty @pypi source was given');
    const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
    if (scheme === undefined) return resolve(trimmed);
    if (scheme === 'file' || scheme === 'http' || scheme === 'https') return trimmed;
    throw config(`Unsupported @pypi source ${source}: use a wheel folder, a file:// URL or an http(s) index URL`);
  });
}

/** pip's flags for (normalized) sources. */
export function pipSourceFlags(sources: readonly string[]): string[] {
  const indexes: string[] = [];
  const links: string[] = [];
  for (const source of sources) (INDEX.test(source) ? indexes : links).push(source);
  const flags: string[] = [];
  if (indexes.length === 0 && links.length > 0) flags.push('--no-index');
  if (indexes.length === 0 && links.length === 0) indexes.push(PYPI_INDEX);
  indexes.forEach((url, i) => flags.push(i === 0 ? '--index-url' : '--extra-index-url', url));
  for (const link of links) flags.push('--find-links', link);
  return flags;
}

/** Rejects with `CONFIG` when a wheel folder among (normalized) sources does not exist (pip would only say "from versions: none"). */
export async function checkWheelFolders(sources: readonly string[]): Promise<void> {
  for (const source of sources) {
    if (INDEX.test(source)) continue;
    let path: string;
    try {
      path = SCHEME.test(source) ? fileURLToPath(source) : source;
    } catch (error) {
      throw config(`Invalid @pypi source ${source}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (!exists) throw config(`The wheel folder ${source} does not exist`, path);
  }
}

function config(message: string, path?: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi', ...(path === undefined ? {} : { path }) } });
}
