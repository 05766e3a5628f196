/** Test servers for the Kubernetes adapter: `@tributary/compute-kubernetes/testing`. */
export { startKubernetesEmulator, type KubernetesEmulator, type KubernetesEmulatorOptions } from './k8s-emulator.ts';
export type { ApiFaultRule, FaultRule, PodFaultKind } from './faults.ts';
export { formatIndexes } from './indexes.ts';
export type {
  Condition,
  Container,
  ContainerState,
  ContainerStatus,
  EnvVar,
  JobSpec,
  JobStatus,
  KubeJob,
  KubeObject,
  KubePod,
  KubeSecret,
  ObjectMeta,
  PodFailurePolicyRule,
  PodSpec,
  PodStatus,
} from './model.ts';
