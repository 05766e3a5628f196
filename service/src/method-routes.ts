import type { FastifyInstance } from 'fastify';
import type { MetadataStore } from '@tributary/core';
import {
  errorSchema,
  IDEMPOTENCY_HEADER,
  METADATA_METHODS,
  methodPath,
  requestSchema,
  resultSchema,
  type MetadataMethod,
} from '@tributary/metadata-http/protocol';

const KEY = /^[\x21-\x7e]{1,200}$/;

/** `POST /v1/<method>` for each MetadataStore method: the body's args, validated by schema, go to the store. */
export function registerMethodRoutes(server: FastifyInstance, store: MetadataStore): void {
  for (const method of Object.keys(METADATA_METHODS) as MetadataMethod[]) {
    const spec = METADATA_METHODS[method];
    const optionsAt = 'options' in spec ? spec.options : undefined;
    const call = (store[method] as (...args: unknown[]) => Promise<unknown>).bind(store);
    server.post<{ Body: { args: unknown[] } }>(
      methodPath(method),
      { schema: { body: requestSchema(method), response: { 200: resultSchema(method), '4xx': errorSchema, '5xx': errorSchema } } },
      async (req, reply) => {
        const args = req.body.args.map((a) => (a === null ? undefined : a));
        if (optionsAt !== undefined) {
          const key = req.headers[IDEMPOTENCY_HEADER];
          if (typeof key === 'string') {
            if (!KEY.test(key))
              return reply.code(400).send({
                error: { code: 'PARAM_INVALID', message: 'Idempotency-Key: 1 to 200 visible ASCII characters.', retryable: false },
              });
            args.length = Math.max(args.length, optionsAt);
            args[optionsAt] = { idempotencyKey: key };
          }
        }
        const result = await call(...args);
        return { result: result ?? null };
      },
    );
  }
}
