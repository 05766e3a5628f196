import { TributaryError } from '@tributary/core';

/**
 * Import a package that is installed only by those who use it (an SDK-backed adapter, the
 * metadata service), or that only the orchestrator needs (the environment resolvers); a missing
 * one is a CONFIG error saying what needs it and how to install it. The specifier is a variable,
 * so bundlers leave the package out: the code package of a flow that imports `tributary` does not
 * carry every adapter (a task never opens one by URL).
 */
export async function importOptional<T>(pkg: string, what: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new TributaryError('CONFIG', `${what} needs the package ${pkg}: install it (npm i ${pkg}).`, { cause: err });
    }
    throw err;
  }
}
