import type { FastifyInstance } from 'fastify';
import { TributaryError, type MetadataStore } from '@tributary/core';
import { PROTOCOL_VERSION, toWireError } from '@tributary/metadata-http/protocol';

/** How long readiness waits for the store before calling the instance not ready. */
const READY_TIMEOUT_MS = 2000;

/**
 * `GET /health`: the process serves HTTP (liveness; no store call, no token).
 * `GET /ready`: the store answers a cheap query within 2 s (readiness; no token, so a load
 * balancer can probe it): 503 otherwise, and the instance should get no traffic.
 * `GET /v1/info`: protocol version, store kind and capabilities (token required).
 */
export function registerHealthRoutes(server: FastifyInstance, store: MetadataStore): void {
  server.get('/health', async () => ({ status: 'ok' }));
  server.get('/ready', async (_req, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.listRuns({ limit: 1 }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new TributaryError('INFRASTRUCTURE', 'The metadata store did not answer within 2 s.', { retryable: true })),
            READY_TIMEOUT_MS,
          );
        }),
      ]);
      return { status: 'ready' };
    } catch (err) {
      const wire = toWireError(err);
      // Unauthenticated: say only that the store does not answer, never where it is.
      const message = 'The metadata store does not answer.';
      return reply.code(503).send({ status: 'unavailable', error: { ...wire, message, retryable: true } });
    } finally {
      clearTimeout(timer);
    }
  });
  server.get('/v1/info', async () => ({ protocol: PROTOCOL_VERSION, store: store.name, capabilities: store.capabilities }));
}
