/** Test servers for the AWS Batch adapter: `@tributary/compute-batch/testing`. */
export { startBatchEmulator, type BatchEmulator, type BatchEmulatorOptions } from './batch-emulator.ts';
export type { ApiFaultRule, FaultKind, FaultRule } from './faults.ts';
export {
  ARRAY_CHILD_FAILED,
  ATTEMPT_TIMEOUT,
  DEPENDENT_JOB_FAILED,
  ESSENTIAL_CONTAINER_EXITED,
  HOST_TERMINATED,
  OUT_OF_MEMORY,
  TASK_FAILED_TO_START,
  cannotPull,
  cannotStart,
} from './status-reasons.ts';
