/** Start and stop the processes of the test: service instances (through the CLI) and load generators. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromGenerator, GeneratorConfig } from './generator-messages.ts';

export interface Service {
  url: string;
  proc: ChildProcess;
  stderr: string[];
  exited: Promise<void>;
}

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cliBin = `${repo}cli/bin/tributary.js`;

export async function startService(storeUrl: string, token: string): Promise<Service> {
  const proc = spawn(
    process.execPath,
    [cliBin, 'service', '--port', '0', '--host', '127.0.0.1', '--metadata', storeUrl, '--token', token],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stderr: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter(Boolean)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`service did not start in 30 s: ${out}${stderr.join('\n')}`)), 30_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Tributary metadata service: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before it listened: ${out}${stderr.join('\n')}`));
    });
  });
  return { url, proc, stderr, exited };
}

export async function stopService(s: Service): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
  await s.exited;
  clearTimeout(t);
}

export interface Generator {
  proc: ChildProcess;
  messages: FromGenerator[];
  next(type: FromGenerator['type'], timeoutMs: number): Promise<FromGenerator>;
}

/**
 * The generators run the entry file, which turns into a generator when TRIBUTARY_LOAD_GENERATOR is
 * set; `fork` passes this process's execArgv (`--import tsx`) on.
 */
const entry = fileURLToPath(new URL('../service-load.ts', import.meta.url));

export function startGenerator(cfg: GeneratorConfig): Generator {
  const proc = fork(entry, [], {
    env: { ...process.env, TRIBUTARY_LOAD_GENERATOR: JSON.stringify(cfg) },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: FromGenerator[] = [];
  const waiters: Array<() => void> = [];
  proc.on('message', (m: FromGenerator) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  let exitCode: number | null | undefined;
  proc.once('exit', (code) => {
    exitCode = code;
    for (const w of waiters.splice(0)) w();
  });
  return {
    proc,
    messages,
    async next(type, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => m.type === type || m.type === 'fatal');
        if (i >= 0) {
          const m = messages.splice(i, 1)[0]!;
          if (m.type === 'fatal') throw new Error(`generator ${cfg.id}: ${m.message}`);
          return m;
        }
        if (exitCode !== undefined) throw new Error(`generator ${cfg.id} exited (${exitCode}) before sending ${type}`);
        if (Date.now() > deadline) throw new Error(`generator ${cfg.id}: no ${type} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
  };
}
