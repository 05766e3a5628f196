import { createHash } from 'node:crypto';
import type { EnvironmentLock } from '../ports/environment-resolver.ts';

/** JSON with object keys sorted and undefined members left out: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The id of an environment: the SHA-256 of its canonical lock (first 32 hex digits). The same
 * lock gives the same id on every machine, whichever resolver made it; any change to a version, a
 * hash, the platform or the runtime gives another.
 * @public
 */
export function environmentId(lock: EnvironmentLock): string {
  const packages = [...lock.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return createHash('sha256')
    .update(canonicalJson({ ...lock, packages }))
    .digest('hex')
    .slice(0, 32);
}
