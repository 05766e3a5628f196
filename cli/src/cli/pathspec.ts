import { parsePathspec as parse, TributaryError, type Pathspec as CorePathspec } from '@tributary/core';
import { safeText } from './safe-text.ts';

/** A parsed `Flow/run[/step[/task[/artifact]]]`. @internal */
export type Pathspec = CorePathspec & { runId: string };

/** The core's strict pathspec parser, with the command's usage line when nothing was given. @internal */
export function parsePathspec(spec: string | undefined, min: number, max: number, usageLine: string): Pathspec {
  if (spec === undefined || spec === '') throw new TributaryError('PARAM_INVALID', usageLine);
  return parse(spec, Math.max(min, 2), max, { taker: 'this command', show: safeText }) as Pathspec;
}
