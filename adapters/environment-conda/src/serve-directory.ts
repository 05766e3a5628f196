/**
 * A read-only HTTP server for one folder on 127.0.0.1 (an ephemeral port): the loopback bridge
 * that lets rattler's WASM solver (which can only `fetch`) read a local channel, and the test
 * channel server. Only regular files under the folder are served (no listing, no `..`, no
 * symlinks out); anything else is 404.
 */

import { createReadStream } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, sep } from 'node:path';

/** A running folder server. */
export interface ServedDirectory {
  /** `http://127.0.0.1:<port>` (no trailing `/`). */
  url: string;
  /** Paths requested so far (URL paths, in order). */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `folder` on 127.0.0.1 until `close()`. */
export async function serveDirectory(folder: string): Promise<ServedDirectory> {
  const root = await realpath(folder);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    serve(root, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        // The solver keeps connections alive: end them, or close() waits for them.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res, 405);
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return notFound(res, 400);
  }
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) return notFound(res);
  const file = join(root, ...segments);
  const real = await realpath(file).catch(() => undefined);
  if (real === undefined || !real.startsWith(root + sep)) return notFound(res);
  const stat = await lstat(real);
  if (!stat.isFile()) return notFound(res);
  res.writeHead(200, {
    'content-type': real.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    'content-length': stat.size,
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(real)
    .on('error', () => res.destroy())
    .pipe(res);
}

function notFound(res: ServerResponse, status = 404): void {
  res.writeHead(status);
  res.end();
}
