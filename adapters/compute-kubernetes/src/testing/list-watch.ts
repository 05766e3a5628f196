/** LIST and WATCH of any stored resource, with selectors, paging, resourceVersion and timeoutSeconds. */
import { badRequest } from './api-errors.ts';
import type { ApiRequest, Reply } from './http-server.ts';
import type { KubeObject, Resource } from './model.ts';
import { fieldMatcher, labelMatcher, type Matcher } from './selectors.ts';
import { toTable, wantsTable } from './tables.ts';
import type { ObjectStore } from './store.ts';

const LIST_KINDS: Record<Resource, { kind: string; apiVersion: string }> = {
  jobs: { kind: 'JobList', apiVersion: 'batch/v1' },
  pods: { kind: 'PodList', apiVersion: 'v1' },
  secrets: { kind: 'SecretList', apiVersion: 'v1' },
};

export function isWatch(query: URLSearchParams): boolean {
  const watch = query.get('watch');
  return watch === 'true' || watch === '1';
}

function matcher(query: URLSearchParams): Matcher {
  const labels = labelMatcher(query.get('labelSelector') ?? undefined);
  const fields = fieldMatcher(query.get('fieldSelector') ?? undefined);
  return (object) => labels(object) && fields(object);
}

/** List items carry no kind/apiVersion: the real server leaves them to the list's. */
function listItem(object: KubeObject): Omit<KubeObject, 'kind' | 'apiVersion'> {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = object;
  return rest;
}

export function listReply(
  store: ObjectStore,
  resource: Resource,
  namespace: string | undefined,
  query: URLSearchParams,
  accept?: string | string[],
): Reply {
  const limitText = query.get('limit');
  const limit = limitText ? Number(limitText) : undefined;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`invalid limit: ${limitText}`);
  const page = store.list(resource, namespace, matcher(query), limit, query.get('continue') ?? undefined);
  const metadata: Record<string, unknown> = { resourceVersion: page.resourceVersion };
  if (page.continue) {
    metadata.continue = page.continue;
    metadata.remainingItemCount = page.remainingItemCount;
  }
  if (wantsTable(accept)) return { status: 200, body: toTable(resource, page.items, page.resourceVersion, metadata) };
  return { status: 200, body: { ...LIST_KINDS[resource], metadata, items: page.items.map(listItem) } };
}

/**
 * A watch: newline-delimited `{"type","object"}` events. Headers are flushed at once: client-node's
 * `Watch.watch()` does not resolve until it has them, and an idle watch sends nothing else.
 */
export function watchReply(store: ObjectStore, resource: Resource, namespace: string | undefined, query: URLSearchParams): Reply {
  const matches = matcher(query);
  const resourceVersion = query.get('resourceVersion') ?? undefined;
  if (resourceVersion && resourceVersion !== '0' && !/^\d+$/.test(resourceVersion))
    throw badRequest(`invalid resource version: ${resourceVersion}`);
  const timeoutSeconds = query.get('timeoutSeconds');
  return {
    stream(res, onClose) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        res.end();
      };
      const unsubscribe = store.watch(resource, namespace, matches, resourceVersion, (event) => {
        if (ended) return;
        res.write(`${JSON.stringify(event)}\n`);
        // A 410 (resourceVersion too old) ends the watch, as the real server does.
        if (event.type === 'ERROR') end();
      });
      const timer = timeoutSeconds ? setTimeout(end, Number(timeoutSeconds) * 1000) : undefined;
      onClose(() => {
        clearTimeout(timer);
        unsubscribe();
        end();
      });
    },
  };
}

export function listOrWatch(store: ObjectStore, resource: Resource, namespace: string | undefined, request: ApiRequest): Reply {
  const { query } = request;
  return isWatch(query)
    ? watchReply(store, resource, namespace, query)
    : listReply(store, resource, namespace, query, request.headers.accept);
}
