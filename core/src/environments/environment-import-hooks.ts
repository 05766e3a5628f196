/**
 * The resolve hook that lets a step's `import('left-pad')` find the package in its task's
 * environment (ESM ignores `NODE_PATH`). It runs on Node's module-loader thread, registered by
 * `environment-imports.ts` the first time a task enters an environment with `NODE_PATH`; that
 * thread does not see later `process.env` changes, so the active environment's `node_modules`
 * folders come through a SharedArrayBuffer the task's thread writes before its step runs and
 * clears after (a sequence lock: an odd sequence number means a write is under way).
 *
 * Which copy wins, for a bare specifier that is not a Node builtin, while an environment is active:
 * - imported from the flow's own code (any module not inside an installed package; the flow's
 *   bundle in `node_modules/.cache/` counts as the flow's): the environment's copy first, then the
 *   project's. A step that pins `left-pad@1.3.0` gets 1.3.0 even when the project has another.
 * - imported from inside an installed package (`…/node_modules/<pkg>/…`, the project's or the
 *   environment's own): Node's usual resolution first, so packages keep their own dependencies;
 *   the environment only for what is not found otherwise (what `NODE_PATH` does for `require`).
 * A resolution through the environment counts only when it lands inside its `node_modules`
 * (Node would also look in folders above it).
 *
 * The hook is shipped as source text and registered as a `data:` URL: the same code then works
 * from this package's TypeScript sources, from its built `dist/`, and bundled into a task
 * bootstrap, none of which has to locate a sibling file (a `.ts` sibling would also need a
 * TypeScript loader on the loader thread, which a test runner such as vitest does not put there).
 * It imports only a Node builtin, which a `data:` module may.
 */

/** Bytes before the payload: an Int32 sequence number, then the payload's length. */
export const HOOK_HEADER_BYTES = 8;

/** Source of the hook module (`initialize({ buffer })`, `resolve`). @internal */
export const ENVIRONMENT_IMPORT_HOOKS = String.raw`
import { isBuiltin } from 'node:module';

const NODE_MODULES = '/node_modules/';
let state;
let payload;
let seen = -1;
let roots = [];

export function initialize(data) {
  state = new Int32Array(data.buffer, 0, 2);
  payload = new Uint8Array(data.buffer, ${HOOK_HEADER_BYTES});
}

// The active environment's roots: [{ parent, modules }] (file: URLs ending in '/'), read once per write.
function activeRoots() {
  for (;;) {
    const seq = Atomics.load(state, 0);
    if (seq === seen) return roots;
    if ((seq & 1) !== 0) continue;
    const length = Atomics.load(state, 1);
    const copy = payload.slice(0, length);
    if (Atomics.load(state, 0) !== seq) continue;
    roots = length === 0 ? [] : JSON.parse(new TextDecoder().decode(copy));
    seen = seq;
    return roots;
  }
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|\.{1,2}$|#|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier) && !isBuiltin(specifier);
}

function insidePackage(url) {
  if (typeof url !== 'string' || !url.startsWith('file:')) return false;
  const at = url.lastIndexOf(NODE_MODULES);
  return at !== -1 && url[at + NODE_MODULES.length] !== '.';
}

function notFound(error) {
  return error !== null && typeof error === 'object' && error.code === 'ERR_MODULE_NOT_FOUND';
}

async function fromEnvironment(specifier, context, nextResolve, active) {
  for (const { parent, modules } of active) {
    try {
      const resolved = await nextResolve(specifier, { ...context, parentURL: parent });
      if (typeof resolved.url === 'string' && resolved.url.startsWith(modules)) return resolved;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
  }
  return undefined;
}

// Node merges the context given to nextResolve into the one this hook was given (the same
// object): each call gets a fresh copy of the original, or a retry would see the environment's parentURL.
export async function resolve(specifier, context, nextResolve) {
  const active = isBare(specifier) ? activeRoots() : [];
  if (active.length === 0) return nextResolve(specifier, context);
  const original = { ...context };
  if (!insidePackage(original.parentURL)) {
    return (await fromEnvironment(specifier, original, nextResolve, active)) ?? nextResolve(specifier, { ...original });
  }
  try {
    return await nextResolve(specifier, { ...original });
  } catch (error) {
    if (!notFound(error)) throw error;
    const found = await fromEnvironment(specifier, original, nextResolve, active);
    if (found === undefined) throw error;
    return found;
  }
}
`;
