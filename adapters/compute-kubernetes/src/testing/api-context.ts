/** What the API handlers share. */
import { randomUUID } from 'node:crypto';
import { invalid, notFound, type NamedResource, type StatusCause } from './api-errors.ts';
import type { JobController } from './job-controller.ts';
import type { Kubelet } from './kubelet.ts';
import { now, type KubeObject } from './model.ts';
import type { ObjectStore } from './store.ts';

export interface ApiContext {
  store: ObjectStore;
  controller: JobController;
  kubelet: Kubelet;
  /** The namespaces that exist, as Namespace objects. */
  namespaces: ReadonlyMap<string, KubeObject>;
  /** Schema validation (kubernetes-models); absent with `validate: false`. */
  validate: ((body: unknown) => StatusCause[]) | undefined;
  /** Every Job body as POSTed. */
  received: unknown[];
  /** Counts 422 rejections. */
  rejected(): void;
}

/** A 422, counted. */
export function rejectInvalid(ctx: ApiContext, resource: NamedResource, name: string, causes: StatusCause[]): never {
  ctx.rejected();
  throw invalid(resource, name, causes);
}

/** Creating in a namespace that does not exist is a 404 for the namespace (reads and lists there are not). */
export function requireNamespace(ctx: ApiContext, namespace: string): void {
  if (!ctx.namespaces.has(namespace)) throw notFound('namespaces', namespace);
}

export function namespaceObjects(names: string[]): Map<string, KubeObject> {
  const created = now();
  return new Map(
    [...new Set(names)].sort().map((name) => [
      name,
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          uid: randomUUID(),
          resourceVersion: '1',
          creationTimestamp: created,
          labels: { 'kubernetes.io/metadata.name': name },
        },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      },
    ]),
  );
}

export function deleteSuccess(resource: 'jobs' | 'pods' | 'secrets', name: string, uid: string | undefined) {
  const group = resource === 'jobs' ? 'batch' : undefined;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, ...(group ? { group } : {}), kind: resource, uid },
  };
}

/** DeleteOptions come in the query (client-node) or as a JSON body (kubectl). */
export function deleteOptions(query: URLSearchParams, body: unknown): { propagationPolicy?: string; gracePeriodSeconds?: number } {
  const options = (body && typeof body === 'object' ? body : {}) as {
    propagationPolicy?: string;
    gracePeriodSeconds?: number;
    orphanDependents?: boolean;
  };
  const propagationPolicy =
    query.get('propagationPolicy') ?? options.propagationPolicy ?? (options.orphanDependents === false ? 'Background' : undefined);
  const grace = query.get('gracePeriodSeconds') ?? options.gracePeriodSeconds;
  return {
    ...(propagationPolicy ? { propagationPolicy } : {}),
    ...(grace !== undefined && grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
  };
}
