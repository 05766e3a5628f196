import { request, createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** @public */
export interface FaultProxyOptions {
  /** Where requests really go, e.g. `http://127.0.0.1:4569`. */
  target: string;
  /** Share of requests that fail (0-1). */
  failureRate: number;
  /**
   * Kinds of failure, picked at random. Default `500`, `reset` and `slow`. `lost-reply` forwards the
   * request, lets the server answer, then breaks the connection before the answer reaches the
   * client: the ambiguous failure that exactly-once retries must survive.
   */
  faults?: Array<'500' | '503' | 'reset' | 'slow' | 'lost-reply'>;
  /** Seed of the failure choices (reproducible runs). Default 1. */
  seed?: number;
  /** Delay of a 'slow' fault, ms. Default 1500. */
  slowMs?: number;
  /** Called with each request as it arrives (e.g. to count the requests an operation costs). */
  onRequest?: (request: { method: string; url: string; headers: IncomingMessage['headers'] }) => void;
}

/** @public */
export interface FaultProxy {
  /** Point the client at this instead of the target. */
  url: string;
  stats: { requests: number; failed: Record<string, number> };
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy that makes a share of requests fail: a 500 or 503, a connection reset
 * (before any response), or a slow response. For testing that adapters retry transient faults.
 * @public
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const faults = options.faults ?? ['500', 'reset', 'slow'];
  let seed = options.seed ?? 1;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const stats = { requests: 0, failed: {} as Record<string, number> };
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        // Headers go out now, as the server sent them, even if no body byte ever follows; a
        // server that breaks off its response breaks off ours.
        res.flushHeaders();
        up.on('error', () => res.destroy());
        up.on('aborted', () => res.destroy());
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    stats.requests++;
    options.onRequest?.({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (random() >= options.failureRate) return forward(req, res);
    const fault = faults[Math.floor(random() * faults.length)]!;
    stats.failed[fault] = (stats.failed[fault] ?? 0) + 1;
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'lost-reply') {
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          up.resume();
          up.on('end', () => req.socket.destroy());
          up.on('error', () => req.socket.destroy());
        },
      );
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
      return;
    }
    if (fault === 'slow') {
      setTimeout(() => forward(req, res), options.slowMs ?? 1500);
      return;
    }
    // Drain the body so the client sees the status rather than a broken pipe.
    req.resume();
    req.on('end', () => {
      res.writeHead(Number(fault), { 'content-type': 'application/xml', connection: 'close' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault === '503' ? 'SlowDown' : 'InternalError'}</Code><Message>injected fault</Message></Error>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
