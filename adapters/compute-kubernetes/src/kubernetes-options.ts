import { checkStepSettings, TributaryError, type KubernetesSettings, type SettingType } from '@tributary/core';

/** @public */
export interface KubernetesComputeOptions {
  /** A kubeconfig file. Default: `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account. */
  kubeconfig?: string;
  /** Namespace of the jobs. Default: the kubeconfig context's, else `default`. */
  namespace?: string;
  /** Image of task containers: Node 20 with the task bootstrap (`tributary bootstrap`) at `bootstrap`. A step may name its own. */
  image?: string;
  /** Path of the task bootstrap inside the image. Default `/opt/tributary/task.mjs`. */
  bootstrap?: string;
  /** The Node executable inside the image. Default `node`. */
  node?: string;
  serviceAccount?: string;
  /** Fail an attempt whose pod is still pending after this long (seconds) with `COMPUTE_UNSCHEDULABLE`. Default 600. */
  pendingTimeout?: number;
  /** Delete finished jobs (and their pods) after this long (seconds). Default 7 days, as Metaflow. */
  ttlSecondsAfterFinished?: number;
  /** Poll the API this often (ms) while the watch is down. Default 1000. */
  pollMs?: number;
  /** Follow each pod's log to relay the task's output live. Default true. */
  followLogs?: boolean;
  /** Labels and annotations added to every job and pod. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The defaults of a task's resources, as Metaflow's: 1 CPU, 4 GiB, 10 GiB of disk. */
export const DEFAULT_RESOURCES = { cpu: 1, memory: 4096, disk: 10240 };

const SETTINGS: Record<keyof KubernetesSettings, SettingType> = {
  image: 'string',
  namespace: 'string',
  serviceAccount: 'string',
  cpu: 'number',
  memory: 'number',
  gpu: 'number',
  gpuVendor: 'string',
  disk: 'number',
  nodeSelector: 'object',
  tolerations: 'array',
  secrets: 'array',
  labels: 'object',
  annotations: 'object',
  imagePullPolicy: 'string',
  pendingTimeout: 'number',
};

/** The settings of `@kubernetes` / `--with kubernetes:...`, checked: a typo fails before any job starts. */
export function checkSettings(raw: Record<string, unknown> | undefined): KubernetesSettings {
  const settings = checkStepSettings<KubernetesSettings>('@kubernetes', SETTINGS, raw);
  if (settings.gpuVendor !== undefined && !['nvidia', 'amd'].includes(settings.gpuVendor as string))
    throw new TributaryError('CONFIG', `@kubernetes gpuVendor must be nvidia or amd, not ${JSON.stringify(settings.gpuVendor)}.`);
  if (settings.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(settings.imagePullPolicy as string))
    throw new TributaryError('CONFIG', `@kubernetes imagePullPolicy must be Always, IfNotPresent or Never.`);
  return settings;
}

/** `kubernetes://?namespace=ml&image=reg/img:tag&kubeconfig=/path&pendingTimeout=300`, with `TRIBUTARY_KUBERNETES_*` defaults. @public */
export function kubernetesOptionsFromUrl(url: URL | string, env: NodeJS.ProcessEnv = process.env): KubernetesComputeOptions {
  const u = typeof url === 'string' ? new URL(url) : url;
  const q = (name: string, envName: string) => u.searchParams.get(name) ?? env[envName] ?? undefined;
  const num = (name: string, envName: string) => {
    const v = q(name, envName);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n >= 0)) throw new TributaryError('CONFIG', `kubernetes:// ${name} must be a number of seconds, not ${JSON.stringify(v)}.`);
    return n;
  };
  const o: KubernetesComputeOptions = {};
  const set = <K extends keyof KubernetesComputeOptions>(k: K, v: KubernetesComputeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('kubeconfig', q('kubeconfig', 'TRIBUTARY_KUBERNETES_KUBECONFIG'));
  set('namespace', q('namespace', 'TRIBUTARY_KUBERNETES_NAMESPACE'));
  set('image', q('image', 'TRIBUTARY_KUBERNETES_IMAGE'));
  set('bootstrap', q('bootstrap', 'TRIBUTARY_KUBERNETES_BOOTSTRAP'));
  set('node', q('node', 'TRIBUTARY_KUBERNETES_NODE'));
  set('serviceAccount', q('serviceAccount', 'TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT'));
  set('pendingTimeout', num('pendingTimeout', 'TRIBUTARY_KUBERNETES_PENDING_TIMEOUT'));
  set('ttlSecondsAfterFinished', num('ttlSecondsAfterFinished', 'TRIBUTARY_KUBERNETES_TTL'));
  return o;
}
