import { createHash, timingSafeEqual } from 'node:crypto';
import { TributaryError } from '@tributary/core';

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens in constant time (hashes
 * of equal length are compared, so neither a token's bytes nor its length leak through timing).
 * Several tokens may be valid at once, so one can be rotated without downtime.
 */
export class BearerAuth {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    if (tokens.some((t) => t.length < 16))
      throw new TributaryError('CONFIG', 'A metadata service token must be at least 16 characters (e.g. `openssl rand -hex 32`).');
    this.#digests = tokens.map(digest);
  }

  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  accepts(header: string | undefined): boolean {
    if (!this.enabled) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return false;
    const given = digest(m[1]!);
    let ok = false;
    // Compare with every token (no early exit), so the time does not tell which matched.
    for (const d of this.#digests) ok = timingSafeEqual(d, given) || ok;
    return ok;
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();
