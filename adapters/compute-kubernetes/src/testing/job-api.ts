/** The batch/v1 Job endpoints: create, read, list/watch, patch, replace, delete. */
import { alreadyExists, badRequest, conflict, notFound } from './api-errors.ts';
import { deleteOptions, deleteSuccess, rejectInvalid, requireNamespace, type ApiContext } from './api-context.ts';
import type { ApiRequest, Reply } from './http-server.ts';
import { checkEnvelope, immutableCauses, prepareForCreate, semanticCauses } from './job-admission.ts';
import type { Propagation } from './job-controller.ts';
import { listOrWatch } from './list-watch.ts';
import { generateName, type KubeJob } from './model.ts';
import { applyPatch } from './patch.ts';
import { toTable, wantsTable } from './tables.ts';

function existing(ctx: ApiContext, namespace: string, name: string): KubeJob {
  const job = ctx.store.get<KubeJob>('jobs', namespace, name);
  if (!job) throw notFound('jobs', name);
  return job;
}

/** Schema and semantic validation of a Job as it would be stored; throws the 422. */
function validateJob(ctx: ApiContext, job: KubeJob, before?: KubeJob): void {
  const causes = [...(ctx.validate?.(job) ?? [])];
  // Semantic rules read fields the schema guarantees; skip them when the schema already failed.
  if (causes.length === 0) causes.push(...semanticCauses(job));
  if (before) causes.push(...immutableCauses(before, job));
  if (causes.length > 0) rejectInvalid(ctx, 'jobs', job.metadata?.name ?? '', causes);
}

export function createJob(ctx: ApiContext, namespace: string, request: ApiRequest): Reply {
  const body = request.json();
  ctx.received.push(structuredClone(body));
  const job = checkEnvelope(structuredClone(body), namespace);
  requireNamespace(ctx, namespace);
  // The name is generated before validation, so errors name the Job as it would have been called.
  if (!job.metadata.name) job.metadata.name = generateName(job.metadata.generateName!);
  validateJob(ctx, job);
  const prepared = prepareForCreate(job, namespace);
  if (ctx.store.peek('jobs', namespace, prepared.metadata.name)) throw alreadyExists('jobs', prepared.metadata.name);
  if (request.query.get('dryRun') === 'All') return { status: 201, body: prepared };
  const stored = ctx.store.create('jobs', prepared);
  ctx.controller.created(stored);
  return { status: 201, body: stored };
}

export function readJob(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const job = existing(ctx, namespace, name);
  if (wantsTable(request.headers.accept)) return { status: 200, body: toTable('jobs', [job], ctx.store.resourceVersion) };
  return { status: 200, body: job };
}

export function listJobs(ctx: ApiContext, namespace: string | undefined, request: ApiRequest): Reply {
  return listOrWatch(ctx.store, 'jobs', namespace, request);
}

/**
 * Stores an updated Job. The status is the controller's (the main resource ignores status
 * changes, as with a status subresource), and server-set metadata is kept.
 */
function update(ctx: ApiContext, before: KubeJob, next: KubeJob): Reply {
  const wanted = next.metadata?.resourceVersion;
  if (wanted && wanted !== before.metadata.resourceVersion) throw conflict('jobs', before.metadata.name);
  next.apiVersion = 'batch/v1';
  next.kind = 'Job';
  next.metadata = {
    ...next.metadata,
    uid: next.metadata?.uid ?? before.metadata.uid,
    creationTimestamp: next.metadata?.creationTimestamp ?? before.metadata.creationTimestamp,
    namespace: next.metadata?.namespace ?? before.metadata.namespace,
    name: next.metadata?.name ?? before.metadata.name,
  };
  next.status = before.status;
  validateJob(ctx, next, before);
  const specChanged = JSON.stringify(next.spec) !== JSON.stringify(before.spec);
  const stored = ctx.store.update<KubeJob>('jobs', before.metadata.namespace!, before.metadata.name, (job) => {
    const generation = job.metadata.generation ?? 1;
    job.metadata = {
      ...next.metadata,
      resourceVersion: job.metadata.resourceVersion,
      generation: specChanged ? generation + 1 : generation,
    };
    if (job.metadata.deletionTimestamp === undefined) delete job.metadata.deletionTimestamp;
    job.spec = next.spec;
  })!;
  ctx.controller.updated(stored);
  return { status: 200, body: stored };
}

export function patchJob(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const before = existing(ctx, namespace, name);
  const next = applyPatch(structuredClone(before), request.contentType, request.json()) as KubeJob;
  if (!next || typeof next !== 'object') throw badRequest('the patch produced something that is not a Job');
  // A resourceVersion in a merge patch is a precondition, as on the real server.
  if (next.metadata?.resourceVersion === before.metadata.resourceVersion) delete next.metadata.resourceVersion;
  return update(ctx, before, next);
}

export function replaceJob(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const before = existing(ctx, namespace, name);
  const next = request.json() as KubeJob;
  if (!next || typeof next !== 'object' || !next.spec) throw badRequest('the body of the request must be a Job object');
  if (next.metadata?.name && next.metadata.name !== name) {
    throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
  }
  return update(ctx, before, structuredClone(next));
}

export function deleteJob(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const job = existing(ctx, namespace, name);
  const options = deleteOptions(request.query, request.json());
  const policy = (options.propagationPolicy ?? 'Orphan') as Propagation;
  if (!['Background', 'Foreground', 'Orphan'].includes(policy)) {
    rejectInvalid(ctx, 'jobs', name, [
      {
        reason: 'FieldValueNotSupported',
        field: 'propagationPolicy',
        message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      },
    ]);
  }
  if (job.metadata.deletionTimestamp) return { status: 200, body: job };
  const left = ctx.controller.deleteJob(namespace, name, policy, options.gracePeriodSeconds);
  return left ? { status: 200, body: left } : { status: 200, body: deleteSuccess('jobs', name, job.metadata.uid) };
}
