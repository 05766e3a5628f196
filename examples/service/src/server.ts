/**
 * Entry point: `node dist/server.js [--port N] [--host H] [--home DIR] [--production-token T]`.
 *
 *   --port / $PORT                              port to listen on; 0 picks a free one (default 8080)
 *   --host / $HOST                              address to listen on (default 127.0.0.1)
 *   --home / $TRIBUTARY_HOME                    Tributary home: its stores (default ./.tributary)
 *   --production-token / $TRIBUTARY_PRODUCTION_TOKEN
 *                                               runs are tagged production:<token>, the namespace
 *                                               GET /model reads (default model-service)
 *   $SHUTDOWN_GRACE_MS                          how long SIGTERM waits for trainings (default 30000)
 *   $MAX_CONCURRENT_TRAININGS                   trainings at once, 429 above (default 4)
 *
 * Prints `listening on http://HOST:PORT` once it accepts requests. SIGTERM or SIGINT shuts it down
 * (see ModelService.shutdown); a second one aborts the trainings still running.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { tributaryHome } from 'tributary';
import { ModelService } from './service.js';

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      home: { type: 'string' },
      'production-token': { type: 'string' },
    },
    strict: true,
  });
  const port = integer('port', values.port ?? process.env.PORT, 8080, 0, 65535);
  const host = values.host ?? (process.env.HOST || '127.0.0.1');
  const home = tributaryHome(values.home ?? (process.env.TRIBUTARY_HOME || undefined));
  const productionToken = values['production-token'] ?? (process.env.TRIBUTARY_PRODUCTION_TOKEN || 'model-service');
  const graceMs = integer('SHUTDOWN_GRACE_MS', process.env.SHUTDOWN_GRACE_MS, 30_000, 0, 24 * 3600_000);
  const maxConcurrentTrainings = integer('MAX_CONCURRENT_TRAININGS', process.env.MAX_CONCURRENT_TRAININGS, 4, 1, 1000);

  const service = await ModelService.open({ home, productionToken, maxConcurrentTrainings });
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    console.log(
      signals === 1
        ? `${signal}: shutting down (waiting up to ${graceMs} ms for ${service.inFlight} training(s))`
        : `${signal} again: aborting trainings`,
    );
    service.shutdown(graceMs).then(
      () => {
        console.log('stopped');
        // Everything is closed, so the process ends by itself; if something still holds it, say so.
        setTimeout(() => {
          console.error('still running 5 s after shutdown: exiting');
          process.exit(1);
        }, 5000).unref();
      },
      (err: unknown) => {
        console.error('shutdown failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await new Promise<void>((resolve, reject) => {
    service.server.once('error', reject);
    service.server.listen(port, host, () => {
      service.server.off('error', reject);
      resolve();
    });
  });
  const address = service.server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Which build of Tributary this process loaded: plain Node resolves `tributary` to its dist/.
  console.log(`model service: home ${home}, namespace ${service.namespace}, tributary ${import.meta.resolve('tributary')}`);
  console.log(`listening on http://${shown}:${address.port}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
