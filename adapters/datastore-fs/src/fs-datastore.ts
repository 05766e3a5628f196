import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, readSync, fstatSync } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  emptyStream,
  TributaryError,
  validateKey,
  validatePrefix,
  type ByteRange,
  type Datastore,
  type DatastoreCapabilities,
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type AdapterLocator,
} from '@tributary/core';

/** @public */
export interface FsDatastoreOptions {
  /** Folder holding the store. Created if missing. */
  root: string;
  /** fsync each file before it becomes visible (durable across power loss; slower). Default false: hashes still catch torn files. */
  fsync?: boolean;
}

const TMP = '.tmp';
// A key may be both an object and a prefix of others (`a` and `a/b`), which a filesystem cannot
// hold as a file and a folder of one name. Objects are stored as `<name>~` ('~' never appears
// in a key), folders keep their names.
const FILE_SUFFIX = '~';

function isErr(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * A Datastore on the local filesystem. Every write goes to a temp file in the same filesystem,
 * then becomes visible in one atomic step: `link` for put-if-absent (fails if the key exists),
 * `rename` otherwise. Readers never see a partial file.
 * @public
 */
export class FsDatastore implements Datastore {
  readonly name = 'fs';
  readonly capabilities: DatastoreCapabilities = {
    rangeReads: true,
    conditionalPut: true,
    streaming: true,
    syncRead: true,
    maxListPage: 10_000,
    readProgress: true,
  };
  readonly locator: AdapterLocator;
  private closed = false;
  private readonly madeDirs = new Set<string>();

  constructor(private readonly options: FsDatastoreOptions) {
    this.locator = {
      module: import.meta.url,
      factory: 'createFsDatastore',
      options: { root: options.root, fsync: options.fsync ?? false },
    };
  }

  private check(key: string, signal?: AbortSignal): string {
    if (this.closed)
      throw new TributaryError('CLOSED', `Datastore fs at ${this.options.root} is closed.`, { context: { adapter: 'fs', key } });
    if (signal?.aborted)
      throw new TributaryError('ABORTED', `Aborted before reading or writing ${key}.`, {
        context: { adapter: 'fs', key },
        cause: signal.reason,
      });
    validateKey(key);
    return `${join(this.options.root, ...key.split('/'))}${FILE_SUFFIX}`;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.options.root, TMP);
    await this.ensureDir(dir);
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  private async publish(tmp: string, path: string, ifAbsent: boolean): Promise<PutResult> {
    await this.ensureDir(dirname(path));
    try {
      if (ifAbsent) {
        try {
          await link(tmp, path);
        } catch (err) {
          if (isErr(err, 'EEXIST')) return { created: false };
          if (isErr(err, 'ENOENT')) {
            // the folder was removed under us (e.g. a concurrent delete): recreate and retry once
            this.madeDirs.delete(dirname(path));
            await this.ensureDir(dirname(path));
            await link(tmp, path);
          } else throw err;
        }
        return { created: true };
      }
      await rename(tmp, path);
      return { created: true };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const path = this.check(key, options.signal);
    // Skip the write of content that is already there (the common case for content-addressed blobs).
    if (options.ifAbsent && (await this.exists(path))) return { created: false };
    const tmp = await this.tempPath();
    try {
      if (this.options.fsync) {
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(body);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else await writeFile(tmp, body);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw this.mapError(err, key);
    }
    return this.publish(tmp, path, options.ifAbsent === true);
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const path = this.check(key, options.signal);
    const tmp = await this.tempPath();
    try {
      await pipeline(Readable.from(body), createWriteStream(tmp), ...(options.signal ? [{ signal: options.signal }] : []));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (options.signal?.aborted)
        throw new TributaryError('ABORTED', `Aborted while writing ${key}.`, { context: { adapter: 'fs', key } });
      throw this.mapError(err, key);
    }
    return this.publish(tmp, path, options.ifAbsent === true);
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const path = this.check(key, options.signal);
    try {
      if (!options.range) return options.onData ? await this.readReporting(path, options.onData) : await readFile(path);
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.allocUnsafe(options.range.length);
        const { bytesRead } = await fh.read(buf, 0, options.range.length, options.range.offset);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.mapError(err, key);
    }
  }

  /** Read a whole file in parts, starting the next read before handing the current part over. */
  private async readReporting(path: string, onData: (part: Uint8Array) => void): Promise<Uint8Array> {
    const PART = 8 * 1024 * 1024;
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.allocUnsafe(size);
      let offset = 0;
      let pending = size > 0 ? fh.read(buf, 0, Math.min(PART, size), 0) : undefined;
      while (pending) {
        const { bytesRead } = await pending;
        if (bytesRead === 0) break;
        const start = offset;
        offset += bytesRead;
        pending = offset < size ? fh.read(buf, offset, Math.min(PART, size - offset), offset) : undefined;
        onData(buf.subarray(start, offset));
      }
      return offset === size ? buf : buf.subarray(0, offset);
    } finally {
      await fh.close();
    }
  }

  readSync(key: string, range?: ByteRange): Uint8Array {
    const path = this.check(key);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw this.mapError(err, key);
    }
    try {
      const offset = range?.offset ?? 0;
      const length = range ? range.length : fstatSync(fd).size;
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return buf.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const path = this.check(key, options.signal);
    try {
      await stat(path);
    } catch (err) {
      throw this.mapError(err, key);
    }
    const r = options.range;
    // An empty range has no last byte to name (createReadStream would throw a RangeError).
    if (r && r.length <= 0) return emptyStream();
    return createReadStream(
      path,
      r
        ? { start: r.offset, end: r.offset + r.length - 1, ...(options.signal ? { signal: options.signal } : {}) }
        : options.signal
          ? { signal: options.signal }
          : {},
    );
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    const path = this.check(key, options.signal);
    try {
      const s = await stat(path);
      return s.isFile() ? { size: s.size } : undefined;
    } catch (err) {
      if (isErr(err, 'ENOENT') || isErr(err, 'ENOTDIR')) return undefined;
      throw this.mapError(err, key);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (this.closed) throw new TributaryError('CLOSED', `Datastore fs at ${this.options.root} is closed.`);
    if (options.signal?.aborted)
      throw new TributaryError('ABORTED', 'Aborted before listing.', { context: { adapter: 'fs' }, cause: options.signal.reason });
    validatePrefix(prefix);
    const limit = Math.min(options.limit ?? 1000, this.capabilities.maxListPage);
    // Walk only the folder the prefix pins down, then filter by the rest of the prefix.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = join(this.options.root, ...dirPart.split('/').filter(Boolean));
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErr(err, 'ENOENT') || isErr(err, 'ENOTDIR')) return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        const rel = relative(this.options.root, full).split(sep).join('/');
        if (rel === TMP) continue;
        if (e.isDirectory()) {
          if (rel.startsWith(prefix) || prefix.startsWith(`${rel}/`) || prefix === rel) await walk(full);
        } else if (e.name.endsWith(FILE_SUFFIX)) {
          const key = rel.slice(0, -FILE_SUFFIX.length);
          if (key.startsWith(prefix) && (!options.cursor || key > options.cursor)) keys.push(key);
        }
      }
    };
    await walk(start);
    keys.sort();
    const page = keys.slice(0, limit);
    return keys.length > limit ? { keys: page, cursor: page[page.length - 1]! } : { keys: page };
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const path = this.check(key, options.signal);
    try {
      await unlink(path);
    } catch (err) {
      if (!isErr(err, 'ENOENT')) throw this.mapError(err, key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private mapError(err: unknown, key: string): Error {
    if (TributaryError.is(err)) return err;
    const context = { adapter: 'fs', key };
    if (isErr(err, 'ENOENT') || isErr(err, 'ENOTDIR') || isErr(err, 'EISDIR'))
      return new TributaryError('NOT_FOUND', `No object at key ${key} in ${this.options.root}.`, { context });
    if (isErr(err, 'EACCES') || isErr(err, 'EPERM'))
      return new TributaryError('CONFIG', `Permission denied on ${this.options.root} for key ${key}: check the folder's owner and mode.`, {
        context,
        cause: err,
      });
    if (isErr(err, 'ENOSPC'))
      return new TributaryError('INFRASTRUCTURE', `Disk full while writing ${key} under ${this.options.root}.`, {
        context,
        cause: err,
        retryable: true,
      });
    return new TributaryError('INFRASTRUCTURE', `Filesystem error on ${key}: ${(err as Error).message}`, {
      context,
      cause: err,
      retryable: true,
    });
  }
}

/** Open a filesystem datastore. @public */
export function createFsDatastore(options: FsDatastoreOptions): FsDatastore {
  return new FsDatastore(options);
}
