/**
 * Reads `package.json` out of an npm package tarball (a gzipped tar whose files sit under one
 * top folder, `package/` from `npm pack`; npm ignores that folder's name, so do we). The archive is
 * unpacked as a stream and only until that file is found: npm puts it first, so a large package is
 * not unpacked. The tar format (long names, pax headers) is core's `readTarEntries`.
 */

import { createGunzip } from 'node:zlib';
import { readTarEntries } from '@tributary/core';

/** A package.json larger than this is not one (and would be held in memory). */
const MAX_MANIFEST = 16 * 1024 * 1024;

/** The parsed `package.json` of a tarball; rejects with an Error saying why (`it has no package.json`) when there is none. */
export async function readTarballManifest(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const gunzip = createGunzip();
  gunzip.end(bytes);
  try {
    for await (const entry of readTarEntries(gunzip, { maxMetaBytes: MAX_MANIFEST, label: 'it' })) {
      if (entry.type !== 'file' || !/^[^/]+\/package\.json$/.test(entry.path.replace(/^\.\//, ''))) continue;
      if (entry.size > MAX_MANIFEST) throw new Error('its package.json is too large');
      const manifest: unknown = JSON.parse((await entry.read()).toString('utf8'));
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
        throw new Error('its package.json is not an object');
      return manifest as Record<string, unknown>;
    }
  } finally {
    gunzip.destroy();
  }
  throw new Error('it has no package.json');
}
