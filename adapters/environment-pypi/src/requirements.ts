/** Package names and pins: a spec's `name → version` as pip requirements, a lock as a hash-pinned requirements file. */

import { TributaryError, type LockedPackage } from '@tributary/core';

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,\s-]*\])?$/;
const VERSION = /^[A-Za-z0-9.+!_-]+$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** A package name as PEP 503 compares them: lowercase, runs of `-`, `_` and `.` as one `-`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * A spec's packages as pip requirements, sorted: a version that starts with a digit is exact
 * (`==1.2`), any other is a specifier appended as is (`>=2,<3`), `*` or `''` is no constraint.
 */
export function specRequirements(packages: Readonly<Record<string, string>>): string[] {
  return Object.entries(packages)
    .map(([name, version]) => {
      if (!NAME.test(name)) throw config(`Invalid @pypi package name ${JSON.stringify(name)}`);
      const v = String(version ?? '').trim();
      if (v === '' || v === '*') return name;
      return /^\d/.test(v) ? `${name}==${v}` : `${name}${v}`;
    })
    .sort();
}

/** A lock's packages as a pip requirements file (`name==version --hash=sha256:…` lines), for `--require-hashes`. */
export function lockRequirementsFile(packages: readonly LockedPackage[]): string {
  return packages
    .map(({ name, version, sha256 }) => {
      if (!NAME.test(name) || !VERSION.test(version) || !SHA256.test(sha256)) {
        throw config(`Invalid @pypi lock entry ${JSON.stringify({ name, version, sha256 })}`);
      }
      return `${name}==${version} --hash=sha256:${sha256}\n`;
    })
    .join('');
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
