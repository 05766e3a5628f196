/**
 * The model service: trains RidgeTrainFlow in this process on `POST /train` and serves the latest
 * successful run's `model` artifact on `GET /model`. It owns its stores (opened once by
 * `Client.open`, passed to every run, closed at shutdown) and one warm pool of task workers that
 * concurrent runs share.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Client, createLocalCompute, resolveParams, runFlow, WarmPool, type Artifact } from 'tributary';
import { HttpError, statusOfUnsuccessfulRun, toHttpError } from './errors.js';
import { paramProblem, RidgeTrainFlow, type RidgeModel } from './flow.js';

export interface ServiceOptions {
  /** Tributary home: `<home>/metadata.sqlite` and `<home>/datastore`. */
  home: string;
  /** Runs are tagged `production:<token>`, and `GET /model` reads in that namespace only. */
  productionToken: string;
  /** Trainings at once; more are refused with 429. */
  maxConcurrentTrainings: number;
  /** Largest request body, in bytes (413 above). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

interface Training {
  controller: AbortController;
  /** Settles when the request has been answered. */
  done: Promise<void>;
  /** `Flow/run`, once the run is recorded. */
  pathspec?: string;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The compiled flow module, next to this one: what task workers import. */
const FLOW_MODULE = new URL('./flow.js', import.meta.url).href;

export class ModelService {
  readonly server: Server;
  private readonly trainings = new Set<Training>();
  private draining = false;
  private shutdownPromise?: Promise<void>;
  /** The last model read, by artifact sha (content-addressed: the same sha is the same value). */
  private cached?: { sha: string; value: RidgeModel };

  private constructor(
    private readonly options: ServiceOptions,
    private readonly client: Client,
    private readonly pool: WarmPool,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async open(options: ServiceOptions): Promise<ModelService> {
    const client = await Client.open({ home: options.home, namespace: ModelService.namespaceOf(options.productionToken) });
    // Workers stay warm between requests (10 min), and are stopped by close() at shutdown.
    const pool = new WarmPool({ compute: createLocalCompute(), ownsCompute: true, keepWarmMs: 10 * 60_000 });
    return new ModelService(options, client, pool);
  }

  static namespaceOf(productionToken: string): string {
    return `production:${productionToken}`;
  }

  get namespace(): string {
    return ModelService.namespaceOf(this.options.productionToken);
  }

  /** Trainings in flight. */
  get inFlight(): number {
    return this.trainings.size;
  }

  private log(line: string): void {
    (this.options.log ?? console.log)(line);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    let settle: (() => void) | undefined;
    try {
      const path = new URL(req.url ?? '/', 'http://service').pathname;
      const route = ROUTES[path];
      if (!route) throw new HttpError(404, 'NO_ROUTE', `No route ${path}: use POST /train, GET /model or GET /healthz.`);
      const method = req.method ?? 'GET';
      const handler = route[method === 'HEAD' ? 'GET' : method];
      if (!handler)
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${path} is not supported.`, { allow: Object.keys(route).join(', ') });
      if (this.draining && handler !== 'health') throw new HttpError(503, 'SHUTTING_DOWN', 'The service is shutting down.');
      if (handler === 'train') {
        if (this.trainings.size >= this.options.maxConcurrentTrainings)
          throw new HttpError(
            429,
            'TOO_MANY_TRAININGS',
            `${this.trainings.size} trainings are running (at most ${this.options.maxConcurrentTrainings}): try again later.`,
            { 'retry-after': '5' },
          );
        // Registered before anything is awaited: shutdown waits for (or aborts) it until it is answered.
        const training: Training = { controller: new AbortController(), done: new Promise<void>((r) => (settle = r)) };
        this.trainings.add(training);
        void training.done.then(() => this.trainings.delete(training));
        reply = await this.train(req, training);
      } else if (handler === 'model') reply = await this.model();
      else reply = { status: 200, body: { ok: !this.draining, inFlight: this.trainings.size, namespace: this.namespace } };
    } catch (err) {
      const e = toHttpError(err);
      if (e.status >= 500 && e.code !== 'SHUTTING_DOWN' && e.code !== 'ABORTED')
        this.log(
          `${req.method} ${req.url} failed: ${err instanceof HttpError ? `${e.code}: ${e.message}` : ((err as Error)?.stack ?? String(err))}`,
        );
      reply = { status: e.status, body: { error: { code: e.code, message: e.message }, ...e.extra }, headers: e.headers };
    }
    try {
      // A request body left unread (refused early) would otherwise stay on the connection.
      if (!req.complete) reply.headers = { ...reply.headers, connection: 'close' };
      this.send(res, req.method === 'HEAD', reply);
    } finally {
      settle?.();
    }
  }

  private send(res: ServerResponse, head: boolean, reply: Reply): void {
    const text = `${JSON.stringify(reply.body)}\n`;
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...reply.headers,
    };
    if (this.draining) headers.connection = 'close';
    if (res.destroyed) return; // the client went away (its training still ran to its end)
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : text);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const type = req.headers['content-type'];
    if (type !== undefined && !/^application\/json\b/i.test(type))
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `The body must be JSON (content-type: application/json), not ${type}.`);
    const limit = this.options.maxBodyBytes ?? 64 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, 'BODY_TOO_LARGE', `The body is larger than ${limit} bytes.`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, 'INVALID_JSON', `The body is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** POST /train: run the flow with the body's parameters, answer when the run has finished. */
  private async train(req: IncomingMessage, training: Training): Promise<Reply> {
    const body = await this.readJson(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new HttpError(400, 'INVALID_BODY', 'The body must be a JSON object of parameters, e.g. {"alpha": 0.3}.');
    // PARAM_INVALID (unknown name, wrong type) is a 400; so are values the flow would refuse.
    const params = resolveParams(RidgeTrainFlow, body as Record<string, unknown>);
    const problem = paramProblem(params);
    if (problem) throw new HttpError(400, 'PARAM_INVALID', problem);
    if (training.controller.signal.aborted) throw new HttpError(503, 'SHUTTING_DOWN', 'The service is shutting down.');
    const requestId = randomUUID();
    const run = await runFlow(RidgeTrainFlow, {
      metadata: this.client.metadata,
      datastore: this.client.datastore,
      executor: this.pool,
      flowModule: FLOW_MODULE,
      params,
      productionToken: this.options.productionToken,
      tags: [`request:${requestId}`],
      signal: training.controller.signal,
      onEvent: (e) => {
        if (e.type === 'run-started') {
          training.pathspec = `${e.flow}/${e.runId}`;
          this.log(`training ${training.pathspec} started (request ${requestId}, params ${JSON.stringify(params)})`);
        }
      },
    });
    this.log(`training ${run.pathspec} ${run.status} in ${Math.round(run.durationMs)} ms`);
    if (!run.successful) {
      const error = run.error ?? { code: 'RUN_FAILED', message: `Run ${run.pathspec} ${run.status}.` };
      throw new HttpError(
        statusOfUnsuccessfulRun(run.status),
        error.code,
        error.message,
        {},
        {
          run: run.pathspec,
          status: run.status,
        },
      );
    }
    const artifact = await run.artifact('model');
    const model = await artifact.get();
    return {
      status: 201,
      body: {
        run: run.pathspec,
        status: run.status,
        params: run.params,
        durationMs: Math.round(run.durationMs),
        artifact: describe(artifact),
        score: model.score,
        validationMse: model.validationMse,
      },
    };
  }

  /** GET /model: the `model` artifact of the newest successful run in the service's namespace. */
  private async model(): Promise<Reply> {
    const run = await this.client.flow(RidgeTrainFlow).latestSuccessfulRun();
    if (!run)
      throw new HttpError(
        404,
        'NO_MODEL',
        `No successful run of ${RidgeTrainFlow.flowName} in namespace ${this.namespace} yet: POST /train first.`,
      );
    const artifact = await run.artifact('model');
    if (this.cached?.sha !== artifact.sha) this.cached = { sha: artifact.sha, value: await artifact.get() };
    return {
      status: 200,
      body: {
        run: run.pathspec,
        finishedAt: run.finishedAt?.toISOString(),
        params: run.params,
        artifact: describe(artifact),
        model: this.cached.value,
      },
    };
  }

  /**
   * Stop: refuse new requests (503) and stop listening, wait up to `graceMs` for the trainings in
   * flight to finish and be answered, abort those still running then (they are recorded `aborted`
   * and answered 503), stop the workers and close the stores. A second call aborts at once.
   */
  shutdown(graceMs: number): Promise<void> {
    if (this.shutdownPromise) {
      this.abortAll('shutdown');
      return this.shutdownPromise;
    }
    this.draining = true;
    this.shutdownPromise = (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const timer = setTimeout(() => this.abortAll(`still running ${graceMs} ms after shutdown began`), graceMs);
      await Promise.all([...this.trainings].map((t) => t.done));
      clearTimeout(timer);
      // Every training was answered: what is left are keep-alive connections and quick GETs.
      this.server.closeIdleConnections();
      const force = setTimeout(() => this.server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(force);
      await this.pool.close();
      await this.client.close();
    })();
    return this.shutdownPromise;
  }

  private abortAll(reason: string): void {
    for (const t of this.trainings) {
      if (t.controller.signal.aborted) continue;
      this.log(`aborting training ${t.pathspec ?? '(not started yet)'}: ${reason}`);
      t.controller.abort();
    }
  }
}

const ROUTES: Record<string, Record<string, 'train' | 'model' | 'health'>> = {
  '/train': { POST: 'train' },
  '/model': { GET: 'model' },
  '/healthz': { GET: 'health' },
};

function describe(artifact: Artifact): { pathspec: string; sha: string; size: number; type: string } {
  return { pathspec: artifact.pathspec, sha: artifact.sha, size: artifact.size, type: artifact.type };
}
