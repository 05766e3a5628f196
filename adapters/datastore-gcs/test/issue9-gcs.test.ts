import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ArtifactStore, TributaryError } from '@tributary/core';
import { startFaultProxy } from '@tributary/conformance';
import { createGcsDatastore, type GcsDatastoreOptions } from '../src/index.ts';
import { startGcsEmulator, type GcsEmulator } from '../src/testing/gcs-emulator.ts';

let emu: GcsEmulator;
const BUCKET = 'issue9';
beforeAll(async () => {
  emu = await startGcsEmulator();
});
afterAll(async () => {
  await emu?.stop();
});

function datastore(extra: Partial<GcsDatastoreOptions> = {}) {
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  // The emulator ignores ifGenerationMatch (see conformance.test.ts).
  const ds = createGcsDatastore({ bucket: BUCKET, prefix, apiEndpoint: emu.endpoint, conditionalPut: false, ...extra });
  return { ds, prefix };
}

const shown = (x: unknown) => `${inspect(x, { depth: 10, showHidden: true })}\n${JSON.stringify(x)}\n${String((x as Error)?.stack ?? '')}`;

describe('issue 9 item 1: GCS (firebase storage emulator)', () => {
  test('issue 9 item 1: a corrupt blob on GCS is reported with its artifact and task, and a new write of the same value repairs it', async () => {
    const { ds, prefix } = datastore();
    const value = { weights: [1, 2, 3], note: 'n'.repeat(500) };
    const ref = await new ArtifactStore(ds, 'F').save('model', value);
    const file = new Storage({ apiEndpoint: emu.endpoint, projectId: 'demo-test' })
      .bucket(BUCKET)
      .file(`${prefix}/F/data/${ref.sha.slice(0, 2)}/${ref.sha}`);
    const [stored] = await file.download();
    stored[7] = stored[7]! ^ 0xff;
    await file.save(stored, { resumable: false });
    const err = (await new ArtifactStore(ds, 'F')
      .forTask('F/1/start/1')
      .load(ref)
      .catch((e: unknown) => e)) as TributaryError;
    expect(err.code).toBe('INTEGRITY');
    expect(err.context).toMatchObject({ artifact: 'model', pathspec: 'F/1/start/1', adapter: 'gcs' });
    await new ArtifactStore(ds, 'F').save('model', value);
    expect(await new ArtifactStore(ds, 'F').load(ref)).toEqual(value);
    await ds.close();
  });
});

describe('issue 9 item 13: GCS honours AbortSignal', () => {
  test('issue 9 item 13: aborting a put in flight (simple and resumable upload) rejects with ABORTED', async () => {
    // Every request waits 3 s at the proxy: the abort lands while the upload is in flight.
    const proxy = await startFaultProxy({ target: emu.endpoint, failureRate: 1, faults: ['slow'], slowMs: 3000 });
    try {
      for (const resumableThreshold of [64 * 1024 * 1024, 1]) {
        const { ds } = datastore({ apiEndpoint: proxy.url, resumableThreshold, maxRetries: 0 });
        const ac = new AbortController();
        const put = ds.put('slow', randomBytes(256 * 1024), { signal: ac.signal }).catch((e: unknown) => e);
        setTimeout(() => ac.abort(new Error('stop')), 200);
        expect(await put).toMatchObject({ code: 'ABORTED' });
        await ds.close();
      }
    } finally {
      await proxy.stop();
    }
  });

  test('issue 9 item 13: aborting a getStream mid-read stops it with ABORTED (empty ranges: the conformance suite)', async () => {
    const { ds } = datastore();
    await ds.put('big', randomBytes(12 * 1024 * 1024));
    for (const range of [undefined, { offset: 10, length: 11 * 1024 * 1024 }]) {
      const ac = new AbortController();
      const stream = await ds.getStream('big', { signal: ac.signal, ...(range ? { range } : {}) });
      let read = 0;
      const err = await (async () => {
        for await (const part of stream) {
          read += part.byteLength;
          ac.abort(new Error('stop'));
        }
      })().catch((e: unknown) => e);
      expect(TributaryError.is(err, 'ABORTED')).toBe(true);
      expect(read).toBeLessThan(12 * 1024 * 1024);
    }
    await ds.close();
  });
});

describe('issue 9 item 15: the GCS adapter keeps its credentials out of inspection, JSON and errors', () => {
  const KEY = '-----BEGIN PRIVATE KEY-----\nsEcReT-issue9-gcs-private-key-material\n-----END PRIVATE KEY-----\n';
  const MARKER = 'sEcReT-issue9-gcs-private-key-material';

  test('issue 9 item 15: a service account key given as credentials never shows in inspect, JSON or errors', async () => {
    const credentials = { type: 'service_account', client_email: 'issue9@demo-test.iam.gserviceaccount.com', private_key: KEY };
    const { ds } = datastore({ credentials });
    await ds.put('k', Buffer.from('v'));
    const errors = [await ds.get('missing').catch((e: unknown) => e)];
    const unreachable = createGcsDatastore({ bucket: BUCKET, apiEndpoint: 'http://127.0.0.1:9', credentials, maxRetries: 0 });
    errors.push(await unreachable.get('k').catch((e: unknown) => e));
    expect(errors[0]).toMatchObject({ code: 'NOT_FOUND' });
    expect(errors[1]).toMatchObject({ code: 'INFRASTRUCTURE' });
    expect((errors[1] as Error).cause).toBeDefined();
    // Both clients exist now (they were used): inspection must still not reach them.
    for (const x of [ds, unreachable, ds.locator, ...errors]) expect(shown(x)).not.toContain(MARKER);
    expect(ds.locator.options).not.toHaveProperty('credentials');
    await ds.close();
    await unreachable.close();
  });
});
