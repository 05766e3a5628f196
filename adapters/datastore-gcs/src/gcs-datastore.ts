import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdempotencyStrategy, Storage, type Bucket, type File } from '@google-cloud/storage';
import {
  emptyStream,
  objectKeyPrefix,
  portStream,
  redactUrl,
  safeCause,
  TributaryError,
  validateKey,
  validatePrefix,
  type AdapterLocator,
  type Datastore,
  type DatastoreCapabilities,
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
} from '@tributary/core';

/** @public */
export interface GcsDatastoreOptions {
  bucket: string;
  prefix?: string;
  projectId?: string;
  /** For emulators, e.g. `http://127.0.0.1:9199`. */
  apiEndpoint?: string;
  /** Service account key file; default: the SDK's application default credentials. */
  keyFilename?: string;
  /**
   * A service account key given as an object (`client_email`, `private_key`, ...), e.g. read
   * from a secret manager. Never part of the options that travel to task workers, nor of
   * anything `util.inspect` or JSON reaches: workers use application default credentials
   * (GOOGLE_APPLICATION_CREDENTIALS).
   */
  credentials?: { client_email?: string; private_key?: string; [field: string]: unknown };
  /**
   * The server honours `ifGenerationMatch: 0` (real GCS does; the firebase emulator does not).
   * When false, put-if-absent costs an existence check first. Default true.
   */
  conditionalPut?: boolean;
  /** Objects larger than this go as a resumable upload (in one request). Default 8 MiB. */
  resumableThreshold?: number;
  /** Attempts per request (exponential backoff between them). Default 6. */
  maxRetries?: number;
  /** Chunk of parallel ranged downloads, bytes. Default 8 MiB. */
  partSize?: number;
  /** Ranges downloaded at once. Default 4. */
  concurrency?: number;
}

/** Parse `gs://bucket/prefix?apiEndpoint=…&conditionalPut=false`. @public */
export function gcsOptionsFromUrl(url: URL): GcsDatastoreOptions {
  const q = url.searchParams;
  return {
    bucket: url.hostname,
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''),
    ...(q.get('apiEndpoint') ? { apiEndpoint: q.get('apiEndpoint')! } : {}),
    ...(q.get('projectId') ? { projectId: q.get('projectId')! } : {}),
    ...(q.get('conditionalPut') !== null ? { conditionalPut: q.get('conditionalPut') === 'true' } : {}),
  };
}

const codeOf = (err: unknown) => (err as { code?: number | string }).code;

/**
 * A Datastore on Google Cloud Storage. Small objects: one multipart request; large ones: a
 * resumable upload sent in one request (no chunkSize). Content addressing, dedupe and integrity
 * stay in the core. GCS limits written here: an object is at most 5 TiB; a list page at most
 * 1,000 names.
 * @public
 */
export class GcsDatastore implements Datastore {
  readonly name = 'gcs';
  readonly capabilities: DatastoreCapabilities;
  readonly locator: AdapterLocator;
  /** Its SDK's credential chain: copied to task processes on this host, never into a job spec. */
  readonly credentialEnv: readonly string[] = [
    'GOOGLE_APPLICATION_CREDENTIALS',
    'GOOGLE_CLOUD_PROJECT',
    'GCLOUD_PROJECT',
    'STORAGE_EMULATOR_HOST',
    'CLOUDSDK_CONFIG',
  ];
  // The key and the SDK client (whose auth client holds it) live in #private fields:
  // util.inspect, JSON and error serializers never reach them.
  readonly #credentials: GcsDatastoreOptions['credentials'];
  #bucket?: Bucket;
  private closed = false;
  private readonly options: Omit<GcsDatastoreOptions, 'credentials'>;
  private readonly prefix: string;

  constructor(options: GcsDatastoreOptions) {
    const { credentials, ...shareable } = options;
    this.#credentials = credentials;
    this.options = shareable;
    if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(options.bucket))
      throw new TributaryError('CONFIG', `Invalid GCS bucket name ${JSON.stringify(options.bucket)}.`);
    this.prefix = objectKeyPrefix(options.prefix);
    this.capabilities = {
      remote: true,
      rangeReads: true,
      conditionalPut: options.conditionalPut !== false,
      streaming: true,
      syncRead: false,
      maxListPage: 1000,
      readProgress: false,
      atomicOverwrite: true,
      prefixObjects: true,
    };
    this.locator = { module: import.meta.url, factory: 'createGcsDatastore', options: { ...shareable } };
  }

  private bucket(): Bucket {
    if (this.closed)
      throw new TributaryError('CLOSED', `GCS datastore gs://${this.options.bucket}/${this.prefix} is closed.`, {
        context: { adapter: 'gcs' },
      });
    this.#bucket ??= new Storage({
      ...(this.options.apiEndpoint ? { apiEndpoint: this.options.apiEndpoint } : {}),
      ...(this.options.projectId ? { projectId: this.options.projectId } : this.options.apiEndpoint ? { projectId: 'emulator' } : {}),
      ...(this.options.keyFilename ? { keyFilename: this.options.keyFilename } : {}),
      ...(this.#credentials ? { credentials: { ...this.#credentials } } : {}),
      // Content-addressed writes are idempotent, so every request may be retried.
      retryOptions: {
        autoRetry: true,
        maxRetries: this.options.maxRetries ?? 6,
        retryDelayMultiplier: 1.5,
        maxRetryDelay: 2,
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      },
    }).bucket(this.options.bucket);
    return this.#bucket;
  }

  private file(key: string, signal?: AbortSignal) {
    const b = this.bucket();
    if (signal?.aborted) throw new TributaryError('ABORTED', `Aborted before using ${key}.`, { context: { adapter: 'gcs', key } });
    return b.file(this.prefix + validateKey(key));
  }

  private map(err: unknown, key?: string): Error {
    if (TributaryError.is(err)) return err;
    const context = { adapter: 'gcs', ...(key ? { key } : {}) };
    const code = codeOf(err);
    const msg = (err as Error).message ?? '';
    const where = `gs://${this.options.bucket}/${this.prefix}`;
    if ((err as Error).name === 'AbortError' || code === 'ABORT_ERR')
      return new TributaryError('ABORTED', `Aborted: ${key ?? ''}`, { context });
    if (code === 404 && /bucket/i.test(msg) && !/object|No such object/i.test(msg))
      return new TributaryError('CONFIG', `Bucket ${this.options.bucket} does not exist (${where}). Create it, or fix the datastore URL.`, {
        context,
      });
    if (code === 404) return new TributaryError('NOT_FOUND', `No object at key ${key} in ${where}.`, { context });
    if (code === 401 || code === 403)
      return new TributaryError(
        'CONFIG',
        `GCS rejected the credentials or denied access to ${where} (${code}). Check GOOGLE_APPLICATION_CREDENTIALS.`,
        { context },
      );
    const retryable = typeof code !== 'number' || code >= 500 || code === 429;
    return new TributaryError('INFRASTRUCTURE', `GCS request failed for ${key ?? where} (${code ?? redactUrl(msg)}) after retrying.`, {
      context,
      retryable,
      // Only a copy of the SDK error: the original carries its request config and response.
      cause: safeCause(err),
    });
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const f = this.file(key, options.signal);
    try {
      if (options.ifAbsent && !this.capabilities.conditionalPut && (await this.head(key))) return { created: false };
      await this.abortable(f, key, options.signal, () =>
        f.save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
          resumable: body.byteLength > (this.options.resumableThreshold ?? 8 * 1024 * 1024),
          validation: false, // the core verifies every read by SHA-256
          ...(options.ifAbsent && this.capabilities.conditionalPut ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
        }),
      );
      return { created: true };
    } catch (err) {
      if (options.ifAbsent && codeOf(err) === 412) return { created: false };
      throw this.map(err, key);
    }
  }

  /**
   * Run `save` so that `signal` stops it. `File.save` takes no signal; it writes through
   * `createWriteStream` (once per try, with the SDK's retries around it), so each stream it opens
   * is destroyed on abort, which ends the upload request. An ABORTED error is not retryable for
   * the SDK, so no further try starts.
   */
  private async abortable<T>(f: File, key: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    if (!signal) return run();
    const aborted = () => new TributaryError('ABORTED', `Aborted while writing ${key}.`, { context: { adapter: 'gcs', key } });
    const open = new Set<Writable>();
    const create = f.createWriteStream.bind(f);
    f.createWriteStream = ((...args: Parameters<File['createWriteStream']>) => {
      const w = create(...args);
      open.add(w);
      w.once('close', () => open.delete(w));
      if (signal.aborted) queueMicrotask(() => w.destroy(aborted()));
      return w;
    }) as File['createWriteStream'];
    const onAbort = () => {
      for (const w of open) w.destroy(aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await run();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const f = this.file(key, options.signal);
    try {
      if (options.ifAbsent && (await this.head(key))) return { created: false };
      // No chunkSize: the whole stream goes in one resumable request.
      await pipeline(
        Readable.from(body),
        f.createWriteStream({ resumable: true, validation: false }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
      return { created: true };
    } catch (err) {
      throw this.map(err, key);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const f = this.file(key, options.signal);
    try {
      if (options.range) {
        if (options.range.length <= 0) {
          await f.getMetadata();
          return new Uint8Array(0);
        }
        const [bytes] = await f.download({
          start: options.range.offset,
          end: options.range.offset + options.range.length - 1,
          validation: false,
        });
        return bytes.byteLength > options.range.length ? bytes.subarray(0, options.range.length) : bytes;
      }
      // First part by range: a small object comes back whole (one request). A full part means
      // there may be more: read the size, then fetch the rest as parallel ranges.
      const part = this.options.partSize ?? 8 * 1024 * 1024;
      const [first] = await f.download({ start: 0, end: part - 1, validation: false });
      if (first.byteLength < part) return first;
      const [meta] = await f.getMetadata();
      const total = Number(meta.size ?? 0);
      if (total <= first.byteLength) return first.subarray(0, total);
      const out = Buffer.allocUnsafe(total);
      out.set(first, 0);
      const ranges: Array<[number, number]> = [];
      for (let o = first.byteLength; o < total; o += part) ranges.push([o, Math.min(part, total - o)]);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(this.options.concurrency ?? 4, ranges.length) }, async () => {
          while (next < ranges.length) {
            const [o, len] = ranges[next++]!;
            const [bytes] = await f.download({ start: o, end: o + len - 1, validation: false });
            out.set(bytes.subarray(0, len), o);
          }
        }),
      );
      return out;
    } catch (err) {
      if (codeOf(err) === 416) return new Uint8Array(0);
      throw this.map(err, key);
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const f = this.file(key, options.signal);
    const info = await this.head(key);
    if (!info) throw new TributaryError('NOT_FOUND', `No object at key ${key}.`, { context: { adapter: 'gcs', key } });
    const r = options.range;
    // The size is known: a range that reads nothing (empty, or past the end) asks for nothing.
    if (r && (r.length <= 0 || r.offset >= info.size)) return emptyStream();
    const stream = f.createReadStream({
      validation: false,
      ...(r ? { start: r.offset, end: Math.min(r.offset + r.length, info.size) - 1 } : {}),
    });
    return this.stream(stream, key, options.signal);
  }

  /** The body as the port's stream: aborted by `signal`, failures typed. */
  private stream(body: Readable, key: string, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
    return portStream(body, signal, (err) => this.map(err, key));
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    const f = this.file(key, options.signal);
    try {
      const [meta] = await f.getMetadata();
      return { size: Number(meta.size ?? 0) };
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw this.map(err, key);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const b = this.bucket();
    if (options.signal?.aborted) throw new TributaryError('ABORTED', 'Aborted before listing.', { context: { adapter: 'gcs' } });
    validatePrefix(prefix);
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 1000));
    try {
      const [files, next] = await b.getFiles({
        prefix: this.prefix + prefix,
        maxResults: limit,
        autoPaginate: false,
        ...(options.cursor ? { pageToken: options.cursor } : {}),
      });
      const keys = files.map((f) => f.name.slice(this.prefix.length));
      const token = (next as { pageToken?: string } | null)?.pageToken;
      return token ? { keys, cursor: token } : { keys };
    } catch (err) {
      throw this.map(err);
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const f = this.file(key, options.signal);
    try {
      await f.delete({ ignoreNotFound: true });
    } catch (err) {
      throw this.map(err, key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createGcsDatastore(options: GcsDatastoreOptions): GcsDatastore {
  return new GcsDatastore(options);
}
