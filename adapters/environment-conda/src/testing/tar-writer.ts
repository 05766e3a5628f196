/** A minimal tar writer (ustar, with a pax header for long names) for building test archives. */

/** One entry of a test tar archive. Paths are written exactly as given, checked or not. @public */
export interface TarEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  content?: Uint8Array;
  mode?: number;
  /** Link target of a symlink or hard link. */
  target?: string;
}

const BLOCK = 512;

/** The tar archive of `entries`, in order (mtime 0, owner 0: the same entries give the same bytes). */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === 'file' ? Buffer.from(entry.content ?? new Uint8Array()) : Buffer.alloc(0);
    const path = entry.type === 'directory' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
    const target = entry.target ?? '';
    if (Buffer.byteLength(path) > 100 || Buffer.byteLength(target) > 100) {
      const pax = paxRecords({ path, ...(target !== '' ? { linkpath: target } : {}) });
      parts.push(header('././@PaxHeader', 'x', pax.length, 0o644, ''), pad(pax));
    }
    const type = { file: '0', directory: '5', symlink: '2', hardlink: '1' }[entry.type];
    const mode = entry.mode ?? (entry.type === 'directory' ? 0o755 : 0o644);
    parts.push(header(truncate(path, 100), type, content.length, mode, truncate(target, 100)), pad(content));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(name: string, type: string, size: number, mode: number, linkName: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(linkName, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function truncate(text: string, bytes: number): string {
  return Buffer.from(text, 'utf8').subarray(0, bytes).toString('utf8');
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

function paxRecords(records: Record<string, string>): Buffer {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body);
    length += String(length + String(length).length).length;
    out += `${length}${body}`;
  }
  return Buffer.from(out, 'utf8');
}
