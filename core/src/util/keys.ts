import { TributaryError } from '../errors.ts';

const SEGMENT = /^[A-Za-z0-9_=-][A-Za-z0-9._=-]*$/;

/**
 * Validate a datastore key before it reaches an adapter: `/`-separated segments of
 * `[A-Za-z0-9._=-]`, no empty, `.` or `..` segment, no leading `/`. Names from user code (flow,
 * step, run ids) end up in keys, so this is what stops path traversal and injection.
 * @public
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new TributaryError('INVALID_KEY', `Invalid datastore key ${JSON.stringify(key)}: it must be 1-1024 characters.`, {
      context: { key },
    });
  }
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new TributaryError(
        'INVALID_KEY',
        `Invalid datastore key ${JSON.stringify(key)}: segment ${JSON.stringify(segment)} must be non-empty, not '.' or '..', and use only letters, digits, '.', '_', '=' and '-'.`,
        { context: { key } },
      );
    }
  }
  return key;
}

/**
 * Validate a name used in keys and pathspecs (flow, step, run or task id).
 * @public
 */
export function validateName(kind: string, name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(name) || name.includes('..')) {
    throw new TributaryError(
      'INVALID_KEY',
      `Invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'.`,
    );
  }
  return name;
}

/**
 * Validate a list prefix: key characters only (it may end mid-segment or with '/').
 * @public
 */
export function validatePrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9._=\-/]*$/.test(prefix) || prefix.startsWith('/') || prefix.split('/').includes('..')) {
    throw new TributaryError(
      'INVALID_KEY',
      `Invalid list prefix ${JSON.stringify(prefix)}: use key characters (letters, digits, '.', '_', '=', '-', '/').`,
    );
  }
  return prefix;
}

/**
 * The key prefix an object-store adapter puts before every key, from its `prefix` option
 * (`'runs/ml/'`, or `''` for none): slashes at either end are dropped and the rest must be a
 * valid key. Shared by the object-store adapters.
 * @public
 */
export function objectKeyPrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (p) validateKey(p);
  return p ? `${p}/` : '';
}
