/**
 * A deterministic subset of POSIX ustar: regular files only, sorted by name, mode 0644, owner 0,
 * mtime 0. The same files give the same bytes on every machine, so a package's SHA-256 names its
 * content. Reading accepts only what writing produces (no links, no absolute or `..` paths).
 */
import { TributaryError } from '../errors.ts';

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const enc = new TextEncoder();
  const nameBytes = enc.encode(name);
  if (nameBytes.length > 100) throw new TributaryError('INVALID_KEY', `Package file name too long: ${name}`);
  h.set(nameBytes, 0);
  h.set(enc.encode(octal(0o644, 8)), 100);
  h.set(enc.encode(octal(0, 8)), 108);
  h.set(enc.encode(octal(0, 8)), 116);
  h.set(enc.encode(octal(size, 12)), 124);
  h.set(enc.encode(octal(0, 12)), 136);
  h.set(enc.encode('        '), 148); // checksum placeholder
  h[156] = 0x30; // regular file
  h.set(enc.encode('ustar\u000000'), 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return h;
}

/** Pack files (name → bytes) into a tar archive, deterministically. @internal */
export function packTar(files: Record<string, Uint8Array>): Uint8Array {
  const names = Object.keys(files).sort();
  const parts: Uint8Array[] = [];
  for (const name of names) {
    const body = files[name]!;
    parts.push(header(name, body.byteLength), body);
    const pad = (BLOCK - (body.byteLength % BLOCK)) % BLOCK;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  return Buffer.concat(parts);
}

function safeName(name: string): boolean {
  return (
    name.length > 0 && !name.startsWith('/') && !name.includes('\\') && name.split('/').every((p) => p !== '..' && p !== '.' && p !== '')
  );
}

/** Unpack an archive made by `packTar`. Throws `INTEGRITY` on anything else. @internal */
export function unpackTar(bytes: Uint8Array): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const dec = new TextDecoder();
  const bad = (why: string) => new TributaryError('INTEGRITY', `The code package is not a valid archive: ${why}.`);
  for (let at = 0; at + BLOCK <= bytes.byteLength;) {
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return out;
    const name = dec.decode(h.subarray(0, 100)).replace(/\0.*$/s, '');
    const size = parseInt(dec.decode(h.subarray(124, 136)).replace(/\0.*$/s, '').trim(), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (parseInt(dec.decode(h.subarray(148, 156)).replace(/\0.*$/s, '').trim(), 8) !== sum) throw bad(`bad header checksum at ${at}`);
    if (h[156] !== 0x30 || !safeName(name) || !Number.isFinite(size) || size < 0) throw bad(`unexpected entry ${JSON.stringify(name)}`);
    const start = at + BLOCK;
    if (start + size > bytes.byteLength) throw bad(`${name} is cut short`);
    out[name] = bytes.slice(start, start + size);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw bad('no end marker');
}
