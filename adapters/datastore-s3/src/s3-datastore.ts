import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
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
export interface S3DatastoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing slash needed). */
  prefix?: string;
  region?: string;
  /** For S3-compatible servers and emulators, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /**
   * Explicit credentials for this process. Task workers (other processes) use the SDK's default
   * chain (AWS_ACCESS_KEY_ID..., profiles, instance roles): credentials are never passed around.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * The server honours `If-None-Match: *` on PUT (real S3 does since 2024). When false, a
   * put-if-absent costs a HEAD first and two writers can race (harmless for content-addressed
   * blobs: both write the same bytes). Default true.
   */
  conditionalPut?: boolean;
  /** The server writes objects atomically under concurrent puts (real S3: yes; s3rver: no). Default true. */
  atomicOverwrite?: boolean;
  /** The server lists a key that is also a prefix (`a`, `a/b`) completely and in order (real S3: yes; s3rver: no). Default true. */
  prefixObjects?: boolean;
  /** Multipart part size and ranged-download chunk, bytes. Default 8 MiB (S3 minimum part: 5 MiB). */
  partSize?: number;
  /** Parts uploaded / ranges downloaded at once. Default 4. */
  concurrency?: number;
  /** Attempts per request (the SDK's exponential backoff with jitter between them). Default 6. */
  maxAttempts?: number;
}

/** Parse `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true&conditionalPut=false`. @public */
export function s3OptionsFromUrl(url: URL): S3DatastoreOptions {
  const q = url.searchParams;
  const bool = (v: string | null) => (v === null ? undefined : v === 'true' || v === '1');
  const num = (v: string | null) => (v === null ? undefined : Number(v));
  const opts: S3DatastoreOptions = { bucket: url.hostname, prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '') };
  const set = <K extends keyof S3DatastoreOptions>(k: K, v: S3DatastoreOptions[K] | undefined) => {
    if (v !== undefined) opts[k] = v;
  };
  set('endpoint', q.get('endpoint') ?? undefined);
  set('region', q.get('region') ?? undefined);
  set('forcePathStyle', bool(q.get('forcePathStyle')));
  set('conditionalPut', bool(q.get('conditionalPut')));
  set('atomicOverwrite', bool(q.get('atomicOverwrite')));
  set('prefixObjects', bool(q.get('prefixObjects')));
  set('partSize', num(q.get('partSize')));
  set('concurrency', num(q.get('concurrency')));
  set('maxAttempts', num(q.get('maxAttempts')));
  return opts;
}

const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * A Datastore on S3. Small objects take one request; large ones are multipart uploads and
 * parallel ranged downloads. Content addressing, dedupe and integrity stay in the core.
 * S3 limits written here: a part is 5 MiB to 5 GiB, at most 10,000 parts; ListObjectsV2 returns
 * at most 1,000 keys per page.
 * @public
 */
export class S3Datastore implements Datastore {
  readonly name = 's3';
  readonly capabilities: DatastoreCapabilities;
  readonly locator: AdapterLocator;
  private client?: S3Client;
  private closed = false;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(private readonly options: S3DatastoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new TributaryError(
        'CONFIG',
        `Invalid S3 bucket name ${JSON.stringify(options.bucket)}: 3-63 lowercase letters, digits, '.' and '-'.`,
      );
    }
    const p = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (p) validateKey(p);
    this.prefix = p ? `${p}/` : '';
    this.partSize = Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.capabilities = {
      rangeReads: true,
      conditionalPut: options.conditionalPut !== false,
      streaming: true,
      syncRead: false,
      maxListPage: 1000,
      readProgress: false,
      atomicOverwrite: options.atomicOverwrite !== false,
      prefixObjects: options.prefixObjects !== false,
    };
    const { credentials: _secret, ...shareable } = options;
    this.locator = { module: import.meta.url, factory: 'createS3Datastore', options: shareable };
  }

  /** The SDK client, created on first use. */
  private s3(): S3Client {
    if (this.closed)
      throw new TributaryError('CLOSED', `S3 datastore s3://${this.options.bucket}/${this.prefix} is closed.`, {
        context: { adapter: 's3' },
      });
    this.client ??= new S3Client({
      ...(this.options.region ? { region: this.options.region } : { region: process.env.AWS_REGION ?? 'us-east-1' }),
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      ...(this.options.forcePathStyle ? { forcePathStyle: true } : {}),
      ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      maxAttempts: this.options.maxAttempts ?? 6,
      // Checksums only when required: some S3-compatible servers store aws-chunked framing as data.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return this.client;
  }

  private key(key: string, signal?: AbortSignal): string {
    this.s3();
    if (signal?.aborted) throw new TributaryError('ABORTED', `Aborted before using ${key}.`, { context: { adapter: 's3', key } });
    return this.prefix + validateKey(key);
  }

  private map(err: unknown, key?: string): Error {
    if (TributaryError.is(err)) return err;
    const context = { adapter: 's3', ...(key ? { key } : {}) };
    const name = (err as { name?: string }).name ?? '';
    const code = status(err);
    const where = `s3://${this.options.bucket}/${this.prefix}${this.options.endpoint ? ` at ${this.options.endpoint}` : ''}`;
    if (name === 'AbortError') return new TributaryError('ABORTED', `Aborted: ${key ?? ''}`, { context });
    if (name === 'NoSuchKey' || name === 'NotFound' || (code === 404 && name !== 'NoSuchBucket'))
      return new TributaryError('NOT_FOUND', `No object at key ${key} in ${where}.`, { context });
    if (name === 'NoSuchBucket')
      return new TributaryError('CONFIG', `Bucket ${this.options.bucket} does not exist (${where}). Create it, or fix the datastore URL.`, {
        context,
      });
    if (
      name === 'InvalidAccessKeyId' ||
      name === 'SignatureDoesNotMatch' ||
      name === 'ExpiredToken' ||
      name === 'CredentialsProviderError'
    ) {
      return new TributaryError(
        'CONFIG',
        `S3 rejected the credentials for ${where} (${name}). Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or your profile.`,
        { context },
      );
    }
    if (name === 'AccessDenied' || code === 403)
      return new TributaryError('CONFIG', `Access denied to ${where}. The credentials lack permission for this bucket or prefix.`, {
        context,
      });
    const retryable = code === undefined || code >= 500 || code === 429;
    return new TributaryError(
      'INFRASTRUCTURE',
      `S3 request failed for ${key ?? where} (${name}${code ? ` ${code}` : ''}) after retrying.`,
      { context, retryable, cause: err instanceof S3ServiceException ? undefined : err },
    );
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const k = this.key(key, options.signal);
    try {
      if (options.ifAbsent && !this.capabilities.conditionalPut && (await this.head(key))) return { created: false };
      if (body.byteLength > this.partSize) {
        if (options.ifAbsent && this.capabilities.conditionalPut && (await this.head(key))) return { created: false };
        await this.upload(k, body, options.signal);
        return { created: true };
      }
      await this.s3().send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: k,
          Body: body,
          ContentLength: body.byteLength,
          ...(options.ifAbsent && this.capabilities.conditionalPut ? { IfNoneMatch: '*' } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      return { created: true };
    } catch (err) {
      // 412: the object exists (If-None-Match). 409: a concurrent conditional write is in flight.
      if (options.ifAbsent && (status(err) === 412 || status(err) === 409)) return { created: false };
      throw this.map(err, key);
    }
  }

  private async upload(k: string, body: Uint8Array | Readable, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.s3(),
      params: { Bucket: this.options.bucket, Key: k, Body: body },
      partSize: this.partSize,
      queueSize: this.concurrency,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const k = this.key(key, options.signal);
    try {
      if (options.ifAbsent && (await this.head(key))) return { created: false };
      await this.upload(k, Readable.from(body), options.signal);
      return { created: true };
    } catch (err) {
      throw this.map(err, key);
    }
  }

  private async getRange(k: string, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    const r = await this.s3().send(
      new GetObjectCommand({ Bucket: this.options.bucket, Key: k, Range: `bytes=${offset}-${offset + length - 1}` }),
      signal ? { abortSignal: signal } : {},
    );
    const bytes = await r.Body!.transformToByteArray();
    // A server that ignored the range (s3rver does for bytes=0-0) sent the whole object.
    return bytes.byteLength > length ? bytes.subarray(offset, offset + length) : bytes;
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const k = this.key(key, options.signal);
    try {
      if (options.range) {
        const size = (await this.head(key))?.size;
        if (size === undefined) throw new TributaryError('NOT_FOUND', `No object at key ${key}.`, { context: { adapter: 's3', key } });
        // Explicit `bytes=a-b` ranges only (suffix ranges are wrong on some S3-compatible servers).
        const end = Math.min(size, options.range.offset + options.range.length);
        return Buffer.from(await this.getRange(k, options.range.offset, end - options.range.offset, options.signal));
      }
      // One request for small objects; a large one is fetched again as parallel ranges.
      const first = await this.s3().send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: k }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const total = Number(first.ContentLength ?? 0);
      if (total <= 2 * this.partSize) {
        const bytes = await first.Body!.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      (first.Body as unknown as { destroy?: () => void }).destroy?.();
      const head = new Uint8Array(0);
      const out = Buffer.allocUnsafe(total);
      out.set(head, 0);
      const ranges: Array<[number, number]> = [];
      for (let o = head.byteLength; o < total; o += this.partSize) ranges.push([o, Math.min(this.partSize, total - o)]);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(this.concurrency, ranges.length) }, async () => {
          while (next < ranges.length) {
            const [o, len] = ranges[next++]!;
            out.set(await this.getRange(k, o, len, options.signal), o);
          }
        }),
      );
      return out;
    } catch (err) {
      if (status(err) === 416) return new Uint8Array(0); // empty object, range asked
      throw this.map(err, key);
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const k = this.key(key, options.signal);
    try {
      const r = options.range
        ? await this.s3().send(
            new GetObjectCommand({
              Bucket: this.options.bucket,
              Key: k,
              Range: `bytes=${options.range.offset}-${options.range.offset + Math.max(options.range.length, 1) - 1}`,
            }),
          )
        : await this.s3().send(
            new GetObjectCommand({ Bucket: this.options.bucket, Key: k }),
            options.signal ? { abortSignal: options.signal } : {},
          );
      return r.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw this.map(err, key);
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    const k = this.key(key, options.signal);
    try {
      const r = await this.s3().send(
        new HeadObjectCommand({ Bucket: this.options.bucket, Key: k }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      return { size: Number(r.ContentLength ?? 0) };
    } catch (err) {
      if (status(err) === 404 && (err as { name?: string }).name !== 'NoSuchBucket') return undefined;
      throw this.map(err, key);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.s3();
    if (options.signal?.aborted) throw new TributaryError('ABORTED', 'Aborted before listing.', { context: { adapter: 's3' } });
    validatePrefix(prefix);
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 1000));
    try {
      // The cursor is S3's continuation token (opaque, as the port allows).
      const r = await this.s3().send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: this.prefix + prefix,
          MaxKeys: limit,
          ...(options.cursor ? { ContinuationToken: options.cursor } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const keys = (r.Contents ?? []).map((o) => o.Key!.slice(this.prefix.length));
      return r.IsTruncated && r.NextContinuationToken ? { keys, cursor: r.NextContinuationToken } : { keys };
    } catch (err) {
      throw this.map(err);
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const k = this.key(key, options.signal);
    try {
      await this.s3().send(
        new DeleteObjectCommand({ Bucket: this.options.bucket, Key: k }),
        options.signal ? { abortSignal: options.signal } : {},
      );
    } catch (err) {
      if (status(err) === 404) return;
      throw this.map(err, key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.destroy();
  }
}

/** @public */
export function createS3Datastore(options: S3DatastoreOptions): S3Datastore {
  return new S3Datastore(options);
}
