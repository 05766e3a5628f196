import { pathToFileURL } from 'node:url';

const FLOW_API_DIR = new URL('../flow/', import.meta.url).href;
const FLOW_API_PATH = new URL('../flow/', import.meta.url).pathname;

/**
 * The module (file URL) of the code that is defining a flow class right now, read from the
 * stack of a decorator call. This is how `runFlow(MyFlow)` knows which module a task worker must
 * import, without the user naming the file.
 * @internal
 */
export function callerModule(): string | undefined {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+?\.(?:[cm]?[jt]sx?)):\d+:\d+\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1]!;
    if (file.startsWith(FLOW_API_DIR) || file.startsWith(FLOW_API_PATH) || file.includes('/node_modules/')) continue;
    if (file.includes('/core/src/util/caller-module')) continue;
    return file.startsWith('file://') ? file : pathToFileURL(file).href;
  }
  return undefined;
}
