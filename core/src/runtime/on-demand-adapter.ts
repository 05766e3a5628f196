/**
 * A stand-in for an adapter that is not kept open: every call opens the adapter, makes the call
 * and closes it again. A `Run` returned by runFlow holds no file descriptors or connections this
 * way, while `run.metadata.listTasks(...)` still works.
 */

/** Opens a fresh instance of the adapter (the caller closes it). */
type Opener<T> = () => Promise<T & { close(): Promise<void> }>;

/** Methods that cannot reopen per call (synchronous, or bound to an open instance). */
const NOT_ON_DEMAND = new Set<PropertyKey>(['readSync', 'locator', 'then']);

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Wrap `closed` (an instance already closed, which still answers `name` and `capabilities`) so
 * that its methods reopen the adapter per call. A call that returns a stream keeps its instance
 * open until the stream ends.
 * @internal
 */
export function onDemandAdapter<T extends object>(closed: T, open: Opener<T>): T {
  return new Proxy(closed, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (NOT_ON_DEMAND.has(key)) return undefined;
      if (key === 'close') return async () => undefined;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const adapter = await open();
        let result: unknown;
        try {
          result = await (adapter as Record<PropertyKey, (...a: unknown[]) => unknown>)[key as string]!(...args);
        } catch (err) {
          await adapter.close().catch(() => undefined);
          throw err;
        }
        if (!isAsyncIterable(result)) {
          await adapter.close();
          return result;
        }
        const stream = result;
        return (async function* () {
          try {
            yield* stream;
          } finally {
            await adapter.close();
          }
        })();
      };
    },
  });
}
