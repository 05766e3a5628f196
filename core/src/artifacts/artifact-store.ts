import { createHash } from 'node:crypto';
import { TributaryError } from '../errors.ts';
import type { ArtifactRef } from '../ports/metadata-store.ts';
import type { ByteRange, Datastore } from '../ports/datastore.ts';
import { BoundedSet } from '../util/bounded-set.ts';
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

/** Who reads through an ArtifactStore, named in its errors. @public */
export interface ArtifactReader {
  /** Pathspec of the reading task, e.g. `TrainFlow/3/fit/7`. */
  pathspec: string;
}

/** Options of an ArtifactStore. @public */
export interface ArtifactStoreOptions {
  /** The task reading (see `ArtifactStore.forTask`). */
  reader?: ArtifactReader;
  /**
   * How many content addresses the store remembers as written or verified by this process, so a
   * repeated write of one value does not read it back each time. Default 10,000.
   */
  verifiedAddresses?: number;
}

/** A reference to a stored value, as `load` needs it; `name` is only used in messages. @public */
export type LoadableRef = Pick<ArtifactRef, 'sha' | 'encoding' | 'type'> & { name?: string };

/** State shared by a store and its task views (`forTask`). */
interface SharedState {
  prefetched: Map<string, Uint8Array>;
  verified: BoundedSet<string>;
  syncReader?: { read(key: string, range?: ByteRange): Uint8Array } | undefined;
}

/**
 * Content-addressed artifact storage on top of any `Datastore`. Blobs live at
 * `<Flow>/data/<sha[0:2]>/<sha>`: identical content is stored once per flow, and every read is
 * verified against its address. Written once, here, for every adapter.
 *
 * A write of content that is already stored checks the stored copy before trusting it (its size,
 * then its SHA-256, once per address and process): a blob changed or truncated outside Tributary
 * is replaced by the new write, so re-running the task that produced it repairs it.
 * @public
 */
export class ArtifactStore {
  /** The task reading through this store, if any (named in INTEGRITY errors). */
  readonly reader: ArtifactReader | undefined;
  private shared: SharedState;

  constructor(
    readonly datastore: Datastore,
    readonly flow: string,
    options: ArtifactStoreOptions = {},
  ) {
    validateName('flow', flow);
    this.reader = options.reader;
    this.shared = { prefetched: new Map(), verified: new BoundedSet(options.verifiedAddresses ?? 10_000) };
  }

  /**
   * A view of this store for one task: the same datastore, prefetched bytes and verified
   * addresses, with errors naming the task (`read by <pathspec>`).
   */
  forTask(pathspec: string): ArtifactStore {
    const view = new ArtifactStore(this.datastore, this.flow, { reader: { pathspec }, verifiedAddresses: 1 });
    view.shared = this.shared;
    return view;
  }

  /** Synchronous reads for datastores without `readSync` (set up by task workers). */
  get syncReader(): { read(key: string, range?: ByteRange): Uint8Array } | undefined {
    return this.shared.syncReader;
  }

  set syncReader(reader: { read(key: string, range?: ByteRange): Uint8Array } | undefined) {
    this.shared.syncReader = reader;
  }

  /** Datastore key of a blob. */
  blobKey(sha: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new TributaryError('INVALID_KEY', `Not a SHA-256 content address: ${JSON.stringify(sha)}.`);
    return validateKey(`${this.flow}/data/${sha.slice(0, 2)}/${sha}`);
  }

  /**
   * Fetch blobs (verified) ahead of synchronous reads, in parallel: what a step's source names is
   * read before the step runs, so a remote datastore costs one round of parallel GETs. A blob that
   * does not verify is left out: the step's own read reports it, naming the artifact, and only if
   * the step really reads it.
   */
  async prefetch(items: Array<{ sha: string; range?: ByteRange; expect?: string }>, concurrency = 8): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length) {
          const it = items[next++]!;
          const id = it.range ? `${it.sha}@${it.range.offset}+${it.range.length}` : it.sha;
          if (this.shared.prefetched.has(id)) continue;
          const bytes = await this.datastore.get(this.blobKey(it.sha), it.range ? { range: it.range } : {});
          try {
            this.shared.prefetched.set(id, this.verify(bytes, it.expect ?? it.sha, { blob: it.sha, item: !!it.range }));
          } catch (err) {
            if (!TributaryError.is(err, 'INTEGRITY')) throw err;
          }
        }
      }),
    );
  }

  /** Forget prefetched bytes (between tasks). */
  clearPrefetched(): void {
    this.shared.prefetched.clear();
  }

  /**
   * Store bytes under their content address. Content already stored is not written again, once
   * the stored copy is known to be intact; a corrupt or truncated copy is replaced.
   */
  async putBlob(bytes: Uint8Array, signal?: AbortSignal): Promise<string> {
    const sha = sha256(bytes);
    if (this.shared.verified.has(sha)) return sha;
    const key = this.blobKey(sha);
    const opts = signal ? { signal } : {};
    const put = await this.datastore.put(key, bytes, { ifAbsent: true, ...opts });
    if ((put as Partial<typeof put> | undefined)?.created === false && !(await this.storedIntact(sha, bytes.byteLength, signal))) {
      // Replace, unconditionally and atomically (the port's put without ifAbsent). Racing writers
      // all write these same bytes, so whichever lands last is right.
      await this.datastore.put(key, bytes, opts);
    }
    this.shared.verified.add(sha);
    return sha;
  }

  /** Whether the stored copy of a blob is whole: its size first (cheap), then its hash. */
  private async storedIntact(sha: string, size: number, signal?: AbortSignal): Promise<boolean> {
    const info = await this.datastore.head(this.blobKey(sha), signal ? { signal } : {});
    if (!info || info.size !== size) return false;
    try {
      await this.getBlob(sha, signal);
      return true;
    } catch (err) {
      if (TributaryError.is(err, 'INTEGRITY') || TributaryError.is(err, 'NOT_FOUND')) return false;
      throw err;
    }
  }

  private subject(blob: string, name: string | undefined, item: boolean): string {
    const by = this.reader ? `, read by ${this.reader.pathspec}` : '';
    const what = name ? (item ? `An item of foreach artifact '${name}'` : `Artifact '${name}'`) : item ? 'A foreach item' : 'Blob';
    return `${what} (${item ? 'blob ' : ''}sha256 ${blob.slice(0, 12)}…${by})`;
  }

  private verify(bytes: Uint8Array, expect: string, at: { blob: string; name?: string | undefined; item?: boolean }): Uint8Array {
    const actual = sha256(bytes);
    if (actual !== expect) this.corrupt(bytes.byteLength, expect, actual, at);
    return bytes;
  }

  private corrupt(length: number, expect: string, actual: string, at: { blob: string; name?: string | undefined; item?: boolean }): never {
    // The address may have been remembered as intact: forget it, so the next write repairs it.
    this.shared.verified.delete(at.blob);
    const key = this.blobKey(at.blob);
    throw new TributaryError(
      'INTEGRITY',
      `${this.subject(at.blob, at.name, at.item === true)} is corrupt: expected SHA-256 ${expect}, read ${actual} (${length} bytes) ` +
        `from datastore ${this.datastore.name} at key ${key}. Its stored bytes were changed outside Tributary; re-run the task ` +
        `that produced it (a new write of the same content replaces the corrupt blob).`,
      {
        context: {
          adapter: this.datastore.name,
          key,
          sha: at.blob,
          ...(at.name ? { artifact: at.name } : {}),
          ...(this.reader ? { pathspec: this.reader.pathspec } : {}),
        },
      },
    );
  }

  /** Read a blob and verify its hash. `name` (the artifact) is only used in messages. */
  async getBlob(sha: string, signal?: AbortSignal, name?: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    if (!this.datastore.capabilities.readProgress) {
      bytes = await this.datastore.get(this.blobKey(sha), signal ? { signal } : {});
      this.verify(bytes, sha, { blob: sha, name });
    } else {
      // Hash each part as it arrives, while the adapter reads the next one: load costs about
      // max(read, hash) instead of read + hash.
      const hash = createHash('sha256');
      bytes = await this.datastore.get(this.blobKey(sha), { ...(signal ? { signal } : {}), onData: (part) => hash.update(part) });
      const actual = hash.digest('hex');
      if (actual !== sha) this.corrupt(bytes.byteLength, sha, actual, { blob: sha, name });
    }
    this.shared.verified.add(sha);
    return bytes;
  }

  /** Synchronous read; only for datastores with `capabilities.syncRead`. */
  getBlobSync(sha: string, range?: ByteRange, expect = sha, name?: string): Uint8Array {
    const cached = this.shared.prefetched.get(range ? `${sha}@${range.offset}+${range.length}` : sha);
    if (cached) return cached;
    let bytes: Uint8Array;
    if (this.datastore.readSync) bytes = this.datastore.readSync(this.blobKey(sha), range);
    else if (this.shared.syncReader) bytes = this.shared.syncReader.read(this.blobKey(sha), range);
    else throw new TributaryError('CONFIG', `Datastore ${this.datastore.name} cannot read synchronously here; use store.load() instead.`);
    this.verify(bytes, expect, { blob: sha, name, item: range !== undefined });
    if (!range) this.shared.verified.add(sha);
    return bytes;
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

  async load(ref: LoadableRef, signal?: AbortSignal): Promise<unknown> {
    return decodeValue(await this.getBlob(ref.sha, signal, ref.name), ref.encoding, ref.type);
  }

  loadSync(ref: LoadableRef): unknown {
    return decodeValue(this.getBlobSync(ref.sha, undefined, ref.sha, ref.name), ref.encoding, ref.type);
  }

  /** Read one foreach item: only its slice of the blob is read. `name` (the foreach artifact) is only used in messages. */
  loadItemSync(item: ItemRef, name?: string): unknown {
    return decodeValue(this.getBlobSync(item.blob, { offset: item.offset, length: item.length }, item.sha, name), 'msgpack', 'item');
  }

  async loadItem(item: ItemRef, name?: string): Promise<unknown> {
    const bytes = await this.datastore.get(this.blobKey(item.blob), { range: { offset: item.offset, length: item.length } });
    return decodeValue(this.verify(bytes, item.sha, { blob: item.blob, name, item: true }), 'msgpack', 'item');
  }
}
