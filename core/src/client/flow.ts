import { TributaryError } from '../errors.ts';
import type { Page, RunQuery, RunStatus } from '../ports/metadata-store.ts';
import type { ClientContext } from './client-context.ts';
import { describeNamespace, inNamespace } from './namespace.ts';
import { Run } from './run.ts';

/** Which runs of a flow (all conditions hold), newest first. @public */
export interface RunFilter {
  /** Runs carrying every one of these tags (user or system), on top of the namespace's. */
  tags?: string[];
  user?: string;
  status?: RunStatus;
  /** Created at or after. */
  since?: Date | number;
  /** Created before. */
  until?: Date | number;
  /** Runs per page (default 100, at most 1000). */
  pageSize?: number;
}

/**
 * A flow: its runs, newest first, in the client's namespace. No query runs until you ask for runs.
 * @public
 */
export class Flow<F = any> {
  /** @internal */
  constructor(
    private readonly ctx: ClientContext,
    readonly name: string,
  ) {}

  get pathspec(): string {
    return this.name;
  }

  /** One page of runs; pass `cursor` back for the next. */
  async listRuns(filter: RunFilter & { cursor?: string } = {}): Promise<Page<Run<F>>> {
    const page = await this.ctx.metadata.listRuns(this.query(filter));
    const items = page.items.map((r) => new Run<F>(this.ctx, r));
    return page.cursor ? { items, cursor: page.cursor } : { items };
  }

  /** Every matching run, newest first, a page at a time. */
  async *runs(filter: RunFilter = {}): AsyncGenerator<Run<F>, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listRuns({ ...filter, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }

  /** The newest matching run (one query). */
  async latestRun(filter: Omit<RunFilter, 'pageSize'> = {}): Promise<Run<F> | undefined> {
    return (await this.listRuns({ ...filter, pageSize: 1 })).items[0];
  }

  /** The newest run that succeeded (one query). */
  async latestSuccessfulRun(filter: Omit<RunFilter, 'pageSize' | 'status'> = {}): Promise<Run<F> | undefined> {
    return this.latestRun({ ...filter, status: 'succeeded' });
  }

  /** A run by id; `NOT_FOUND`, or `NAMESPACE_MISMATCH` when it is outside the client's namespace. */
  async run(runId: string): Promise<Run<F>> {
    const record = await this.ctx.metadata.getRun(this.name, runId);
    if (!inNamespace(record, this.ctx.namespace))
      throw new TributaryError(
        'NAMESPACE_MISMATCH',
        `Run ${this.name}/${runId} is not in ${describeNamespace(this.ctx.namespace)} (it was run by ${record.user}). ` +
          `Read it in its namespace (client.withNamespace('user:${record.user}')) or in every namespace (client.withNamespace(null), --namespace global).`,
        { context: { pathspec: `${this.name}/${runId}`, namespace: this.ctx.namespace } },
      );
    return new Run<F>(this.ctx, record);
  }

  private query(filter: RunFilter & { cursor?: string }): RunQuery {
    const tags = [...(filter.tags ?? []), ...(this.ctx.namespace === null ? [] : [this.ctx.namespace])];
    const time = (t: Date | number) => (typeof t === 'number' ? t : t.getTime());
    return {
      flow: this.name,
      ...(tags.length ? { tags: [...new Set(tags)] } : {}),
      ...(filter.user !== undefined ? { user: filter.user } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.since !== undefined ? { since: time(filter.since) } : {}),
      ...(filter.until !== undefined ? { until: time(filter.until) } : {}),
      ...(filter.cursor ? { cursor: filter.cursor } : {}),
      limit: Math.min(Math.max(1, filter.pageSize ?? 100), 1000),
    };
  }

  toJSON(): { name: string } {
    return { name: this.name };
  }
}
