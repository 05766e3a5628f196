/**
 * Where packages come from: local wheel folders (a path or a `file://` URL, given to pip as
 * `--find-links`, with `--no-index` unless an index is also given) and package indexes (http(s)
 * URLs: the first is `--index-url`, the rest `--extra-index-url`). No sources: pip's defaults.
 */

import { resolve } from 'node:path';
import { TributaryError } from '@tributary/core';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Sources as a lock records them: paths made absolute (so the lock does not depend on the working
 * folder), URLs as given, order kept (it decides which index is primary).
 */
export function normalizeSources(sources: readonly string[]): string[] {
  return sources.map((source) => {
    const trimmed = source.trim();
    if (trimmed === '') throw new TributaryError('CONFIG', 'An empty @pypi source was given', { context: { adapter: 'pypi' } });
    const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
    if (scheme === undefined) return resolve(trimmed);
    if (scheme === 'file' || scheme === 'http' || scheme === 'https') return trimmed;
    throw new TributaryError('CONFIG', `Unsupported @pypi source ${source}: use a wheel folder, a file:// URL or an http(s) index URL`, {
      context: { adapter: 'pypi' },
    });
  });
}

/** pip's flags for (normalized) sources. */
export function pipSourceFlags(sources: readonly string[]): string[] {
  const indexes: string[] = [];
  const links: string[] = [];
  for (const source of sources) (/^https?:\/\//i.test(source) ? indexes : links).push(source);
  const flags: string[] = [];
  if (indexes.length === 0 && links.length > 0) flags.push('--no-index');
  indexes.forEach((url, i) => flags.push(i === 0 ? '--index-url' : '--extra-index-url', url));
  for (const link of links) flags.push('--find-links', link);
  return flags;
}
