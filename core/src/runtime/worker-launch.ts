import { fileURLToPath } from 'node:url';
import { HOST_BASICS } from '../execution/host-environment.ts';
import type { LaunchSpec } from '../ports/compute-backend.ts';

/**
 * How a warm worker process is started: this package's worker entry point under the running Node.
 * Built packages run plain JavaScript (a TypeScript flow is built into JavaScript at run start).
 * Run from this repository's TypeScript sources (its own tests), workers load those sources
 * through tsx and resolve our packages to their sources too.
 * @public
 */
export function workerLaunchSpec(name: string, execArgv?: readonly string[]): LaunchSpec {
  const fromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(fromSource ? './worker-main.ts' : './worker-main.js', import.meta.url));
  const args = execArgv ? [...execArgv] : ['--enable-source-maps'];
  if (!execArgv && fromSource) args.push('--conditions=tributary-source', '--import', import.meta.resolve('tsx'));
  return {
    name,
    command: process.execPath,
    args: [...args, path],
    // Not this process's environment: the host basics (copied by a local backend), and, with the
    // flow, the datastore's credential variables and those passed by name (sent with `init`).
    env: { TRIBUTARY_WORKER: '1' },
    inheritEnv: [...HOST_BASICS],
    ipc: true,
  };
}
