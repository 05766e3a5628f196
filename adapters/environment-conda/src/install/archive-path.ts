/**
 * Paths from archives, checked before anything is written: an entry must be a relative path
 * inside the environment (no `/` start, no `..`), and a symbolic link must point inside it too.
 * Anything else is refused with INTEGRITY: a package archive has no business outside its prefix.
 */

import { posix } from 'node:path';
import { integrityError } from '../errors.ts';

/** `name` as a clean relative POSIX path (`./bin//x` → `bin/x`), or INTEGRITY naming `label`. */
export function archivePath(name: string, label: string): string {
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (name.startsWith('/') || name.includes('\0') || segments.includes('..') || segments.length === 0 || /^[A-Za-z]:/.test(name))
    throw integrityError(`${label} has an entry ${JSON.stringify(name)} outside the environment: refusing to install it`, { path: name });
  return segments.join('/');
}

/** True for `.`, `./` and the like: the archive's root folder, which some tools write as an entry. */
export function isArchiveRoot(name: string): boolean {
  return !name.startsWith('/') && name.split('/').every((s) => s === '' || s === '.');
}

/** Checks that the symlink at `path` (relative to the prefix) pointing to `target` stays inside the prefix. */
export function checkSymlinkTarget(path: string, target: string, label: string): void {
  if (target === '' || target.includes('\0') || posix.isAbsolute(target))
    throw integrityError(
      `${label} has a symlink ${path} → ${JSON.stringify(target)} pointing outside the environment: refusing to install it`,
      { path },
    );
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../'))
    throw integrityError(`${label} has a symlink ${path} → ${target} pointing outside the environment: refusing to install it`, { path });
}
