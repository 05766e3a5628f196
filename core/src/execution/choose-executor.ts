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
const poolsByUrl = new Map<string, Promise<WarmPool | 'no-ipc'>>();
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
  if (choice !== undefined && typeof choice !== 'string') {
    if (typeof (choice as Partial<TaskExecutor>)?.openRun !== 'function')
      throw new TributaryError(
        'CONFIG',
        `executor must be 'pool', 'jobs', 'in-process' or an object implementing TaskExecutor (openRun, close).`,
      );
    return { executor: choice, owned: false };
  }
  if (choice === 'in-process') return { executor: inProcess, owned: false };
  if (choice !== undefined && choice !== 'pool' && choice !== 'jobs')
    throw new TributaryError('CONFIG', `Unknown executor ${JSON.stringify(choice)}: use 'pool', 'jobs' or 'in-process'.`);
  const url = typeof compute === 'string' || compute === undefined ? (compute ?? '') : undefined;
  if (url === undefined) {
    const adapter = compute as ComputeBackend;
    if ((choice ?? (adapter.capabilities.ipc ? 'pool' : 'jobs')) === 'jobs')
      return { executor: new JobExecutor({ compute: adapter }), owned: true };
    let pool = poolsByInstance.get(adapter);
    if (!pool) poolsByInstance.set(adapter, (pool = new WarmPool({ compute: adapter })));
    if (warmWorkers?.length) pool.adoptWarm(warmWorkers.splice(0));
    return { executor: pool, owned: false };
  }
  if (choice === 'jobs') return { executor: new JobExecutor({ compute: await open(url || undefined), ownsCompute: true }), owned: true };
  // Registered before anything is awaited: runs starting at the same moment find the same pool.
  let pending = poolsByUrl.get(url);
  if (!pending) {
    pending = open(url || undefined).then(async (adapter) => {
      if (adapter.capabilities.ipc) return new WarmPool({ compute: adapter, ownsCompute: true });
      await adapter.close();
      return 'no-ipc' as const;
    });
    poolsByUrl.set(url, pending);
    // A backend that failed to open is tried again by the next run.
    pending.catch(() => poolsByUrl.delete(url));
  }
  const executor = await pending;
  // A backend without IPC: one job per attempt, on a backend of the run's own (closed with it).
  if (executor === 'no-ipc')
    return { executor: new JobExecutor({ compute: await open(url || undefined), ownsCompute: true }), owned: true };
  if (warmWorkers?.length) executor.adoptWarm(warmWorkers.splice(0));
  return { executor, owned: false };
}
