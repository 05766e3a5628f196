/** A spec's `name → version` as the `dependencies` of the package.json npm locks. */

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '@tributary/core';

// npm's rule for new package names (validate-npm-package-name), with uppercase allowed for old ones.
const NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

/**
 * The dependencies to lock, keys sorted. A version is what npm accepts after `name@`: an exact
 * version, a range, a dist-tag, `npm:other@1` (an alias), an http(s) tarball URL. A local tarball
 * (`file:x.tgz`, `./x.tgz`, `/abs/x.tgz`) is made absolute from the current folder, so the same
 * spec means the same file wherever it is locked from. `*` or empty: any version.
 */
export function specDependencies(packages: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(packages).sort()) {
    if (!NAME.test(name) || name.length > 214) throw config(`Invalid @npm package name ${JSON.stringify(name)}`);
    const version = String(packages[name] ?? '').trim();
    out[name] = version === '' ? '*' : (localTarball(version) ?? version);
  }
  return out;
}

function localTarball(version: string): string | undefined {
  if (/^file:\/\//i.test(version)) return `file:${fileURLToPath(version)}`;
  const path = /^file:/i.test(version)
    ? version.slice(5)
    : /^(\.{1,2}[\\/]|[\\/])/.test(version) || isAbsolute(version)
      ? version
      : undefined;
  return path === undefined ? undefined : `file:${resolve(path)}`;
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'npm' } });
}
