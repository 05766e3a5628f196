import { TributaryError } from '@tributary/core';
import { hasControlChars, safeText } from './safe-text.ts';

/**
 * Command-line parsing. Options are interpreted against what the command takes: a flag never
 * consumes the next word, an option that takes a value refuses another option as its value, and
 * for `run` the flow's parameters are added once the flow is loaded (booleans as `--x`/`--no-x`).
 */

/** @internal */
export interface OptionSpec {
  name: string;
  /** `flag`: on/off, never takes the next word; `value`: one value (the last one wins); `list`: repeatable. */
  kind: 'flag' | 'value' | 'list';
  /** Placeholder shown in help, e.g. `N` or `dir`. */
  value?: string;
  help: string;
}

/** A flow parameter as the parser sees it. @internal */
export interface ParamOption {
  name: string;
  boolean: boolean;
}

/** @internal */
export interface ParsedArgs {
  positional: string[];
  /** CLI options by name (flags are `'true'`/`'false'`). */
  options: Map<string, string[]>;
  /** Flow parameter values by parameter name, as given (parsed by type in the core). */
  params: Map<string, string>;
  /** Options neither the command nor the flow knows, with how many positionals came before each. */
  unknown: Array<{ option: string; after: number }>;
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

function usage(message: string, context: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('PARAM_INVALID', message, { context });
}

function flagValue(option: string, value: string | undefined): string {
  if (value === undefined || TRUE.has(value)) return 'true';
  if (FALSE.has(value)) return 'false';
  throw usage(`--${option} is a flag: give it alone, or as --${option}=true / --${option}=false; got ${JSON.stringify(safeText(value))}.`);
}

/**
 * Parse `tokens` (the words after the command) against the command's options and, for `run`,
 * the flow's parameters. Unknown options are collected (never consume the next word); the caller
 * decides how to report them.
 * @internal
 */
export function parseArgs(tokens: string[], spec: OptionSpec[], params: ParamOption[] = []): ParsedArgs {
  const byName = new Map(spec.map((o) => [o.name, o]));
  const paramByName = new Map(params.map((p) => [p.name, p]));
  const out: ParsedArgs = { positional: [], options: new Map(), params: new Map(), unknown: [] };
  const add = (name: string, value: string) => out.options.set(name, [...(out.options.get(name) ?? []), value]);
  let i = 0;
  const valueOf = (label: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = tokens[i + 1];
    if (next === undefined) throw usage(`${label} needs a value.`);
    if (next.startsWith('--') && next.length > 2)
      throw usage(
        `${label} needs a value, but the next word is the option ${safeText(next)}. To pass a value that starts with '--', write ${label}=<value>.`,
      );
    i++;
    return next;
  };
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '--') {
      out.positional.push(...tokens.slice(i + 1));
      break;
    }
    if (token === '-h') {
      if (byName.has('help')) add('help', 'true');
      else out.unknown.push({ option: token, after: out.positional.length });
      continue;
    }
    if (!token.startsWith('--') || token.length === 2) {
      // A lone '-x' is an option we do not have; '-1', '-' and words are positionals.
      if (/^-[A-Za-z]/.test(token)) out.unknown.push({ option: token, after: out.positional.length });
      else out.positional.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const option = byName.get(name);
    if (option) {
      if (option.kind === 'flag') add(name, flagValue(name, inline));
      else add(name, valueOf(`--${name}`, inline));
      continue;
    }
    const param = paramByName.get(name);
    if (param) {
      out.params.set(name, param.boolean ? (inline ?? 'true') : valueOf(`--${name}`, inline));
      continue;
    }
    const negated = name.startsWith('no-') ? paramByName.get(name.slice(3)) : undefined;
    if (negated?.boolean) {
      if (inline !== undefined) throw usage(`--${name} is a flag and takes no value; write --${negated.name}=${safeText(inline)} instead.`);
      out.params.set(negated.name, 'false');
      continue;
    }
    out.unknown.push({ option: `--${name}`, after: out.positional.length });
  }
  return out;
}

/** The last value of an option. @internal */
export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return v?.[v.length - 1];
}

/** True when a flag is set. @internal */
export function flag(args: ParsedArgs, name: string): boolean {
  return optionValue(args, name) === 'true';
}

/** A positive integer option. @internal */
export function intOption(args: ParsedArgs, name: string): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v)))
    throw usage(`--${name} must be a positive integer, got ${JSON.stringify(safeText(v))}.`, { option: name });
  return Number(v);
}

/**
 * Refuse control characters in anything the CLI uses as a name, path or URL (flow parameter
 * values are the flow's business): a NUL in a path is otherwise an untyped Node TypeError, and an
 * ESC in a name ends up stored and printed.
 * @internal
 */
export function refuseControlChars(args: ParsedArgs, command: string): void {
  for (const [name, values] of args.options) {
    for (const v of values) {
      if (hasControlChars(v))
        throw usage(`Option --${name} of tributary ${command} contains a control character: "${safeText(v)}". Remove it.`, {
          option: name,
        });
    }
  }
  for (const p of args.positional) {
    if (hasControlChars(p)) throw usage(`Argument "${safeText(p)}" of tributary ${command} contains a control character. Remove it.`);
  }
}

/** Report stray words after the arguments a command takes. @internal */
export function refuseExtraPositionals(args: ParsedArgs, max: number, command: string, tokens: string[]): void {
  const extra = args.positional.slice(max);
  if (extra.length === 0) return;
  const word = extra[0]!;
  // '--dry false': the flag does not take the word, say how to write it.
  const before = tokens[tokens.indexOf(word) - 1];
  const hint =
    before?.startsWith('--') && (word === 'true' || word === 'false')
      ? ` ${before} is a flag: write ${before}=${word}${word === 'false' ? ` or --no-${before.slice(2)}` : ''}.`
      : '';
  throw usage(`Unexpected argument "${safeText(word)}" for tributary ${command}.${hint} See tributary ${command} --help.`);
}
