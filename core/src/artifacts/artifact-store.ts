import { createHash } from 'node:crypto';
import { TributaryError } from '../errors.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import type { ByteRange, Datastore } from '../ports/datastore.ts';
import { sha256 } from '../util/hash.ts';
import { validateKey, validateName } from '../util/keys.ts';
import { decodeValue, encodeArrayItems, encodeValue, type ValueSite } from './serializer.ts';

/** A slice of a stored blob holding one foreach item. @public */
export interface ItemRef {
  /** Content address of the whole blob. */
  blob: string;
  offset: number;
  length: number;
  /** SHA-256 of just this slice (verified on read). */
  sha: string;
}

/**
 * Content-addressed artifact storage on top of any `Datastore`. Blobs live at
 * `<Flow>/data/<sha[0:2]>/<sha>`: identical content is stored once per flow, and every read is
 * verified against its address. Written once, here, for every adapter.
 * @public
 */
export class ArtifactStore {
  /** Synchronous reads for datastores without `readSync` (set up by task workers). */
  syncReader?: { read(key: string, range?: ByteRange): Uint8Array };

  constructor(
    readonly datastore: Datastore,
    readonly flow: string,
  ) {
    validateName('flow', flow);
  }

  /** Datastore key of a blob. */
  blobKey(sha: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new TributaryError('INVALID_KEY', `Not a SHA-256 content address: ${JSON.stringify(sha)}.`);
    return validateKey(`${this.flow}/data/${sha.slice(0, 2)}/${sha}`);
  }

  private readonly prefetched = new Map<string, Uint8Array>();

  /**
   * Fetch blobs (verified) ahead of synchronous reads, in parallel: what a step's source names is
   * read before the step runs, so a remote datastore costs one round of parallel GETs.
   */
  async prefetch(items: Array<{ sha: string; range?: ByteRange; expect?: string }>, concurrency = 8): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length) {
          const it = items[next++]!;
          const id = it.range ? `${it.sha}@${it.range.offset}+${it.range.length}` : it.sha;
          if (this.prefetched.has(id)) continue;
          const bytes = await this.datastore.get(this.blobKey(it.sha), it.range ? { range: it.range } : {});
          this.prefetched.set(id, this.verify(bytes, it.expect ?? it.sha, `blob ${it.sha.slice(0, 12)}`));
        }
      }),
    );
  }

  /** Forget prefetched bytes (between tasks). */
  clearPrefetched(): void {
    this.prefetched.clear();
  }

  /** Store bytes under their content address; a no-op write when the content already exists. */
  async putBlob(bytes: Uint8Array, signal?: AbortSignal): Promise<string> {
    const sha = sha256(bytes);
    await this.datastore.put(this.blobKey(sha), bytes, { ifAbsent: true, ...(signal ? { signal } : {}) });
    return sha;
  }

  private verify(bytes: Uint8Array, sha: string, what: string): Uint8Array {
    const actual = sha256(bytes);
    if (actual !== sha) {
      throw new TributaryError(
        'INTEGRITY',
        `Stored bytes of ${what} are corrupt: expected SHA-256 ${sha}, read ${actual} (${bytes.length} bytes) from ${this.datastore.name}. ` +
          `The blob was changed outside Tributary; re-run the task that produced it.`,
        { context: { adapter: this.datastore.name, key: this.blobKey(sha) } },
      );
    }
    return bytes;
  }

  /** Read a blob and verify its hash. */
  async getBlob(sha: string, signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.datastore.capabilities.readProgress) {
      const bytes = await this.datastore.get(this.blobKey(sha), signal ? { signal } : {});
      return this.verify(bytes, sha, `blob ${sha.slice(0, 12)}`);
    }
    // Hash each part as it arrives, while the adapter reads the next one: load costs about
    // max(read, hash) instead of read + hash.
    const hash = createHash('sha256');
    const bytes = await this.datastore.get(this.blobKey(sha), { ...(signal ? { signal } : {}), onData: (part) => hash.update(part) });
    const actual = hash.digest('hex');
    if (actual !== sha) this.verify(bytes, sha, `blob ${sha.slice(0, 12)}`);
    return bytes;
  }

  /** Synchronous read; only for datastores with `capabilities.syncRead`. */
  getBlobSync(sha: string, range?: ByteRange, expect = sha): Uint8Array {
    const cached = this.prefetched.get(range ? `${sha}@${range.offset}+${range.length}` : sha);
    if (cached) return cached;
    let bytes: Uint8Array;
    if (this.datastore.readSync) bytes = this.datastore.readSync(this.blobKey(sha), range);
    else if (this.syncReader) bytes = this.syncReader.read(this.blobKey(sha), range);
    else throw new TributaryError('CONFIG', `Datastore ${this.datastore.name} cannot read synchronously here; use store.load() instead.`);
    return this.verify(bytes, expect, range ? `an item of blob ${sha.slice(0, 12)}` : `blob ${sha.slice(0, 12)}`);
  }

  /** Encode, address and store a value. */
  async save(name: string, value: unknown, site: Omit<ValueSite, 'artifact'> = {}, signal?: AbortSignal): Promise<ArtifactRef> {
    const enc = encodeValue(value, { ...site, artifact: name });
    const sha = await this.putBlob(enc.bytes, signal);
    return { name, sha, size: enc.bytes.byteLength, type: enc.type, encoding: enc.encoding };
  }

  /** Store an array so that each item can later be read on its own (foreach splits). */
  async saveArrayWithItems(
    name: string,
    items: readonly unknown[],
    site: Omit<ValueSite, 'artifact'> = {},
  ): Promise<{ ref: ArtifactRef; items: ItemRef[] }> {
    const enc = encodeArrayItems(items, { ...site, artifact: name });
    const blob = await this.putBlob(enc.bytes);
    const itemRefs = enc.offsets.map((offset, i) => {
      const length = enc.lengths[i]!;
      return { blob, offset, length, sha: sha256(enc.bytes.subarray(offset, offset + length)) };
    });
    return { ref: { name, sha: blob, size: enc.bytes.byteLength, type: 'Array', encoding: 'msgpack' }, items: itemRefs };
  }

  async load(ref: Pick<ArtifactRef, 'sha' | 'encoding' | 'type'>, signal?: AbortSignal): Promise<unknown> {
    return decodeValue(await this.getBlob(ref.sha, signal), ref.encoding, ref.type);
  }

  loadSync(ref: Pick<ArtifactRef, 'sha' | 'encoding' | 'type'>): unknown {
    return decodeValue(this.getBlobSync(ref.sha), ref.encoding, ref.type);
  }

  /** Read one foreach item: only its slice of the blob is read. */
  loadItemSync(item: ItemRef): unknown {
    return decodeValue(this.getBlobSync(item.blob, { offset: item.offset, length: item.length }, item.sha), 'msgpack', 'item');
  }

  async loadItem(item: ItemRef): Promise<unknown> {
    const bytes = await this.datastore.get(this.blobKey(item.blob), { range: { offset: item.offset, length: item.length } });
    return decodeValue(this.verify(bytes, item.sha, `an item of blob ${item.blob.slice(0, 12)}`), 'msgpack', 'item');
  }
}
