import type { ArtifactRecord } from '../ports/metadata-store.ts';
import type { ClientContext } from './client-context.ts';

/**
 * One stored value of a task: its reference (content address, size, type, encoding) is known at
 * once; the value is read and decoded on the first `get()` (verified against its address), then kept.
 * @public
 */
export class Artifact<T = unknown> {
  private value?: Promise<T>;

  /** @internal */
  constructor(
    private readonly ctx: ClientContext,
    /** Pathspec of the task that holds it (`Flow/run/step/task`). */
    readonly taskPathspec: string,
    private readonly ref: ArtifactRecord,
  ) {}

  get name(): string {
    return this.ref.name;
  }

  /** `Flow/run/step/task/name`. */
  get pathspec(): string {
    return `${this.taskPathspec}/${this.ref.name}`;
  }

  /** Hex SHA-256 of the stored bytes: equal values share it (within a flow). */
  get sha(): string {
    return this.ref.sha;
  }

  /** Stored size in bytes. */
  get size(): number {
    return this.ref.size;
  }

  /** The value's type as a user would name it (`number`, `Map`, `Float64Array`, ...). */
  get type(): string {
    return this.ref.type;
  }

  /** How the bytes decode (`msgpack`, `raw`, ...). */
  get encoding(): string {
    return this.ref.encoding;
  }

  /** The attempt that stored it. */
  get attempt(): number {
    return this.ref.attempt;
  }

  /** The value, decoded (once; later calls return the same value). */
  get<V = T>(): Promise<V> {
    if (!this.value) {
      const flow = this.taskPathspec.slice(0, this.taskPathspec.indexOf('/'));
      const read = this.ctx.artifacts(flow).forTask(this.taskPathspec).load(this.ref) as Promise<T>;
      read.catch(() => (this.value = undefined));
      this.value = read;
    }
    return this.value as unknown as Promise<V>;
  }

  toJSON(): ArtifactRecord & { pathspec: string } {
    return { pathspec: this.pathspec, ...this.ref };
  }
}
