/**
 * The HTTP side: loopback server, body reading, Status error responses, and the streams
 * (watches, followed logs) that must end when the emulator stops. Routing is `resolve`'s.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ApiError, badRequest } from './api-errors.ts';

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  contentType: string;
  /** The body parsed as JSON; a 400 as the real server words it if it is not. */
  json(): unknown;
}

export type Reply =
  | { status: number; body: unknown; headers?: Record<string, string> }
  /** A long response (watch, log follow): the handler writes it; `onEnd` runs when it ends either way. */
  | { stream: (res: ServerResponse, onClose: (cleanup: () => void) => void) => void };

export interface ResolvedRoute {
  /** Request name as counted, e.g. `read job`, `watch pods`. */
  operation: string;
  handle: (request: ApiRequest) => Reply;
}

export interface ApiServerOptions {
  resolve: (method: string, path: string, query: URLSearchParams) => ResolvedRoute;
  /** Runs first for every request (counting, injected faults); an error returned is the response. */
  intercept: (method: string, path: string, operation: string) => ApiError | undefined;
}

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-cache, private',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export async function serveApi(options: ApiServerOptions): Promise<ApiServer> {
  const cleanups = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const method = req.method ?? 'GET';
      // The Authorization header (a bearer token from the kubeconfig) is accepted and ignored.
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: ApiRequest = {
        method,
        path: url.pathname.replace(/\/+$/, '') || '/',
        query: url.searchParams,
        headers: req.headers,
        contentType: String(req.headers['content-type'] ?? 'application/json'),
        json() {
          if (!raw) return undefined;
          try {
            return JSON.parse(raw) as unknown;
          } catch (e) {
            throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
          }
        },
      };
      let reply: Reply;
      try {
        const route = options.resolve(method, request.path, request.query);
        const fault = options.intercept(method, request.path, route.operation);
        if (fault) throw fault;
        reply = route.handle(request);
      } catch (e) {
        if (e instanceof ApiError) return sendJson(res, e.code, e.body, e.headers);
        const message = e instanceof Error ? e.message : String(e);
        return sendJson(res, 500, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `Internal error occurred: emulator: ${message}`,
          reason: 'InternalError',
          code: 500,
        });
      }
      if ('stream' in reply) {
        reply.stream(res, (cleanup) => {
          cleanups.add(cleanup);
          const done = () => {
            cleanups.delete(cleanup);
            cleanup();
          };
          res.on('close', done);
        });
        return;
      }
      sendJson(res, reply.status, reply.body, reply.headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async close() {
      for (const cleanup of cleanups) cleanup();
      cleanups.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Watches and followed logs would keep close() waiting forever.
        server.closeAllConnections();
      });
    },
  };
}
