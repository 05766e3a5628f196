/**
 * The AWS Batch wire protocol as `@aws-sdk/client-batch` and botocore speak it (restJson1): every
 * operation is `POST /v1/<lowercase name>` with a JSON body, and an error is a status, an
 * `x-amzn-errortype` header naming the error shape, and `{"message"}`. The SigV4 signature is not
 * checked: the emulator serves one test on loopback.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** The operations served; a request names one by its lowercase path. */
export const OPERATIONS = [
  'SubmitJob',
  'DescribeJobs',
  'ListJobs',
  'TerminateJob',
  'CancelJob',
  'RegisterJobDefinition',
  'DescribeJobDefinitions',
  'DeregisterJobDefinition',
  'DescribeJobQueues',
  'DescribeComputeEnvironments',
  'ListTagsForResource',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

const BY_PATH = new Map<string, OperationName>(OPERATIONS.map((op) => [`/v1/${op.toLowerCase()}`, op]));

/** An error answered to the client; `type` becomes the SDK error's `name`. */
export class BatchApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bad input (the only 4xx Batch models): the SDK throws `ClientException`. */
export const clientError = (message: string) => new BatchApiError(400, 'ClientException', message);

export function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw clientError(`${field} is required`);
  return value;
}

/** A service fault: the SDK throws `ServerException`, and its default retry strategy retries it. */
export const serverError = () => new BatchApiError(500, 'ServerException', 'Internal Server Error');
/** Not modelled by Batch; the SDKs classify it as throttling by its status and name, and retry it. */
export const throttled = () => new BatchApiError(429, 'TooManyRequestsException', 'Too Many Requests');

export interface ApiHandlers {
  /** Called with each well-formed request before `handle`: an error returned is answered instead (fault injection). */
  intercept(operation: OperationName, body: unknown): BatchApiError | undefined;
  /** Throws a `BatchApiError` to answer an error; anything else thrown is a 500. */
  handle(operation: OperationName, body: Record<string, unknown>): unknown;
}

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

/** Serves the handlers on 127.0.0.1, port 0. */
export async function serveBatchApi(handlers: ApiHandlers): Promise<ApiServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(handlers, req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(handlers: ApiHandlers, req: IncomingMessage, res: ServerResponse, text: string): void {
  const url = new URL(req.url ?? '/', 'http://emu');
  let operation: OperationName | undefined;
  let body: Record<string, unknown> = {};
  // ListTagsForResource is the one REST-style route: GET /v1/tags/{resourceArn}.
  if (req.method === 'GET' && url.pathname.startsWith('/v1/tags/')) {
    operation = 'ListTagsForResource';
    body = { resourceArn: decodeURIComponent(url.pathname.slice('/v1/tags/'.length)) };
  } else if (req.method === 'POST') {
    operation = BY_PATH.get(url.pathname.toLowerCase());
  }
  if (!operation) return send(res, new BatchApiError(404, 'UnknownOperationException', `Unknown operation ${req.method} ${url.pathname}`));
  if (req.method === 'POST' && text.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return send(res, new BatchApiError(400, 'SerializationException', 'Request body is not a JSON object'));
    }
  }
  const injected = handlers.intercept(operation, body);
  if (injected) return send(res, injected);
  let result: unknown;
  try {
    result = handlers.handle(operation, body);
  } catch (e) {
    return send(res, e instanceof BatchApiError ? e : new BatchApiError(500, 'ServerException', `emulator: ${(e as Error).message}`));
  }
  const payload = JSON.stringify(result ?? {});
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(payload);
}

function send(res: ServerResponse, error: BatchApiError): void {
  const payload = JSON.stringify({ message: error.message });
  res.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-errortype': error.type,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(payload);
}

/**
 * One page of `items` by Batch's `maxResults`/`nextToken` convention. The token is opaque to clients;
 * here it is the offset, which is enough for lists that only grow at the end or are re-read whole.
 */
export function paginate<T>(
  items: T[],
  request: { maxResults?: unknown; nextToken?: unknown },
  limits: { max: number; default: number },
): { page: T[]; nextToken?: string } {
  const size = request.maxResults === undefined || request.maxResults === null ? limits.default : Number(request.maxResults);
  if (!Number.isInteger(size) || size < 1 || size > limits.max) throw clientError(`maxResults must be between 1 and ${limits.max}`);
  let start = 0;
  if (request.nextToken !== undefined && request.nextToken !== null) {
    start = Number(Buffer.from(String(request.nextToken), 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw clientError('Invalid nextToken');
  }
  const page = items.slice(start, start + size);
  const end = start + page.length;
  return end < items.length ? { page, nextToken: Buffer.from(String(end)).toString('base64url') } : { page };
}
