import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import {
  redactUrl,
  TributaryError,
  type ArtifactRecord,
  type AttemptOutcome,
  type AttemptRecord,
  type FlowQuery,
  type MetadataCapabilities,
  type MetadataStore,
  type NewRun,
  type NewTask,
  type Page,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type TaskQuery,
  type TaskRecord,
  type TaskRef,
  type TaskSet,
  type WriteOptions,
} from '@tributary/core';
import { IDEMPOTENCY_HEADER, METADATA_METHODS, methodPath, PROTOCOL_VERSION, type MetadataMethod } from './protocol/methods.ts';
import { fromWireError } from './protocol/wire-errors.ts';
import { InstanceRotation } from './instance-rotation.ts';
import { backoffMs, isTlsTrustError, isTransient, type RetryPolicy } from './retry-policy.ts';

/** @public */
export interface HttpMetadataStoreOptions {
  /**
   * Base URL of the service (`https://metadata.example.com`), or of several instances: calls go to
   * them in turn, and a call that fails on one is retried on the next.
   */
  url: string | string[];
  /** Bearer token the service accepts. Default `$TRIBUTARY_METADATA_TOKEN`. */
  token?: string;
  /** Longest wait for one request's answer, ms (then it is retried). Default 30 000. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** PEM certificate(s) to trust for `https://` besides the system's (a private CA). */
  ca?: string | Buffer;
  /** Connections kept open per instance. Default 16. */
  connections?: number;
}

// Past the limits of Date: what an infinite time bound means, carried as a JSON number.
const FAR = 8.64e15;

/**
 * MetadataStore over HTTP, for clients of the metadata service (`tributary service`): laptops,
 * CI jobs, containers and the UI record and query runs without database credentials.
 *
 * Every call is one request. Transient failures (a broken connection, a timeout, a 503 while the
 * database is unreachable) are retried with backoff; each write carries an idempotency key, so a
 * retry whose first try was applied returns the first result instead of writing twice. What still
 * fails comes back as the typed error the service answered with (`NOT_FOUND`, `CONFLICT`...), or
 * as a retryable `INFRASTRUCTURE` error when the service stays unreachable.
 * @public
 */
export class HttpMetadataStore implements MetadataStore {
  readonly name = 'http';
  readonly capabilities: MetadataCapabilities = { multiWriter: true, batchRegistration: true, idempotencyKeys: true };
  /** The instances, redacted, for messages. */
  readonly where: string;
  readonly #pools: Pool[];
  readonly #paths: string[];
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #rotation: InstanceRotation;
  #closed = false;

  constructor(options: HttpMetadataStoreOptions) {
    const urls = (Array.isArray(options.url) ? options.url : [options.url]).map((u) => parseBase(u));
    if (urls.length === 0) throw new TributaryError('CONFIG', 'HttpMetadataStore needs the URL of at least one metadata service.');
    this.where = urls.map((u) => redactUrl(u.origin + basePath(u))).join(', ');
    // Behind a reverse proxy the service may live under a path (https://host/metadata/).
    this.#paths = urls.map((u) => basePath(u));
    const token = (options.token ?? process.env.TRIBUTARY_METADATA_TOKEN)?.trim();
    if (token && !/^[\x21-\x7e]+$/.test(token))
      throw new TributaryError(
        'CONFIG',
        'The metadata service token (TRIBUTARY_METADATA_TOKEN or the token option) holds spaces or characters outside visible ASCII; check how it was set.',
      );
    this.#authorization = token ? `Bearer ${token}` : undefined;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = options.retry ?? {};
    this.#rotation = new InstanceRotation(urls.length);
    this.#pools = urls.map(
      (u) =>
        new Pool(u.origin, {
          connections: options.connections ?? 16,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          ...(options.ca ? { connect: { ca: options.ca } } : {}),
        }),
    );
  }

  /** One call, retried on transient failures (on the next instance, when there are several). */
  private async call<T>(
    method: MetadataMethod,
    args: unknown[],
    options: { idempotencyKey?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.#closed) throw new TributaryError('CLOSED', 'This HttpMetadataStore is closed.');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#authorization) headers.authorization = this.#authorization;
    if (METADATA_METHODS[method].write && 'options' in METADATA_METHODS[method]) {
      const key = options.idempotencyKey ?? randomUUID();
      if (!IDEMPOTENCY_KEY.test(key))
        throw new TributaryError('PARAM_INVALID', `${method}: an idempotency key is 1 to 200 visible ASCII characters (a UUID, say).`);
      headers[IDEMPOTENCY_HEADER] = key;
    }
    const body = JSON.stringify({ args: trimUndefined(args) });
    const tries = Math.max(1, this.#retry.attempts ?? 8);
    let last: unknown;
    const first = this.#rotation.first();
    let waits = 0;
    for (let i = 0; i < tries; i++) {
      if (this.#rotation.backsOff(i)) await sleep(backoffMs(this.#retry, ++waits), options.signal);
      const at = this.#rotation.at(first, i);
      try {
        const result = await this.once<T>(at, method, headers, body, options.signal);
        this.#rotation.succeeded(at);
        return result;
      } catch (err) {
        if (options.signal?.aborted) throw new TributaryError('ABORTED', `${method} was aborted.`, { cause: err });
        if (this.#closed) throw new TributaryError('CLOSED', `This HttpMetadataStore was closed during ${method}.`, { cause: err });
        if (isTlsTrustError(err))
          throw new TributaryError(
            'CONFIG',
            `The metadata service at ${this.where} has a TLS certificate this client does not trust (${(err as { code: string }).code}). Point TRIBUTARY_METADATA_CA at the PEM file of its CA (or pass the ca option).`,
            { cause: err },
          );
        if (!isTransient(err)) throw err;
        this.#rotation.failed(at);
        last = err;
      }
    }
    if (TributaryError.is(last)) throw last;
    const code = (last as { code?: string } | undefined)?.code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
      throw new TributaryError(
        'TIMEOUT',
        `The metadata service at ${this.where} did not answer ${method} within ${this.#timeoutMs} ms, ${tries} times. Is it overloaded, or its database slow? (timeoutMs sets the wait.)`,
        { retryable: true, context: { adapter: 'http' } },
      );
    const detail = (last as { code?: string; message?: string } | undefined)?.code ?? (last as Error | undefined)?.message ?? 'no answer';
    throw new TributaryError(
      'INFRASTRUCTURE',
      `Cannot reach the metadata service at ${this.where} (${detail}) after ${tries} tries. Is it running, and is the URL right?`,
      { retryable: true, context: { adapter: 'http' } },
    );
  }

  private notTheService(method: MetadataMethod): TributaryError {
    return new TributaryError(
      'CONFIG',
      `${this.where} answered ${method} with something other than a Tributary metadata service answer. Is the URL right (a proxy's login page, another service)?`,
      { context: { adapter: 'http' } },
    );
  }

  private async once<T>(
    at: number,
    method: MetadataMethod,
    headers: Record<string, string>,
    body: string,
    signal?: AbortSignal,
  ): Promise<T> {
    const res = await this.#pools[at]!.request({
      path: this.#paths[at]! + methodPath(method),
      method: 'POST',
      headers,
      body,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      ...(signal ? { signal } : {}),
    });
    const protocol = res.headers['tributary-protocol'];
    if (protocol === undefined && res.statusCode === 200) {
      await res.body.dump().catch(() => undefined);
      throw this.notTheService(method);
    }
    // A body that breaks off or stalls is a failed try (retried, with the same key), never an answer.
    const parsed: unknown = await res.body.json().catch((err: unknown) => {
      if (res.statusCode === 200) throw err;
      return undefined;
    });
    if (protocol !== undefined && Number(protocol) !== PROTOCOL_VERSION)
      throw new TributaryError(
        'CONFIG',
        `The metadata service at ${this.where} speaks protocol ${String(protocol)}; this client speaks ${PROTOCOL_VERSION}. Upgrade the older side.`,
      );
    if (res.statusCode !== 200) throw fromWireError(res.statusCode, parsed, this.where);
    if (typeof parsed !== 'object' || parsed === null || !('result' in parsed)) throw this.notTheService(method);
    const result = (parsed as { result: unknown }).result;
    return (result === null ? undefined : result) as T;
  }

  createRun(run: NewRun, options: WriteOptions & { signal?: AbortSignal } = {}): Promise<RunRecord> {
    return this.call('createRun', [run], options);
  }
  getRun(flow: string, runId: string): Promise<RunRecord> {
    return this.call('getRun', [flow, runId]);
  }
  listRuns(query: RunQuery): Promise<Page<RunRecord>> {
    for (const b of ['since', 'until'] as const)
      if (query[b] !== undefined && Number.isNaN(query[b]))
        return Promise.reject(new TributaryError('PARAM_INVALID', `listRuns: ${b} must be a number of epoch milliseconds, not NaN.`));
    const bound = (v: number | undefined) => (v === undefined ? undefined : Math.max(-FAR, Math.min(FAR, v)));
    return this.call('listRuns', [{ ...query, since: bound(query.since), until: bound(query.until) }]);
  }
  latestRun(flow: string, options?: { status?: RunStatus }): Promise<RunRecord | undefined> {
    return this.call('latestRun', [flow, options]);
  }
  finishRun(flow: string, runId: string, status: Exclude<RunStatus, 'running'>, options: WriteOptions = {}): Promise<void> {
    return this.call('finishRun', [flow, runId, status], options);
  }
  heartbeat(flow: string, runId: string): Promise<void> {
    return this.call('heartbeat', [flow, runId]);
  }
  addTags(flow: string, runId: string, tags: string[]): Promise<void> {
    return this.call('addTags', [flow, runId, tags]);
  }
  removeTags(flow: string, runId: string, tags: string[]): Promise<void> {
    return this.call('removeTags', [flow, runId, tags]);
  }
  replaceTags(flow: string, runId: string, remove: string[], add: string[]): Promise<void> {
    return this.call('replaceTags', [flow, runId, remove, add]);
  }
  listFlows(query?: FlowQuery): Promise<string[]> {
    return this.call('listFlows', [query]);
  }
  registerTask(task: NewTask, options: WriteOptions = {}): Promise<TaskRecord> {
    return this.call('registerTask', [task], options);
  }
  registerTasks(tasks: NewTask[], options: WriteOptions = {}): Promise<TaskRecord[]> {
    return tasks.length === 0 ? Promise.resolve([]) : this.call('registerTasks', [tasks], options);
  }
  getTask(ref: TaskRef): Promise<TaskRecord> {
    return this.call('getTask', [ref]);
  }
  listTasks(query: TaskQuery): Promise<Page<TaskRecord>> {
    return this.call('listTasks', [query]);
  }
  listChildren(ref: TaskRef): Promise<TaskRecord[]> {
    return this.call('listChildren', [ref]);
  }
  startAttempt(ref: TaskRef, attempt: number, options: WriteOptions = {}): Promise<void> {
    return this.call('startAttempt', [ref, attempt], options);
  }
  finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome, options: WriteOptions = {}): Promise<void> {
    return this.call('finishAttempt', [ref, attempt, outcome], options);
  }
  listAttempts(ref: TaskRef): Promise<AttemptRecord[]> {
    return this.call('listAttempts', [ref]);
  }
  listArtifacts(ref: TaskRef, options?: { attempt?: number }): Promise<ArtifactRecord[]> {
    return this.call('listArtifacts', [ref, options]);
  }
  getMetadata(ref: TaskRef): Promise<Record<string, string>> {
    return this.call('getMetadata', [ref]);
  }
  listArtifactsOfTasks(tasks: TaskSet): Promise<Record<string, ArtifactRecord[]>> {
    return this.call('listArtifactsOfTasks', [tasks]);
  }
  getMetadataOfTasks(tasks: TaskSet): Promise<Record<string, Record<string, string>>> {
    return this.call('getMetadataOfTasks', [tasks]);
  }
  listAttemptsOfTasks(tasks: TaskSet): Promise<Record<string, AttemptRecord[]>> {
    return this.call('listAttemptsOfTasks', [tasks]);
  }
  getTasks(tasks: TaskSet): Promise<Record<string, TaskRecord>> {
    return this.call('getTasks', [tasks]);
  }
  putMetadata(ref: TaskRef, entries: Record<string, string>): Promise<void> {
    return this.call('putMetadata', [ref, entries]);
  }

  /** Lets requests in flight finish, then closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#pools.map((p) => p.close().catch(() => undefined)));
  }
}

/** @public */
export function createHttpMetadataStore(options: HttpMetadataStoreOptions): HttpMetadataStore {
  return new HttpMetadataStore(options);
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The URL's path without a trailing slash: `''` for the root. */
function basePath(u: URL): string {
  return u.pathname.replace(/\/+$/, '');
}

function parseBase(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TributaryError(
      'CONFIG',
      `Invalid metadata service URL ${JSON.stringify(redactUrl(url))}: expected e.g. https://metadata.example.com.`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new TributaryError('CONFIG', `A metadata service URL is http:// or https://, not ${u.protocol}//.`);
  if (u.username || u.password)
    throw new TributaryError('CONFIG', 'Put the metadata service token in TRIBUTARY_METADATA_TOKEN (or the token option), not in the URL.');
  return u;
}

// Optional arguments the caller left out are not sent (JSON has no undefined; null would be a value).
function trimUndefined(args: unknown[]): unknown[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  return args.slice(0, n).map((a) => (a === undefined ? null : a));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TributaryError('ABORTED', 'Aborted while waiting to retry.'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new TributaryError('ABORTED', 'Aborted while waiting to retry.'))), {
      once: true,
    });
  });
}
