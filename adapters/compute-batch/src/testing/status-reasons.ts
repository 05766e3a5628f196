/**
 * The texts AWS Batch reports in `statusReason` and `container.reason`. Adapters classify failures by
 * matching them (Metaflow does: "OutOfMemoryError…", "Host EC2…"), so they are copied verbatim from
 * what real Batch returns; change one and a classifier test against the emulator means nothing.
 */

/** Any exit of the container by itself, whatever the code (success included). */
export const ESSENTIAL_CONTAINER_EXITED = 'Essential container in task exited';
/** `container.reason` of an attempt killed for exceeding its memory limit (exit code 137). */
export const OUT_OF_MEMORY = 'OutOfMemoryError: Container killed due to memory usage';
/** `statusReason` when the instance went away: spot reclaim and host failure look the same in the API. */
export const HOST_TERMINATED = 'Host EC2 (instance i-0123456789abcdef0) terminated.';
/** `statusReason` of an attempt that never reached RUNNING (image pull, container creation). */
export const TASK_FAILED_TO_START = 'Task failed to start';
/** `statusReason` when `timeout.attemptDurationSeconds` ran out; such a job is not retried. */
export const ATTEMPT_TIMEOUT = 'Job attempt duration exceeded timeout';
/** `statusReason` of a job whose dependency failed: it never runs. */
export const DEPENDENT_JOB_FAILED = 'Dependent Job failed';
/** `statusReason` of an array parent once all children are done and one of them failed. */
export const ARRAY_CHILD_FAILED = 'Array Child Job failed';

/** `container.reason` of an image that cannot be pulled. */
export const cannotPull = (image: string) => `CannotPullContainerError: Error response from daemon: pull access denied for ${image}`;
/** `container.reason` of a container that could not be created (here: its command could not be spawned). */
export const cannotStart = (detail: string) => `CannotStartContainerError: Error response from daemon: ${detail}`;
