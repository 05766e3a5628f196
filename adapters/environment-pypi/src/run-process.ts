/** pip's environment and error text; processes run through the core's `runResolverProcess`. */

import { devNull } from 'node:os';
import { runResolverProcess, type ResolverProcessResult } from '@tributary/core';

export type ProcessResult = ResolverProcessResult;

/**
 * `PIP_*` variables passed on to pip: how it connects (certificates, proxy, trusted hosts,
 * timeouts, retries, where credentials come from), none of which can change what a lock
 * resolves to, only whether an index can be reached at all.
 */
const TRANSPORT_VARIABLES: ReadonlySet<string> = new Set([
  'PIP_CERT',
  'PIP_CLIENT_CERT',
  'PIP_PROXY',
  'PIP_TRUSTED_HOST',
  'PIP_TIMEOUT',
  'PIP_DEFAULT_TIMEOUT',
  'PIP_RETRIES',
  'PIP_KEYRING_PROVIDER',
]);

/**
 * pip's environment: ours without pip's configuration (no configuration files, `PIP_CONFIG_FILE`
 * being `os.devnull`, and no `PIP_*` variable but the transport ones), so that only the sources
 * and options the resolver passes decide a lock (a `PIP_CONSTRAINT`, `PIP_FIND_LINKS` or
 * `PIP_INDEX_URL` of the machine, or a `find-links` in its pip.conf, cannot), plus pip's quiet,
 * non-interactive settings.
 */
export function pipEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!/^PIP_/i.test(key) || TRANSPORT_VARIABLES.has(key.toUpperCase())) env[key] = value;
  }
  return { ...env, PIP_CONFIG_FILE: devNull, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONNOUSERSITE: '1' };
}

export function runProcess(
  command: string,
  args: readonly string[],
  options: { signal?: AbortSignal | undefined; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ProcessResult> {
  return runResolverProcess(command, args, { adapter: 'pypi', ...options });
}

/** pip's own words about not reaching an index (it then reports the package as not found). */
const CONNECTION =
  /Retrying|NewConnectionError|Failed to establish|Could not fetch URL|ssl certificate|SSLError|ConnectTimeout|ReadTimeout/;

/**
 * pip's own explanation of a failure: its `ERROR:` lines and what follows them (the hash
 * mismatch details), or the end of its output when it printed none; then, when pip could not
 * reach an index, its warnings about that (a package an offline index was asked for looks
 * "not found" otherwise).
 */
export function pipErrorText(stderr: string, stdout = ''): string {
  const lines = stderr.split(/\r?\n/).filter((line) => line.trim() !== '');
  const first = lines.findIndex((line) => line.startsWith('ERROR:'));
  const picked = first === -1 ? lines.slice(-20) : lines.slice(first, first + 40);
  const text = picked.join('\n').trim();
  const connection = connectionWarnings(`${stdout}\n${stderr}`).filter((line) => !picked.includes(line));
  const reached = connection.length === 0 ? '' : `\npip could not reach a package index:\n${connection.join('\n')}`;
  return text === '' && reached === '' ? '(pip printed nothing)' : `${text === '' ? '(pip printed no error)' : text}${reached}`;
}

/** pip's distinct connection warnings (at most 5; retries of one request differ only in counts and addresses). */
function connectionWarnings(output: string): string[] {
  const seen = new Set<string>();
  const picked: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || !CONNECTION.test(line)) continue;
    const key = line.replace(/0x[0-9a-f]+/gi, '').replace(/total=\d+/g, '');
    if (seen.has(key)) continue;
    seen.add(key);
    if (picked.length < 5) picked.push(line);
  }
  return picked;
}
