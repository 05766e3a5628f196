import { TributaryError } from '../errors.ts';

/** The JSON type a setting of `@kubernetes` / `@batch` must have. @public */
export type SettingType = 'string' | 'number' | 'object' | 'array';

/**
 * The settings of a compute decorator (or `--with kind:...`), checked against the backend's
 * schema: an unknown key or a wrong type fails before any job starts. Written once for every
 * remote adapter. Numbers must be positive.
 * @public
 */
export function checkStepSettings<T>(decorator: string, schema: Record<string, SettingType>, raw: Record<string, unknown> | undefined): T {
  const settings = raw ?? {};
  for (const [key, value] of Object.entries(settings)) {
    const want = schema[key];
    if (!want)
      throw new TributaryError(
        'CONFIG',
        `${decorator} has no setting ${JSON.stringify(key)}. Settings: ${Object.keys(schema).join(', ')}.`,
      );
    const got = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    if (got !== want)
      throw new TributaryError('CONFIG', `${decorator} ${key} must be ${want === 'array' ? 'an array' : `a ${want}`}, not ${got}.`);
    if (want === 'number' && !((value as number) >= 0))
      throw new TributaryError('CONFIG', `${decorator} ${key} must be a positive number.`);
  }
  return settings as T;
}
