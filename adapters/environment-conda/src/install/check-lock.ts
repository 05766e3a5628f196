/** A lock is plain JSON from the datastore: its entries are checked before anything is fetched. */

import type { EnvironmentLock } from '@tributary/core';
import { configError } from '../errors.ts';

const SHA256 = /^[0-9a-fA-F]{64}$/;

/** CONFIG unless every package has a name, a version, a URL and a hex SHA-256. */
export function checkLock(lock: EnvironmentLock): void {
  if (!Array.isArray(lock.packages)) throw configError('Invalid @conda lock: it has no package list');
  for (const p of lock.packages) {
    const ok =
      typeof p?.name === 'string' &&
      p.name !== '' &&
      typeof p.version === 'string' &&
      typeof p.url === 'string' &&
      SHA256.test(String(p.sha256));
    if (!ok) throw configError(`Invalid @conda lock entry ${JSON.stringify(p)}: it needs name, version, url and a hex sha256`);
  }
}
