/**
 * A narrow blob store. Adapters move bytes; content addressing, dedupe and integrity checks
 * live once in the core (`ArtifactStore`), on top of this port.
 *
 * Keys are `/`-separated relative paths of `[A-Za-z0-9._=-]` segments, validated by the core
 * before they reach an adapter (no `..`, no leading `/`, no empty segment).
 */

import type { AdapterLocator } from './adapter-locator.ts';

/** @public */
export interface ByteRange {
  /** First byte, 0-based. */
  offset: number;
  /** Number of bytes to read. Reading past the end returns the bytes that exist. */
  length: number;
}

/** @public */
export interface DatastoreCapabilities {
  /** `get` honours `range` with one request. */
  readonly rangeReads: boolean;
  /** `put(..., { ifAbsent: true })` is atomic on the server (no read-then-write race). */
  readonly conditionalPut: boolean;
  /** `putStream` accepts a stream of unknown length. */
  readonly streaming: boolean;
  /** `readSync` is implemented (lets a step read artifacts lazily and synchronously). */
  readonly syncRead: boolean;
  /**
   * Other machines reach the same data through the locator (an object store), not only this
   * host's files. Remote compute (Kubernetes, AWS Batch) refuses a datastore without it.
   */
  readonly remote?: boolean;
  /** Largest `limit` honoured by `list`. */
  readonly maxListPage: number;
  /** `get` reports the bytes it reads, in order, through `onData` (lets the core hash while reading). */
  readonly readProgress: boolean;
  /**
   * Concurrent puts of different values to one key leave one whole value (true for real object
   * stores and files renamed into place). When false, only concurrent puts of identical bytes are
   * safe, which is all content addressing needs. Default true when absent.
   */
  readonly atomicOverwrite?: boolean;
  /**
   * A key may also be a prefix of other keys (`a` and `a/b`) and listing stays complete and in
   * order. Default true when absent.
   */
  readonly prefixObjects?: boolean;
}

/** @public */
export interface PutOptions {
  /** Write only if the key does not exist yet. Resolves `{ created: false }` when it does. */
  ifAbsent?: boolean;
  signal?: AbortSignal;
}

/** @public */
export interface PutResult {
  /** False when `ifAbsent` was set and the key already existed (nothing was written). */
  created: boolean;
}

/** @public */
export interface GetOptions {
  range?: ByteRange;
  signal?: AbortSignal;
  /**
   * Called with consecutive parts of the result, in order, covering all of it, as they arrive
   * (only when `capabilities.readProgress`). The parts are views of the returned bytes.
   */
  onData?: (part: Uint8Array) => void;
}

/** @public */
export interface ListOptions {
  /** Opaque cursor returned by the previous page. */
  cursor?: string;
  /** Page size; adapters may return fewer. Default 1000. */
  limit?: number;
  signal?: AbortSignal;
}

/** @public */
export interface ListPage {
  /** Keys under the prefix, in lexicographic order. */
  keys: string[];
  /** Present when more keys follow. */
  cursor?: string;
}

/** @public */
export interface ObjectInfo {
  size: number;
}

/**
 * The Datastore port.
 *
 * Error contract (all errors are `TributaryError`):
 * - `get`/`getStream`/`readSync` of a missing key throw `NOT_FOUND`.
 * - `head` of a missing key resolves `undefined`; `delete` of a missing key resolves.
 * - Invalid keys are rejected by the core; adapters may still throw `INVALID_KEY`.
 * - An aborted `signal` rejects with `ABORTED`; any call after `close()` rejects with `CLOSED`.
 * - Transient failures are retried inside the adapter; what escapes is typed with `retryable`.
 * - A reader never observes a partially written object: writes are atomic.
 * @public
 */
export interface Datastore {
  readonly name: string;
  readonly capabilities: DatastoreCapabilities;
  /** How a task worker opens this same store; required for process-based compute. */
  /**
   * Names of the environment variables this adapter reads its credentials from (its SDK's
   * standard chain). A job on this host gets these copied (never written into a job spec); a
   * remote job uses its own target's credentials.
   */
  readonly credentialEnv?: readonly string[];
  readonly locator?: AdapterLocator;
  /**
   * Store bytes atomically under `key`, replacing any previous value unless `ifAbsent`. The
   * replacing write must be atomic too (readers see the old or the new bytes, never a mix): the
   * core repairs a corrupt content-addressed blob by writing it again without `ifAbsent`.
   */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Store a stream atomically (the key appears only once the whole stream is written). */
  putStream(key: string, body: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<PutResult>;
  /** Read the whole object, or `range` of it. */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** Read as a stream of chunks. */
  getStream(key: string, options?: GetOptions): Promise<AsyncIterable<Uint8Array>>;
  /** Size of the object, or `undefined` if absent. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo | undefined>;
  /** List keys starting with `prefix`, one page at a time. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Delete a key; absent keys are not an error. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Synchronous read; present only when `capabilities.syncRead`. Same error contract as `get`. */
  readSync?(key: string, range?: ByteRange): Uint8Array;
  close(): Promise<void>;
}
