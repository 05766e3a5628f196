/**
 * Makes a task's environment importable (`@npm`): while the task runs, `import('pkg')` and
 * `import.meta.resolve('pkg')` resolve through the hook of `environment-import-hooks.ts` from the
 * activation's `NODE_PATH` folders, and `require('pkg')` (through `createRequire`) through
 * `NODE_PATH` itself, which Node reads only at startup: `Module._initPaths()` (internal, unchanged
 * since Node 0.x and what tools that set `NODE_PATH` at run time call) re-reads it on entering and
 * on leaving. For `require`, Node's rule stands: `node_modules` folders above the importing file
 * come before `NODE_PATH`, so a copy the project has wins there (the import hook prefers the
 * environment's, see its header).
 *
 * The hook is registered once per process, the first time a task enters an environment with
 * `NODE_PATH`: processes whose tasks have none never start Node's loader thread for it.
 */
import Module, { register } from 'node:module';
import { realpathSync } from 'node:fs';
import { basename, delimiter } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../errors.ts';
import { ENVIRONMENT_IMPORT_HOOKS, HOOK_HEADER_BYTES } from './environment-import-hooks.ts';

/** Room for the active folders' URLs (a few paths; Linux paths are at most 4 KiB each). */
const PAYLOAD_BYTES = 64 * 1024;

interface Channel {
  state: Int32Array;
  payload: Uint8Array;
}

let channel: Channel | undefined;

/** A folder of packages as the hook uses it: `modules` is the `node_modules` folder, `parent` the one holding it. */
export interface EnvironmentImportRoot {
  parent: string;
  modules: string;
}

/**
 * The `node_modules` folders of a `NODE_PATH` value as file URLs ending in `/`, real paths (Node's
 * resolution returns real paths). Entries not named `node_modules` only serve `require`: an ESM
 * resolution cannot be pointed at an arbitrary folder of packages. Missing folders are skipped.
 * @internal
 */
export function environmentImportRoots(nodePath: string): EnvironmentImportRoot[] {
  const roots: EnvironmentImportRoot[] = [];
  for (const entry of nodePath.split(delimiter)) {
    if (entry === '' || basename(entry) !== 'node_modules') continue;
    let real: string;
    try {
      real = realpathSync(entry);
    } catch {
      continue;
    }
    const modules = `${pathToFileURL(real).href.replace(/\/$/, '')}/`;
    roots.push({ parent: new URL('../', modules).href, modules });
  }
  return roots;
}

/**
 * Enter the environment whose `node_modules` folders `nodePath` lists, after `process.env.NODE_PATH`
 * was set to it; the returned function leaves it, after `process.env.NODE_PATH` was put back.
 * @internal
 */
export function enterEnvironmentImports(nodePath: string): () => void {
  const hooks = hookChannel();
  publish(hooks, environmentImportRoots(nodePath));
  initRequirePaths();
  return () => {
    publish(hooks, []);
    initRequirePaths();
  };
}

function hookChannel(): Channel {
  if (channel !== undefined) return channel;
  const buffer = new SharedArrayBuffer(HOOK_HEADER_BYTES + PAYLOAD_BYTES);
  try {
    register(`data:text/javascript,${encodeURIComponent(ENVIRONMENT_IMPORT_HOOKS)}`, { data: { buffer } });
  } catch (error) {
    throw new TributaryError('CONFIG', `Could not register the import hook of environments: ${(error as Error).message}`, { cause: error });
  }
  channel = { state: new Int32Array(buffer, 0, 2), payload: new Uint8Array(buffer, HOOK_HEADER_BYTES) };
  return channel;
}

/** Writes the active roots for the hook thread: sequence odd while writing, even when done. */
function publish(hooks: Channel, roots: EnvironmentImportRoot[]): void {
  const bytes = roots.length === 0 ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(roots));
  if (bytes.length > PAYLOAD_BYTES) {
    throw new TributaryError('CONFIG', `The environment's NODE_PATH is too long for the import hook (${bytes.length} bytes of URLs)`);
  }
  Atomics.add(hooks.state, 0, 1);
  hooks.payload.set(bytes);
  Atomics.store(hooks.state, 1, bytes.length);
  Atomics.add(hooks.state, 0, 1);
}

function initRequirePaths(): void {
  (Module as unknown as { _initPaths?: () => void })._initPaths?.();
}
