import { TributaryError } from '../errors.ts';
import type { AdapterLocator } from './protocol.ts';

/** Open an adapter from its locator (in a worker process, or anywhere the instance is not at hand). @internal */
export async function openAdapter<T>(locator: AdapterLocator): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(locator.module)) as Record<string, unknown>;
  } catch (err) {
    throw new TributaryError(
      'CONFIG',
      `Cannot load adapter module ${locator.module}: ${(err as Error).message}. Is the package installed?`,
      { cause: err },
    );
  }
  const factory = mod[locator.factory];
  if (typeof factory !== 'function')
    throw new TributaryError('CONFIG', `Adapter module ${locator.module} has no export ${locator.factory}.`);
  return (await factory(locator.options)) as T;
}
