/**
 * The closed/abort handling every environment resolver shares: work runs with a signal that
 * aborts on the caller's signal or on `close()`, a closed resolver refuses new work with
 * `CLOSED`, and work cut short by `close()` rejects with `CLOSED` (not with whatever the killed
 * tool printed).
 */
import { TributaryError } from '../errors.ts';

/** @public */
export class ResolverLifecycle {
  readonly #closing = new AbortController();
  readonly #adapter: string;

  constructor(adapter: string) {
    this.#adapter = adapter;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** Runs `work` with a signal that aborts on `callerSignal` or on close; close wins as `CLOSED`. */
  async run<T>(callerSignal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw this.#closedError();
    const signal = callerSignal === undefined ? this.#closing.signal : AbortSignal.any([callerSignal, this.#closing.signal]);
    try {
      if (signal.aborted)
        throw new TributaryError('ABORTED', `Aborted before the ${this.#adapter} resolver started`, {
          context: { adapter: this.#adapter },
        });
      return await work(signal);
    } catch (error) {
      if (this.closed) throw this.#closedError(error);
      throw error;
    }
  }

  /** Aborts running work; later calls reject with `CLOSED`. */
  close(): void {
    this.#closing.abort();
  }

  #closedError(cause?: unknown): TributaryError {
    return new TributaryError('CLOSED', `The ${this.#adapter} environment resolver is closed`, {
      cause,
      context: { adapter: this.#adapter },
    });
  }
}
