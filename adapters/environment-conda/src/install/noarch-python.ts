/**
 * `noarch: python` packages are built once for every Python: their files sit under
 * `site-packages/` and `python-scripts/`, and the installer places them for the environment's
 * Python (`lib/pythonX.Y/site-packages`, or the `python_site_packages_path` the python package
 * declares, as free-threaded builds do; `bin/`) and writes their entry points as scripts, as
 * conda does. Byte-code is not compiled ahead (Python compiles on first import, where it can
 * write).
 */

import { configError } from '../errors.ts';
import { MAX_SHEBANG_LENGTH } from './prefix-replace.ts';

/** Where a `noarch: python` package's paths go in this environment. */
export function noarchPythonPath(path: string, sitePackages: string): string {
  if (path.startsWith('site-packages/')) return `${sitePackages}/${path.slice('site-packages/'.length)}`;
  if (path.startsWith('python-scripts/')) return `bin/${path.slice('python-scripts/'.length)}`;
  return path;
}

/** The site-packages folder of a Python `version` (`3.11.7` → `lib/python3.11/site-packages`). */
export function sitePackagesOf(version: string, declared: unknown): string {
  if (typeof declared === 'string' && declared !== '') return declared.replace(/\/+$/, '');
  const [major, minor] = version.split('.');
  return `lib/python${major}.${minor}/site-packages`;
}

/** An entry point (`name = package.module:function`) as the script conda writes for it. */
export function entryPointScript(entryPoint: string, prefix: string, label: string): { name: string; content: string } {
  const match = /^\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z0-9_.]+)\s*:\s*([A-Za-z0-9_.]+)\s*(\[.*\])?\s*$/.exec(entryPoint);
  if (match === null) throw configError(`${label} has an entry point ${JSON.stringify(entryPoint)} that is not "name = module:function"`);
  const [, name, module, func] = match as unknown as [string, string, string, string];
  const python = `${prefix}/bin/python`;
  const shebang = `#!${python}`.length <= MAX_SHEBANG_LENGTH && !prefix.includes(' ') ? `#!${python}` : '#!/usr/bin/env python';
  const [first] = func.split('.');
  const content = [
    shebang,
    '# -*- coding: utf-8 -*-',
    'import re',
    'import sys',
    '',
    `from ${module} import ${first}`,
    '',
    "if __name__ == '__main__':",
    "    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])",
    `    sys.exit(${func}())`,
    '',
  ].join('\n');
  return { name, content };
}
