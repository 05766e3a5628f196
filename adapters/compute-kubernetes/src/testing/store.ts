/**
 * The emulator's etcd: every object by resource and `namespace/name`, one global, increasing
 * resourceVersion (as etcd's revision is), and a bounded event history so a watch can resume from
 * a resourceVersion a list returned (the informer pattern). Objects handed out are copies.
 */
import { badRequest, gone, type StatusBody } from './api-errors.ts';
import { clone, keyOf, type KubeObject, type Resource } from './model.ts';
import type { Matcher } from './selectors.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: EventType | 'ERROR';
  object: KubeObject | StatusBody;
}

interface StoredEvent {
  rv: number;
  resource: Resource;
  namespace: string;
  type: EventType;
  object: KubeObject;
}

interface Watcher {
  resource: Resource;
  namespace: string | undefined;
  matches: Matcher;
  send: (event: WatchEvent) => void;
}

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** How many events a watch can resume from; an older resourceVersion gets 410 Gone, as from a compacted etcd. */
const HISTORY = 20_000;

export class ObjectStore {
  private revision = 0;
  private readonly objects = new Map<Resource, Map<string, KubeObject>>([
    ['jobs', new Map()],
    ['pods', new Map()],
    ['secrets', new Map()],
  ]);
  private readonly history: StoredEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly listeners = new Set<(resource: Resource, type: EventType, object: KubeObject) => void>();

  get resourceVersion(): string {
    return String(this.revision);
  }

  /** The stored object itself (not a copy): only the store's own methods may change it. */
  peek<T extends KubeObject>(resource: Resource, namespace: string, name: string): T | undefined {
    return this.objects.get(resource)!.get(keyOf(namespace, name)) as T | undefined;
  }

  get<T extends KubeObject>(resource: Resource, namespace: string, name: string): T | undefined {
    const object = this.peek<T>(resource, namespace, name);
    return object ? clone(object) : undefined;
  }

  all<T extends KubeObject>(resource: Resource, namespace?: string): T[] {
    const out: T[] = [];
    for (const object of this.objects.get(resource)!.values()) {
      if (namespace === undefined || object.metadata.namespace === namespace) out.push(clone(object) as T);
    }
    return out;
  }

  create<T extends KubeObject>(resource: Resource, object: T): T {
    const stored = clone(object);
    stored.metadata.resourceVersion = String(++this.revision);
    this.objects.get(resource)!.set(keyOf(stored.metadata.namespace!, stored.metadata.name), stored);
    this.record(resource, 'ADDED', stored);
    return clone(stored);
  }

  /**
   * Applies `mutate` to a copy; stores it (new resourceVersion, MODIFIED) only if something changed,
   * as the API server makes no-op updates free. Returns the stored object, or undefined if absent.
   */
  update<T extends KubeObject>(resource: Resource, namespace: string, name: string, mutate: (object: T) => void): T | undefined {
    const current = this.peek<T>(resource, namespace, name);
    if (!current) return undefined;
    const next = clone(current);
    mutate(next);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(current)) return clone(current);
    next.metadata.resourceVersion = String(++this.revision);
    this.objects.get(resource)!.set(keyOf(namespace, name), next);
    this.record(resource, 'MODIFIED', next);
    return clone(next);
  }

  remove<T extends KubeObject>(resource: Resource, namespace: string, name: string): T | undefined {
    const map = this.objects.get(resource)!;
    const current = map.get(keyOf(namespace, name));
    if (!current) return undefined;
    map.delete(keyOf(namespace, name));
    // The DELETED event carries the last state at a new resourceVersion, as the real one does.
    const last = clone(current);
    last.metadata.resourceVersion = String(++this.revision);
    this.record(resource, 'DELETED', last);
    return clone(last) as T;
  }

  /** Sorted by namespace and name; `limit`/`continue` paging as the real server pages a list. */
  list(resource: Resource, namespace: string | undefined, matches: Matcher, limit?: number, continueToken?: string): ListPage {
    let start = '';
    if (continueToken) {
      try {
        start = (JSON.parse(Buffer.from(continueToken, 'base64url').toString('utf8')) as { start: string }).start;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
    }
    const keys = [...this.objects.get(resource)!.keys()].sort().filter((key) => key > start);
    const items: KubeObject[] = [];
    let remaining = 0;
    let last = '';
    for (const key of keys) {
      const object = this.objects.get(resource)!.get(key)!;
      if (namespace !== undefined && object.metadata.namespace !== namespace) continue;
      if (!matches(object)) continue;
      if (limit && items.length >= limit) {
        remaining++;
        continue;
      }
      items.push(clone(object));
      last = key;
    }
    const page: ListPage = { items, resourceVersion: this.resourceVersion };
    if (remaining > 0) {
      page.continue = Buffer.from(JSON.stringify({ rv: this.revision, start: last })).toString('base64url');
      page.remainingItemCount = remaining;
    }
    return page;
  }

  /**
   * Starts a watch. Without a resourceVersion (or "0") it first replays every matching object as
   * ADDED, as the real server does; with one, it sends the events after it, or a 410 ERROR event if
   * that version is older than the history kept. Returns the unsubscribe function.
   */
  watch(
    resource: Resource,
    namespace: string | undefined,
    matches: Matcher,
    resourceVersion: string | undefined,
    send: (event: WatchEvent) => void,
  ): () => void {
    const watcher: Watcher = { resource, namespace, matches, send };
    const relevant = (r: Resource, ns: string, object: KubeObject) =>
      r === resource && (namespace === undefined || ns === namespace) && matches(object);
    if (!resourceVersion || resourceVersion === '0') {
      for (const object of this.objects.get(resource)!.values()) {
        if (relevant(resource, object.metadata.namespace!, object)) send({ type: 'ADDED', object: clone(object) });
      }
    } else {
      const since = Number(resourceVersion);
      if (!Number.isInteger(since)) throw badRequest(`invalid resource version: ${resourceVersion}`);
      const oldest = this.history[0]?.rv ?? this.revision + 1;
      if (since < oldest - 1 && since < this.revision) {
        send({ type: 'ERROR', object: gone(`too old resource version: ${since} (${oldest - 1})`) });
        return () => {};
      }
      for (const event of this.history) {
        if (event.rv > since && relevant(event.resource, event.namespace, event.object))
          send({ type: event.type, object: clone(event.object) });
      }
    }
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** In-process subscribers (the kubelet waits for Secrets this way). */
  subscribe(listener: (resource: Resource, type: EventType, object: KubeObject) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(resource: Resource, type: EventType, object: KubeObject): void {
    const namespace = object.metadata.namespace!;
    this.history.push({ rv: this.revision, resource, namespace, type, object: clone(object) });
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    for (const w of this.watchers) {
      if (w.resource === resource && (w.namespace === undefined || w.namespace === namespace) && w.matches(object)) {
        w.send({ type, object: clone(object) });
      }
    }
    for (const listener of this.listeners) listener(resource, type, object);
  }
}
