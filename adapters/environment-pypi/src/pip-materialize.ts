/**
 * Installs a lock into a folder: a virtual environment of the lock's interpreter (without pip:
 * this machine's pip installs into it through `--python`), then exactly the locked packages,
 * `--no-deps --require-hashes` from the lock's sources, so an archive whose hash changed fails.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError, type EnvironmentActivation, type LockedPackage } from '@tributary/core';
import type { PythonInterpreter } from './python-interpreter.ts';
import { lockRequirementsFile } from './requirements.ts';
import { pipEnvironment, pipErrorText, runProcess } from './run-process.ts';
import { pipSourceFlags } from './pip-sources.ts';

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
    const venvPython = join(venvBin(dir), process.platform === 'win32' ? 'python.exe' : 'python');
    const args = [
      '-m',
      'pip',
      '--python',
      venvPython,
      'install',
      '--no-deps',
      '--require-hashes',
      '--quiet',
      '--disable-pip-version-check',
    ];
    args.push('--no-input', ...pipSourceFlags(request.sources), '-r', file);
    const result = await runProcess(python.executable, args, { signal, env: pipEnvironment() });
    if (result.exitCode !== 0) throw config(`pip could not install the environment into ${dir}: ${pipErrorText(result.stderr)}`);
  }
  return { env: { VIRTUAL_ENV: dir, PYTHONNOUSERSITE: '1' }, path: [venvBin(dir)] };
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
