/**
 * Tributary's AWS Batch ComputeBackend. Test servers for adapter authors: `@tributary/compute-batch/testing`.
 * @packageDocumentation
 */
export { BatchCompute, createBatchCompute } from './batch-compute.ts';
export { batchOptionsFromUrl, type BatchComputeOptions } from './batch-options.ts';
