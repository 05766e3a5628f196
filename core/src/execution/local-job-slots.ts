import { availableParallelism } from 'node:os';

/**
 * One budget for the job processes this process starts on its own machine, over all its runs:
 * the number of cores, or the largest `maxWorkers` among the runs using it (as the warm pool).
 * Ten concurrent runs on local jobs then start at most that many processes at once, not ten
 * times `maxWorkers`. Waiting jobs are served in order.
 * @internal
 */
export class LocalJobSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly runs = new Map<symbol, number>();

  /** A run using the budget (its `maxWorkers`); returns how to take it off. */
  join(maxWorkers: number): () => void {
    const id = Symbol('run');
    this.runs.set(id, maxWorkers);
    return () => {
      this.runs.delete(id);
      this.wake();
    };
  }

  private limit(): number {
    return Math.max(availableParallelism(), ...this.runs.values());
  }

  /** Resolves with the slot's release once a slot is free; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const take = () => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.running--;
          this.wake();
        });
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
      this.wake();
    });
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.running < this.limit()) this.waiting.shift()!();
  }
}

/** The budget of this process's local jobs. @internal */
export const localJobSlots = new LocalJobSlots();
