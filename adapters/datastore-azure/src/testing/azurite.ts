/**
 * Starts azurite's blob service on loopback (in memory) for tests and benchmarks.
 * `--skipApiVersionCheck` is required: @azure/storage-blob 12.32 speaks an API version azurite
 * 3.35 does not know yet.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';

/** The well-known development account of every Azure storage emulator (not a secret). */
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** @internal */
export interface Azurite {
  endpoint: string;
  port: number;
  account: string;
  accountKey: string;
  connectionString: string;
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** @internal */
export async function startAzurite(): Promise<Azurite> {
  const pkg = createRequire(import.meta.url).resolve('azurite/package.json');
  const child = spawn(
    process.execPath,
    [
      join(dirname(pkg), 'dist', 'src', 'blob', 'main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--loose',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`azurite exited (${code}) before listening: ${out}`)));
    setTimeout(() => reject(new Error(`azurite did not start: ${out}`)), 30_000).unref();
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${endpoint};`;
  const service = BlobServiceClient.fromConnectionString(connectionString);
  return {
    endpoint,
    port,
    account: ACCOUNT,
    accountKey: KEY,
    connectionString,
    async createContainer(name) {
      await service.getContainerClient(name).createIfNotExists();
    },
    async stop() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}
