import { fileURLToPath, pathToFileURL } from 'node:url';

// This package's own code (its sources and its build, which may both be loaded in one process of
// this repository): frames in it are never the user's module.
const OWN = ['../../src/', '../../dist/'].flatMap((d) => {
  const url = new URL(d, import.meta.url);
  return [url.href, fileURLToPath(url)];
});

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
    if (OWN.some((dir) => file.startsWith(dir)) || file.includes('/node_modules/')) continue;
    return file.startsWith('file://') ? file : pathToFileURL(file).href;
  }
  return undefined;
}
