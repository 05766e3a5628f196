/**
 * Reads `package.json` out of an npm package tarball (a gzipped tar whose files sit under one
 * top folder, `package/` from `npm pack`; npm ignores that folder's name, so do we). The archive is
 * unpacked as a stream and only until that file is found: npm puts it first, so a large package is
 * not unpacked. Understands ustar names with their prefix, pax `path` records and GNU long names.
 */

import { createGunzip } from 'node:zlib';

const BLOCK = 512;
/** A package.json larger than this is not one (and would be held in memory). */
const MAX_MANIFEST = 16 * 1024 * 1024;

/** The parsed `package.json` of a tarball; rejects with a plain Error saying why when there is none. */
export async function readTarballManifest(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const gunzip = createGunzip();
  const reader = new ManifestFinder();
  gunzip.end(bytes);
  try {
    for await (const chunk of gunzip) {
      const found = reader.push(chunk as Buffer);
      if (found === 'end') break;
      if (found !== undefined) {
        const manifest: unknown = JSON.parse(found.toString('utf8'));
        if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
          throw new Error('its package.json is not an object');
        return manifest as Record<string, unknown>;
      }
    }
  } finally {
    gunzip.destroy();
  }
  throw new Error('it has no package.json');
}

/** A tar stream parser that returns the body of the first `<top>/package.json` entry. */
class ManifestFinder {
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes of the current entry (and padding) still to skip. */
  #skip = 0;
  /** The entry body being collected: its size and what to do with it. */
  #collect: { size: number; padded: number; kind: 'manifest' | 'pax' | 'longname' } | undefined;
  /** A path set by a pax or GNU long-name record for the next entry. */
  #nextPath: string | undefined;

  push(chunk: Buffer): Buffer | 'end' | undefined {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#buffer.length);
        this.#buffer = this.#buffer.subarray(n);
        this.#skip -= n;
        if (this.#skip > 0) return undefined;
      }
      if (this.#collect !== undefined) {
        const { size, padded, kind } = this.#collect;
        if (this.#buffer.length < size) return undefined;
        const body = this.#buffer.subarray(0, size);
        this.#buffer = this.#buffer.subarray(size);
        this.#skip = padded - size;
        this.#collect = undefined;
        if (kind === 'manifest') return body;
        this.#nextPath = kind === 'pax' ? paxPath(body) : cString(body, 0, body.length);
        continue;
      }
      if (this.#buffer.length < BLOCK) return undefined;
      const header = this.#buffer.subarray(0, BLOCK);
      this.#buffer = this.#buffer.subarray(BLOCK);
      if (header.every((b) => b === 0)) return 'end';
      const size = entrySize(header);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const type = String.fromCharCode(header[156] ?? 0);
      const ustar = header.subarray(257, 262).toString('latin1') === 'ustar';
      const prefix = ustar ? cString(header, 345, 155) : '';
      const name = cString(header, 0, 100);
      const path = this.#nextPath ?? (prefix ? `${prefix}/${name}` : name);
      if (type === 'x' || type === 'L') {
        if (size > MAX_MANIFEST) throw new Error('a tar header record is too large');
        this.#collect = { size, padded, kind: type === 'x' ? 'pax' : 'longname' };
        continue;
      }
      this.#nextPath = undefined;
      if ((type === '0' || type === '\0') && /^[^/]+\/package\.json$/.test(path.replace(/^\.\//, ''))) {
        if (size > MAX_MANIFEST) throw new Error('its package.json is too large');
        this.#collect = { size, padded, kind: 'manifest' };
        continue;
      }
      this.#skip = padded;
    }
  }
}

function cString(bytes: Uint8Array, offset: number, length: number): string {
  const slice = bytes.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return Buffer.from(end === -1 ? slice : slice.subarray(0, end)).toString('utf8');
}

/** Size field: octal text, or base-256 when the high bit of its first byte is set (GNU, > 8 GiB). */
function entrySize(header: Buffer): number {
  if ((header[124]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + header[i]!;
    return n;
  }
  const text = cString(header, 124, 12).trim();
  const size = text === '' ? 0 : parseInt(text, 8);
  if (!Number.isFinite(size)) throw new Error('it is not a tar archive');
  return size;
}

/** The `path` of a pax extended header (`<length> path=<value>\n` records; lengths count bytes). */
function paxPath(body: Buffer): string | undefined {
  for (let at = 0; at < body.length;) {
    const space = body.indexOf(0x20, at);
    const length = parseInt(body.subarray(at, space).toString('latin1'), 10);
    if (space === -1 || !Number.isFinite(length) || length <= 0) return undefined;
    const record = body.subarray(space + 1, at + length - 1).toString('utf8');
    if (record.startsWith('path=')) return record.slice(5);
    at += length;
  }
  return undefined;
}
