/**
 * Installs a lock into a folder: a virtual environment of the lock's interpreter (without pip:
 * this machine's pip installs into it through `--python`), then exactly the locked packages,
 * `--no-deps --require-hashes` from the lock's sources, so an archive whose hash changed fails
 * (with `INTEGRITY`). pip runs without its configuration (see `pipEnvironment`).
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError, type EnvironmentActivation, type LockedPackage } from '@tributary/core';
import type { PythonInterpreter } from './python-interpreter.ts';
import { lockRequirementsFile } from './requirements.ts';
import { pipEnvironment, pipErrorText, runProcess } from './run-process.ts';
import { checkWheelFolders, pipSourceFlags } from './pip-sources.ts';

export interface PipMaterializeRequest {
  python: PythonInterpreter;
  packages: readonly LockedPackage[];
  /** Normalized sources. */
  sources: readonly string[];
  dir: string;
  signal?: AbortSignal | undefined;
}

/** The requirements file left in the environment (what was installed, with hashes). */
export const REQUIREMENTS_FILE = 'tributary-requirements.txt';

/** Where a virtual environment keeps its executables. */
export function venvBin(dir: string): string {
  return join(dir, process.platform === 'win32' ? 'Scripts' : 'bin');
}

export async function pipMaterialize(request: PipMaterializeRequest): Promise<EnvironmentActivation> {
  const { python, dir, signal } = request;
  const requirements = lockRequirementsFile(request.packages);
  const venv = await runProcess(python.executable, ['-m', 'venv', '--without-pip', dir], { signal });
  if (venv.exitCode !== 0) throw config(`Could not create a virtual environment in ${dir}: ${pipErrorText(venv.stderr)}`);
  const file = join(dir, REQUIREMENTS_FILE);
  await writeFile(file, requirements);
  if (request.packages.length > 0) {
    await checkWheelFolders(request.sources);
    const venvPython = join(venvBin(dir), process.platform === 'win32' ? 'python.exe' : 'python');
    const args = [
      '-m',
      'pip',
      '--python',
      venvPython,
      'install',
      '--no-deps',
      '--require-hashes',
      '--progress-bar',
      'off',
      '--disable-pip-version-check',
    ];
    args.push('--no-input', ...pipSourceFlags(request.sources), '-r', file);
    const result = await runProcess(python.executable, args, { signal, env: pipEnvironment() });
    if (result.exitCode !== 0) {
      if (HASH_MISMATCH.test(result.stderr)) throw hashMismatch(result.stderr);
      throw config(`pip could not install the environment into ${dir}: ${pipErrorText(result.stderr, result.stdout)}`);
    }
  }
  return { env: { VIRTUAL_ENV: dir, PYTHONNOUSERSITE: '1' }, path: [venvBin(dir)] };
}

const HASH_MISMATCH = /THESE PACKAGES DO NOT MATCH THE HASHES/;

/**
 * `INTEGRITY` naming the archives pip found changed. pip lists each as
 * `    name==version from URL (from -r …):`, then `Expected sha256 …` and `Got …` lines.
 */
function hashMismatch(stderr: string): TributaryError {
  const lines = stderr.split(/\r?\n/);
  const changed: string[] = [];
  let path: string | undefined;
  lines.forEach((line, i) => {
    const entry = /^\s+(\S+?)==(\S+) from (\S+)/.exec(line);
    if (entry === null) return;
    const [, name = '', version = '', url = ''] = entry;
    const next = lines.slice(i + 1, i + 6);
    const hash = (label: string): string | undefined =>
      next
        .map((text) => new RegExp(`^\\s+${label}\\s+(?:sha256\\s+)?([0-9a-f]{64})\\s*$`, 'i').exec(text)?.[1])
        .find((h) => h !== undefined);
    const [expected, got] = [hash('Expected'), hash('Got')];
    path ??= url;
    changed.push(
      `The archive of ${name} ${version} at ${url} changed since it was locked` +
        (got !== undefined && expected !== undefined ? `: its sha256 is ${got}, the lock says ${expected}` : ''),
    );
  });
  const message = changed.length > 0 ? changed.join('; ') : `Archives changed since they were locked: ${pipErrorText(stderr)}`;
  return new TributaryError('INTEGRITY', message, { context: { adapter: 'pypi', ...(path === undefined ? {} : { path }) } });
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
