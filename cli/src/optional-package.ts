import { TributaryError } from '@tributary/core';

/**
 * Import a package that is installed only by those who use it (an SDK-backed adapter, the
 * metadata service); a missing one is a CONFIG error saying what needs it and how to install it.
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
