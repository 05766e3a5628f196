/**
 * Where `@npm` packages come from. A source is either a registry (an http(s) URL, given to npm as
 * `--registry`; at most one, npm has a single default registry: scoped registries stay in
 * `.npmrc`) or a folder of package tarballs (a path or a `file://` URL, e.g. what `npm pack`
 * wrote). Folders are served to npm as a registry on 127.0.0.1 for the time of a lock
 * (`folder-registry.ts`), so npm's own resolver picks versions and ranges from them; a name that
 * no folder has then comes from the registry source when there is one, and is not found when
 * there is none (folders only is offline, like pip's `--no-index`). No sources: npm's own
 * configuration (`.npmrc`, the public registry by default).
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '@tributary/core';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Sources split by kind (normalized). */
export interface NpmSources {
  /** The registry URL, when a source is one. */
  registry?: string | undefined;
  /** Tarball folders, absolute paths, in the order given (the first that has a name@version wins). */
  folders: string[];
}

/**
 * Sources as a lock records them: folder paths made absolute (so the lock does not depend on the
 * working folder), URLs as given, order kept.
 */
export function normalizeSources(sources: readonly string[]): string[] {
  const out = sources.map((source) => {
    const trimmed = source.trim();
    if (trimmed === '') throw config('An empty @npm source was given');
    const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
    if (scheme === undefined) return resolve(trimmed);
    if (scheme === 'file') return fileURLToPath(trimmed);
    if (scheme === 'http' || scheme === 'https') return trimmed;
    throw config(`Unsupported @npm source ${source}: use a folder of package tarballs, a file:// URL or an http(s) registry URL`);
  });
  const registries = out.filter((s) => /^https?:\/\//i.test(s));
  if (registries.length > 1) throw config(`@npm takes one registry URL, got ${registries.join(', ')} (scoped registries belong in .npmrc)`);
  return out;
}

/** Normalized sources by kind. */
export function splitSources(sources: readonly string[]): NpmSources {
  const registry = sources.find((s) => /^https?:\/\//i.test(s));
  return { registry, folders: sources.filter((s) => s !== registry) };
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'npm' } });
}
