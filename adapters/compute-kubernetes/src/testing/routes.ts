/** Which handler serves a request, and the operation name it is counted under. */
import { methodNotAllowed, pathNotFound } from './api-errors.ts';
import type { ApiContext } from './api-context.ts';
import {
  createSecret,
  deletePod,
  deleteSecret,
  listEvents,
  listNamespaces,
  listPods,
  listSecrets,
  readNamespace,
  readPod,
  readPodLog,
  readSecret,
  replaceSecret,
} from './core-api.ts';
import { API_GROUP_LIST, apiVersions, BATCH_GROUP, BATCH_V1_RESOURCES, CORE_V1_RESOURCES, VERSION } from './discovery.ts';
import type { ApiRequest, Reply, ResolvedRoute } from './http-server.ts';
import { createJob, deleteJob, listJobs, patchJob, readJob, replaceJob } from './job-api.ts';
import { isWatch } from './list-watch.ts';

type Handler = (request: ApiRequest, params: string[]) => Reply;

interface Route {
  pattern: RegExp;
  /** Per method: [operation, handler]. A collection GET's operation is `list …` or `watch …` by the `watch` parameter. */
  methods: Record<string, [string, Handler]>;
}

const SEGMENT = '([^/]+)';

export function createRouter(
  ctx: ApiContext,
  serverAddress: () => string,
): (method: string, path: string, query: URLSearchParams) => ResolvedRoute {
  const discovery = (body: () => unknown): Route['methods'] => ({ GET: ['discovery', () => ({ status: 200, body: body() })] });
  const routes: Route[] = [
    { pattern: /^\/version$/, methods: discovery(() => VERSION) },
    { pattern: /^\/api$/, methods: discovery(() => apiVersions(serverAddress())) },
    { pattern: /^\/apis$/, methods: discovery(() => API_GROUP_LIST) },
    { pattern: /^\/apis\/batch$/, methods: discovery(() => BATCH_GROUP) },
    { pattern: /^\/api\/v1$/, methods: discovery(() => CORE_V1_RESOURCES) },
    { pattern: /^\/apis\/batch\/v1$/, methods: discovery(() => BATCH_V1_RESOURCES) },
    { pattern: /^\/apis\/batch\/v1\/jobs$/, methods: { GET: ['list jobs', (r) => listJobs(ctx, undefined, r)] } },
    {
      pattern: new RegExp(`^/apis/batch/v1/namespaces/${SEGMENT}/jobs$`),
      methods: { GET: ['list jobs', (r, [ns]) => listJobs(ctx, ns, r)], POST: ['create job', (r, [ns]) => createJob(ctx, ns!, r)] },
    },
    {
      pattern: new RegExp(`^/apis/batch/v1/namespaces/${SEGMENT}/jobs/${SEGMENT}$`),
      methods: {
        GET: ['read job', (r, [ns, name]) => readJob(ctx, ns!, name!, r)],
        PATCH: ['patch job', (r, [ns, name]) => patchJob(ctx, ns!, name!, r)],
        PUT: ['replace job', (r, [ns, name]) => replaceJob(ctx, ns!, name!, r)],
        DELETE: ['delete job', (r, [ns, name]) => deleteJob(ctx, ns!, name!, r)],
      },
    },
    {
      pattern: new RegExp(`^/apis/batch/v1/namespaces/${SEGMENT}/jobs/${SEGMENT}/status$`),
      methods: { GET: ['read job status', (r, [ns, name]) => readJob(ctx, ns!, name!, r)] },
    },
    { pattern: /^\/api\/v1\/namespaces$/, methods: { GET: ['list namespaces', () => listNamespaces(ctx)] } },
    { pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}$`), methods: { GET: ['read namespace', (_r, [ns]) => readNamespace(ctx, ns!)] } },
    { pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/events$`), methods: { GET: ['list events', () => listEvents(ctx)] } },
    { pattern: /^\/api\/v1\/pods$/, methods: { GET: ['list pods', (r) => listPods(ctx, undefined, r)] } },
    { pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/pods$`), methods: { GET: ['list pods', (r, [ns]) => listPods(ctx, ns, r)] } },
    {
      pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/pods/${SEGMENT}$`),
      methods: {
        GET: ['read pod', (r, [ns, name]) => readPod(ctx, ns!, name!, r)],
        DELETE: ['delete pod', (r, [ns, name]) => deletePod(ctx, ns!, name!, r)],
      },
    },
    {
      pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/pods/${SEGMENT}/log$`),
      methods: { GET: ['read pod log', (r, [ns, name]) => readPodLog(ctx, ns!, name!, r)] },
    },
    { pattern: /^\/api\/v1\/secrets$/, methods: { GET: ['list secrets', (r) => listSecrets(ctx, undefined, r)] } },
    {
      pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/secrets$`),
      methods: {
        GET: ['list secrets', (r, [ns]) => listSecrets(ctx, ns, r)],
        POST: ['create secret', (r, [ns]) => createSecret(ctx, ns!, r)],
      },
    },
    {
      pattern: new RegExp(`^/api/v1/namespaces/${SEGMENT}/secrets/${SEGMENT}$`),
      methods: {
        GET: ['read secret', (_r, [ns, name]) => readSecret(ctx, ns!, name!)],
        PUT: ['replace secret', (r, [ns, name]) => replaceSecret(ctx, ns!, name!, r)],
        DELETE: ['delete secret', (_r, [ns, name]) => deleteSecret(ctx, ns!, name!)],
      },
    },
  ];

  return (method, path, query) => {
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      const entry = route.methods[method];
      if (!entry)
        return {
          operation: `${method.toLowerCase()} ${path}`,
          handle: () => {
            throw methodNotAllowed();
          },
        };
      const [operation, handler] = entry;
      const counted = operation.startsWith('list ') && isWatch(query) ? operation.replace(/^list /, 'watch ') : operation;
      return { operation: counted, handle: (request) => handler(request, params) };
    }
    return {
      operation: `unknown ${method} ${path}`,
      handle: () => {
        throw pathNotFound();
      },
    };
  };
}
