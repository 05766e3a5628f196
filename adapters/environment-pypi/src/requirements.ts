/** Package names and pins: a spec's `name → version` as pip requirements, a lock as a hash-pinned requirements file. */

import { TributaryError, type LockedPackage } from '@tributary/core';

/** A distribution name (PEP 508). */
const NAME_PART = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const NAME = new RegExp(`^${NAME_PART}$`);
/** A spec's package: a name, optionally with extras (`requests[socks,security]`). */
const SPEC_NAME = new RegExp(`^(${NAME_PART})\\s*(?:\\[\\s*(${NAME_PART}(?:\\s*,\\s*${NAME_PART})*)?\\s*\\])?$`);

/** A PEP 440 version (as the `packaging` library parses them: `2.1.0`, `1!2.0rc1`, `1.0.post2.dev3+local.7`). */
const PEP440 =
  'v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*' +
  '(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?' +
  '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?' +
  '(?:[-_.]?dev[-_.]?[0-9]*)?' +
  '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?';
/** A release prefix (`1.*`, `1!2.3.*`): only `==` and `!=` take it. */
const PREFIX = 'v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*\\.\\*';
const VERSION_OR_PREFIX = new RegExp(`^(?:${PEP440}|${PREFIX})$`, 'i');
const CLAUSE = new RegExp(`^(?:(?:==|!=)\\s*(?:${PEP440}|${PREFIX})|(?:~=|<=|>=|<|>)\\s*${PEP440}|===\\s*[^\\s,;]+)$`, 'i');
const OPERATOR = /^(?:===|==|!=|~=|<=|>=|<|>)/;

const VERSION = /^[A-Za-z0-9.+!_-]+$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** A package name as PEP 503 compares them: lowercase, runs of `-`, `_` and `.` as one `-`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * A spec's packages as pip requirements, sorted. A package is a PyPI name, optionally with extras
 * (`requests[socks]`); its version is one of
 * - `''` or `'*'`: any version;
 * - a bare PEP 440 version, exact (`'2.1.0'` is `==2.1.0`), or a release prefix (`'2.*'` is `==2.*`);
 * - a specifier list, each clause an operator (`==`, `!=`, `~=`, `<=`, `>=`, `<`, `>`, `===`) and a
 *   version, comma-separated (`'>=2.1,<3'`).
 *
 * Anything else (a word such as `latest`, an environment marker, a URL) is refused with `CONFIG`.
 */
export function specRequirements(packages: Readonly<Record<string, string>>): string[] {
  return Object.entries(packages)
    .map(([name, version]) => `${specName(name)}${specVersion(name, version)}`)
    .sort();
}

function specName(name: string): string {
  const match = SPEC_NAME.exec(name.trim());
  if (match === null) {
    throw config(
      `Invalid @pypi package name ${JSON.stringify(name)}: use a PyPI name such as "requests", optionally with extras ("requests[socks]")`,
    );
  }
  const extras = match[2]?.split(',').map((extra) => extra.trim());
  return extras === undefined ? match[1]! : `${match[1]!}[${extras.join(',')}]`;
}

function specVersion(name: string, version: unknown): string {
  const given =
    version === undefined || version === null
      ? ''
      : typeof version === 'string' || typeof version === 'number'
        ? String(version)
        : undefined;
  const v = given?.trim();
  if (v === '' || v === '*') return '';
  if (v !== undefined && VERSION_OR_PREFIX.test(v)) return `==${v}`;
  if (v !== undefined && OPERATOR.test(v)) {
    const clauses = v.split(',').map((clause) => clause.trim());
    if (clauses.every((clause) => CLAUSE.test(clause))) return clauses.map((clause) => clause.replace(/\s+/g, '')).join(',');
  }
  throw config(
    `Invalid version ${JSON.stringify(given ?? String(version))} for @pypi package ${name}: ` +
      'use a version ("2.1.0"), a specifier list (">=2.1,<3") or "*" for any version',
  );
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
