/**
 * A streaming tar reader: the entries of a tar stream, one at a time, each with a body that can be
 * streamed (to disk, say) or read whole, so a large archive is never held in memory and a reader
 * that has found what it wants can stop. Understands POSIX ustar (name and prefix), pax extended
 * (`x`) and global (`g`) headers (`path`, `linkpath`, `size`), GNU long names and link names
 * (`L`, `K`) and GNU base-256 numbers. What the paths may be is for each consumer to check.
 */

import { TributaryError } from '../errors.ts';

const BLOCK = 512;
const DEFAULT_MAX_META = 1 << 20;

/**
 * What a tar entry is: `other` covers devices, FIFOs and unknown type flags (see `typeFlag`).
 * @public
 */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

/**
 * One entry of a tar stream, as `readTarEntries` yields it.
 * @public
 */
export interface TarEntry {
  /** The path as written in the archive (pax `path`, else GNU long name, else ustar prefix/name), unchecked. */
  readonly path: string;
  readonly type: TarEntryType;
  /** The header's type flag (`'0'`, `'5'`, `'3'`...): tells `other` entries apart. */
  readonly typeFlag: string;
  /** Permission bits, with set-user-ID, set-group-ID and sticky (`mode & 0o7777`). */
  readonly mode: number;
  /** Bytes of the body (pax `size` when given). */
  readonly size: number;
  /** The target of a symbolic or hard link (pax `linkpath`, else GNU long link name, else the header's); `''` when none. */
  readonly linkName: string;
  /**
   * The body, streamed in the chunks the source gave. Read it (or call `read()`) at most once, and
   * before asking for the next entry: what is left unread is skipped then.
   */
  readonly body: AsyncIterable<Buffer>;
  /** The whole body in one buffer (check `size` first: it is held in memory). */
  read(): Promise<Buffer>;
}

/**
 * Options of `readTarEntries`.
 * @public
 */
export interface TarReadOptions {
  /** Largest pax header or GNU long name read (default 1 MiB): a larger one is INTEGRITY. */
  maxMetaBytes?: number;
  /** Names the archive in error messages (default `The archive`), e.g. `it` or `numpy 2.0 (numpy.tar.bz2)`. */
  label?: string;
}

/** The pax keys the reader applies; other records (mtime, uid...) are ignored. */
type Pax = Partial<Record<'path' | 'linkpath' | 'size', string>>;

/**
 * The entries of the tar stream `source`, in order. The archive ends at its first all-zero block
 * (the rest of `source`, tar's padding, is then read and dropped, so a producer writing into a
 * pipe can finish) or where `source` ends between entries. When the caller stops early, or the
 * archive is bad, `source`'s iterator is closed (for a stream, it is destroyed).
 *
 * Failures are `TributaryError('INTEGRITY')` with `context.tar` saying which: `truncated` (the
 * stream ends inside a header or a body), `checksum` (a header's checksum is wrong) or `header`
 * (an invalid size or pax record, or a pax header or long name over `maxMetaBytes`). Errors of
 * `source` itself are passed on as they are.
 * @public
 */
export async function* readTarEntries(
  source: AsyncIterable<Uint8Array>,
  options: TarReadOptions = {},
): AsyncGenerator<TarEntry, void, undefined> {
  const maxMeta = options.maxMetaBytes ?? DEFAULT_MAX_META;
  const label = options.label ?? 'The archive';
  const fail = (tar: 'truncated' | 'checksum' | 'header', detail: string): TributaryError =>
    new TributaryError('INTEGRITY', `${label} ${tar === 'truncated' ? 'is truncated' : 'is not a valid tar archive'} (${detail})`, {
      context: { tar },
    });
  const input = new ChunkReader(source[Symbol.asyncIterator]());
  const truncated = (what: string) => fail('truncated', `the stream ends at byte ${input.offset}, inside ${what}`);
  const exactly = async (n: number, what: string): Promise<Buffer> => {
    const bytes = await input.read(n);
    if (bytes === undefined) throw truncated(what);
    return bytes;
  };
  let global: Pax = {};
  let local: Pax = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let finished = false;
  try {
    for (;;) {
      const at = input.offset;
      if (!(await input.has(1))) break;
      const header = await exactly(BLOCK, 'a header');
      if (header.every((b) => b === 0)) {
        await input.drain();
        break;
      }
      if (!checksumOk(header)) throw fail('checksum', `bad header checksum at byte ${at}`);
      const flag = String.fromCharCode(header[156]!);
      const meta = flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
      const paxSize = meta ? undefined : pick(local, global, 'size');
      const size = paxSize !== undefined ? (/^\d+$/.test(paxSize) ? Number(paxSize) : NaN) : numeric(header, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0) throw fail('header', `invalid entry size at byte ${at}`);
      const padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (meta) {
        const what = flag === 'x' || flag === 'g' ? 'a pax header' : 'a GNU long name';
        if (size > maxMeta) throw fail('header', `${what} of ${size} bytes at byte ${at}, over the limit of ${maxMeta}`);
        const data = (await exactly(size + padding, what)).subarray(0, size);
        if (flag === 'L') longName = cString(data);
        else if (flag === 'K') longLink = cString(data);
        else {
          const records = parsePax(data);
          if (records === undefined) throw fail('header', `invalid pax header at byte ${at}`);
          if (flag === 'x') local = { ...local, ...records };
          else global = withoutEmpty({ ...global, ...records });
        }
        continue;
      }
      const path = pick(local, global, 'path') ?? longName ?? headerName(header);
      const linkName = pick(local, global, 'linkpath') ?? longLink ?? cString(header.subarray(157, 257));
      const mode = numeric(header, 100, 8);
      if (Number.isNaN(mode)) throw fail('header', `invalid mode at byte ${at}`);
      local = {};
      longName = longLink = undefined;
      const entry = new StreamedEntry(path, flag, mode & 0o7777, size, linkName, input, truncated);
      try {
        yield entry;
      } finally {
        entry.retire();
      }
      if (!(await input.skip(entry.unread + padding))) throw truncated(entry.what);
    }
    finished = true;
  } finally {
    // Stopped early or failed: let the source go (its own errors then no longer matter).
    if (!finished) await input.close().catch(() => undefined);
  }
}

/** An entry whose body is read from the stream, only while it is the current one. */
class StreamedEntry implements TarEntry {
  readonly type: TarEntryType;
  readonly body: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => this.#claim(this.#chunks()) };
  /** Body bytes not read yet. */
  unread: number;
  #claimed = false;
  #current = true;

  constructor(
    readonly path: string,
    readonly typeFlag: string,
    readonly mode: number,
    readonly size: number,
    readonly linkName: string,
    private readonly input: ChunkReader,
    private readonly truncated: (what: string) => TributaryError,
  ) {
    this.type = TYPES[typeFlag] ?? 'other';
    this.unread = size;
  }

  get what(): string {
    return `the body of ${JSON.stringify(this.path)}`;
  }

  async read(): Promise<Buffer> {
    this.#claim(undefined);
    const bytes = await this.input.read(this.unread);
    if (bytes === undefined) throw this.truncated(this.what);
    this.unread = 0;
    return bytes;
  }

  /** The reader has moved on: the body can no longer be read. */
  retire(): void {
    this.#current = false;
  }

  async *#chunks(): AsyncGenerator<Buffer, void, undefined> {
    while (this.unread > 0) {
      this.#checkCurrent();
      const chunk = await this.input.readSome(this.unread);
      if (chunk === undefined) throw this.truncated(this.what);
      this.unread -= chunk.length;
      yield chunk;
    }
  }

  #claim<T>(value: T): T {
    this.#checkCurrent();
    if (this.#claimed) throw new Error(`The body of tar entry ${JSON.stringify(this.path)} can be read only once`);
    this.#claimed = true;
    return value;
  }

  #checkCurrent(): void {
    if (!this.#current) throw new Error(`The body of tar entry ${JSON.stringify(this.path)} was read after moving on to the next entry`);
  }
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'directory',
};

/** A pax value: the entry's own record, else the global one; an empty value means none. */
function pick(local: Pax, global: Pax, key: keyof Pax): string | undefined {
  const value = key in local ? local[key] : global[key];
  return value === '' ? undefined : value;
}

function withoutEmpty(pax: Pax): Pax {
  return Object.fromEntries(Object.entries(pax).filter(([, value]) => value !== ''));
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

/** An octal field, or GNU base-256 when its top bit is set (sizes over 8 GiB); NaN when it is neither. */
function numeric(header: Buffer, offset: number, length: number): number {
  const field = header.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(field).trim();
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

/** The checksum field against the sum of the header's bytes (the field counted as spaces), unsigned or, as old tars wrote it, signed. */
function checksumOk(header: Buffer): boolean {
  const stored = numeric(header, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** pax records, `<length> <key>=<value>\n` (the length counts the record's bytes); undefined when malformed. */
function parsePax(data: Buffer): Pax | undefined {
  const out: Record<string, string> = {};
  for (let offset = 0; offset < data.length;) {
    const space = data.indexOf(0x20, offset);
    const digits = space === -1 ? '' : data.subarray(offset, space).toString('latin1');
    const length = /^\d+$/.test(digits) ? Number(digits) : NaN;
    if (!(length > space - offset + 1) || offset + length > data.length || data[offset + length - 1] !== 0x0a) return undefined;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) {
      const key = record.slice(0, eq);
      if (key === 'path' || key === 'linkpath' || key === 'size') out[key] = record.slice(eq + 1);
    }
    offset += length;
  }
  return out;
}

/** Exact byte counts out of a stream of chunks. */
class ChunkReader {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  /** Bytes taken so far. */
  offset = 0;

  constructor(source: AsyncIterator<Uint8Array>) {
    this.#source = source;
  }

  /** True when `n` more bytes are at hand (reading on for them). */
  async has(n: number): Promise<boolean> {
    while (this.#buffered < n && !this.#ended) {
      const next = await this.#source.next();
      if (next.done === true) this.#ended = true;
      else if (next.value.byteLength > 0) {
        this.#chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
        this.#buffered += next.value.byteLength;
      }
    }
    return this.#buffered >= n;
  }

  /** Exactly `n` bytes, or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.has(n))) return undefined;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return this.#take(n);
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n;) {
      const part = this.#take(Math.min(this.#chunks[0]!.length, n - at));
      part.copy(out, at);
      at += part.length;
    }
    return out;
  }

  /** Between 1 and `max` bytes, whatever is at hand; undefined at the end of the stream. */
  async readSome(max: number): Promise<Buffer | undefined> {
    if (!(await this.has(1))) return undefined;
    return this.#take(Math.min(max, this.#chunks[0]!.length));
  }

  /** Skips `n` bytes; false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    for (let left = n; left > 0;) {
      const chunk = await this.readSome(left);
      if (chunk === undefined) return false;
      left -= chunk.length;
    }
    return true;
  }

  /** Reads and drops the rest of the stream. */
  async drain(): Promise<void> {
    this.#chunks.length = 0;
    this.#buffered = 0;
    while (!this.#ended) if ((await this.#source.next()).done === true) this.#ended = true;
  }

  async close(): Promise<void> {
    if (!this.#ended) await this.#source.return?.();
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    this.offset += n;
    return out;
  }
}
