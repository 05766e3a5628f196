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

port.on('message', async (req) => {
  try {
    const datastore = await ready;
    const bytes = await datastore.get(req.key, req.range ? { range: req.range } : {});
    answer({ id: req.id, bytes });
  } catch (err) {
    const e = err ?? {};
    answer({
      id: req.id,
      error: {
        name: e.name ?? 'Error',
        code: e.code ?? 'INFRASTRUCTURE',
        message: e.message ?? String(err),
        retryable: !!e.retryable,
        context: e.context ?? {},
      },
    });
  }
});

ready = (async () => {
  const { register } = await import('tsx/esm/api');
  register();
  const { openAdapter } = await import('../runtime/open-adapter.ts');
  return openAdapter(locator);
})();
ready.catch(() => undefined);
