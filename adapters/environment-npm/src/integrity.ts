/**
 * Archive hashes: the lock's hex SHA-256, and npm's Subresource Integrity strings
 * (`sha512-<base64>`, possibly several space-separated, possibly legacy `sha1-`), checked the way
 * npm's ssri does: against the strongest algorithm the string has.
 */

import { createHash } from 'node:crypto';

const STRENGTH = ['sha512', 'sha384', 'sha256', 'sha1'] as const;

/** Hex SHA-256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** npm's integrity string for the bytes (`sha512-…`). */
export function sha512Integrity(bytes: Uint8Array): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/** Hex SHA-1 of the bytes (a registry's legacy `dist.shasum`). */
export function sha1Hex(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/**
 * Whether `bytes` match `integrity`: `true`, `false`, or `undefined` when the string has no
 * algorithm we know (then it cannot vouch for anything).
 */
export function matchesIntegrity(bytes: Uint8Array, integrity: string): boolean | undefined {
  const byAlgorithm = new Map<string, string[]>();
  for (const part of integrity.trim().split(/\s+/)) {
    const dash = part.indexOf('-');
    if (dash <= 0) continue;
    const algorithm = part.slice(0, dash).toLowerCase();
    // Options after `?` are allowed by SRI and ignored by npm.
    const digest = part.slice(dash + 1).split('?')[0]!;
    byAlgorithm.set(algorithm, [...(byAlgorithm.get(algorithm) ?? []), digest]);
  }
  const algorithm = STRENGTH.find((a) => byAlgorithm.has(a));
  if (algorithm === undefined) return undefined;
  const actual = createHash(algorithm).update(bytes).digest('base64');
  return byAlgorithm.get(algorithm)!.includes(actual);
}
