/**
 * The batch/v1 Job of one attempt (or of a foreach's splits, as an Indexed Job), from a
 * LaunchSpec: a pure function, so tests validate it against the Kubernetes OpenAPI models.
 */
import { createHash } from 'node:crypto';
import { TributaryError, type KubernetesSettings, type LaunchSpec } from '@tributary/core';
import { DEFAULT_RESOURCES, type KubernetesComputeOptions } from './kubernetes-options.ts';

/** Labels every Tributary job and pod carries (the watch selects on the first). */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'tributary' };
export const INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';

/** A label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends (long or odd values end in a hash). */
export function labelValue(value: string): string {
  const clean = value.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (clean === value && clean.length <= 63) return clean;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 8);
  return `${clean.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${hash}`.replace(/^-/, '');
}

/** A DNS-1123 label piece (container names, name prefixes). */
function dnsPiece(value: string, max: number): string {
  const clean = value
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (clean || 'task').slice(0, max).replace(/-+$/, '');
}

function quantityMiB(mib: number): string {
  return `${Math.ceil(mib)}Mi`;
}

function cpuQuantity(cpu: number): string {
  // Rounded to whole millicores first: 4.03 * 1000 is 4030.000000000005 in floating point.
  return Number.isInteger(cpu) ? String(cpu) : `${Math.ceil(Math.round(cpu * 1e6) / 1e3)}m`;
}

/** An Indexed Job's shape. @public */
export interface ArrayShape {
  size: number;
  parallelism: number;
}

/**
 * The batch/v1 Job of a launch (pure: tests validate it against the Kubernetes OpenAPI models).
 * `settings` are the step's, checked; `array` makes it an Indexed Job.
 * @public
 */
export function buildJob(
  spec: LaunchSpec,
  settings: KubernetesSettings,
  options: KubernetesComputeOptions,
  array?: ArrayShape,
): { namespace: string; body: Record<string, any> } {
  const image = settings.image ?? options.image;
  if (!image)
    throw new TributaryError(
      'CONFIG',
      `No image for ${spec.name} on Kubernetes: set one with @kubernetes({ image }), --with kubernetes:image=..., ` +
        `or the backend's image (kubernetes://?image=... or TRIBUTARY_KUBERNETES_IMAGE). It needs Node 20 and the task bootstrap (tributary bootstrap).`,
    );
  const namespace = settings.namespace ?? options.namespace ?? 'default';
  const id = spec.identity;
  const r = spec.resources ?? {};
  const cpu = Math.max(r.cpu ?? 0, settings.cpu ?? 0) || DEFAULT_RESOURCES.cpu;
  const memory = Math.max(r.memory ?? 0, settings.memory ?? 0) || DEFAULT_RESOURCES.memory;
  const disk = Math.max(r.disk ?? 0, settings.disk ?? 0) || DEFAULT_RESOURCES.disk;
  const gpu = Math.max(r.gpu ?? 0, settings.gpu ?? 0);
  const requests: Record<string, string> = { cpu: cpuQuantity(cpu), memory: quantityMiB(memory), 'ephemeral-storage': quantityMiB(disk) };
  // Memory is limited at its request, so a task that outgrows it is OOM-killed (and reported so) rather than starving its node.
  const limits: Record<string, string> = { memory: quantityMiB(memory) };
  if (gpu > 0) limits[`${settings.gpuVendor ?? 'nvidia'}.com/gpu`] = String(Math.ceil(gpu));

  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'tributary-task',
    'app.kubernetes.io/part-of': 'tributary',
    ...MANAGED_BY,
    ...(id
      ? {
          'tributary.dev/flow': labelValue(id.flow),
          'tributary.dev/run-id': labelValue(id.runId),
          'tributary.dev/step': labelValue(id.step),
        }
      : {}),
    ...options.labels,
    ...settings.labels,
  };
  const annotations: Record<string, string> = {
    'tributary.dev/name': spec.name,
    ...(id
      ? {
          'tributary.dev/flow': id.flow,
          'tributary.dev/run-id': id.runId,
          'tributary.dev/step': id.step,
          ...(id.taskId !== undefined ? { 'tributary.dev/task-id': id.taskId } : {}),
          'tributary.dev/attempt': String(id.attempt),
          ...(id.user ? { 'tributary.dev/user': id.user } : {}),
        }
      : {}),
    ...options.annotations,
    ...settings.annotations,
  };
  const env = Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value }));
  const container: Record<string, any> = {
    name: dnsPiece(id?.step ?? 'task', 63),
    image,
    command: [spec.command],
    args: spec.args,
    env,
    resources: { requests, limits },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    ...(settings.secrets?.length ? { envFrom: settings.secrets.map((name) => ({ secretRef: { name } })) } : {}),
  };
  const serviceAccount = settings.serviceAccount ?? options.serviceAccount;
  const podSpec: Record<string, any> = {
    restartPolicy: 'Never',
    // Our scheduler owns retries and Ctrl-C: a stopped task stops now.
    terminationGracePeriodSeconds: 0,
    containers: [container],
    ...(spec.timeoutMs !== undefined ? { activeDeadlineSeconds: Math.ceil(spec.timeoutMs / 1000) } : {}),
    ...(serviceAccount ? { serviceAccountName: serviceAccount } : {}),
    ...(settings.nodeSelector ? { nodeSelector: settings.nodeSelector } : {}),
    ...(settings.tolerations ? { tolerations: settings.tolerations } : {}),
  };
  const prefix = `t-${dnsPiece(id?.step ?? 'task', 30)}-`;
  const jobSpec: Record<string, any> = {
    ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? 7 * 24 * 3600,
    template: { metadata: { labels, annotations }, spec: podSpec },
  };
  if (array) {
    // Each split fails on its own (backoffLimitPerIndex 0): one failed split does not stop the others.
    Object.assign(jobSpec, {
      completionMode: 'Indexed',
      completions: array.size,
      parallelism: Math.max(1, Math.min(array.parallelism, array.size)),
      backoffLimitPerIndex: 0,
    });
  } else Object.assign(jobSpec, { backoffLimit: 0, completions: 1, parallelism: 1 });
  return {
    namespace,
    body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { generateName: prefix, namespace, labels, annotations }, spec: jobSpec },
  };
}
