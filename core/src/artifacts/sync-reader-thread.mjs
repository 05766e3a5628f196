// Helper thread of SyncReader (plain JS: loader hooks of the parent thread do not reach worker
// threads, so it registers the TypeScript loader itself before loading the datastore adapter).
import { workerData } from 'node:worker_threads';

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
 * transient one), whose message keeps the original code and text: copying an arbitrary `code`
 * such as ECONNRESET would make an error code no caller knows.
 */
function toWire(err, req) {
  const e = err ?? {};
  if (typeof e === 'object' && e[Symbol.for('tributary.error')] === true) {
    return { name: e.name, code: e.code, message: e.message, retryable: !!e.retryable, context: e.context ?? {}, stack: e.stack };
  }
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined;
  const text = `${e.name ?? 'Error'}${code ? ` ${code}` : ''}: ${e.message ?? String(err)}`;
  return {
    name: 'TributaryError',
    code: 'INFRASTRUCTURE',
    message: `Synchronous read of ${req.key} failed (${redact(text)}).`,
    retryable: (code !== undefined && TRANSIENT.has(code)) || e.name === 'TimeoutError',
    context: { key: req.key, ...(adapterName ? { adapter: adapterName } : {}), ...(code ? { causeCode: code } : {}) },
    ...(typeof e.stack === 'string' ? { stack: redact(e.stack) } : {}),
  };
}

let redact = (s) => s;
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
  const { register } = await import('tsx/esm/api');
  register();
  ({ redactUrl: redact } = await import('../util/redact-url.ts'));
  const { openAdapter } = await import('../runtime/open-adapter.ts');
  const datastore = await openAdapter(locator);
  adapterName = datastore.name;
  return datastore;
})();
ready.catch(() => undefined);
