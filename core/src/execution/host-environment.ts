// Plain data, importable on its own (the CLI's bin script reads it before anything else loads).

/**
 * Variables a process needs to behave like a normal program on the host it runs on (where to
 * find executables, the home folder, locale, temporary files, CA bundles). Local backends copy
 * these from their own environment; nothing else of the orchestrator's environment goes along.
 */
export const HOST_BASICS: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_NUMERIC',
  'LC_TIME',
  'LC_COLLATE',
  'LC_MONETARY',
  'LC_MESSAGES',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'SYSTEMROOT',
  'COMSPEC',
  'PATHEXT',
  'WINDIR',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** The host basics of this process's environment (what a local task process starts with). */
export function hostBasics(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of HOST_BASICS) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
