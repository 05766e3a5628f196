/**
 * Entry point of a one-shot task job on a host where the core and the datastore adapters are
 * installed: `node task-main.js <spec-sha> [--index-env NAME]`, with the datastore's locator in
 * TRIBUTARY_DATASTORE and the flow name in TRIBUTARY_FLOW. Exit codes: see TASK_EXIT.
 */
import { openAdapter } from '../runtime/open-adapter.ts';
import { exitWithLauncher, runTaskJob } from './run-task-job.ts';

exitWithLauncher(process.env);
const code = await runTaskJob({ argv: process.argv.slice(2), env: process.env, openAdapter: (l) => openAdapter<unknown>(l) });
// Timers or sockets the step left open do not keep the job alive (writes to pipes are synchronous here).
process.exit(code);
