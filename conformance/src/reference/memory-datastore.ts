import {
  TributaryError,
  validateKey,
  type ByteRange,
  type Datastore,
  type DatastoreCapabilities,
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
} from '@tributary/core';

function guard(closed: boolean, key: string | undefined, signal: AbortSignal | undefined): void {
  if (closed)
    throw new TributaryError('CLOSED', 'Memory datastore is closed.', { context: { adapter: 'memory', ...(key ? { key } : {}) } });
  if (signal?.aborted) throw new TributaryError('ABORTED', 'Aborted.', { context: { adapter: 'memory' }, cause: signal.reason });
  if (key !== undefined) validateKey(key);
}

/**
 * The reference Datastore: a sorted map in memory. It defines the contract's behaviour in the
 * simplest possible way; the conformance suite runs against it, and its model-based properties
 * compare every real adapter with it.
 * @public
 */
export class MemoryDatastore implements Datastore {
  readonly name = 'memory';
  readonly capabilities: DatastoreCapabilities = {
    rangeReads: true,
    conditionalPut: true,
    streaming: true,
    syncRead: true,
    maxListPage: 1000,
    readProgress: true,
  };
  private readonly objects = new Map<string, Uint8Array>();
  private closed = false;

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    guard(this.closed, key, options.signal);
    if (options.ifAbsent && this.objects.has(key)) return { created: false };
    this.objects.set(key, Uint8Array.from(body));
    return { created: true };
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    guard(this.closed, key, options.signal);
    const parts: Uint8Array[] = [];
    for await (const part of body) {
      if (options.signal?.aborted) throw new TributaryError('ABORTED', `Aborted while writing ${key}.`);
      parts.push(Uint8Array.from(part));
    }
    return this.put(key, Buffer.concat(parts), options);
  }

  private read(key: string, range?: ByteRange): Uint8Array {
    const bytes = this.objects.get(key);
    if (!bytes) throw new TributaryError('NOT_FOUND', `No object at key ${key}.`, { context: { adapter: 'memory', key } });
    const out = range ? bytes.subarray(range.offset, range.offset + range.length) : bytes;
    return Buffer.from(Uint8Array.from(out));
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    guard(this.closed, key, options.signal);
    const bytes = this.read(key, options.range);
    options.onData?.(bytes);
    return bytes;
  }

  readSync(key: string, range?: ByteRange): Uint8Array {
    guard(this.closed, key, undefined);
    return this.read(key, range);
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const bytes = await this.get(key, options);
    return (async function* () {
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    })();
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    guard(this.closed, key, options.signal);
    const bytes = this.objects.get(key);
    return bytes ? { size: bytes.length } : undefined;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    guard(this.closed, undefined, options.signal);
    const limit = Math.max(1, Math.min(options.limit ?? 1000, this.capabilities.maxListPage));
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (!options.cursor || k > options.cursor)).sort();
    const page = keys.slice(0, limit);
    return keys.length > limit ? { keys: page, cursor: page[page.length - 1]! } : { keys: page };
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    guard(this.closed, key, options.signal);
    this.objects.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createMemoryDatastore(): MemoryDatastore {
  return new MemoryDatastore();
}
