/**
 * The wire shapes the emulator stores and serves: plain JSON as the API server sends it (RFC 3339
 * strings, not the `Date`s client-node deserialises into), typed only as far as the emulator reads
 * them. Anything else a client sends is kept as it came.
 */

/** @public */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
  finalizers?: string[];
  [field: string]: unknown;
}

/** Any stored object. @public */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** @public */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    resourceFieldRef?: { resource: string; containerName?: string; divisor?: string };
  };
}

/** @public */
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{
    prefix?: string;
    secretRef?: { name: string; optional?: boolean };
    configMapRef?: { name: string; optional?: boolean };
  }>;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  terminationMessagePolicy?: string;
  [field: string]: unknown;
}

/** @public */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  restartPolicy?: string;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  nodeName?: string;
  serviceAccountName?: string;
  hostname?: string;
  [field: string]: unknown;
}

/** @public */
export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: {
    exitCode: number;
    reason: string;
    message?: string;
    startedAt?: string;
    finishedAt: string;
    containerID?: string;
    signal?: number;
  };
}

/** @public */
export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
}

/** @public */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

/** @public */
export interface PodStatus {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  reason?: string;
  message?: string;
  conditions?: Condition[];
  hostIP?: string;
  hostIPs?: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string;
  qosClass?: string;
  containerStatuses?: ContainerStatus[];
  [field: string]: unknown;
}

/** @public */
export interface KubePod extends KubeObject {
  spec: PodSpec;
  status: PodStatus;
}

/** @public */
export interface PodFailurePolicyRule {
  action: 'FailJob' | 'Ignore' | 'Count' | 'FailIndex';
  onExitCodes?: { containerName?: string; operator: 'In' | 'NotIn'; values: number[] };
  onPodConditions?: Array<{ type: string; status?: string }>;
}

/** @public */
export interface JobSpec {
  template: { metadata?: Partial<ObjectMeta>; spec: PodSpec };
  parallelism?: number;
  completions?: number | null;
  backoffLimit?: number;
  backoffLimitPerIndex?: number;
  maxFailedIndexes?: number;
  completionMode?: 'NonIndexed' | 'Indexed';
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  suspend?: boolean;
  selector?: { matchLabels?: Record<string, string> };
  manualSelector?: boolean;
  podReplacementPolicy?: string;
  podFailurePolicy?: { rules: PodFailurePolicyRule[] };
  [field: string]: unknown;
}

/** @public */
export interface JobStatus {
  active?: number;
  ready?: number;
  terminating?: number;
  succeeded?: number;
  failed?: number;
  startTime?: string;
  completionTime?: string;
  completedIndexes?: string;
  failedIndexes?: string;
  conditions?: Condition[];
  uncountedTerminatedPods?: Record<string, never>;
  [field: string]: unknown;
}

/** @public */
export interface KubeJob extends KubeObject {
  spec: JobSpec;
  status: JobStatus;
}

/** @public */
export interface KubeSecret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** The resources the emulator serves. */
export type Resource = 'jobs' | 'pods' | 'secrets';

/** RFC 3339 with second precision, as the API server writes every timestamp. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The alphabet the API server's name generator uses (no vowels, no look-alikes). */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `generateName` + 5 random characters; the base is cut to 58 so the result fits a 63-char label. */
export function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[Math.floor(Math.random() * SUFFIX_ALPHABET.length)];
  return base.slice(0, 58) + suffix;
}

export function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export const clone: <T>(value: T) => T = (value) => structuredClone(value);
