import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TributaryError, type SerializedError, deserializeError } from '../errors.ts';
import type { ByteRange } from '../ports/datastore.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import { redactUrl } from '../util/redact-url.ts';

/**
 * The helper thread's code, run from a `data:` URL: no file to ship next to the built module or
 * inside a code package bundle. Errors are sent raw; the reading thread redacts them.
 */
const THREAD = `import { workerData } from 'node:worker_threads';

const { locator, port, flag } = workerData;
let ready;
const answer = (msg) => {
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
};

// Node and HTTP client codes of failures that may pass on their own (a retry can succeed).
const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAGAIN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * The wire form of a failed read. A TributaryError (the brand is shared across module copies)
 * keeps its code; anything else is an INFRASTRUCTURE error (retryable when its code is a
 * transient one), whose message keeps the original code and text: copying an arbitrary \`code\`
 * such as ECONNRESET would make an error code no caller knows.
 */
function toWire(err, req) {
  const e = err ?? {};
  if (typeof e === 'object' && e[Symbol.for('tributary.error')] === true) {
    return { name: e.name, code: e.code, message: e.message, retryable: !!e.retryable, context: e.context ?? {}, stack: e.stack };
  }
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined;
  const text = \`\${e.name ?? 'Error'}\${code ? \` \${code}\` : ''}: \${e.message ?? String(err)}\`;
  return {
    name: 'TributaryError',
    code: 'INFRASTRUCTURE',
    message: \`Synchronous read of \${req.key} failed (\${text}).\`,
    retryable: (code !== undefined && TRANSIENT.has(code)) || e.name === 'TimeoutError',
    context: { key: req.key, ...(adapterName ? { adapter: adapterName } : {}), ...(code ? { causeCode: code } : {}) },
    ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
  };
}

let adapterName;

port.on('message', async (req) => {
  try {
    const datastore = await ready;
    const bytes = await datastore.get(req.key, req.range ? { range: req.range } : {});
    answer({ id: req.id, bytes });
  } catch (err) {
    answer({ id: req.id, error: toWire(err, req) });
  }
});

ready = (async () => {
  // A TypeScript adapter (this repository's own tests): loader hooks of the parent thread do not
  // reach worker threads, so the thread registers tsx itself.
  if (workerData.tsx) (await import(workerData.tsx)).register();
  const mod = await import(locator.module);
  const factory = mod[locator.factory];
  if (typeof factory !== 'function') throw new Error(\`Adapter module \${locator.module} has no export \${locator.factory}.\`);
  const datastore = await factory(locator.options);
  adapterName = datastore.name;
  return datastore;
})();
ready.catch(() => undefined);
`;

/**
 * Synchronous reads from any datastore. A step reads artifacts lazily and synchronously
 * (`this.x`); a remote datastore only reads asynchronously. This runs the async read on a helper
 * thread (which opens the same datastore from its locator) and blocks the step's thread on a
 * shared flag until the bytes arrive. Prefetching covers what the step's source names; this is
 * the fallback for the rest, so every read is correct.
 * @internal
 */
export class SyncReader {
  private worker?: Worker;
  private port?: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 0;

  constructor(private readonly locator: AdapterLocator) {}

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    const tsx = /\.[cm]?tsx?$/.test(this.locator.module) ? import.meta.resolve('tsx/esm/api') : undefined;
    this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(THREAD)}`), {
      workerData: { locator: this.locator, port: port2, flag: this.flag, ...(tsx ? { tsx } : {}) },
      transferList: [port2],
    });
    this.worker.unref();
    this.port = port1;
  }

  read(key: string, range?: ByteRange): Uint8Array {
    if (!this.worker) this.start();
    const id = ++this.nextId;
    Atomics.store(this.flag, 0, 0);
    this.port!.postMessage({ id, key, range });
    // Block this thread until the helper has answered (it sets the flag after posting).
    if (Atomics.wait(this.flag, 0, 0, 300_000) === 'timed-out') {
      throw new TributaryError('INFRASTRUCTURE', `Synchronous read of ${key} timed out after 300 s.`, { retryable: true });
    }
    const msg = receiveMessageOnPort(this.port!)?.message as { id: number; bytes?: Uint8Array; error?: SerializedError } | undefined;
    if (!msg || msg.id !== id) throw new TributaryError('INFRASTRUCTURE', `Synchronous read of ${key} got no answer.`);
    if (msg.error) {
      const e = msg.error;
      throw deserializeError({ ...e, message: redactUrl(e.message), ...(e.stack ? { stack: redactUrl(e.stack) } : {}) });
    }
    return msg.bytes!;
  }

  async close(): Promise<void> {
    this.port?.close();
    await this.worker?.terminate();
  }
}
