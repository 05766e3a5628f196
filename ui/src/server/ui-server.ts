/**
 * `tributary ui`: a local, read-only web app over a Client. Serves the built app and its JSON API
 * on one port, bound to 127.0.0.1 unless told otherwise; only GET and HEAD; cards are served as
 * sandboxed documents (no script, no access to the app).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TributaryError, type Client } from '@tributary/core';
import { handleApi, type ApiReply } from './api.ts';
import { appFile } from './static-files.ts';

/** @public */
export interface UiServerOptions {
  /** What it shows: a client on the stores (its namespace decides which runs). It is not closed by the server. */
  client: Client;
  /** Default 0: a free port. */
  port?: number;
  /** Default `127.0.0.1`. Anything else exposes every run and artifact to whoever reaches it. */
  host?: string;
}

/** A running UI server. @public */
export interface UiServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  /** Stop accepting requests and close open connections. */
  close(): Promise<void>;
}

const STATUS_OF: Partial<Record<string, number>> = { NOT_FOUND: 404, NAMESPACE_MISMATCH: 404, PARAM_INVALID: 400, INVALID_KEY: 400 };

/** Start the UI server. @public */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => void handle(options.client, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  head = false,
) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(head ? undefined : body);
}

async function handle(client: Client, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  try {
    if (req.method !== 'GET' && !head) {
      send(res, 405, 'application/json', JSON.stringify({ error: { code: 'READ_ONLY', message: 'The UI is read-only: GET only.' } }), {
        allow: 'GET, HEAD',
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://ui');
    if (url.pathname.startsWith('/api/')) {
      const segs = url.pathname.slice(5).split('/').filter(Boolean).map(decodeURIComponent);
      const reply: ApiReply = await handleApi(client, segs, url.searchParams);
      if (reply.kind === 'json')
        send(
          res,
          reply.status ?? 200,
          'application/json; charset=utf-8',
          JSON.stringify(reply.body),
          { 'cache-control': 'no-store' },
          head,
        );
      else if (reply.kind === 'text')
        send(res, reply.status ?? 200, 'text/plain; charset=utf-8', reply.body, { 'cache-control': 'no-store' }, head);
      else
        send(
          res,
          200,
          'text/html; charset=utf-8',
          reply.html,
          {
            // A card is the task's own HTML: it runs no script and cannot reach the app's origin.
            'content-security-policy': "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            'cache-control': 'no-store',
          },
          head,
        );
      return;
    }
    const file = (await appFile(url.pathname)) ?? (url.pathname.includes('.') ? undefined : await appFile('/'));
    if (!file) {
      const built = await appFile('/');
      send(
        res,
        built ? 404 : 500,
        'text/plain; charset=utf-8',
        built
          ? `Not found: ${url.pathname}`
          : 'The UI app is not built: run `pnpm build` (node scripts/build.mjs) in the Tributary repository.',
        {},
        head,
      );
      return;
    }
    send(
      res,
      200,
      file.type,
      file.body,
      {
        'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...(file.type.startsWith('text/html')
          ? { 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-src 'self'" }
          : {}),
      },
      head,
    );
  } catch (err) {
    const code = TributaryError.is(err) ? err.code : 'INTERNAL';
    const status = STATUS_OF[code] ?? 500;
    const message = TributaryError.is(err) ? err.message : 'Internal error (see the terminal running tributary ui).';
    if (status === 500) console.error(`tributary ui: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
    if (!res.headersSent) send(res, status, 'application/json; charset=utf-8', JSON.stringify({ error: { code, message } }), {}, head);
    else res.destroy();
  }
}
