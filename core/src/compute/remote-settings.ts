/**
 * What a step can ask of remote compute: the arguments of `@kubernetes({...})` and `@batch({...})`
 * (or `--with kubernetes:key=value,...` for every step). The backends check them; resource fields
 * combine with `@resources` (the larger value wins, as in Metaflow).
 */

/** Settings of `@kubernetes`. @public */
export interface KubernetesSettings {
  /** Container image (Node 20 with the task bootstrap at `bootstrap`). Default: the backend's `image`. */
  image?: string;
  namespace?: string;
  serviceAccount?: string;
  /** CPUs (e.g. 0.5, 4). */
  cpu?: number;
  /** Memory in MiB. */
  memory?: number;
  /** GPUs (`<gpuVendor>.com/gpu` limit). */
  gpu?: number;
  /** `nvidia` (default) or `amd`. */
  gpuVendor?: string;
  /** Ephemeral disk in MiB. */
  disk?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<{ key?: string; operator?: string; value?: string; effect?: string; tolerationSeconds?: number }>;
  /** Kubernetes Secrets whose keys become environment variables of the task (`envFrom`). */
  secrets?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Fail the attempt (`COMPUTE_UNSCHEDULABLE`) when its pod is still pending after this many seconds. */
  pendingTimeout?: number;
}

/** Settings of `@batch`. @public */
export interface BatchSettings {
  /** Container image (Node 20 with the task bootstrap at `bootstrap`). Default: the backend's `image`. */
  image?: string;
  /** Job queue name or ARN. Default: the backend's `queue`. */
  queue?: string;
  /** IAM role of the job's container (how it reaches the datastore). */
  iamRole?: string;
  executionRole?: string;
  cpu?: number;
  /** Memory in MiB. */
  memory?: number;
  gpu?: number;
  /** Size of /dev/shm in MiB. */
  sharedMemory?: number;
  /** Fail the attempt (`COMPUTE_UNSCHEDULABLE`) when the job is still queued after this many seconds. */
  pendingTimeout?: number;
  tags?: Record<string, string>;
}
