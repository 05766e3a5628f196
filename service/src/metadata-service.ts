import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { redactUrl, TributaryError, type MetadataStore } from '@tributary/core';
import { PROTOCOL_VERSION, statusOfCode, toWireError, type WireError } from '@tributary/metadata-http/protocol';
import { BearerAuth } from './bearer-auth.ts';
import { registerHealthRoutes } from './health-routes.ts';
import { registerMethodRoutes } from './method-routes.ts';

/** @public */
export interface MetadataServiceOptions {
  /** The store the service fronts: Postgres in production, SQLite for a one-box setup. */
  store: MetadataStore;
  /** Close `store` when the service closes. Default true. */
  ownsStore?: boolean;
  /**
   * Bearer tokens that are accepted (several at once, to rotate one without downtime). Without
   * any, the service accepts every request: bind it to loopback only, then.
   */
  tokens?: readonly string[];
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Largest request body, bytes. Default 64 MiB (a 10 000-task `registerTasks` is about 2 MiB). */
  bodyLimit?: number;
  /** Where the service says what it does (start, failures). Tokens and request bodies never reach it. */
  log?: (line: string) => void;
}

/** @public */
export interface MetadataService {
  /** `http(s)://host:port` once listening. */
  readonly url: string;
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** Stop taking requests, let those in flight finish, then close the store (when owned). */
  close(): Promise<void>;
  /** The fastify instance, e.g. for `inject()` in tests. */
  readonly server: FastifyInstance;
}

/**
 * An HTTP service over a MetadataStore: every store method at `POST /v1/<method>` (see
 * `@tributary/metadata-http/protocol`), `GET /health` (liveness), `GET /ready` (the store answers)
 * and `GET /v1/info`. Stateless: run several against one Postgres behind a load balancer.
 *
 * Consistency over availability: a request the store cannot serve (database unreachable) is
 * answered 503 with a retryable `INFRASTRUCTURE` error, never with stale or partial data.
 * @public
 */
export function createMetadataService(options: MetadataServiceOptions): MetadataService {
  const log = options.log ?? (() => undefined);
  const auth = new BearerAuth(options.tokens ?? []);
  if (!options.store.capabilities.idempotencyKeys)
    log(`warning: the ${options.store.name} store does not keep idempotency keys, so a client's retried write may be applied twice.`);
  const server = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    // Keep-alive connections idle at close are ended; requests in flight finish first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false, strictTuples: false } },
    ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
  }) as unknown as FastifyInstance;

  server.addHook('onRequest', async (req, reply) => {
    reply.header('tributary-protocol', String(PROTOCOL_VERSION));
    // Probes may carry a query string or a trailing slash; anything else needs the token.
    const path = req.url.split('?')[0]!.replace(/(.)\/+$/, '$1');
    if (path === '/health' || path === '/ready') return;
    if (!auth.accepts(req.headers.authorization)) {
      // Refused before the body is read or any handler runs: nothing is written.
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="tributary-metadata"')
        .send(
          errorBody('UNAUTHORIZED', 'The metadata service needs a valid bearer token: set TRIBUTARY_METADATA_TOKEN to a token it accepts.'),
        );
    }
  });

  // While closing, answers end their connection: a keep-alive client would otherwise hold the close open.
  let draining = false;
  server.addHook('onSend', async (_req, reply, payload) => {
    if (draining) reply.header('connection', 'close');
    return payload;
  });

  server.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return reply.code(400).send(errorBody('PARAM_INVALID', `Invalid request to ${req.url}: ${err.message}.`));
    if (err.statusCode === 413)
      return reply
        .code(413)
        .send(errorBody('PARAM_INVALID', `The request body is over the limit of ${server.initialConfig.bodyLimit} bytes.`));
    if (!TributaryError.is(err) && err.statusCode !== undefined && err.statusCode < 500)
      return reply.code(err.statusCode).send(errorBody('PARAM_INVALID', err.message));
    const wire = toWireError(err);
    if (!TributaryError.is(err))
      log(`error in ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    else if (err.code === 'INFRASTRUCTURE' || err.code === 'CONFIG') {
      // Where the database is stays in the service's log; clients learn only that it is unavailable.
      log(`store unavailable in ${req.url}: ${redactUrl(err.message)}`);
      wire.message =
        err.code === 'CONFIG'
          ? 'The metadata service is misconfigured: it cannot use its database (its log says why).'
          : 'The metadata service cannot reach its database right now (it answers 503 until it can); retry later.';
    }
    return reply.code(statusOfCode(wire.code)).send({ error: wire });
  });
  server.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url}.`)));

  registerHealthRoutes(server, options.store);
  registerMethodRoutes(server, options.store);

  let url = '';
  let closing: Promise<void> | undefined;
  return {
    get url() {
      return url;
    },
    server,
    async listen({ port = 8325, host = '127.0.0.1' } = {}) {
      await server.listen({ port, host });
      const address = server.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      if (!auth.enabled && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
        log(`warning: no token configured and listening on ${host}: anyone who reaches it can read and write metadata.`);
      return url;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        await server.close();
        if (options.ownsStore ?? true) await options.store.close();
      })();
      return closing;
    },
  };
}

function errorBody(code: WireError['code'], message: string): { error: WireError } {
  return { error: { code, message, retryable: false } };
}
