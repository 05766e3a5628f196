import { TributaryError } from '../errors.ts';
import { MAX_TASK_BATCH, type Page, type TaskStatus } from '../ports/metadata-store.ts';
import type { ClientContext } from './client-context.ts';
import type { Run } from './run.ts';
import { TaskBatch } from './task-batch.ts';
import { Task } from './task.ts';

/** Which tasks of a step, and how many per page. @public */
export interface TaskFilter {
  status?: TaskStatus;
  /** Tasks per page (and per batched read of their artifacts, metadata and attempts). Default and maximum 1000. */
  pageSize?: number;
}

/**
 * A step of a run. Its tasks are read page by page: `for await (const task of step.tasks())` walks a
 * 10,000-split foreach with a bounded number of queries and a page of tasks in memory at a time.
 * @public
 */
export class Step<F = any> {
  /** @internal */
  constructor(
    private readonly ctx: ClientContext,
    /** The run it belongs to. */
    readonly run: Run<F>,
    readonly name: string,
  ) {}

  /** `Flow/run/step`. */
  get pathspec(): string {
    return `${this.run.pathspec}/${this.name}`;
  }

  /** One page of tasks, in creation order; pass `cursor` back for the next. */
  async listTasks(query: TaskFilter & { cursor?: string } = {}): Promise<Page<Task<F>>> {
    const limit = Math.min(Math.max(1, query.pageSize ?? MAX_TASK_BATCH), MAX_TASK_BATCH);
    const page = await this.ctx.metadata.listTasks({
      flow: this.run.flow,
      runId: this.run.runId,
      step: this.name,
      ...(query.status ? { status: query.status } : {}),
      ...(query.cursor ? { cursor: query.cursor } : {}),
      limit,
    });
    const batch = new TaskBatch(this.ctx, this.run.flow, this.run.runId, page.items);
    const items = page.items.map((r) => new Task<F>(this.ctx, r, batch));
    return page.cursor ? { items, cursor: page.cursor } : { items };
  }

  /** Every task, in creation order, a page at a time. */
  async *tasks(filter: TaskFilter = {}): AsyncGenerator<Task<F>, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listTasks({ ...filter, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }

  /** The step's first task (the only one, outside a foreach or branch); `NOT_FOUND` when it has none yet. */
  async task(): Promise<Task<F>> {
    const first = (await this.listTasks({ pageSize: 1 })).items[0];
    if (!first)
      throw new TributaryError(
        'NOT_FOUND',
        `Step ${this.pathspec} has no task${this.run.finished ? '' : ' yet'} (the run is ${this.run.status}).`,
        {
          context: { pathspec: this.pathspec },
        },
      );
    return first;
  }

  toJSON(): { pathspec: string; name: string } {
    return { pathspec: this.pathspec, name: this.name };
  }
}
