import { addAbortSignal, Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  emptyStream,
  objectKeyPrefix,
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
  /** Its SDK's credential chain: copied to task processes on this host, never into a job spec. */
  readonly credentialEnv: readonly string[] = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE',
    'AWS_ROLE_ARN',
    'AWS_ROLE_SESSION_NAME',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_S3',
    'AWS_CA_BUNDLE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN',
    'AWS_EC2_METADATA_DISABLED',
  ];
  // Secrets and the SDK client (which holds them) live in #private fields: util.inspect, JSON and
  // error serializers never reach them.
  readonly #credentials: S3DatastoreOptions['credentials'];
  #client?: S3Client;
  private closed = false;
  private readonly options: Omit<S3DatastoreOptions, 'credentials'>;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(options: S3DatastoreOptions) {
    const { credentials, ...shareable } = options;
    this.#credentials = credentials;
    this.options = shareable;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new TributaryError(
        'CONFIG',
        `Invalid S3 bucket name ${JSON.stringify(options.bucket)}: 3-63 lowercase letters, digits, '.' and '-'.`,
      );
    }
    this.prefix = objectKeyPrefix(options.prefix);
    this.partSize = Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.capabilities = {
      remote: true,
      rangeReads: true,
      conditionalPut: options.conditionalPut !== false,
      streaming: true,
      syncRead: false,
      maxListPage: 1000,
      readProgress: false,
      atomicOverwrite: options.atomicOverwrite !== false,
      prefixObjects: options.prefixObjects !== false,
    };
    this.locator = { module: import.meta.url, factory: 'createS3Datastore', options: { ...shareable } };
  }

  /** `s3://bucket/prefix at endpoint`, for messages (an endpoint's credentials redacted). */
  private where(): string {
    return `s3://${this.options.bucket}/${this.prefix}${this.options.endpoint ? ` at ${redactUrl(this.options.endpoint)}` : ''}`;
  }

  /** The SDK client, created on first use. */
  private s3(): S3Client {
    if (this.closed) throw new TributaryError('CLOSED', `S3 datastore ${this.where()} is closed.`, { context: { adapter: 's3' } });
    if (!this.#client) {
      // The SDK warns about the Node version once per process (NodeVersionSupportWarning). Every
      // task worker opens this datastore, so a run with 8 workers printed it 9 times; the
      // orchestrator's copy is enough. AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED is the
      // switch the SDK reads (@aws-sdk/core emitWarningIfUnsupportedVersion).
      if (process.env.TRIBUTARY_WORKER === '1') process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      this.#client = new S3Client({
        ...(this.options.region ? { region: this.options.region } : { region: process.env.AWS_REGION ?? 'us-east-1' }),
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.forcePathStyle ? { forcePathStyle: true } : {}),
        ...(this.#credentials ? { credentials: { ...this.#credentials } } : {}),
        maxAttempts: this.options.maxAttempts ?? 6,
        // Checksums only when required: some S3-compatible servers store aws-chunked framing as data.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    }
    return this.#client;
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
    const where = this.where();
    if (name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
      return new TributaryError('ABORTED', `Aborted: ${key ?? ''}`, { context });
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
      `S3 request failed for ${key ?? where} (${name}${code ? ` ${code}` : ''}: ${redactUrl((err as Error).message ?? '')}) after retrying.`,
      // Only a copy of the SDK error: the original carries the request and response ($metadata,
      // $response, headers with signatures or session tokens).
      { context, retryable, cause: safeCause(err) },
    );
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const k = this.key(key, options.signal);
    try {
      const headOpts = options.signal ? { signal: options.signal } : {};
      if (options.ifAbsent && !this.capabilities.conditionalPut && (await this.head(key, headOpts))) return { created: false };
      if (body.byteLength > this.partSize) {
        if (options.ifAbsent && this.capabilities.conditionalPut && (await this.head(key, headOpts))) return { created: false };
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
      if (options.ifAbsent && (await this.head(key, options.signal ? { signal: options.signal } : {}))) return { created: false };
      await this.upload(k, Readable.from(body), options.signal);
      return { created: true };
    } catch (err) {
      throw this.map(err, key);
    }
  }

  /**
   * One ranged GET of `[offset, offset + length)`, for a positive `length`. Explicit `bytes=a-b` ranges
   * only (suffix ranges are wrong on some S3-compatible servers). `total` is the object's size as
   * the answer states it.
   */
  private async getPart(
    k: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
    etag?: string,
  ): Promise<{ bytes: Uint8Array; total?: number; etag?: string }> {
    let r: GetObjectCommandOutput;
    try {
      r = await this.s3().send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: k,
          Range: `bytes=${offset}-${offset + length - 1}`,
          // Later parts of one read must come from the same object version (real S3 honours it).
          ...(etag ? { IfMatch: etag } : {}),
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      // 416: the range starts at or past the end. Real S3 answers so for any range of an empty object.
      if (status(err) === 416) return { bytes: new Uint8Array(0), ...(offset === 0 ? { total: 0 } : {}) };
      throw err;
    }
    const { start, total } = parseContentRange(r);
    if (total !== undefined && offset >= total) {
      // Nothing to read. s3rver answers a range of an empty object with `bytes 0-0/0` and a
      // Content-Length of 1, then resets the connection: never wait for that body.
      destroyBody(r);
      return { bytes: new Uint8Array(0), total };
    }
    const body = await r.Body!.transformToByteArray();
    // A server that ignored the range (s3rver does for `bytes=a-0`) sent the object from `start`.
    const from = offset - start;
    const bytes = from === 0 && body.byteLength <= length ? body : body.subarray(from, from + length);
    return { bytes, ...(total !== undefined ? { total } : {}), ...(r.ETag ? { etag: r.ETag } : {}) };
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const k = this.key(key, options.signal);
    const signal = options.signal;
    try {
      if (options.range) {
        const { offset, length } = options.range;
        if (length <= 0) {
          // No bytes to read, but a missing key is still NOT_FOUND.
          if (!(await this.head(key, signal ? { signal } : {}))) throw this.notFound(key);
          return new Uint8Array(0);
        }
        return asBuffer((await this.getPart(k, offset, length, signal)).bytes);
      }
      // The first part as a ranged GET: a small object comes whole in one request, and its answer
      // states the size; the rest of a large one follows as parallel ranges of the same version.
      for (let attempt = 1; ; attempt++) {
        const first = await this.getPart(k, 0, this.partSize, signal);
        const total = first.total ?? first.bytes.byteLength;
        if (total <= first.bytes.byteLength) return asBuffer(first.bytes.subarray(0, total));
        try {
          return await this.getRest(k, first.bytes, total, signal, first.etag);
        } catch (err) {
          // 412: the object was replaced between the parts (If-Match): read it again, once.
          if (status(err) === 412 && attempt < 2) continue;
          throw err;
        }
      }
    } catch (err) {
      throw this.map(err, key);
    }
  }

  private async getRest(k: string, head: Uint8Array, total: number, signal?: AbortSignal, etag?: string): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(total);
    out.set(head, 0);
    const ranges: Array<[number, number]> = [];
    for (let o = head.byteLength; o < total; o += this.partSize) ranges.push([o, Math.min(this.partSize, total - o)]);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.concurrency, ranges.length) }, async () => {
        while (next < ranges.length) {
          const [o, len] = ranges[next++]!;
          const part = await this.getPart(k, o, len, signal, etag);
          if (part.bytes.byteLength !== len || (part.total !== undefined && part.total !== total)) {
            throw new TributaryError('INFRASTRUCTURE', `Object ${k} changed size while it was read (${total} bytes, then ${part.total}).`, {
              context: { adapter: 's3', key: k },
              retryable: true,
            });
          }
          out.set(part.bytes, o);
        }
      }),
    );
    return out;
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const k = this.key(key, options.signal);
    const signal = options.signal;
    const range = options.range;
    try {
      if (range && range.length <= 0) {
        if (!(await this.head(key, signal ? { signal } : {}))) throw this.notFound(key);
        return emptyStream();
      }
      let r: GetObjectCommandOutput;
      try {
        r = await this.s3().send(
          new GetObjectCommand({
            Bucket: this.options.bucket,
            Key: k,
            ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        if (range && status(err) === 416) return emptyStream();
        throw err;
      }
      const body = r.Body as unknown as Readable;
      if (!range) return this.stream(body, key, signal, 0, Infinity);
      const { start, total } = parseContentRange(r);
      if (total !== undefined && range.offset >= total) {
        destroyBody(r);
        return emptyStream();
      }
      return this.stream(body, key, signal, range.offset - start, range.length);
    } catch (err) {
      throw this.map(err, key);
    }
  }

  /**
   * The body as the port's stream: aborted by `signal`, failures typed, and trimmed to the range
   * asked for (`skip` bytes dropped first) when a server sent more.
   */
  private async *stream(
    body: Readable,
    key: string,
    signal: AbortSignal | undefined,
    skip: number,
    limit: number,
  ): AsyncIterable<Uint8Array> {
    if (signal) addAbortSignal(signal, body);
    try {
      for await (const chunk of body) {
        let c = chunk as Uint8Array;
        if (skip > 0) {
          if (c.byteLength <= skip) {
            skip -= c.byteLength;
            continue;
          }
          c = c.subarray(skip);
          skip = 0;
        }
        if (c.byteLength > limit) c = c.subarray(0, limit);
        limit -= c.byteLength;
        if (c.byteLength > 0) yield c;
        if (limit <= 0) return;
      }
    } catch (err) {
      throw this.map(err, key);
    }
  }

  private notFound(key: string): TributaryError {
    return new TributaryError('NOT_FOUND', `No object at key ${key} in ${this.where()}.`, { context: { adapter: 's3', key } });
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
    this.#client?.destroy();
  }
}

function parseContentRange(r: GetObjectCommandOutput): { start: number; total?: number } {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(r.ContentRange ?? '');
  if (m) return { start: Number(m[1]), ...(m[2] !== '*' ? { total: Number(m[2]) } : {}) };
  // No Content-Range: the server sent the whole object (200).
  return { start: 0, ...(r.ContentLength !== undefined ? { total: Number(r.ContentLength) } : {}) };
}

function destroyBody(r: GetObjectCommandOutput): void {
  (r.Body as unknown as { destroy?: () => void } | undefined)?.destroy?.();
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** @public */
export function createS3Datastore(options: S3DatastoreOptions): S3Datastore {
  return new S3Datastore(options);
}
