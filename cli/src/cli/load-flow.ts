import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FlowSpec, TributaryError } from '@tributary/core';

/** Import a flow file and pick its FlowSpec class. @internal */
export async function loadFlow(
  file: string,
  name?: string,
): Promise<{ flowClass: new () => FlowSpec; module: string; exportName: string }> {
  const path = resolve(file);
  if (!existsSync(path)) throw new TributaryError('FLOW_LOAD', `Flow file not found: ${file}`);
  const module = pathToFileURL(path).href;
  const mod = (await import(module)) as Record<string, unknown>;
  const flows = Object.entries(mod).filter(([, v]) => typeof v === 'function' && (v as Function).prototype instanceof FlowSpec) as Array<
    [string, new () => FlowSpec]
  >;
  if (flows.length === 0)
    throw new TributaryError(
      'FLOW_LOAD',
      `${file} exports no FlowSpec subclass. Export your flow: export class MyFlow extends FlowSpec { ... }`,
    );
  const pick = name ? flows.find(([k, v]) => k === name || v.name === name) : flows.length === 1 ? flows[0] : undefined;
  if (!pick) {
    throw new TributaryError(
      'FLOW_LOAD',
      `${file} exports ${flows.length} flows (${flows.map(([k]) => k).join(', ')}); choose one with --flow <Name>.`,
    );
  }
  return { flowClass: pick[1], module, exportName: pick[0] };
}
