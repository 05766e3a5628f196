import { TributaryError } from '../errors.ts';
import type { FlowGraph } from '../graph/ir.ts';
import type { RunRecord, RunStatus } from '../ports/metadata-store.ts';
import type { Artifact } from './artifact.ts';
import type { ClientContext } from './client-context.ts';
import type { DataOf } from './data-of.ts';
import { Step } from './step.ts';
import type { Task } from './task.ts';

/**
 * A run of a flow, as recorded when it was read (`refresh()` reads it again). `F`, the flow class,
 * types `data()` and `artifact()`: `(await client.run<TrainFlow>('TrainFlow/12').data()).best`.
 * @public
 */
export class Run<F = any> {
  /** @internal */
  constructor(
    /** @internal */
    protected readonly ctx: ClientContext,
    readonly record: RunRecord,
  ) {}

  /** The flow's name. */
  get flow(): string {
    return this.record.flow;
  }
  get runId(): string {
    return this.record.runId;
  }
  /** `Flow/run`. */
  get pathspec(): string {
    return `${this.flow}/${this.runId}`;
  }
  get status(): RunStatus {
    return this.record.status;
  }
  get successful(): boolean {
    return this.record.status === 'succeeded';
  }
  get finished(): boolean {
    return this.record.status !== 'running';
  }
  get user(): string {
    return this.record.user;
  }
  /** User tags (`addTags`, `removeTags`, `replaceTags` change them). */
  get tags(): string[] {
    return [...this.record.tags];
  }
  /** Tags the system set (`user:<name>`, `runtime:node20`, ...); they never change. */
  get systemTags(): string[] {
    return [...this.record.systemTags];
  }
  /** The run's parameters. */
  get params(): Record<string, unknown> {
    return this.record.params;
  }
  get createdAt(): Date {
    return new Date(this.record.createdAt);
  }
  get finishedAt(): Date | undefined {
    return this.record.finishedAt === undefined ? undefined : new Date(this.record.finishedAt);
  }
  /** On a resumed run: the run it resumed. */
  get originRunId(): string | undefined {
    return this.record.originRunId;
  }
  /** SHA-256 of the flow's source module when it ran. */
  get codeHash(): string {
    return this.record.codeHash;
  }
  /** The flow's static graph when it ran. */
  get graph(): FlowGraph {
    return this.record.graph as FlowGraph;
  }

  /** One step (of the run's graph, or `_parameters`); `NOT_FOUND` naming the steps there are. */
  step(name: string): Step<F> {
    const order = this.graph.order ?? [];
    if (name !== '_parameters' && order.length && !order.includes(name))
      throw new TributaryError('NOT_FOUND', `Run ${this.pathspec} has no step ${JSON.stringify(name)}. Its steps: ${order.join(', ')}.`, {
        context: { pathspec: this.pathspec, step: name },
      });
    return new Step<F>(this.ctx, this, name);
  }

  /** The steps that have tasks, in graph order (one query per step of the graph). */
  async steps(): Promise<Step<F>[]> {
    const steps = (this.graph.order ?? []).map((name) => new Step<F>(this.ctx, this, name));
    const started = await Promise.all(steps.map(async (s) => (await s.listTasks({ pageSize: 1 })).items.length > 0));
    return steps.filter((_, i) => started[i]);
  }

  /** The end step's task, once it exists. */
  async endTask(): Promise<Task<F> | undefined> {
    return (await this.step(this.graph.end).listTasks({ pageSize: 1, status: 'succeeded' })).items[0];
  }

  /**
   * The artifacts of a step's task, decoded and typed (default: the end step, as Metaflow's
   * `run.data`). A step with several tasks gives its first; `NOT_FOUND` when it has no successful task.
   */
  async data(step?: string): Promise<DataOf<F>> {
    return (await this.dataTask(step)).data();
  }

  /** One artifact of the end step's task (or of `step`'s first task), read when you `get()` it. */
  async artifact<K extends string>(name: K, step?: string): Promise<Artifact<DataOf<F>[K]>> {
    return (await this.dataTask(step)).artifact(name);
  }

  private async dataTask(step?: string): Promise<Task<F>> {
    const target = step ?? this.graph.end;
    const task = (await this.step(target).listTasks({ pageSize: 1, status: 'succeeded' })).items[0];
    if (!task)
      throw new TributaryError('NOT_FOUND', `Run ${this.pathspec} has no successful task of step ${target}.`, {
        context: { pathspec: this.pathspec, step: target },
      });
    return task;
  }

  /** The run as stored now. */
  async refresh(): Promise<Run<F>> {
    return new Run<F>(this.ctx, await this.ctx.metadata.getRun(this.flow, this.runId));
  }

  /** Add user tags; resolves with the run as stored after. */
  async addTags(...tags: string[]): Promise<Run<F>> {
    await this.ctx.metadata.addTags(this.flow, this.runId, tags);
    return this.refresh();
  }

  /** Remove user tags (system tags cannot be removed: `CONFLICT`). */
  async removeTags(...tags: string[]): Promise<Run<F>> {
    await this.ctx.metadata.removeTags(this.flow, this.runId, tags);
    return this.refresh();
  }

  /** Remove `remove` and add `add` in one step: no reader sees the run with neither. */
  async replaceTags(remove: string[], add: string[]): Promise<Run<F>> {
    await this.ctx.metadata.replaceTags(this.flow, this.runId, remove, add);
    return this.refresh();
  }

  toJSON(): RunRecord & { pathspec: string } {
    return { pathspec: this.pathspec, ...this.record };
  }
}
