import { TributaryError } from '../errors.ts';
import type { ComputeBackend, ComputeJob } from '../ports/compute-backend.ts';
import { InProcessExecutor } from './in-process-executor.ts';
import { JobExecutor } from './job-executor.ts';
import type { TaskExecutor } from './task-executor.ts';
import { WarmPool } from './warm-pool.ts';

/** Where a run's attempts run: `pool` (warm workers), `jobs` (one process or job per attempt), `in-process`. @public */
export type ExecutorChoice = 'pool' | 'jobs' | 'in-process' | TaskExecutor;

/** One pool per compute backend per process: concurrent runs on the same compute share its workers. */
const poolsByInstance = new WeakMap<ComputeBackend, WarmPool>();
const poolsByUrl = new Map<string, WarmPool>();
const inProcess = new InProcessExecutor();

/**
 * The executor of a run: the one asked for, else the warm pool when the backend can host warm
 * workers (IPC), else one job per attempt. Pools are shared by every run of this process on the
 * same backend: by instance when the caller passed one, by URL when it comes from configuration
 * (that pool then owns the backend and keeps it open for later runs). `owned` says the caller
 * must close the executor when the run is over.
 * @internal
 */
export async function chooseExecutor(
  choice: ExecutorChoice | undefined,
  compute: ComputeBackend | string | undefined,
  open: (given: string | undefined) => Promise<ComputeBackend>,
  warmWorkers: ComputeJob[] | undefined,
): Promise<{ executor: TaskExecutor; owned: boolean }> {
  if (choice !== undefined && typeof choice !== 'string') return { executor: choice, owned: false };
  if (choice === 'in-process') return { executor: inProcess, owned: false };
  if (choice !== undefined && choice !== 'pool' && choice !== 'jobs')
    throw new TributaryError('CONFIG', `Unknown executor ${JSON.stringify(choice)}: use 'pool', 'jobs' or 'in-process'.`);
  const url = typeof compute === 'string' || compute === undefined ? (compute ?? '') : undefined;
  const known = url !== undefined ? poolsByUrl.get(url) : poolsByInstance.get(compute as ComputeBackend);
  if (known && choice !== 'jobs') {
    if (warmWorkers?.length) known.adoptWarm(warmWorkers.splice(0));
    return { executor: known, owned: false };
  }
  const adapter = typeof compute === 'object' ? compute : await open(url || undefined);
  if ((choice ?? (adapter.capabilities.ipc ? 'pool' : 'jobs')) === 'jobs') {
    return { executor: new JobExecutor({ compute: adapter, ownsCompute: url !== undefined }), owned: true };
  }
  const pool = new WarmPool({ compute: adapter, ownsCompute: url !== undefined });
  if (url !== undefined) poolsByUrl.set(url, pool);
  else poolsByInstance.set(adapter, pool);
  if (warmWorkers?.length) pool.adoptWarm(warmWorkers.splice(0));
  return { executor: pool, owned: false };
}
