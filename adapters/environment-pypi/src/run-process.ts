/** pip's environment and error text; processes run through the core's `runResolverProcess`. */

import { runResolverProcess, type ResolverProcessResult } from '@tributary/core';

export type ProcessResult = ResolverProcessResult;

/** pip's quiet, non-interactive settings, on top of our environment. */
export function pipEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONNOUSERSITE: '1' };
}

export function runProcess(
  command: string,
  args: readonly string[],
  options: { signal?: AbortSignal | undefined; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ProcessResult> {
  return runResolverProcess(command, args, { adapter: 'pypi', ...options });
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
