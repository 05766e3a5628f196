/**
 * npm's environment, configuration, flags and error text; npm runs through the core's
 * `runResolverProcess`.
 *
 * A lock must not depend on the machine that made it, so npm's configuration does not decide
 * where packages come from or how they resolve: only the sources and the flags here do. Every run
 * (lock and `npm ci`) gets
 * - the environment without `npm_config_*` variables (any case), but for those that only say how
 *   to reach a registry (`MACHINE_SETTINGS`, credentials);
 * - an empty global config (`--globalconfig`);
 * - as user config (`--userconfig`), a copy of the user's `.npmrc` (`$NPM_CONFIG_USERCONFIG`, else
 *   `~/.npmrc`) that keeps only its credentials (`//host/:_authToken=…`, `_auth`, `username`,
 *   `_password`, `certfile`, `keyfile`) and `MACHINE_SETTINGS` lines: a file of its own per run,
 *   mode 0600, in a folder only we can read, deleted when npm is done, never logged. So registry
 *   tokens, proxies and CAs still work, and `registry=`, `@scope:registry=`, `omit`,
 *   `legacy-peer-deps`, `install-strategy`, `save-*`... of the machine do not change the lock.
 *
 * The project's `.npmrc` is that of the scratch project npm runs in, which has none.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { redactUrl, runResolverProcess, TributaryError, type ResolverProcessResult } from '@tributary/core';

/**
 * npm settings that say how this machine reaches registries, not which packages it gets: kept from
 * the user's `.npmrc` and `npm_config_*` variables. A proxy, a CA, TLS checks and the cache folder
 * change whether npm gets through, never what a lock holds.
 */
export const MACHINE_SETTINGS: readonly string[] = ['cache', 'proxy', 'https-proxy', 'noproxy', 'ca', 'ca[]', 'cafile', 'strict-ssl'];

/** `//host/path/:_authToken` and the other per-registry credentials npm reads. */
const CREDENTIAL = /^\/\/[^\s=]*:(?:_authToken|_auth|username|_password|certfile|keyfile)$/;

/** The npm setting an `npm_config_*` variable stands for (npm's own mapping), or undefined. */
function settingOf(variable: string): string | undefined {
  if (!/^npm_config_/i.test(variable)) return undefined;
  const key = variable.slice('npm_config_'.length);
  return key.startsWith('//') ? key : key.replace(/(?!^)_/g, '-').toLowerCase();
}

/** Whether npm may take `setting` from this machine's configuration. */
export function isMachineSetting(setting: string): boolean {
  return CREDENTIAL.test(setting) || MACHINE_SETTINGS.includes(setting.toLowerCase());
}

/**
 * npm quiet and non-interactive, on our environment without the `npm_config_*` variables that
 * could change a lock (credentials and `MACHINE_SETTINGS` stay): no update notice, progress bar,
 * funding or audit requests.
 */
export function npmEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    const setting = settingOf(name);
    if (setting === undefined || isMachineSetting(setting)) kept[name] = value;
  }
  return {
    ...kept,
    npm_config_update_notifier: 'false',
    npm_config_progress: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_yes: 'false',
    NO_UPDATE_NOTIFIER: '1',
  };
}

/** The user's `.npmrc`, as npm would find it: `$NPM_CONFIG_USERCONFIG` (any case), else `~/.npmrc`. */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const given = Object.entries(env).find(
    ([name, value]) => /^npm_config_userconfig$/i.test(name) && value !== undefined && value !== '',
  )?.[1];
  if (given === undefined) return join(homedir(), '.npmrc');
  return resolve(given.replace(/^~(?=$|[/\\])/, homedir()));
}

/**
 * The lines of an `.npmrc` that npm may use here: credentials and `MACHINE_SETTINGS`, outside any
 * `[section]`, as written (`${VAR}` references are npm's to expand). Everything else is dropped.
 */
export function machineUserConfig(text: string): string {
  const kept: string[] = [];
  let inSection = false;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (/^\[.*\]$/.test(trimmed)) inSection = true;
    if (inSection || trimmed === '' || /^[;#]/.test(trimmed)) continue;
    const key = /^([^=]*?)\s*=/.exec(trimmed)?.[1];
    if (key !== undefined && isMachineSetting(key)) kept.push(trimmed);
  }
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

/**
 * Flags both runs pass, whatever `.npmrc` or inherited `npm_config_*` variables say, because
 * they decide what a lock contains or where it is installed: the classic hoisted `node_modules`
 * layout (the lock's names are its paths), lockfile v3, `resolved` URLs written (some machines
 * set `omit-lockfile-registry-resolved`), local (not global) and no workspaces, no scripts.
 *
 * And how long a registry that cannot be reached takes to fail: two retries, 1 s then 4 s apart
 * (npm's defaults wait 10 s then 60 s: 72 s to say a registry is down), so a refused connection or
 * an unknown host fails in about 5 s. `fetch-timeout` bounds each request with its whole body
 * (npm's `timeout`: until the answer, and for reading it); it stays npm's 5 minutes, so big
 * documents and tarballs come through on a slow link.
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
  '--fetch-retries=2',
  '--fetch-retry-factor=4',
  '--fetch-retry-mintimeout=1000',
  '--fetch-retry-maxtimeout=4000',
  '--fetch-timeout=300000',
];

/** Runs npm with `args`, isolated from this machine's npm configuration (see the module's comment). */
export async function runNpm(
  npm: string,
  args: readonly string[],
  options: { cwd: string; signal?: AbortSignal | undefined },
): Promise<ResolverProcessResult> {
  const userConfig = await readUserConfig(userConfigPath());
  // mkdtemp makes the folder 0700: only we can list or read what is in it.
  const folder = await mkdtemp(join(tmpdir(), 'tributary-npm-config-'));
  try {
    const globalFile = join(folder, 'global.npmrc');
    const userFile = join(folder, 'user.npmrc');
    await writeFile(globalFile, '', { mode: 0o600 });
    await writeFile(userFile, machineUserConfig(userConfig), { mode: 0o600 });
    return await runResolverProcess(npm, [...args, '--globalconfig', globalFile, '--userconfig', userFile], {
      adapter: 'npm',
      env: npmEnvironment(),
      ...options,
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function readUserConfig(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new TributaryError('CONFIG', `npm's user config ${file} cannot be read: ${(error as Error).message}`, {
      cause: error,
      context: { adapter: 'npm', path: file },
    });
  }
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

/** Error codes npm prints when a registry could not be reached (the connection, not the answer). */
const UNREACHABLE = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNECTIONTIMEOUT',
  'EIDLETIMEOUT',
  'ERESPONSETIMEOUT',
  'ETRANSFERTIMEOUT',
  'ERR_SOCKET_TIMEOUT',
]);

/** A network failure of an npm run: npm's error code, the URL it asked for (when it says) and its sentence. */
export interface NpmNetworkFailure {
  code: string;
  url?: string | undefined;
  /** `request to … failed, reason: …`, or npm's error text. */
  reason: string;
  /** HTTP status, when the registry answered 429 or 5xx. */
  status?: number | undefined;
}

/** The network failure npm reports in `stderr`, if that is why it failed. */
export function npmNetworkFailure(stderr: string): NpmNetworkFailure | undefined {
  const code = /^npm (?:error|ERR!) code (\S+)/m.exec(stderr)?.[1];
  if (code === undefined) return undefined;
  const http = /^E(429|5\d\d)$/.exec(code);
  if (!UNREACHABLE.has(code) && http === null) return undefined;
  const request = /request to (\S+) failed, reason: [^\r\n]*/.exec(stderr);
  const answer = /^npm (?:error|ERR!) (\d{3} [^\r\n]*? - [A-Z]+ (\S+))/m.exec(stderr);
  const url = request?.[1] ?? answer?.[2];
  return {
    code,
    url,
    reason: request?.[0] ?? answer?.[1] ?? npmErrorText(stderr).split('\n').slice(0, 5).join('\n'),
    ...(http !== null ? { status: Number(http[1]) } : {}),
  };
}

const URL_TOKEN = /[a-z][a-z0-9+.-]*:\/\/[^\s'"`]+/gi;

/**
 * `redactUrl` for text about registries: URLs without a user part keep their path as it is
 * (`redactUrl` reads `http://host:4873/@scope%2fname` as a user `host` with a password, the
 * scoped name's `@` ending it); only their query's secret parameters are hidden.
 */
export function redactRegistryText(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL_TOKEN)) {
    const url = match[0];
    out += redactUrl(text.slice(last, match.index));
    last = match.index + url.length;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.username !== '' || parsed.password !== '') out += redactUrl(url);
    else {
      const query = url.search(/[?#]/);
      out += query < 0 ? url : url.slice(0, query) + redactUrl(url.slice(query));
    }
  }
  return out + redactUrl(text.slice(last));
}
