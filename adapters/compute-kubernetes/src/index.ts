/**
 * Tributary's Kubernetes ComputeBackend. Test servers for adapter authors: `@tributary/compute-kubernetes/testing`.
 * @packageDocumentation
 */
export { KubernetesCompute, createKubernetesCompute } from './kubernetes-compute.ts';
export { kubernetesOptionsFromUrl, type KubernetesComputeOptions } from './kubernetes-options.ts';
export { buildJob, type ArrayShape } from './job-manifest.ts';
