/**
 * Artifact throughput per backend (local files, S3 on s3rver, Azure on azurite), through the
 * core's artifact store (encode + SHA-256 + put-if-absent; get + verify + decode), next to the
 * raw SDK (or node:fs) moving the same bytes in the same run: our overhead is the ratio.
 * Sizes: 10,000 × 1 KiB, 1,000 × 1 MiB, 1 × 1 GiB (BENCH_SMALL, BENCH_MEDIUM, BENCH_LARGE_MB).
 *
 *   pnpm --filter @tributary/benchmarks bench:artifacts
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobServiceClient } from '@azure/storage-blob';
import { ArtifactStore, type Datastore } from '@tributary/core';
import { createAzureDatastore } from '@tributary/datastore-azure';
import { startAzurite } from '@tributary/datastore-azure/testing';
import { createFsDatastore } from '@tributary/datastore-fs';
import { createGcsDatastore } from '@tributary/datastore-gcs';
import { startGcsEmulator } from '@tributary/datastore-gcs/testing';
import { Storage } from '@google-cloud/storage';
import { createS3Datastore } from '@tributary/datastore-s3';
import { startS3Emulator } from '@tributary/datastore-s3/testing';
import { percentile, printTable } from './table.ts';

const SMALL = Number(process.env.BENCH_SMALL ?? 10_000);
const MEDIUM = Number(process.env.BENCH_MEDIUM ?? 1000);
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 1024);

interface Raw {
  put(key: string, bytes: Uint8Array): Promise<unknown>;
  get(key: string): Promise<Uint8Array>;
}

function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY && done !== total && done % Math.max(1, Math.floor(total / 10)) !== 0) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(
    `\r  ${label.padEnd(44)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`,
  );
}

async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
  label: string,
): Promise<{ seconds: number; lat: number[] }> {
  const lat: number[] = [];
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const s = performance.now();
        await fn(item);
        lat.push(performance.now() - s);
        progress(label, ++done, items.length);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, lat: lat.sort((a, b) => a - b) };
}

async function backend(name: string, ds: Datastore, raw: Raw, rows: Array<Array<string | number>>): Promise<void> {
  const store = new ArtifactStore(ds, 'Bench');
  const cases: Array<[string, number, number, number]> = [
    [`${SMALL} × 1 KiB`, SMALL, 1024, 16],
    [`${MEDIUM} × 1 MiB`, MEDIUM, 1024 * 1024, 8],
    [`1 × ${LARGE_MB} MiB`, 1, LARGE_MB * 1024 * 1024, 1],
  ];
  for (const [label, count, size, conc] of cases) {
    // Distinct contents (no dedupe shortcut); the large one is generated once.
    const payloads = count === 1 ? [randomFillSync(Buffer.allocUnsafe(size))] : Array.from({ length: count }, () => randomBytes(size));
    const refs: Array<{ sha: string; encoding: string; type: string }> = [];
    const save = await pool(payloads, conc, async (p) => void refs.push(await store.save('a', p)), `${name} ${label} save`);
    const load = await pool(refs, conc, async (r) => void (await store.load(r)), `${name} ${label} load`);
    const keys = payloads.map((_, i) => `raw/${label.replace(/\W+/g, '')}/${i}`);
    const rawPut = await pool(
      keys.map((k, i) => [k, payloads[i]!] as const),
      conc,
      async ([k, p]) => void (await raw.put(k, p)),
      `${name} ${label} raw put`,
    );
    const rawGet = await pool(keys, conc, async (k) => void (await raw.get(k)), `${name} ${label} raw get`);
    const mb = (count * size) / 1e6;
    const fmt = (s: { seconds: number }) =>
      (count > 1 ? `${(count / s.seconds).toFixed(0)} ops/s, ` : '') + `${(mb / s.seconds).toFixed(0)} MB/s`;
    const lat = (s: { lat: number[] }) =>
      count >= 1000 && size <= 1024 ? `${percentile(s.lat, 50).toFixed(1)} / ${percentile(s.lat, 99).toFixed(1)}` : '';
    rows.push([name, label, 'save', fmt(save), lat(save), fmt(rawPut), (rawPut.seconds / save.seconds).toFixed(2)]);
    rows.push([name, label, 'load', fmt(load), lat(load), fmt(rawGet), (rawGet.seconds / load.seconds).toFixed(2)]);
  }
}

const rows: Array<Array<string | number>> = [];
const dir = mkdtempSync(join(tmpdir(), 'tributary-art-bench-'));
try {
  {
    const root = join(dir, 'fs');
    const rawRoot = join(dir, 'raw');
    mkdirSync(rawRoot);
    const raw: Raw = {
      put: (k, b) => writeFile(join(rawRoot, k.replace(/\//g, '_')), b),
      get: (k) => readFile(join(rawRoot, k.replace(/\//g, '_'))),
    };
    await backend('local fs', createFsDatastore({ root }), raw, rows);
  }
  {
    const emu = await startS3Emulator();
    try {
      await emu.createBucket('bench');
      const client = new S3Client({
        endpoint: emu.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: emu.credentials,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      const raw: Raw = {
        put: (k, b) =>
          b.byteLength > 8 * 1024 * 1024
            ? new Upload({ client, params: { Bucket: 'bench', Key: k, Body: b }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done()
            : client.send(new PutObjectCommand({ Bucket: 'bench', Key: k, Body: b })),
        get: async (k) => (await client.send(new GetObjectCommand({ Bucket: 'bench', Key: k }))).Body!.transformToByteArray(),
      };
      const ds = createS3Datastore({
        bucket: 'bench',
        prefix: 'tributary',
        endpoint: emu.endpoint,
        forcePathStyle: true,
        credentials: emu.credentials,
        conditionalPut: false,
        atomicOverwrite: false,
        prefixObjects: false,
      });
      await backend('S3 (s3rver)', ds, raw, rows);
      client.destroy();
    } finally {
      await emu.stop();
    }
  }
  {
    const azurite = await startAzurite();
    try {
      await azurite.createContainer('bench');
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bench');
      const raw: Raw = {
        put: (k, b) => container.getBlockBlobClient(k).uploadData(b, { blockSize: 8 * 1024 * 1024, concurrency: 4 }),
        get: (k) => container.getBlockBlobClient(k).downloadToBuffer(0, undefined, { blockSize: 8 * 1024 * 1024, concurrency: 4 }),
      };
      await backend(
        'Azure (azurite)',
        createAzureDatastore({ container: 'bench', prefix: 'tributary', connectionString: azurite.connectionString }),
        raw,
        rows,
      );
    } finally {
      await azurite.stop();
    }
  }
  {
    const emu = await startGcsEmulator();
    try {
      const bucket = new Storage({ apiEndpoint: emu.endpoint, projectId: 'demo-test' }).bucket('bench');
      const raw: Raw = {
        put: (k, b) => bucket.file(k).save(Buffer.from(b), { resumable: b.byteLength > 8 * 1024 * 1024, validation: false }),
        get: async (k) => (await bucket.file(k).download({ validation: false }))[0],
      };
      await backend(
        'GCS (firebase emulator)',
        createGcsDatastore({ bucket: 'bench', prefix: 'tributary', apiEndpoint: emu.endpoint, conditionalPut: false }),
        raw,
        rows,
      );
    } finally {
      await emu.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
printTable(
  'Artifact throughput: the core\u2019s artifact store vs the raw SDK moving the same bytes (ratio = raw time / our time; < 1 means we are slower). Latency P50 / P99 in ms for 1 KiB artifacts. Emulators on loopback.',
  ['backend', 'artifacts', 'op', 'tributary', 'P50 / P99 ms', 'raw SDK', 'ratio'],
  rows,
);
