import type { ArtifactRecord, AttemptRecord, TaskRecord } from '../ports/metadata-store.ts';
import type { ClientContext } from './client-context.ts';

/**
 * The tasks of one page (or one lookup), read together: the first task that asks for its
 * artifacts, metadata or attempts fetches them for every task of the page in one query. Walking
 * a 10,000-task step and reading each task's artifacts costs two queries per page, not one per task.
 * @internal
 */
export class TaskBatch {
  private artifacts?: Promise<Record<string, ArtifactRecord[]>>;
  private metadata?: Promise<Record<string, Record<string, string>>>;
  private attempts?: Promise<Record<string, AttemptRecord[]>>;
  private readonly taskIds: string[];

  constructor(
    private readonly ctx: ClientContext,
    readonly flow: string,
    readonly runId: string,
    tasks: readonly TaskRecord[],
  ) {
    this.taskIds = tasks.map((t) => t.taskId);
  }

  private get set() {
    return { flow: this.flow, runId: this.runId, taskIds: this.taskIds };
  }

  async artifactsOf(taskId: string): Promise<ArtifactRecord[]> {
    this.artifacts ??= forgetOnFailure(this.ctx.metadata.listArtifactsOfTasks(this.set), () => (this.artifacts = undefined));
    return (await this.artifacts)[taskId] ?? [];
  }

  async metadataOf(taskId: string): Promise<Record<string, string>> {
    this.metadata ??= forgetOnFailure(this.ctx.metadata.getMetadataOfTasks(this.set), () => (this.metadata = undefined));
    return (await this.metadata)[taskId] ?? {};
  }

  async attemptsOf(taskId: string): Promise<AttemptRecord[]> {
    this.attempts ??= forgetOnFailure(this.ctx.metadata.listAttemptsOfTasks(this.set), () => (this.attempts = undefined));
    return (await this.attempts)[taskId] ?? [];
  }
}

/** A failed read is not cached: the next caller asks again (the store may be back). */
function forgetOnFailure<T>(read: Promise<T>, forget: () => void): Promise<T> {
  read.catch(forget);
  return read;
}
