import { TributaryError } from '../errors.ts';
import { MAX_TASK_BATCH, type TaskSet } from '../ports/metadata-store.ts';

/**
 * The part of a batch read every metadata store shares: the size limit, which ids can name a task
 * (decimal, at most 18 digits; anything else is left out, never an error), and keying the result by
 * the ids as the caller wrote them. An id spelled two ways (`7`, `07`) gets an entry under each,
 * each its own copy.
 * @public
 */
export class TaskBatchPlan {
  /** Canonical decimal ids (no leading zeros) to look up, each once. */
  readonly ids: string[];
  /** The run id, canonical, or `undefined` when it cannot name a run (the result is then empty). */
  readonly runId: string | undefined;
  private readonly spellings = new Map<string, string[]>();

  constructor(set: TaskSet) {
    if (set.taskIds.length > MAX_TASK_BATCH)
      throw new TributaryError(
        'PARAM_INVALID',
        `A batch read takes at most ${MAX_TASK_BATCH} task ids; got ${set.taskIds.length}. Split it into batches of ${MAX_TASK_BATCH}.`,
      );
    for (const taskId of set.taskIds) {
      const id = canonicalId(taskId);
      if (id === undefined) continue;
      const list = this.spellings.get(id);
      if (!list) this.spellings.set(id, [taskId]);
      else if (!list.includes(taskId)) list.push(taskId);
    }
    this.ids = [...this.spellings.keys()];
    this.runId = canonicalId(set.runId);
  }

  /** Nothing to look up: answer `{}` without a query. */
  get empty(): boolean {
    return this.ids.length === 0 || this.runId === undefined;
  }

  /** The answer, keyed as the caller spelled each id, from values by canonical id (missing ids stay out). */
  result<T>(byId: ReadonlyMap<string, T>): Record<string, T> {
    const out: Record<string, T> = {};
    for (const [id, value] of byId) this.spellings.get(id)?.forEach((name, i) => (out[name] = i === 0 ? value : structuredClone(value)));
    return out;
  }
}

function canonicalId(id: unknown): string | undefined {
  if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) return undefined;
  return BigInt(id).toString();
}
