/**
 * A streaming tar reader (POSIX ustar, pax `x` headers, GNU `L`/`K` long names) that unpacks a
 * package's payload into a private staging folder: regular files and folders only. Symbolic
 * links are recorded, not created, so nothing written here can be redirected through a link, and
 * every name is checked (`archivePath`) before it is used. Of `info/`, only the metadata the
 * installer reads is kept, in memory. Written by hand rather than by running `tar` so that every
 * entry passes these checks whatever tar the machine has.
 */

import { copyFile, mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { integrityError } from '../errors.ts';
import { archivePath, isArchiveRoot } from './archive-path.ts';
import type { ByteReader } from './byte-reader.ts';

/** What a package's archive holds, as unpacked into its staging folder. */
export interface PackageContents {
  /** Regular files written to the staging folder, with their modes. */
  files: Map<string, number>;
  /** Symbolic links: path → target. */
  symlinks: Map<string, string>;
  directories: Set<string>;
  /** The kept `info/` files (`index.json`, `paths.json`, ...), by path. */
  info: Map<string, Buffer>;
}

/** The `info/` files the installer reads. */
const KEPT_INFO = new Set(['info/index.json', 'info/paths.json', 'info/files', 'info/has_prefix', 'info/link.json', 'info/noarch.json']);
const BLOCK = 512;
/** Longest pax header or GNU long name we read (they hold a path or two). */
const MAX_META = 1 << 20;
/** Largest kept `info/` file (paths.json of the biggest packages is a few MB). */
const MAX_INFO = 256 << 20;

export function emptyContents(): PackageContents {
  return { files: new Map(), symlinks: new Map(), directories: new Set(), info: new Map() };
}

/** Unpacks the tar stream of `reader` into `staging`, adding to `contents`. */
export async function extractTar(reader: ByteReader, staging: string, contents: PackageContents, label: string): Promise<void> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header === undefined || header.every((b) => b === 0)) return;
    if (!checksumOk(header)) throw integrityError(`${label} is not a valid tar archive (bad header checksum)`);
    const type = String.fromCharCode(header[156]!);
    const size = pax.size !== undefined ? Number(pax.size) : numeric(header, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw integrityError(`${label} has a tar entry with an invalid size`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'x' || type === 'L' || type === 'K' || type === 'g') {
      if (size > MAX_META) throw integrityError(`${label} has an oversized tar header`);
      const data = (await reader.read(size)) ?? Buffer.alloc(0);
      await reader.skip(padding);
      if (type === 'x') pax = { ...pax, ...parsePax(data, label) };
      else if (type === 'L') longName = cString(data);
      else if (type === 'K') longLink = cString(data);
      continue;
    }
    const rawName = pax.path ?? longName ?? headerName(header);
    const linkName = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
    pax = {};
    longName = longLink = undefined;
    if (type === '5' && isArchiveRoot(rawName)) {
      await reader.skip(size + padding);
      continue;
    }
    const path = archivePath(rawName, label);
    const mode = numeric(header, 100, 8) & 0o777;
    switch (type) {
      case '0':
      case '\0':
      case '7':
        if (path.startsWith('info/')) {
          if (KEPT_INFO.has(path)) {
            if (size > MAX_INFO) throw integrityError(`${label} has an oversized ${path}`);
            contents.info.set(path, (await reader.read(size)) ?? Buffer.alloc(0));
          } else await reader.skip(size);
        } else {
          await writeEntry(reader, staging, path, size, label);
          contents.files.set(path, mode);
          contents.symlinks.delete(path);
        }
        break;
      case '1': {
        const target = archivePath(linkName, label);
        const targetMode = contents.files.get(target);
        if (!path.startsWith('info/')) {
          if (targetMode === undefined)
            throw integrityError(`${label} has a hard link ${path} to ${target}, which is not a file before it`, { path });
          await prepareParent(staging, path, label);
          await copyFile(join(staging, target), join(staging, path)).catch((error: unknown) => {
            throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
          });
          contents.files.set(path, targetMode);
        }
        await reader.skip(size);
        break;
      }
      case '2':
        if (!path.startsWith('info/')) {
          contents.symlinks.set(path, linkName);
          contents.files.delete(path);
        }
        await reader.skip(size);
        break;
      case '5':
        if (!path.startsWith('info/')) {
          await mkdir(join(staging, path), { recursive: true }).catch((error: unknown) => {
            throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
          });
          contents.directories.add(path);
        }
        await reader.skip(size);
        break;
      default:
        throw integrityError(
          `${label} has a tar entry ${path} of type ${JSON.stringify(type)} (device, FIFO...), which a package cannot install`,
          { path },
        );
    }
    await reader.skip(padding);
  }
}

async function writeEntry(reader: ByteReader, staging: string, path: string, size: number, label: string): Promise<void> {
  await prepareParent(staging, path, label);
  const file = await open(join(staging, path), 'w', 0o600).catch((error: unknown) => {
    throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
  });
  try {
    let left = size;
    while (left > 0) {
      const chunk = await reader.readSome(Math.min(left, 1 << 20));
      await file.write(chunk);
      left -= chunk.length;
    }
  } finally {
    await file.close();
  }
}

async function prepareParent(staging: string, path: string, label: string): Promise<void> {
  await mkdir(dirname(join(staging, path)), { recursive: true }).catch((error: unknown) => {
    throw integrityError(`${label} has conflicting entries at ${path}`, { path }, error);
  });
}

/** ustar: `prefix/name` (the prefix field only in POSIX ustar headers, not in GNU ones). */
function headerName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const posixUstar = header.subarray(257, 263).toString('latin1') === 'ustar\0';
  const prefix = posixUstar ? cString(header.subarray(345, 500)) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** An octal field, or GNU base-256 when its top bit is set (sizes over 8 GiB). */
function numeric(header: Buffer, offset: number, length: number): number {
  const field = header.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(field).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = numeric(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === stored;
}

/** pax records: `<length> <key>=<value>\n`. */
function parsePax(data: Buffer, label: string): Record<string, string> {
  const out: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = space === -1 ? NaN : parseInt(data.subarray(offset, space).toString('latin1'), 10);
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length)
      throw integrityError(`${label} has an invalid pax header`);
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    offset += length;
  }
  return out;
}
