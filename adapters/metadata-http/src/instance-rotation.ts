/**
 * Which service instance a call tries first, and which next. Calls take the instances in turn,
 * skipping one that failed lately: after a failure an instance sits out a cool-down that doubles
 * with each failure in a row (100 ms up to 5 s), then gets traffic again, which is its probe. A
 * call's retries walk on from the instance that failed, so with one instance of three down a call
 * reaches a live one on its second try, without waiting; it backs off only once it has tried
 * every instance. When every instance is cooling down, calls go to them in turn anyway.
 */
export class InstanceRotation {
  readonly #downUntil: number[];
  readonly #failures: number[];
  #next = 0;

  constructor(readonly size: number) {
    this.#downUntil = new Array<number>(size).fill(0);
    this.#failures = new Array<number>(size).fill(0);
  }

  /** The instance a new call starts at. */
  first(): number {
    const now = Date.now();
    const start = this.#next++ % this.size;
    for (let k = 0; k < this.size; k++) {
      const i = (start + k) % this.size;
      if (this.#downUntil[i]! <= now) return i;
    }
    return start;
  }

  /** The instance of try number `attempt` (0-based) of a call that started at `first`. */
  at(first: number, attempt: number): number {
    return (first + attempt) % this.size;
  }

  /** Whether try number `attempt` should wait first: only once the call has tried every instance. */
  backsOff(attempt: number): boolean {
    return attempt > 0 && attempt % this.size === 0;
  }

  failed(i: number): void {
    this.#failures[i] = this.#failures[i]! + 1;
    this.#downUntil[i] = Date.now() + Math.min(5000, 100 * 2 ** (this.#failures[i]! - 1));
  }

  succeeded(i: number): void {
    this.#failures[i] = 0;
    this.#downUntil[i] = 0;
  }
}
