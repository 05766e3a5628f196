/**
 * The "container runtime" the compute emulators share (Kubernetes pods, AWS Batch job attempts):
 * each container command really runs, as a local process, in an empty working directory with
 * only the declared environment (PATH and HOME aside), in its own process group; so a missing
 * variable or a missing code download fails as it would in a real container.
 * Tests only: no isolation beyond that.
 */

/** What to run. @public */
export interface ContainerRunOptions {
  /** Container command + args (argv[0] looked up on PATH). */
  argv: string[];
  /** The declared environment. Nothing of the emulator's own environment is inherited except PATH (and HOME = the working dir). */
  env: Record<string, string>;
  /** A declared memory limit (MiB): a container that dies of SIGKILL with one set is reported as out of memory. */
  memoryLimitMiB?: number;
  /** Kill the container (SIGKILL, whole group) this long after it started; reported as `deadline`. */
  deadlineMs?: number;
  /** SIGTERM → SIGKILL grace of `stop()`. Default 0 (Kubernetes' `terminationGracePeriodSeconds: 0`, as Metaflow sets it). */
  graceMs?: number;
}

/** How a container ended. @public */
export interface ContainerExit {
  /** Exit code as a container runtime reports it: the process's code, or 128 + signal number. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** `exited` (its own exit, any code), `oom`, `deadline` (deadlineMs), `stopped` (stop()), `killed` (kill(): fault injection). */
  reason: 'exited' | 'oom' | 'deadline' | 'stopped' | 'killed';
  startedAt: number;
  finishedAt: number;
}

/** A running container. @public */
export interface ContainerProcess {
  readonly pid: number;
  readonly startedAt: number;
  /** Everything printed so far (stdout and stderr interleaved in arrival order), as a pod log is. */
  log(): string;
  /** Called with every chunk printed from now on; returns an unsubscribe function. */
  onOutput(listener: (stream: 'stdout' | 'stderr', text: string) => void): () => void;
  /** Settles once the process ended (never rejects). */
  readonly exited: Promise<ContainerExit>;
  /** Stop it: SIGTERM to the group, SIGKILL after `graceMs`. */
  stop(): void;
  /** SIGKILL the group now, reported with `reason` (fault injection: node lost, spot reclaim, OOM). */
  kill(reason?: 'killed' | 'oom'): void;
}

/** Runs containers, and kills and cleans up every one still running on `close()`. @public */
export interface ContainerRuntime {
  run(options: ContainerRunOptions): ContainerProcess;
  /** Containers running now. */
  readonly running: number;
  /** Kill what is running and remove every working directory. */
  close(): Promise<void>;
}

/** @public */
export function createContainerRuntime(): ContainerRuntime {
  throw new Error('not implemented yet');
}
