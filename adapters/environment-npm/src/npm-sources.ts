/**
 * Where `@npm` packages come from. A source is one of:
 *
 * - a registry, an http(s) URL (`https://registry.example/`): npm's default registry, given to
 *   npm as `--registry`. At most one.
 * - a scope's registry, `@scope:` and an http(s) URL (`@corp:https://npm.corp.example/`): every
 *   name of that scope (`@corp/…`) comes from that registry, given to npm as
 *   `--@corp:registry=…`. At most one per scope. Folders are not asked for that scope's names
 *   (npm asks the scope's registry itself, so its `.npmrc` token is sent to it): to take a scope's
 *   packages from a folder, give the scope no registry.
 * - a folder of package tarballs (a path or a `file://` URL, e.g. what `npm pack` wrote). Folders
 *   are served to npm as a registry on 127.0.0.1 for the time of a lock (`folder-registry.ts`), so
 *   npm's own resolver picks versions and ranges from them; a name that no folder has then comes
 *   from the registry source when there is one, and is not found when there is none (folders only
 *   is offline, like pip's `--no-index`).
 *
 * No registry source: the public registry, `https://registry.npmjs.org/`. npm's configuration
 * never says where packages come from (`registry=` or `@scope:registry=` in an `.npmrc` or an
 * `npm_config_*` variable are ignored, `run-npm.ts`): only the sources do, so a lock does not
 * depend on the machine that made it. The `.npmrc`'s credentials (`//host/:_authToken=…`) still
 * apply to the registries the sources name.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactUrl, TributaryError } from '@tributary/core';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** `@scope:` then the rest; a folder may be called `@something` (no colon). */
const SCOPED = /^(@[^/:\s]*):(.*)$/;
/** npm scope names: URL-safe, lowercase. */
const SCOPE_NAME = /^@[a-z0-9][a-z0-9._~-]*$/;
const HTTP = /^https?:\/\//i;

/** The registry npm uses when no source names one. */
export const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';

/** Sources split by kind (normalized). */
export interface NpmSources {
  /** The registry URL, when a source is one. */
  registry?: string | undefined;
  /** Registries of scopes (`@corp` → URL), in the order given. */
  scopes: Map<string, string>;
  /** Tarball folders, absolute paths, in the order given (the first that has a name@version wins). */
  folders: string[];
}

/**
 * Sources as a lock records them: folder paths made absolute (so the lock does not depend on the
 * working folder), URLs (also of scopes) as given, order kept.
 */
export function normalizeSources(sources: readonly string[]): string[] {
  const scopes = new Set<string>();
  const out = sources.map((source) => {
    const trimmed = source.trim();
    if (trimmed === '') throw config('An empty @npm source was given');
    const scoped = SCOPED.exec(trimmed);
    if (scoped !== null) {
      const [, scope, url] = scoped as unknown as [string, string, string];
      if (!SCOPE_NAME.test(scope) || !HTTP.test(url) || !parses(url)) {
        throw config(`Invalid @npm source ${source}: a scope's registry is given as @scope:https://registry.example/ (a lowercase scope)`);
      }
      if (scopes.has(scope)) throw config(`@npm takes one registry per scope, got two for ${scope}`);
      const { username, password } = new URL(url);
      if (username !== '' || password !== '') {
        throw config(
          `The source ${scope}:${redactUrl(url).replace(/\/\/[^/@]*@/, '//***@')} carries credentials: they would be stored in the environment's lock, which everyone who can read the run can read. Give the source without them, and the credentials through an .npmrc (\`//registry.example.com/:_authToken=\${NPM_TOKEN}\`).`,
        );
      }
      scopes.add(scope);
      return `${scope}:${url}`;
    }
    const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
    if (scheme === undefined) return resolve(trimmed);
    if (scheme === 'file') return fileURLToPath(trimmed);
    if (scheme === 'http' || scheme === 'https') return trimmed;
    throw config(
      `Unsupported @npm source ${source}: use a folder of package tarballs, a file:// URL, an http(s) registry URL or @scope:https://registry.example/`,
    );
  });
  const registries = out.filter((s) => HTTP.test(s));
  if (registries.length > 1) {
    throw config(
      `@npm takes one registry URL, got ${registries.join(', ')} (a scope's registry is given as @scope:https://registry.example/)`,
    );
  }
  return out;
}

/** Normalized sources by kind. */
export function splitSources(sources: readonly string[]): NpmSources {
  const registry = sources.find((s) => HTTP.test(s));
  const scopes = new Map<string, string>();
  const folders: string[] = [];
  for (const source of sources) {
    if (source === registry) continue;
    const scoped = SCOPED.exec(source);
    if (scoped !== null && HTTP.test(scoped[2]!)) scopes.set(scoped[1]!, scoped[2]!);
    else folders.push(source);
  }
  return { registry, scopes, folders };
}

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'npm' } });
}
