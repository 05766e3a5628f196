import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI entry point and the repository root it runs from. */
export const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** Run `tributary ...args` to completion with TRIBUTARY_HOME=home. */
export function runCli(home: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_HOME: home, TRIBUTARY_DEBUG: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
