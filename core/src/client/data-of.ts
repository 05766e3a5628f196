import type { FlowSpec } from '../flow/flow-spec.ts';

/**
 * The artifacts of a flow class, typed: its fields (parameters included), without `FlowSpec`'s own
 * members and without methods; `DataOf<TrainFlow>['best']` is the type of `TrainFlow`'s `best`
 * field. Any other name reads as `unknown` (a class loaded at run time types nothing).
 *
 * The type says what the class declares, not what a given task stored: an artifact a task never
 * set reads as `undefined`.
 * @public
 */
export type DataOf<F> = {
  [K in keyof F as K extends keyof FlowSpec ? never : F[K] extends (...args: never[]) => unknown ? never : K]: F[K];
} & Record<string, unknown>;
