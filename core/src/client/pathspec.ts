import { TributaryError } from '../errors.ts';

/** A parsed `Flow[/run[/step[/task[/artifact]]]]`. @public */
export interface Pathspec {
  flow: string;
  runId?: string;
  step?: string;
  taskId?: string;
  artifact?: string;
}

/** How a pathspec error names who takes it and shows a stored or typed value. @internal */
export interface PathspecContext {
  /** Who takes the pathspec, for messages: `this command`, `client.task()`. */
  taker?: string;
  /** Shows a value in a message (default: JSON with control characters escaped). */
  show?: (s: string) => string;
}

const KINDS = ['flow', 'run', 'step', 'task', 'artifact'] as const;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const ID = /^[0-9]{1,30}$/;
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function quote(s: string): string {
  return JSON.stringify(s).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parse a pathspec strictly: `min`..`max` segments, none empty, `.` or `..`, run and task ids
 * decimal, names in the characters the core allows. A pathspec that names something other than
 * what was typed (an ignored extra segment, a resolved `..`) would show the wrong task's data.
 * @public
 */
export function parsePathspec(spec: string | undefined, min: number, max: number, context: PathspecContext = {}): Pathspec {
  const taker = context.taker ?? 'this call';
  const show = context.show ? (s: string) => `"${context.show!(s)}"` : quote;
  let form = ['Flow', ...KINDS.slice(1, min)].join('/');
  for (let i = min; i < max; i++) form += `[/${KINDS[i]}`;
  form += ']'.repeat(max - min);
  if (typeof spec !== 'string' || spec === '') throw new TributaryError('PARAM_INVALID', `No pathspec given; ${taker} takes ${form}.`);
  const shown = show(spec);
  const parts = spec.split('/');
  if (parts.length > max)
    throw new TributaryError('PARAM_INVALID', `Pathspec ${shown} has ${parts.length} segments; ${taker} takes ${form} (at most ${max}).`, {
      context: { pathspec: spec },
    });
  if (parts.length < min)
    throw new TributaryError('PARAM_INVALID', `Pathspec ${shown} is incomplete; ${taker} takes ${form}.`, { context: { pathspec: spec } });
  parts.forEach((part, i) => {
    const kind = KINDS[i]!;
    const bad = (why: string) =>
      new TributaryError('PARAM_INVALID', `Pathspec ${shown}: the ${kind} segment ${why}.`, { context: { pathspec: spec } });
    if (part === '') throw bad('is empty (no leading, trailing or double "/")');
    if (part === '.' || part === '..') throw bad(`is "${part}"; pathspecs are not paths, name the ${kind} itself`);
    if (kind === 'run' || kind === 'task') {
      if (!ID.test(part)) throw bad(`${show(part)} is not a ${kind} id (a number such as 12)`);
    } else if (!NAME.test(part) || part.includes('..')) {
      throw bad(`${show(part)} is not a valid ${kind} name (letters, digits, '_', '-' and '.')`);
    }
  });
  const [flow, runId, step, taskId, artifact] = parts;
  return {
    flow: flow!,
    ...(runId !== undefined ? { runId } : {}),
    ...(step !== undefined ? { step } : {}),
    ...(taskId !== undefined ? { taskId } : {}),
    ...(artifact !== undefined ? { artifact } : {}),
  };
}
