import { TributaryError } from '../errors.ts';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Refuse a name or path that contains NUL or another control character, with a typed error that
 * shows it escaped (Node's own error for a NUL in a path is an untyped TypeError, and a raw
 * control character in a message can rewrite the terminal).
 * @internal
 */
export function refuseControlChars(what: string, value: string): string {
  if (CONTROL.test(value)) {
    throw new TributaryError('CONFIG', `The ${what} ${JSON.stringify(value)} contains a control character; remove it.`, {
      context: { [what]: JSON.stringify(value) },
    });
  }
  return value;
}
