/**
 * A remote task job builds its step's environment in its own container: it reads the lock the
 * orchestrator stored (content-addressed, so verified), opens the resolver the bootstrap bundles,
 * and materializes the lock into the container's environment cache, once per id however many of
 * the job's tasks share it. The orchestrator never builds for another machine's platform.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TributaryError } from '../errors.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import type { EnvironmentLock, EnvironmentResolver } from '../ports/environment-resolver.ts';
import type { TaskEnvironment } from '../runtime/protocol.ts';
import { EnvironmentCache } from './environment-cache.ts';
import { environmentId } from './environment-id.ts';

/** Where a job keeps environments: `TRIBUTARY_ENVIRONMENTS_DIR`, else the container's temp folder. @internal */
export function jobEnvironmentsRoot(env: NodeJS.ProcessEnv): string {
  return env.TRIBUTARY_ENVIRONMENTS_DIR || join(tmpdir(), 'tributary-environments');
}

/** The task's environment with its activation filled in, built here if it was not yet. @internal */
export async function materializeInJob(
  environment: TaskEnvironment,
  o: { store: ArtifactStore; root: string; open: (locator: AdapterLocator) => Promise<unknown>; log: (line: string) => void },
): Promise<TaskEnvironment> {
  const { materialize, ...rest } = environment;
  if (!materialize) return environment;
  const lock = JSON.parse(Buffer.from(await o.store.getBlob(materialize.lockSha)).toString('utf8')) as EnvironmentLock;
  if (environmentId(lock) !== environment.id)
    throw new TributaryError('INTEGRITY', `The stored lock ${materialize.lockSha} is not that of environment ${environment.id}.`);
  const resolver = (await o.open(materialize.resolver)) as EnvironmentResolver;
  try {
    const started = Date.now();
    const { activation, built } = await new EnvironmentCache(o.root).materialize(environment.id, lock, resolver);
    if (built)
      o.log(
        `[tributary] built @${lock.kind} environment ${environment.id.slice(0, 12)} (${lock.packages.length} packages) in ${Date.now() - started} ms\n`,
      );
    return { ...rest, env: activation.env, path: activation.path };
  } catch (err) {
    if (!TributaryError.is(err)) throw err;
    throw new TributaryError(err.code, `Building the step's @${lock.kind} environment in the task's container failed: ${err.message}`, {
      cause: err,
      retryable: err.retryable,
      context: err.context,
    });
  } finally {
    await resolver.close().catch(() => undefined);
  }
}
