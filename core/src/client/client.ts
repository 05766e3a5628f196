import { TributaryError } from '../errors.ts';
import { flowNameOf } from '../flow/flow-name.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import { openConfigured } from '../runtime/adapter-registry.ts';
import { tributaryHome } from '../runtime/home.ts';
import type { Artifact } from './artifact.ts';
import { ClientContext } from './client-context.ts';
import { Flow } from './flow.ts';
import { defaultNamespace, type Namespace } from './namespace.ts';
import { parsePathspec } from './pathspec.ts';
import type { Run } from './run.ts';
import type { Step } from './step.ts';
import { Task } from './task.ts';

/** @public */
export interface ClientOptions {
  metadata: MetadataStore;
  datastore: Datastore;
  /** Whose runs it sees: a tag such as `user:alice` or `production:<token>`, or `null` for all. Default: `defaultNamespace()`. */
  namespace?: Namespace;
}

/** @public */
export interface OpenClientOptions {
  /** Folder of the embedded default stores. Default `$TRIBUTARY_HOME` or `./.tributary`. */
  home?: string;
  /** A MetadataStore or its URL. Default: SQLite at `<home>/metadata.sqlite`. */
  metadata?: MetadataStore | string;
  /** A Datastore or its URL. Default: files under `<home>`. */
  datastore?: Datastore | string;
  namespace?: Namespace;
}

/**
 * Reads every flow, run, step, task and artifact a metadata store and datastore hold, like
 * Metaflow's client: objects are addressed by pathspec (`Flow/run/step/task/artifact`) and lead to
 * each other both ways. It holds no process-wide state: two clients on different stores (or in
 * different namespaces) live side by side.
 *
 * Only runs in its namespace are visible (default `user:<you>`); `withNamespace(null)` sees all.
 * @public
 */
export class Client {
  private readonly ctx: ClientContext;
  private readonly closeOwned: () => Promise<void>;

  constructor(options: ClientOptions, /** @internal */ closeOwned: () => Promise<void> = async () => {}) {
    this.ctx = new ClientContext(
      options.metadata,
      options.datastore,
      options.namespace === undefined ? defaultNamespace() : options.namespace,
    );
    this.closeOwned = closeOwned;
  }

  /** A client on configured stores (URLs, instances or the embedded defaults); `close()` closes what it opened. */
  static async open(options: OpenClientOptions = {}): Promise<Client> {
    const home = tributaryHome(options.home);
    const ds = await openConfigured('datastore', options.datastore, home);
    let md;
    try {
      md = await openConfigured('metadata', options.metadata, home);
    } catch (err) {
      if (ds.owned) await ds.adapter.close();
      throw err;
    }
    const opened = { ds, md };
    return new Client(
      { metadata: md.adapter, datastore: ds.adapter, ...(options.namespace !== undefined ? { namespace: options.namespace } : {}) },
      async () => {
        if (opened.ds.owned) await opened.ds.adapter.close();
        if (opened.md.owned) await opened.md.adapter.close();
      },
    );
  }

  get metadata(): MetadataStore {
    return this.ctx.metadata;
  }
  get datastore(): Datastore {
    return this.ctx.datastore;
  }
  /** The namespace it reads in (`null`: every namespace). */
  get namespace(): Namespace {
    return this.ctx.namespace;
  }

  /** The same stores in another namespace (`null`: every namespace). Closing either closes the stores once. */
  withNamespace(namespace: Namespace): Client {
    const next = new Client({ metadata: this.ctx.metadata, datastore: this.ctx.datastore, namespace }, this.closeOwned);
    return next;
  }

  /** The flows with runs in the namespace, by name. */
  async flows(): Promise<Flow[]> {
    const names = await this.ctx.metadata.listFlows(this.ctx.namespace === null ? {} : { tags: [this.ctx.namespace] });
    return names.map((n) => new Flow(this.ctx, n));
  }

  /** A flow by name or by its class (which types its runs' artifacts). No query runs yet. */
  flow<F = unknown>(flow: string | (abstract new (...args: never[]) => F)): Flow<F> {
    const name = typeof flow === 'string' ? parsePathspec(flow, 1, 1, { taker: 'client.flow()' }).flow : flowNameOf(flow as Function);
    return new Flow<F>(this.ctx, name);
  }

  /** A run by pathspec (`Flow/run`); `NOT_FOUND`, or `NAMESPACE_MISMATCH` outside the namespace. */
  async run<F = unknown>(pathspec: string): Promise<Run<F>> {
    const ps = parsePathspec(pathspec, 2, 2, { taker: 'client.run()' });
    return new Flow<F>(this.ctx, ps.flow).run(ps.runId!);
  }

  /** A step by pathspec (`Flow/run/step`). */
  async step<F = unknown>(pathspec: string): Promise<Step<F>> {
    const ps = parsePathspec(pathspec, 3, 3, { taker: 'client.step()' });
    return (await this.run<F>(`${ps.flow}/${ps.runId}`)).step(ps.step!);
  }

  /** A task by pathspec (`Flow/run/step/task`); `NOT_FOUND` when the task belongs to another step. */
  async task<F = unknown>(pathspec: string): Promise<Task<F>> {
    const ps = parsePathspec(pathspec, 4, 4, { taker: 'client.task()' });
    await this.run(`${ps.flow}/${ps.runId}`);
    const record = await this.ctx.metadata.getTask({ flow: ps.flow, runId: ps.runId!, taskId: ps.taskId! });
    if (record.step !== ps.step)
      throw new TributaryError(
        'NOT_FOUND',
        `Task ${ps.taskId} of ${ps.flow}/${ps.runId} belongs to step ${record.step}, not ${ps.step}: its pathspec is ${ps.flow}/${ps.runId}/${record.step}/${ps.taskId}.`,
        { context: { pathspec } },
      );
    return new Task<F>(this.ctx, record);
  }

  /** An artifact by pathspec (`Flow/run/step/task/name`); `T` types its value. */
  async artifact<T = unknown>(pathspec: string): Promise<Artifact<T>> {
    const ps = parsePathspec(pathspec, 5, 5, { taker: 'client.artifact()' });
    const task = await this.task(`${ps.flow}/${ps.runId}/${ps.step}/${ps.taskId}`);
    return (await task.artifact(ps.artifact!)) as Artifact<T>;
  }

  /** Close the stores `Client.open` opened (stores you passed stay yours). */
  async close(): Promise<void> {
    await this.closeOwned();
  }
}
