/**
 * Runs a child process (no shell) and collects its output. A process that cannot be started
 * rejects with `CONFIG`; an aborted one with `ABORTED` (the child is killed). A non-zero exit
 * code is not an error here: callers turn pip's own words into their message.
 */

import { execFile } from 'node:child_process';
import { TributaryError } from '@tributary/core';

export interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** pip's quiet, non-interactive settings, on top of our environment. */
export function pipEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONNOUSERSITE: '1' };
}

export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortedError(command));
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true,
        env: options.env ?? process.env,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(signal === undefined ? {} : { signal }),
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ exitCode: 0, stdout, stderr });
        if (signal?.aborted || error.name === 'AbortError') return reject(abortedError(command, error));
        if (typeof error.code === 'number') return resolve({ exitCode: error.code, stdout, stderr });
        reject(
          new TributaryError('CONFIG', `Could not run ${command}: ${error.message}`, {
            cause: error,
            context: { adapter: 'pypi', path: command },
          }),
        );
      },
    );
  });
}

function abortedError(command: string, cause?: unknown): TributaryError {
  return new TributaryError('ABORTED', `Aborted while running ${command}`, { cause, context: { adapter: 'pypi' } });
}

/**
 * pip's own explanation of a failure: its `ERROR:` lines and what follows them (the hash
 * mismatch details), or the end of its output when it printed none.
 */
export function pipErrorText(stderr: string): string {
  const lines = stderr.split(/\r?\n/).filter((line) => line.trim() !== '');
  const first = lines.findIndex((line) => line.startsWith('ERROR:'));
  const picked = first === -1 ? lines.slice(-20) : lines.slice(first, first + 40);
  const text = picked.join('\n').trim();
  return text === '' ? '(pip printed nothing)' : text;
}
