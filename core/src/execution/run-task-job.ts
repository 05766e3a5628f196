/**
 * What a one-shot task job does, wherever it runs (a local process, a pod, a Batch container):
 * read its spec from the datastore, fetch and verify the run's code package, and run the attempt
 * from inside it. It needs nothing of the metadata store: the orchestrator commits the outcome
 * when the job ends. `task-main.ts` runs it with the adapters installed next to the core; the
 * bootstrap file baked into an image (`tributary bootstrap`) runs it with the adapters bundled in.
 */
import { serializeUnknownError, TributaryError } from '../errors.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import type { Datastore } from '../ports/datastore.ts';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { materializeCodePackage } from '../packaging/materialize-code-package.ts';
import { jobEnvironmentsRoot, materializeInJob } from '../environments/materialize-in-job.ts';
import { TASK_EXIT, type JobOutcome, type JobSpec, type JobSpecArray } from './job-spec.ts';

/** @internal */
export interface TaskJobOptions {
  /** `<spec-sha> [--index-env NAME]`. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Opens an adapter from its locator: the datastore, and the resolver of the step's environment. */
  openAdapter(locator: AdapterLocator): Promise<unknown>;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const USAGE = 'usage: TRIBUTARY_DATASTORE=<locator> TRIBUTARY_FLOW=<flow> node task-main.js <spec-sha> [--index-env NAME]\n';

/** This job's spec: the blob itself, or the child of an array spec at this job's index. */
function pick(blob: JobSpec | JobSpecArray, indexEnv: string | undefined, env: NodeJS.ProcessEnv): JobSpec {
  if (!('children' in blob)) return blob;
  const raw = indexEnv ? env[indexEnv] : undefined;
  const index = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : NaN;
  const child = blob.children[index];
  if (!child)
    throw new TributaryError(
      'INFRASTRUCTURE',
      `This job runs one child of an array of ${blob.children.length} tasks, but ${indexEnv ?? 'no index variable'} is ${JSON.stringify(raw)}.`,
    );
  return child;
}

/** Runs the job; resolves with its exit code (TASK_EXIT). @internal */
export async function runTaskJob(o: TaskJobOptions): Promise<number> {
  const [specSha, flag, indexEnv] = o.argv;
  const locatorJson = o.env.TRIBUTARY_DATASTORE;
  const flow = o.env.TRIBUTARY_FLOW;
  if (
    !specSha ||
    !/^[0-9a-f]{64}$/.test(specSha) ||
    !locatorJson ||
    !flow ||
    (flag !== undefined && (flag !== '--index-env' || !indexEnv))
  ) {
    process.stderr.write(USAGE);
    return TASK_EXIT.INFRASTRUCTURE;
  }
  let datastore: Datastore | undefined;
  let job: JobSpec | undefined;
  try {
    datastore = (await o.openAdapter(JSON.parse(locatorJson) as AdapterLocator)) as Datastore;
    const store = new ArtifactStore(datastore, flow);
    // Content-addressed, so verified: a changed spec has another address.
    job = pick(JSON.parse(Buffer.from(await store.getBlob(specSha)).toString('utf8')) as JobSpec | JobSpecArray, indexEnv, o.env);
    const dir = await materializeCodePackage(store, job.codePackage);
    const packageUrl = new URL('task.mjs', dir).href;
    let mod: { runAttempt: (job: JobSpec, packageUrl: string) => Promise<number> };
    try {
      mod = (await import(packageUrl)) as typeof mod;
    } catch (err) {
      // The package's runtime does not load on this Node (the flow itself is imported later).
      throw new TributaryError('FLOW_LOAD', `The code package does not load in the task job: ${describe(err)}`, { cause: err });
    }
    if (job.spec.environment?.materialize) {
      const environment = await materializeInJob(job.spec.environment, {
        store,
        root: jobEnvironmentsRoot(o.env),
        open: o.openAdapter,
        log: (line) => process.stderr.write(line),
      });
      job = { ...job, spec: { ...job.spec, environment } };
    }
    await datastore.close();
    datastore = undefined;
    return await mod.runAttempt(job, packageUrl);
  } catch (err) {
    process.stderr.write(`[tributary] task job could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (datastore && job) {
      const error = serializeUnknownError(
        TributaryError.is(err)
          ? err
          : new TributaryError('INFRASTRUCTURE', `The task job could not run: ${(err as Error)?.message ?? String(err)}`),
      );
      const fatal = TributaryError.is(err) && (err.code === 'INTEGRITY' || err.code === 'FLOW_LOAD');
      const outcome: JobOutcome = { status: 'failed', error, ...(fatal ? { fatal } : {}) };
      await datastore.put(job.keys.outcome, Buffer.from(JSON.stringify(outcome))).catch(() => undefined);
    }
    return TASK_EXIT.INFRASTRUCTURE;
  } finally {
    await datastore?.close().catch(() => undefined);
  }
}

/** A local job whose orchestrator is gone (killed, even by SIGKILL) stops: its stdin pipe ends. @internal */
export function exitWithLauncher(env: NodeJS.ProcessEnv): void {
  if (env.TRIBUTARY_EXIT_WITH_LAUNCHER === '1' && !process.stdin.isTTY) {
    process.stdin.on('end', () => process.exit(TASK_EXIT.INFRASTRUCTURE));
    process.stdin.on('error', () => process.exit(TASK_EXIT.INFRASTRUCTURE));
    process.stdin.resume();
  }
}
