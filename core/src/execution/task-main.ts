/**
 * Entry point of a one-shot task job: `node task-main.js <spec-sha>`, with the datastore's
 * locator in TRIBUTARY_DATASTORE and the flow name in TRIBUTARY_FLOW. It reads its spec from the
 * datastore, fetches and verifies the run's code package, and runs the attempt from inside it. It
 * needs nothing of the metadata store: the orchestrator commits the outcome when the job ends.
 * Exit codes: see TASK_EXIT.
 */
import { serializeUnknownError, TributaryError } from '../errors.ts';
import type { AdapterLocator } from '../ports/adapter-locator.ts';
import { openAdapter } from '../runtime/open-adapter.ts';
import type { Datastore } from '../ports/datastore.ts';
import { ArtifactStore } from '../artifacts/artifact-store.ts';
import { materializeCodePackage } from '../packaging/materialize-code-package.ts';
import { TASK_EXIT, type JobOutcome, type JobSpec } from './job-spec.ts';

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function main(): Promise<number> {
  const specSha = process.argv[2];
  const locatorJson = process.env.TRIBUTARY_DATASTORE;
  const flow = process.env.TRIBUTARY_FLOW;
  if (!specSha || !/^[0-9a-f]{64}$/.test(specSha) || !locatorJson || !flow) {
    process.stderr.write('usage: TRIBUTARY_DATASTORE=<locator> TRIBUTARY_FLOW=<flow> node task-main.js <spec-sha>\n');
    return TASK_EXIT.INFRASTRUCTURE;
  }
  let datastore: Datastore | undefined;
  let job: JobSpec | undefined;
  try {
    datastore = await openAdapter<Datastore>(JSON.parse(locatorJson) as AdapterLocator);
    const store = new ArtifactStore(datastore, flow);
    // Content-addressed, so verified: a changed spec has another address.
    job = JSON.parse(Buffer.from(await store.getBlob(specSha)).toString('utf8')) as JobSpec;
    const dir = await materializeCodePackage(store, job.codePackage);
    const packageUrl = new URL('task.mjs', dir).href;
    let mod: { runAttempt: (job: JobSpec, packageUrl: string) => Promise<number> };
    try {
      mod = (await import(packageUrl)) as typeof mod;
    } catch (err) {
      // The package's runtime does not load on this Node (the flow itself is imported later).
      throw new TributaryError('FLOW_LOAD', `The code package does not load in the task job: ${describe(err)}`, { cause: err });
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

// A local job whose orchestrator is gone (killed, even by SIGKILL) stops: its stdin pipe ends.
if (process.env.TRIBUTARY_EXIT_WITH_LAUNCHER === '1' && !process.stdin.isTTY) {
  process.stdin.on('end', () => process.exit(TASK_EXIT.INFRASTRUCTURE));
  process.stdin.on('error', () => process.exit(TASK_EXIT.INFRASTRUCTURE));
  process.stdin.resume();
}

// Timers or sockets the step left open do not keep the job alive (writes to pipes are synchronous here).
process.exit(await main());
