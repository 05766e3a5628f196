import fc from 'fast-check';
import { TributaryError, type ErrorCode } from '@tributary/core';

/** Settings of the fast-check properties in a suite. @public */
export interface PropertySettings {
  /** Default `FC_SEED` from the environment, else 42: CI runs are reproducible. */
  seed?: number;
  /** Default `FC_RUNS` from the environment, else the suite's own (small) default. */
  numRuns?: number;
}

/** @internal */
export function propertyParams(settings: PropertySettings | undefined, defaultRuns: number): { seed: number; numRuns: number } {
  return {
    seed: settings?.seed ?? (process.env.FC_SEED ? Number(process.env.FC_SEED) : 42),
    numRuns: settings?.numRuns ?? (process.env.FC_RUNS ? Number(process.env.FC_RUNS) : defaultRuns),
  };
}

/** Run a fast-check property; on failure the error names the seed to replay it with. @internal */
export async function checkProperty(
  property: fc.IAsyncProperty<any> | fc.IProperty<any>,
  params: { seed: number; numRuns: number },
): Promise<void> {
  try {
    await fc.assert(property as fc.IAsyncProperty<unknown>, params);
  } catch (err) {
    const e = err as Error;
    e.message = `[seed ${params.seed}: replay with FC_SEED=${params.seed}] ${e.message}`;
    throw e;
  }
}

/** Await a promise that must reject with a Tributary error of `code`. @internal */
export async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<TributaryError> {
  let value: unknown;
  try {
    value = await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (!TributaryError.is(err))
      throw new Error(`expected a TributaryError ${code}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    if (err.code !== code) throw new Error(`expected error code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  throw new Error(`expected a ${code} error, but the call succeeded with ${JSON.stringify(value)?.slice(0, 200)}`);
}

/** Result of calling both the reference and the adapter in a model-based property. @internal */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/** @internal */
export async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (TributaryError.is(err)) return { ok: false, code: err.code };
    if (err instanceof TypeError) return { ok: false, code: 'TYPE_ERROR' };
    throw err;
  }
}

/** Print why a group is skipped (capability-driven skips are never silent). @internal */
export function skipReason(suite: string, group: string, reason: string): void {
  console.info(`[conformance] ${suite}: skipping "${group}": ${reason}`);
}
