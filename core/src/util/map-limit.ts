/**
 * `items.map(fn)` with at most `limit` calls running at once. The first failure stops the rest:
 * no new calls start, and the signal given to running ones aborts (so their downloads and tools
 * stop); once all have settled, that first failure is what rejects. Resolvers fetch and hash
 * archives with it.
 * @public
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<R[]> {
  const siblings = new AbortController();
  const shared = options.signal === undefined ? siblings.signal : AbortSignal.any([options.signal, siblings.signal]);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  async function worker(): Promise<void> {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index, shared);
      } catch (error) {
        failure ??= { error };
        siblings.abort();
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker()));
  if (failure !== undefined) throw failure.error;
  return results;
}
