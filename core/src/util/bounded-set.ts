/**
 * A set that keeps at most `max` members, forgetting the least recently added or touched first.
 * @internal
 */
export class BoundedSet<T> {
  private readonly members = new Set<T>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new TypeError(`BoundedSet max must be a positive integer, got ${max}.`);
  }

  has(value: T): boolean {
    return this.members.has(value);
  }

  add(value: T): void {
    // Re-inserting moves the member to the end: insertion order is recency order.
    this.members.delete(value);
    this.members.add(value);
    if (this.members.size > this.max) this.members.delete(this.members.values().next().value as T);
  }

  delete(value: T): void {
    this.members.delete(value);
  }

  get size(): number {
    return this.members.size;
  }
}
