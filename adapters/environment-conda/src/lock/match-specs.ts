/**
 * A spec's `name → version` as conda match specs for rattler, sorted (so the solver's input, and
 * the lock, do not depend on key order): a plain version (`'2.1.0'`) is exact (`numpy ==2.1.0`);
 * anything else is conda version syntax passed on as is (`'>=2,<3'`, `'2.1.*'`, `'1.0 py311_0'`
 * with a build string); `''` and `'*'` mean any version. The runtime `'3.11'` becomes
 * `python 3.11.*` (conda's `python=3.11`), so `3.11` never selects `3.1`.
 */

import { configError } from '../errors.ts';

/** A conda package name: letters, digits, `_`, `-`, `.` (rattler's rule); `__` starts a virtual package. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Characters of match-spec syntax other than the version field (brackets, channel and subdir separators, comments). */
const NOT_VERSION = /[[\]:#\\'"]/;
const PLAIN_VERSION = /^\d[A-Za-z0-9_.+!]*$/;
const RUNTIME = /^\d+(\.\d+){0,2}$/;

/** The match specs of a spec's packages and runtime, sorted. */
export function matchSpecs(packages: Readonly<Record<string, string>>, runtime: string | undefined): string[] {
  const specs = Object.entries(packages).map(([name, version]) => {
    if (!NAME.test(name)) throw configError(`Invalid @conda package name ${JSON.stringify(name)}: use letters, digits, "_", "-" and "."`);
    const v = String(version ?? '').trim();
    if (v === '' || v === '*') return name;
    if (NOT_VERSION.test(v) || /[\r\n]/.test(v))
      throw configError(
        `Invalid @conda version ${JSON.stringify(version)} for ${name}: use a version such as "2.1.0" or a range such as ">=2,<3"`,
      );
    return PLAIN_VERSION.test(v) ? `${name} ==${v}` : `${name} ${v}`;
  });
  if (runtime !== undefined) {
    if (!RUNTIME.test(runtime))
      throw configError(`Invalid python version ${JSON.stringify(runtime)} in @conda: use a version such as "3.11"`);
    specs.push(`python ${runtime}.*`);
  }
  return specs.sort();
}

/** The package name a dependency string (`"b >=0.5"`, `"c 1.0 h1234_0"`, `"d[version='>1']"`) is about. */
export function dependencyName(depends: string): string {
  return depends.trim().split(/[\s[=<>!~]/, 1)[0] ?? '';
}
