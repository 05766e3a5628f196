import { spawn, spawnSync } from 'node:child_process';
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

/**
 * `tributary ...args` without blocking this process: when emulators answer from this process's
 * event loop, a synchronous spawn would leave the CLI's requests unanswered.
 */
export function runCliAsync(
  home: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, TRIBUTARY_HOME: home, TRIBUTARY_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
