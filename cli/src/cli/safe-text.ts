/**
 * Text the CLI prints from stored data (tags, names, error messages, artifact values) passes
 * through here, so a value written by anyone who can reach the metadata store cannot drive the
 * reader's terminal: an ESC sequence can retitle it, clear it, or rewrite what was printed before.
 *
 * Escaped: C0 controls (tab and newline too, unless `multiline`), DEL, C1 controls (0x9b is a CSI
 * on many terminals), and the bidirectional overrides that can reorder what a line shows. Escapes
 * use the JavaScript spelling (`\x1b`, `\r`, `\u202e`) so the value stays recognizable. Backslashes
 * are not doubled: the goal is a safe terminal, not a reversible encoding (use `--json` for that).
 *
 * Task output printed by `tributary logs` (and relayed while a run is shown) is the user's own
 * output and is written as is: colours and progress bars are what logs are for.
 */

const SINGLE_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const MULTI_LINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// In JSON text these can only occur inside strings, where a \u escape means the same character.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `value` as text that is safe to print on a terminal: one line unless `multiline` (which keeps
 * `\n` and `\t`, for error messages, stacks and inspected values).
 * @internal
 */
export function safeText(value: unknown, options: { multiline?: boolean } = {}): string {
  const text = typeof value === 'string' ? value : String(value);
  return text.replace(options.multiline ? MULTI_LINE : SINGLE_LINE, escapeChar);
}

/** True when `text` holds a character {@link safeText} would escape on one line. @internal */
export function hasControlChars(text: string): boolean {
  SINGLE_LINE.lastIndex = 0;
  return SINGLE_LINE.test(text);
}

/**
 * JSON text with the characters `JSON.stringify` leaves raw but a terminal acts on (DEL, C1,
 * bidi overrides) written as `\u` escapes: still valid JSON, and it parses to the same value.
 * @internal
 */
export function safeJson(json: string): string {
  return json.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
