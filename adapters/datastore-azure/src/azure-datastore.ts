import { Readable } from 'node:stream';
import { AnonymousCredential, BlobServiceClient, RestError, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
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
export interface AzureDatastoreOptions {
  container: string;
  /** Blob name prefix inside the container. */
  prefix?: string;
  /** Storage account name (with `accountKey` or the AZURE_STORAGE_KEY environment variable). */
  account?: string;
  /**
   * Blob endpoint; default `https://<account>.blob.core.windows.net`. A SAS in its query string
   * (`?sv=…&sig=…`) is taken out and kept as `sasToken`.
   */
  endpoint?: string;
  /**
   * Secrets (`connectionString`, `accountKey`, `sasToken`) are never part of the options that
   * travel to task workers, nor of anything `util.inspect` or JSON reaches: a worker reads
   * AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN from its
   * environment.
   */
  connectionString?: string;
  accountKey?: string;
  /** A shared access signature (`sv=…&sig=…`, with or without the leading `?`). */
  sasToken?: string;
  /** Block size of uploads and chunk of parallel downloads, bytes. Default 8 MiB. */
  blockSize?: number;
  /** Blocks uploaded / ranges downloaded at once. Default 4. */
  concurrency?: number;
  /** Tries per request (exponential backoff between them). Default 6. */
  maxTries?: number;
}

/** Parse `azure://account/container/prefix?endpoint=…`. @public */
export function azureOptionsFromUrl(url: URL): AzureDatastoreOptions {
  const [container, ...rest] = decodeURIComponent(url.pathname).replace(/^\/+/, '').split('/');
  const q = url.searchParams;
  const num = (v: string | null) => (v === null ? undefined : Number(v));
  return {
    account: url.hostname,
    container: container ?? '',
    prefix: rest.join('/').replace(/\/+$/, ''),
    ...(q.get('endpoint') ? { endpoint: q.get('endpoint')! } : {}),
    ...(num(q.get('blockSize')) ? { blockSize: num(q.get('blockSize'))! } : {}),
    ...(num(q.get('concurrency')) ? { concurrency: num(q.get('concurrency'))! } : {}),
  };
}

/**
 * A Datastore on Azure Blob Storage (block blobs). Put-if-absent is a real conditional write
 * (`If-None-Match: *`); large blobs are uploaded as parallel blocks and downloaded as parallel
 * ranges. Azure limits written here: a block is at most 4,000 MiB, at most 50,000 blocks per blob;
 * a list page holds at most 5,000 names.
 * @public
 */
export class AzureDatastore implements Datastore {
  readonly name = 'azure';
  readonly capabilities: DatastoreCapabilities = {
    remote: true,
    rangeReads: true,
    conditionalPut: true,
    streaming: true,
    syncRead: false,
    maxListPage: 5000,
    readProgress: false,
    atomicOverwrite: true,
    prefixObjects: true,
  };
  readonly locator: AdapterLocator;
  /** Its SDK's credential chain: copied to task processes on this host, never into a job spec. */
  readonly credentialEnv: readonly string[] = [
    'AZURE_STORAGE_CONNECTION_STRING',
    'AZURE_STORAGE_KEY',
    'AZURE_STORAGE_SAS_TOKEN',
    'AZURE_STORAGE_ACCOUNT',
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_FEDERATED_TOKEN_FILE',
    'AZURE_AUTHORITY_HOST',
  ];
  // Secrets and the SDK client (whose credential holds the key) live in #private fields:
  // util.inspect, JSON and error serializers never reach them.
  readonly #secrets: Pick<AzureDatastoreOptions, 'connectionString' | 'accountKey' | 'sasToken'>;
  #client?: ContainerClient;
  private closed = false;
  private readonly options: Omit<AzureDatastoreOptions, 'connectionString' | 'accountKey' | 'sasToken'>;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly concurrency: number;

  constructor(options: AzureDatastoreOptions) {
    const { connectionString, accountKey, sasToken, ...shareable } = options;
    let sas = sasToken?.replace(/^\?/, '');
    if (shareable.endpoint?.includes('?')) {
      const at = shareable.endpoint.indexOf('?');
      sas ??= shareable.endpoint.slice(at + 1);
      shareable.endpoint = shareable.endpoint.slice(0, at);
    }
    this.#secrets = {
      ...(connectionString ? { connectionString } : {}),
      ...(accountKey ? { accountKey } : {}),
      ...(sas ? { sasToken: sas } : {}),
    };
    this.options = shareable;
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(options.container)) {
      throw new TributaryError(
        'CONFIG',
        `Invalid Azure container name ${JSON.stringify(options.container)}: 3-63 lowercase letters, digits and single '-'.`,
      );
    }
    this.prefix = objectKeyPrefix(options.prefix);
    this.blockSize = options.blockSize ?? 8 * 1024 * 1024;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.locator = { module: import.meta.url, factory: 'createAzureDatastore', options: { ...shareable } };
  }

  private where(): string {
    return `azure container ${this.options.container}/${this.prefix}`;
  }

  private container(): ContainerClient {
    if (this.closed) throw new TributaryError('CLOSED', `${this.where()} is closed.`, { context: { adapter: 'azure' } });
    if (!this.#client) {
      const retryOptions = { maxTries: this.options.maxTries ?? 6, retryDelayInMs: 100, maxRetryDelayInMs: 4000 };
      const account = this.options.account;
      const endpoint = this.options.endpoint ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
      const withKey = (key: string) => new BlobServiceClient(endpoint!, new StorageSharedKeyCredential(account!, key), { retryOptions });
      const withSas = (sas: string) =>
        new BlobServiceClient(`${endpoint}?${sas.replace(/^\?/, '')}`, new AnonymousCredential(), { retryOptions });
      const { connectionString, accountKey, sasToken } = this.#secrets;
      const env = process.env;
      // Explicit options first (a connection string, a key, a SAS), then the environment in the same order.
      let service: BlobServiceClient;
      if (connectionString && !accountKey && !sasToken)
        service = BlobServiceClient.fromConnectionString(connectionString, { retryOptions });
      else if (accountKey && account && endpoint) service = withKey(accountKey);
      else if (sasToken && endpoint) service = withSas(sasToken);
      else if (env.AZURE_STORAGE_CONNECTION_STRING)
        service = BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING, { retryOptions });
      else if (env.AZURE_STORAGE_KEY && account && endpoint) service = withKey(env.AZURE_STORAGE_KEY);
      else if (env.AZURE_STORAGE_SAS_TOKEN && endpoint) service = withSas(env.AZURE_STORAGE_SAS_TOKEN);
      else
        throw new TributaryError(
          'CONFIG',
          'Azure datastore needs credentials: set AZURE_STORAGE_CONNECTION_STRING, an account with AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN.',
        );
      this.#client = service.getContainerClient(this.options.container);
    }
    return this.#client;
  }

  private blob(key: string, signal?: AbortSignal) {
    const c = this.container();
    if (signal?.aborted) throw new TributaryError('ABORTED', `Aborted before using ${key}.`, { context: { adapter: 'azure', key } });
    return c.getBlockBlobClient(this.prefix + validateKey(key));
  }

  private map(err: unknown, key?: string): Error {
    if (TributaryError.is(err)) return err;
    const context = { adapter: 'azure', ...(key ? { key } : {}) };
    const e = err as RestError & { name?: string };
    if (e.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
      return new TributaryError('ABORTED', `Aborted: ${key ?? ''}`, { context });
    const code = e.code ?? '';
    if (code === 'BlobNotFound' || (e.statusCode === 404 && code !== 'ContainerNotFound'))
      return new TributaryError('NOT_FOUND', `No object at key ${key} in ${this.where()}.`, { context });
    if (code === 'ContainerNotFound')
      return new TributaryError('CONFIG', `Container ${this.options.container} does not exist. Create it, or fix the datastore URL.`, {
        context,
      });
    if (e.statusCode === 403 || code === 'AuthenticationFailed' || code === 'AuthorizationFailure') {
      return new TributaryError(
        'CONFIG',
        `Azure rejected the credentials or denied access to ${this.where()} (${code || e.statusCode}). Check AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_KEY.`,
        { context },
      );
    }
    const retryable = e.statusCode === undefined || e.statusCode >= 500 || e.statusCode === 429;
    return new TributaryError(
      'INFRASTRUCTURE',
      `Azure request failed for ${key ?? this.where()} (${code || redactUrl(e.message ?? '')}) after retrying.`,
      // Only a copy of the SDK error: the original carries the request (its URL may hold a SAS).
      { context, retryable, cause: safeCause(err) },
    );
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const b = this.blob(key, options.signal);
    try {
      await b.uploadData(body, {
        blockSize: this.blockSize,
        concurrency: this.concurrency,
        ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      return { created: true };
    } catch (err) {
      const e = err as RestError;
      if (options.ifAbsent && (e.statusCode === 409 || e.statusCode === 412)) return { created: false };
      throw this.map(err, key);
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const b = this.blob(key, options.signal);
    try {
      await b.uploadStream(Readable.from(body), this.blockSize, this.concurrency, {
        ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      return { created: true };
    } catch (err) {
      const e = err as RestError;
      if (options.ifAbsent && (e.statusCode === 409 || e.statusCode === 412)) return { created: false };
      throw this.map(err, key);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const b = this.blob(key, options.signal);
    try {
      if (options.range) {
        if (options.range.length <= 0) {
          await b.getProperties();
          return new Uint8Array(0);
        }
        const size = (await b.getProperties()).contentLength ?? 0;
        const len = Math.max(0, Math.min(options.range.length, size - options.range.offset));
        if (len === 0) return new Uint8Array(0);
        return await b.downloadToBuffer(options.range.offset, len, {
          concurrency: this.concurrency,
          blockSize: this.blockSize,
          ...(options.signal ? { abortSignal: options.signal } : {}),
        });
      }
      // downloadToBuffer reads the size, then parallel ranged downloads into one buffer.
      return await b.downloadToBuffer(0, undefined, {
        concurrency: this.concurrency,
        blockSize: this.blockSize,
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
    } catch (err) {
      throw this.map(err, key);
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const b = this.blob(key, options.signal);
    const signal = options.signal;
    const range = options.range;
    try {
      if (range && range.length <= 0) {
        await b.getProperties(signal ? { abortSignal: signal } : {});
        return emptyStream();
      }
      let r;
      try {
        r = range
          ? await b.download(range.offset, range.length, signal ? { abortSignal: signal } : {})
          : await b.download(0, undefined, signal ? { abortSignal: signal } : {});
      } catch (err) {
        // 416: the range starts at or past the end (any range of an empty blob).
        if (range && (err as RestError).statusCode === 416) return emptyStream();
        throw err;
      }
      const body = r.readableStreamBody as Readable | undefined;
      if (!body) return emptyStream();
      return this.stream(body, key, signal);
    } catch (err) {
      throw this.map(err, key);
    }
  }

  /** The body as the port's stream: aborted by `signal`, failures typed. */
  private stream(body: Readable, key: string, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
    return portStream(body, signal, (err) => this.map(err, key));
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    const b = this.blob(key, options.signal);
    try {
      return { size: (await b.getProperties()).contentLength ?? 0 };
    } catch (err) {
      const e = err as RestError;
      if (e.statusCode === 404 && e.code !== 'ContainerNotFound') return undefined;
      throw this.map(err, key);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const c = this.container();
    if (options.signal?.aborted) throw new TributaryError('ABORTED', 'Aborted before listing.', { context: { adapter: 'azure' } });
    validatePrefix(prefix);
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 5000));
    try {
      const page = await c
        .listBlobsFlat({ prefix: this.prefix + prefix })
        .byPage({ maxPageSize: limit, ...(options.cursor ? { continuationToken: options.cursor } : {}) })
        .next();
      if (page.done) return { keys: [] };
      const keys = page.value.segment.blobItems.map((b) => b.name.slice(this.prefix.length));
      return page.value.continuationToken ? { keys, cursor: page.value.continuationToken } : { keys };
    } catch (err) {
      throw this.map(err);
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const b = this.blob(key, options.signal);
    try {
      await b.deleteIfExists(options.signal ? { abortSignal: options.signal } : {});
    } catch (err) {
      throw this.map(err, key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** @public */
export function createAzureDatastore(options: AzureDatastoreOptions): AzureDatastore {
  return new AzureDatastore(options);
}
