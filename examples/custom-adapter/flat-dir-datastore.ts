/**
 * A third-party Datastore, written only against `@tributary/core`'s port: every object is one
 * file in a single flat folder, named by the base64url of its key. Small on purpose: it shows
 * what an adapter must do (validate keys, atomic writes, typed errors, CLOSED after close) and
 * what the core does for it (content addressing, dedupe, integrity).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  TributaryError,
  validateKey,
  type Datastore,
  type GetOptions,
  type ListOptions,
  type ListPage,
  type PutOptions,
  type PutResult,
} from '@tributary/core';

const fileOf = (key: string) => Buffer.from(key).toString('base64url');
const keyOf = (file: string) => Buffer.from(file, 'base64url').toString();
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class FlatDirDatastore implements Datastore {
  readonly name = 'flat-dir';
  readonly capabilities = {
    rangeReads: true,
    conditionalPut: true,
    streaming: true,
    syncRead: false,
    maxListPage: 1000,
    readProgress: false,
  };
  private closed = false;

  constructor(private readonly dir: string) {}

  private path(key: string, signal?: AbortSignal): string {
    if (this.closed) throw new TributaryError('CLOSED', `flat-dir datastore ${this.dir} is closed.`);
    if (signal?.aborted) throw new TributaryError('ABORTED', 'Aborted.');
    return join(this.dir, fileOf(validateKey(key)));
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const path = this.path(key, options.signal);
    await mkdir(join(this.dir, '.tmp'), { recursive: true });
    const tmp = join(this.dir, '.tmp', randomBytes(8).toString('hex'));
    await writeFile(tmp, body);
    try {
      if (options.ifAbsent)
        await link(tmp, path); // fails with EEXIST: atomic put-if-absent
      else await rename(tmp, path);
      return { created: true };
    } catch (err) {
      if (code(err) === 'EEXIST') return { created: false };
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    this.path(key, options.signal);
    const parts: Uint8Array[] = [];
    for await (const part of body) parts.push(part);
    return this.put(key, Buffer.concat(parts), options);
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const path = this.path(key, options.signal);
    try {
      const bytes = await readFile(path);
      return options.range ? bytes.subarray(options.range.offset, options.range.offset + options.range.length) : bytes;
    } catch (err) {
      if (code(err) === 'ENOENT')
        throw new TributaryError('NOT_FOUND', `No object at key ${key}.`, { context: { adapter: this.name, key } });
      throw err;
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const bytes = await this.get(key, options);
    return (async function* () {
      yield bytes;
    })();
  }

  async head(key: string, options: { signal?: AbortSignal } = {}) {
    try {
      return { size: (await stat(this.path(key, options.signal))).size };
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (this.closed) throw new TributaryError('CLOSED', `flat-dir datastore ${this.dir} is closed.`);
    if (options.signal?.aborted) throw new TributaryError('ABORTED', 'Aborted.');
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const keys = files
      .filter((f) => f !== '.tmp')
      .map(keyOf)
      .filter((k) => k.startsWith(prefix) && (!options.cursor || k > options.cursor))
      .sort();
    const limit = options.limit ?? 1000;
    return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1]! } : { keys };
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await unlink(this.path(key, options.signal)).catch((err) => {
      if (code(err) !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
