/** npm's environment, flags and error text; npm runs through the core's `runResolverProcess`. */

import { runResolverProcess, type ResolverProcessResult } from '@tributary/core';

/**
 * npm quiet and non-interactive, on top of our environment (so `.npmrc`, `npm_config_registry`
 * and tokens still apply): no update notice, progress bar, funding or audit requests.
 */
export function npmEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_update_notifier: 'false',
    npm_config_progress: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_yes: 'false',
    NO_UPDATE_NOTIFIER: '1',
  };
}

/**
 * Flags both runs pass, whatever `.npmrc` or inherited `npm_config_*` variables say, because
 * they decide what a lock contains or where it is installed: the classic hoisted `node_modules`
 * layout (the lock's names are its paths), lockfile v3, `resolved` URLs written (some machines
 * set `omit-lockfile-registry-resolved`), local (not global) and no workspaces, no scripts.
 */
export const NPM_COMMON_FLAGS: readonly string[] = [
  '--ignore-scripts',
  '--no-audit',
  '--no-fund',
  '--install-strategy=hoisted',
  '--lockfile-version=3',
  '--omit-lockfile-registry-resolved=false',
  '--global=false',
  '--workspaces=false',
  '--dry-run=false',
];

export function runNpm(
  npm: string,
  args: readonly string[],
  options: { cwd: string; signal?: AbortSignal | undefined },
): Promise<ResolverProcessResult> {
  return runResolverProcess(npm, args, { adapter: 'npm', env: npmEnvironment(), ...options });
}

/**
 * npm's own explanation of a failure: its `npm error` (npm 10+) or `npm ERR!` (older) lines
 * without that prefix and without the pointer to its debug log, or the end of its output.
 */
export function npmErrorText(stderr: string): string {
  const lines = stderr.split(/\r?\n/);
  const errors = lines
    .map((line) => /^npm (?:error|ERR!)(?: (.*))?$/.exec(line)?.[1])
    .filter(
      (line): line is string => line !== undefined && line.trim() !== '' && !/^(A complete log of this run|\d{3}$)/.test(line.trim()),
    );
  const picked = errors.length > 0 ? errors.slice(0, 40) : lines.filter((l) => l.trim() !== '').slice(-20);
  const text = picked.join('\n').trim();
  return text === '' ? '(npm printed nothing)' : text;
}
