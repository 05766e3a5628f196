/**
 * The few parts of ZIP a `.conda` archive uses: the central directory (with ZIP64 sizes and
 * offsets, for members over 4 GiB) and each member's data, stored (what conda writes) or
 * deflated. A `.conda` is a zip of `metadata.json`, `info-<name>.tar.zst` and `pkg-<name>.tar.zst`.
 */

import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { integrityError, throwIfAborted } from '../errors.ts';

const ignore = (): void => undefined;

/** A member of a zip file. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

/** The members of the zip file `file`, from its central directory. */
export async function zipEntries(file: string, label: string): Promise<ZipEntry[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = await readAt(handle, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    if (eocd === -1 || eocd + 22 > tail.length) throw integrityError(`${label} is not a valid .conda archive (no zip directory)`);
    let count = tail.readUInt16LE(eocd + 10);
    let directorySize = tail.readUInt32LE(eocd + 12);
    let directoryOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || directorySize === U32_MAX || directoryOffset === U32_MAX) {
      const locator = eocd - 20;
      if (locator < 0 || tail.readUInt32LE(locator) !== EOCD64_LOCATOR)
        throw integrityError(`${label} is not a valid .conda archive (bad ZIP64 directory)`);
      const record = await readAt(handle, safeNumber(tail.readBigUInt64LE(locator + 8), label), 56);
      if (record.length < 56 || record.readUInt32LE(0) !== EOCD64)
        throw integrityError(`${label} is not a valid .conda archive (bad ZIP64 directory)`);
      count = safeNumber(record.readBigUInt64LE(32), label);
      directorySize = safeNumber(record.readBigUInt64LE(40), label);
      directoryOffset = safeNumber(record.readBigUInt64LE(48), label);
    }
    if (directoryOffset + directorySize > size || directorySize > 64 << 20)
      throw integrityError(`${label} is not a valid .conda archive (zip directory out of range)`);
    const directory = await readAt(handle, directoryOffset, directorySize);
    const entries: ZipEntry[] = [];
    let offset = 0;
    for (let i = 0; i < count; i++) {
      if (offset + 46 > directory.length || directory.readUInt32LE(offset) !== CENTRAL)
        throw integrityError(`${label} is not a valid .conda archive (bad zip directory)`);
      const flags = directory.readUInt16LE(offset + 8);
      const method = directory.readUInt16LE(offset + 10);
      let compressedSize = directory.readUInt32LE(offset + 20);
      let uncompressedSize = directory.readUInt32LE(offset + 24);
      const nameLength = directory.readUInt16LE(offset + 28);
      const extraLength = directory.readUInt16LE(offset + 30);
      const commentLength = directory.readUInt16LE(offset + 32);
      let localHeaderOffset = directory.readUInt32LE(offset + 42);
      const name = directory.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
      if ((flags & 1) !== 0) throw integrityError(`${label} has an encrypted member ${name}`);
      // ZIP64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in this order.
      const extra = directory.subarray(offset + 46 + nameLength, offset + 46 + nameLength + extraLength);
      for (let e = 0; e + 4 <= extra.length;) {
        const id = extra.readUInt16LE(e);
        const length = extra.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let p = e + 4;
          const next = () => {
            const value = safeNumber(extra.readBigUInt64LE(p), label);
            p += 8;
            return value;
          };
          if (uncompressedSize === U32_MAX) uncompressedSize = next();
          if (compressedSize === U32_MAX) compressedSize = next();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = next();
        }
        e += 4 + length;
      }
      entries.push({ name, method, compressedSize, localHeaderOffset });
      offset += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } catch (error) {
    // A field that points past the end of its record: a truncated or forged directory.
    if (error instanceof RangeError) throw integrityError(`${label} is not a valid .conda archive (truncated zip directory)`, {}, error);
    throw error;
  } finally {
    await handle.close();
  }
}

/** The uncompressed data of `entry`. */
export async function zipEntryStream(file: string, entry: ZipEntry, label: string, signal: AbortSignal): Promise<Readable> {
  const handle = await open(file, 'r');
  let start: number;
  try {
    const local = await readAt(handle, entry.localHeaderOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL)
      throw integrityError(`${label} is not a valid .conda archive (bad member ${entry.name})`);
    start = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    await handle.close();
  }
  if (entry.method !== 0 && entry.method !== 8)
    throw integrityError(`${label} has a member ${entry.name} compressed with zip method ${entry.method}`);
  if (entry.compressedSize === 0) return Readable.from([]);
  throwIfAborted(signal);
  // The stream fails as soon as `signal` aborts, maybe before its reader listens: it must never
  // be without an 'error' listener (the reader sees the failure through its own, or `errored`).
  const raw = createReadStream(file, { start, end: start + entry.compressedSize - 1, signal }).on('error', ignore);
  if (entry.method === 0) return raw;
  const inflate = createInflateRaw().on('error', ignore);
  raw.on('error', (error) => inflate.destroy(error));
  return raw.pipe(inflate);
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

function safeNumber(value: bigint, label: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw integrityError(`${label} is not a valid .conda archive (size out of range)`);
  return Number(value);
}
