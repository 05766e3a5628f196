/**
 * Importing a flow module that also starts its own run. A one-file script often ends with
 * `await runFlow(MyFlow)`; every task worker (and the CLI) imports that module to find the flow
 * class, which would start a run per import, each importing the module again. While a module is
 * imported for its flow class, runFlow/resumeFlow do not start anything: they hand the class to
 * the importer and never settle (so the rest of the script's top level does not run there).
 */
import { TributaryError } from '../errors.ts';

type FlowClass = Function;

let importing = 0;
const listeners = new Set<(flowClass: FlowClass) => void>();

/**
 * Called by runFlow/resumeFlow first. True when the call happens while a flow module is being
 * imported for its class (the caller must then start nothing).
 * @internal
 */
export function claimedByImport(flowClass: FlowClass): boolean {
  if (importing === 0) return false;
  for (const l of listeners) l(flowClass);
  return true;
}

/** The result of importing a flow module. @public */
export interface ImportedFlowModule {
  /** The module's exports, when its evaluation finished. */
  exports?: Record<string, unknown>;
  /** The flow classes the module passed to runFlow/resumeFlow while it was being imported. */
  started: Function[];
}

/**
 * Import a module to get its flow classes, without letting it start runs of its own. Resolves
 * when the module has finished loading, or as soon as it calls runFlow/resumeFlow at its top
 * level (its evaluation then stays suspended at that call). Load failures become `FLOW_LOAD`.
 * @public
 */
export async function importFlowModule(url: string): Promise<ImportedFlowModule> {
  return importFlowModuleWith(() => import(url) as Promise<Record<string, unknown>>, url);
}

/** `importFlowModule` with the import done by `load` (a bundle's own lazy import of its flow module). @internal */
export async function importFlowModuleWith(load: () => Promise<Record<string, unknown>>, url: string): Promise<ImportedFlowModule> {
  const started: FlowClass[] = [];
  let wake!: () => void;
  const called = new Promise<void>((resolve) => (wake = resolve));
  const listener = (flowClass: FlowClass) => {
    started.push(flowClass);
    wake();
  };
  listeners.add(listener);
  importing++;
  try {
    const loaded = load().then((exports: Record<string, unknown>) => ({ exports }));
    loaded.catch(() => undefined);
    const first = await Promise.race([loaded, called.then(() => undefined)]);
    return first ? { exports: first.exports, started } : { started };
  } catch (err) {
    if (TributaryError.is(err)) throw err;
    throw new TributaryError('FLOW_LOAD', `Cannot load flow module ${url}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  } finally {
    importing--;
    listeners.delete(listener);
  }
}

/** Pick the flow class named `name` from an imported module. @internal */
export function flowClassFrom(mod: ImportedFlowModule, name: string, url: string): FlowClass {
  const fromExports = mod.exports?.[name];
  if (typeof fromExports === 'function') return fromExports;
  // runFlow's default export name is the class name; a bundler may have renamed the class and
  // kept the export's name: the one exported class of that name is the flow.
  const renamed = [...new Set(Object.values(mod.exports ?? {}))].filter((v) => typeof v === 'function' && v.name === name);
  if (renamed.length === 1) return renamed[0] as FlowClass;
  const started = mod.started.find((c) => c.name === name);
  if (started) return started;
  throw new TributaryError(
    'FLOW_LOAD',
    mod.exports
      ? `Module ${url} has no exported FlowSpec subclass named ${name}. Export the flow class.`
      : `Module ${url} started a run of ${mod.started.map((c) => c.name).join(', ')} while loading, not of ${name}. Export ${name}, or start its run from another file.`,
  );
}
