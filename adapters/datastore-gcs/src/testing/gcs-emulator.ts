/**
 * Starts the Cloud Storage emulator (firebase-tools, without Java: see start-gcs.cjs) on a free
 * loopback port, with its own temp folder. Buckets appear on first write (creating one is not
 * implemented by the emulator); it ignores `ifGenerationMatch` and loses data on chunked
 * resumable uploads, so uploads must go in one request.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @internal */
export interface GcsEmulator {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** @internal */
export async function startGcsEmulator(): Promise<GcsEmulator> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tributary-gcs-'));
  const child = spawn(process.execPath, [fileURLToPath(new URL('./start-gcs.cjs', import.meta.url))], {
    env: { ...process.env, GCS_PORT: String(port), TMPDIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('GCS emulator listening on')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`GCS emulator exited (${code}) before listening: ${out}`)));
    setTimeout(() => reject(new Error(`GCS emulator did not start: ${out}`)), 30_000).unref();
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
