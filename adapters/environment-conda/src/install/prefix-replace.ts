/**
 * Prefix replacement, as conda does it (conda/core/portability.py): a package is built in a
 * placeholder folder, and the installer writes the environment's folder wherever the
 * placeholder appears.
 *
 * - Text files: every occurrence is replaced (the file may grow or shrink). A shebang that ends
 *   up longer than the kernel reads (127 bytes on Linux, 512 on macOS), or that has a space in
 *   the prefix, becomes `#!/usr/bin/env <program>` (the environment is on PATH when it runs).
 * - Binary files: a placeholder sits in a NUL-terminated C string; the string is rewritten with
 *   the prefix and padded with NULs to its old length, so offsets in the binary do not move. A
 *   prefix longer than the placeholder cannot fit: CONFIG (use a shorter environment folder).
 */

import { configError } from '../errors.ts';

/** How conda marks a file with a placeholder. */
export type FileMode = 'text' | 'binary';

/** The longest shebang line the kernel of this machine honours. */
export const MAX_SHEBANG_LENGTH = process.platform === 'linux' ? 127 : 512;

/** `data` with `placeholder` replaced by `prefix` the `mode` way; `path` names the file in errors. */
export function replacePrefix(data: Buffer, placeholder: string, prefix: string, mode: FileMode, path: string): Buffer {
  const search = Buffer.from(placeholder, 'utf8');
  if (search.length === 0 || data.indexOf(search) === -1) return data;
  const replacement = Buffer.from(prefix, 'utf8');
  if (mode === 'binary') return binaryReplace(data, search, replacement, path);
  let text = data;
  // A space in the prefix would split the shebang: escape it here, so the shebang is rewritten below.
  const shebang = Buffer.from(`#!${placeholder}`, 'utf8');
  const newline = text.indexOf(0x0a);
  const firstLine = newline === -1 ? text : text.subarray(0, newline);
  if (firstLine.indexOf(shebang) !== -1 && prefix.includes(' ')) {
    const escaped = replaceAll(firstLine, shebang, Buffer.from(`#!${prefix.replaceAll(' ', '\\ ')}`, 'utf8'));
    text = Buffer.concat([escaped, newline === -1 ? Buffer.alloc(0) : text.subarray(newline)]);
  }
  return replaceLongShebang(replaceAll(text, search, replacement));
}

/** A shebang too long for the kernel, or with an escaped space, as `#!/usr/bin/env <program> <options>`. */
export function replaceLongShebang(data: Buffer): Buffer {
  if (data[0] !== 0x23 || data[1] !== 0x21) return data;
  const newline = data.indexOf(0x0a);
  const line = data.subarray(0, newline === -1 ? data.length : newline).toString('utf8');
  const match = /^#! *(\/(?:\\ |[^ \n\r\t])*)(.*)$/.exec(line);
  if (match === null) return data;
  const executable = match[1]!;
  const slash = executable.lastIndexOf('/');
  const folder = executable.slice(0, slash);
  if (Buffer.byteLength(line) <= MAX_SHEBANG_LENGTH && !folder.includes('\\ ')) return data;
  const replaced = `#!/usr/bin/env ${executable.slice(slash + 1)}${match[2]!}`;
  return Buffer.concat([Buffer.from(replaced, 'utf8'), newline === -1 ? Buffer.alloc(0) : data.subarray(newline)]);
}

function binaryReplace(data: Buffer, search: Buffer, replacement: Buffer, path: string): Buffer {
  const shrink = search.length - replacement.length;
  const parts: Buffer[] = [];
  let copied = 0;
  let at = data.indexOf(search);
  while (at !== -1) {
    // The C string from the placeholder to its NUL (it may hold the placeholder more than once).
    const end = data.indexOf(0, at + search.length);
    if (end === -1) break;
    if (shrink < 0)
      throw configError(
        `Cannot install ${path}: the environment folder (${replacement.length} bytes) is longer than the ${search.length}-byte placeholder compiled into this binary; use a shorter environment folder`,
        { path },
      );
    const segment = data.subarray(at, end);
    const occurrences = count(segment, search);
    parts.push(data.subarray(copied, at), replaceAll(segment, search, replacement), Buffer.alloc(shrink * occurrences));
    copied = end;
    at = data.indexOf(search, end);
  }
  parts.push(data.subarray(copied));
  const out = Buffer.concat(parts);
  if (out.length !== data.length) throw new Error(`binary prefix replacement changed the size of ${path}`);
  return out;
}

function replaceAll(data: Buffer, search: Buffer, replacement: Buffer): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  for (let at = data.indexOf(search); at !== -1; at = data.indexOf(search, at + search.length)) {
    parts.push(data.subarray(copied, at), replacement);
    copied = at + search.length;
  }
  if (copied === 0) return data;
  parts.push(data.subarray(copied));
  return Buffer.concat(parts);
}

function count(data: Buffer, search: Buffer): number {
  let n = 0;
  for (let at = data.indexOf(search); at !== -1; at = data.indexOf(search, at + search.length)) n++;
  return n;
}
