/**
 * Server-side printing: kubectl asks for `as=Table;g=meta.k8s.io;v=v1` and, given a Table, shows
 * the same columns as against a real cluster (`kubectl get pods`: READY, STATUS, RESTARTS, AGE).
 * Without it kubectl falls back to NAME and AGE.
 */
import type { KubeJob, KubeObject, KubePod, Resource } from './model.ts';

export function wantsTable(accept: string | string[] | undefined): boolean {
  return String(accept ?? '').includes('as=Table');
}

/** kubectl's short durations: `45s`, `3m12s`, `95m`, `5h3m`, `30h`, `3d4h`, `200d`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  return `${d}d`;
}

const age = (object: KubeObject) => humanDuration(Date.now() - Date.parse(object.metadata.creationTimestamp ?? new Date().toISOString()));

/** The STATUS column as kubectl's pod printer derives it. */
function podStatus(pod: KubePod): string {
  let reason = pod.status.reason ?? pod.status.phase;
  for (const status of pod.status.containerStatuses ?? []) {
    const { waiting, terminated } = status.state;
    if (waiting?.reason) reason = waiting.reason;
    else if (terminated)
      reason = terminated.reason || (terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode}`);
    if (waiting || terminated?.exitCode) break;
  }
  if (pod.metadata.deletionTimestamp) reason = pod.status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function jobStatus(job: KubeJob): string {
  const has = (type: string) => job.status.conditions?.some((c) => c.type === type && c.status === 'True');
  for (const type of ['Failed', 'Complete', 'Suspended', 'FailureTarget', 'SuccessCriteriaMet']) if (has(type)) return type;
  return job.metadata.deletionTimestamp ? 'Terminating' : 'Running';
}

function column(name: string, type = 'string', description = '') {
  return { name, type, format: name === 'Name' ? 'name' : '', description, priority: 0 };
}

const COLUMNS: Partial<Record<Resource, ReturnType<typeof column>[]>> = {
  pods: [column('Name'), column('Ready'), column('Status'), column('Restarts', 'string'), column('Age')],
  jobs: [column('Name'), column('Status'), column('Completions'), column('Duration'), column('Age')],
};

function cells(resource: Resource, object: KubeObject): unknown[] {
  if (resource === 'pods') {
    const pod = object as KubePod;
    const statuses = pod.status.containerStatuses ?? [];
    const ready = statuses.filter((s) => s.ready).length;
    const restarts = statuses.reduce((n, s) => n + s.restartCount, 0);
    return [pod.metadata.name, `${ready}/${pod.spec.containers.length}`, podStatus(pod), String(restarts), age(pod)];
  }
  if (resource === 'jobs') {
    const job = object as KubeJob;
    const start = job.status.startTime ? Date.parse(job.status.startTime) : undefined;
    const end = job.status.completionTime ? Date.parse(job.status.completionTime) : Date.now();
    const completions = job.spec.completions ?? undefined;
    const done = `${job.status.succeeded ?? 0}/${completions ?? `1 of ${job.spec.parallelism}`}`;
    return [job.metadata.name, jobStatus(job), done, start === undefined ? '' : humanDuration(end - start), age(job)];
  }
  return [object.metadata.name, age(object)];
}

/** A `meta.k8s.io/v1` Table of the objects; rows carry their metadata (`includeObject=Metadata`, kubectl's default). */
export function toTable(resource: Resource, objects: KubeObject[], resourceVersion: string, meta: Record<string, unknown> = {}) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion, ...meta },
    columnDefinitions: COLUMNS[resource] ?? [column('Name'), column('Age')],
    rows: objects.map((object) => ({
      cells: cells(resource, object),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata },
    })),
  };
}
