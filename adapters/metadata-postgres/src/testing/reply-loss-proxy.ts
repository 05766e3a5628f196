/**
 * A loopback TCP proxy in front of Postgres that loses the reply of chosen statements after the
 * server has committed them: the ambiguous failure ("did my write happen?") a network cut or a
 * proxy restart causes in production. It reads the wire protocol in both directions; when the
 * client executes a statement whose SQL matches an armed pattern, the proxy holds back the
 * server's answer, waits for ReadyForQuery (an autocommit statement is committed by then) and,
 * if the server reported CommandComplete and no error, closes both connections instead of
 * passing the answer on. The client sees "Connection terminated unexpectedly".
 */
import { createConnection, createServer, type Socket } from 'node:net';

/** @internal */
export interface ReplyLossProxy {
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  port: number;
  /** Lose the reply of the next `times` committed executions of statements whose SQL matches. */
  arm(pattern: RegExp, times?: number): void;
  stats: { connections: number; dropped: Array<{ sql: string }> };
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Splits a byte stream into protocol messages (type byte + int32 length), after an optional untyped first message. */
class Framer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private untyped: number) {}
  /** Expect `n` more untyped messages (client side: startup) or single bytes (server side: SSL answers). */
  expectUntyped(n: number): void {
    this.untyped += n;
  }
  push(chunk: Buffer, onMessage: (type: string, body: Buffer, raw: Buffer) => void, singleByte = false): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.untyped > 0 && singleByte) {
        if (this.buf.length < 1) return;
        const raw = this.buf.subarray(0, 1);
        this.buf = this.buf.subarray(1);
        this.untyped--;
        onMessage('', raw, raw);
        continue;
      }
      if (this.untyped > 0) {
        if (this.buf.length < 4) return;
        const len = this.buf.readInt32BE(0);
        if (this.buf.length < len) return;
        const raw = this.buf.subarray(0, len);
        this.buf = this.buf.subarray(len);
        this.untyped--;
        onMessage('', raw.subarray(4), raw);
        continue;
      }
      if (this.buf.length < 5) return;
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < len + 1) return;
      const raw = this.buf.subarray(0, len + 1);
      this.buf = this.buf.subarray(len + 1);
      onMessage(String.fromCharCode(raw[0]!), raw.subarray(5), raw);
    }
  }
}

function cstrings(body: Buffer, count: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at);
    out.push(body.toString('utf8', at, end));
    at = end + 1;
  }
  return out;
}

/** Start a proxy to Postgres at 127.0.0.1:`targetPort`. @internal */
export async function startReplyLossProxy(targetPort: number): Promise<ReplyLossProxy> {
  const armed: Array<{ pattern: RegExp; times: number }> = [];
  const stats: ReplyLossProxy['stats'] = { connections: 0, dropped: [] };
  const sockets = new Set<Socket>();
  const takeArmed = (sql: string) => armed.find((a) => a.times > 0 && a.pattern.test(sql));

  const server = createServer((client) => {
    stats.connections++;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const close = () => (client.destroy(), upstream.destroy());
    client.on('close', close);
    upstream.on('close', close);

    const statements = new Map<string, string>();
    // The statement whose reply is being held back, and what the server answered so far.
    let target: { sql: string; held: Buffer[]; completed: boolean; failed: boolean } | undefined;
    const fromClient = new Framer(1);
    const fromServer = new Framer(0);
    client.on('data', (chunk) =>
      fromClient.push(chunk, (type, body, raw) => {
        if (type === '') {
          const code = body.length >= 4 ? body.readInt32BE(0) : 0;
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            fromClient.expectUntyped(1); // the real startup message follows the answer
            fromServer.expectUntyped(1); // answered by one byte, 'S' or 'N'
          }
        } else if (type === 'P') {
          const [name, sql] = cstrings(body, 2);
          statements.set(name!, sql!);
        } else if (type === 'B') {
          const [, name] = cstrings(body, 2);
          const sql = statements.get(name!) ?? '';
          if (!target && takeArmed(sql)) target = { sql, held: [], completed: false, failed: false };
        } else if (type === 'Q') {
          const [sql] = cstrings(body, 1);
          if (!target && takeArmed(sql!)) target = { sql: sql!, held: [], completed: false, failed: false };
        }
        upstream.write(raw);
      }),
    );
    upstream.on('data', (chunk) =>
      fromServer.push(
        chunk,
        (type, _body, raw) => {
          if (!target) return void client.write(raw);
          target.held.push(raw);
          if (type === 'C') target.completed = true;
          if (type === 'E') target.failed = true;
          if (type !== 'Z') return;
          const t = target;
          target = undefined;
          const arm = takeArmed(t.sql);
          if (t.completed && !t.failed && arm) {
            arm.times--;
            stats.dropped.push({ sql: t.sql });
            close();
          } else {
            for (const m of t.held) client.write(m);
          }
        },
        true,
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    arm(pattern, times = 1) {
      armed.push({ pattern, times });
    },
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
