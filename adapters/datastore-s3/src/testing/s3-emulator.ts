/**
 * Starts s3rver (an S3 emulator) on loopback for tests and benchmarks, in a child process with
 * its own data folder. `--openssl-legacy-provider` is required: s3rver encrypts continuation
 * tokens with DES, which OpenSSL 3 refuses without it (ListObjectsV2 pagination would 500).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** @internal */
export interface S3Emulator {
  endpoint: string;
  port: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** @internal */
export async function startS3Emulator(): Promise<S3Emulator> {
  const pkg = createRequire(import.meta.url).resolve('s3rver/package.json');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-s3rver-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', join(dirname(pkg), 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /S3rver listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${out}`)));
    setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 20_000).unref();
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    port,
    credentials,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      process.off('exit', kill);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
