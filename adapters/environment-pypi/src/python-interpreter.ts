/**
 * Finds the Python interpreter of an environment: the configured one, or `python<runtime>` on
 * PATH (e.g. `python3.11`), or `python3` when its version is the one asked for. Each candidate is
 * run once to learn its version and real executable (so a pyenv shim or a symlink is resolved
 * to the interpreter behind it, and a shim of a version not selected counts as not installed).
 */

import { TributaryError } from '@tributary/core';
import { runProcess } from './run-process.ts';

export interface PythonInterpreter {
  /** The interpreter's own path (`sys.executable`). */
  executable: string;
  /** `major.minor.micro`. */
  version: string;
  /** `major.minor`. */
  majorMinor: string;
}

const PROBE = "import sys;print('%d.%d.%d'%sys.version_info[:3]);print(sys.executable)";
const RUNTIME = /^\d+(\.\d+){0,2}$/;

/** Runs candidates once each and remembers what they are. */
export class InterpreterFinder {
  readonly #probes = new Map<string, Promise<PythonInterpreter | string>>();
  readonly #configured: string | undefined;

  /** `configured`: the one interpreter to use (else `python<runtime>`, then `python3`, from PATH). */
  constructor(configured?: string) {
    this.#configured = configured;
  }

  /** The interpreter for `runtime` (any version when undefined), or a `CONFIG` rejection saying what was found. */
  async find(runtime: string | undefined): Promise<PythonInterpreter> {
    if (runtime !== undefined && !RUNTIME.test(runtime)) {
      throw config(`Invalid python version ${JSON.stringify(runtime)} in @pypi: use a version such as "3.11"`);
    }
    const candidates =
      this.#configured !== undefined
        ? [this.#configured]
        : runtime === undefined
          ? ['python3']
          : [...new Set([`python${runtime.split('.').slice(0, 2).join('.')}`, 'python3'])];
    const found: string[] = [];
    const failures: string[] = [];
    for (const candidate of candidates) {
      const probe = await this.probe(candidate);
      if (typeof probe === 'string') failures.push(probe);
      else if (runtime === undefined || matches(probe.version, runtime)) return probe;
      else found.push(`found ${probe.majorMinor} at ${probe.executable}`);
    }
    if (runtime === undefined) throw config(`Python is not installed here (${failures.join('; ')}): install python3`);
    const seen = found.length > 0 ? found.join('; ') : `found no ${candidates.join(' or ')} that runs`;
    throw config(`Python ${runtime} is not installed here (${seen}): install it or drop python: from @pypi`);
  }

  /** The interpreter a command runs, or why it could not be run. */
  probe(command: string): Promise<PythonInterpreter | string> {
    let probe = this.#probes.get(command);
    if (probe === undefined) {
      probe = runProcess(command, ['-c', PROBE]).then(
        ({ exitCode, stdout, stderr }) => {
          const [version, executable] = stdout.trim().split(/\r?\n/);
          if (exitCode !== 0 || version === undefined || executable === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
            return `${command} does not run: ${(stderr.trim().split(/\r?\n/)[0] ?? '') || `exit code ${exitCode}`}`;
          }
          return { executable: executable.trim(), version, majorMinor: version.split('.').slice(0, 2).join('.') };
        },
        (error: unknown) => `${command} could not be run: ${error instanceof Error ? error.message : String(error)}`,
      );
      this.#probes.set(command, probe);
    }
    return probe;
  }
}

/** `3.11.7` is a `3`, a `3.11` and a `3.11.7`. */
function matches(version: string, runtime: string): boolean {
  return version === runtime || version.startsWith(`${runtime}.`);
}

function config(message: string): TributaryError {
  return new TributaryError('CONFIG', message, { context: { adapter: 'pypi' } });
}
