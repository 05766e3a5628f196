export { LocalCompute, createLocalCompute, type LocalComputeOptions } from './local-compute.ts';
