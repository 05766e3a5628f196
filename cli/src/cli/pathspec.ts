import { TributaryError } from '@tributary/core';
import { safeText } from './safe-text.ts';

/** A parsed `Flow/run[/step[/task[/artifact]]]`. @internal */
export interface Pathspec {
  flow: string;
  runId: string;
  step?: string;
  taskId?: string;
  artifact?: string;
}

const KINDS = ['flow', 'run', 'step', 'task', 'artifact'] as const;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const ID = /^[0-9]{1,30}$/;

/**
 * Parse a pathspec strictly: exactly `min`..`max` segments, none empty, `.` or `..`, run and task
 * ids decimal, names in the characters the core allows. A pathspec that names something other than
 * what was typed (an ignored extra segment, a resolved `..`) would show the wrong task's data.
 * @internal
 */
export function parsePathspec(spec: string | undefined, min: number, max: number, usageLine: string): Pathspec {
  if (spec === undefined || spec === '') throw new TributaryError('PARAM_INVALID', usageLine);
  const shown = `"${safeText(spec)}"`;
  const parts = spec.split('/');
  let form = ['Flow', ...KINDS.slice(1, min)].join('/');
  for (let i = min; i < max; i++) form += `[/${KINDS[i]}`;
  form += ']'.repeat(max - min);
  if (parts.length > max)
    throw new TributaryError(
      'PARAM_INVALID',
      `Pathspec ${shown} has ${parts.length} segments; this command takes ${form} (at most ${max}).`,
      { context: { pathspec: spec } },
    );
  if (parts.length < min)
    throw new TributaryError('PARAM_INVALID', `Pathspec ${shown} is incomplete; this command takes ${form}.`, {
      context: { pathspec: spec },
    });
  parts.forEach((part, i) => {
    const kind = KINDS[i]!;
    const bad = (why: string) =>
      new TributaryError('PARAM_INVALID', `Pathspec ${shown}: the ${kind} segment ${why}.`, { context: { pathspec: spec } });
    if (part === '') throw bad('is empty (no leading, trailing or double "/")');
    if (part === '.' || part === '..') throw bad(`is "${part}"; pathspecs are not paths, name the ${kind} itself`);
    if (kind === 'run' || kind === 'task') {
      if (!ID.test(part)) throw bad(`"${safeText(part)}" is not a ${kind} id (a number such as 12)`);
    } else if (!NAME.test(part) || part.includes('..')) {
      throw bad(`"${safeText(part)}" is not a valid ${kind} name (letters, digits, '_', '-' and '.')`);
    }
  });
  const [flow, runId, step, taskId, artifact] = parts;
  return {
    flow: flow!,
    runId: runId!,
    ...(step !== undefined ? { step } : {}),
    ...(taskId !== undefined ? { taskId } : {}),
    ...(artifact !== undefined ? { artifact } : {}),
  };
}
