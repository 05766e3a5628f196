import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ArtifactStore, TributaryError } from '@tributary/core';
import { createAzureDatastore, type AzureDatastoreOptions } from '../src/index.ts';
import { startAzurite, type Azurite } from '../src/testing/azurite.ts';

let azurite: Azurite;
const CONTAINER = 'issue9';
beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.createContainer(CONTAINER);
});
afterAll(async () => {
  await azurite?.stop();
});

function datastore(extra: Partial<AzureDatastoreOptions> = {}) {
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  const ds = createAzureDatastore({
    container: CONTAINER,
    prefix,
    account: azurite.account,
    endpoint: azurite.endpoint,
    accountKey: azurite.accountKey,
    blockSize: 4 * 1024 * 1024,
    ...extra,
  });
  return { ds, prefix };
}

const shown = (x: unknown) => `${inspect(x, { depth: 10, showHidden: true })}\n${JSON.stringify(x)}\n${String((x as Error)?.stack ?? '')}`;

describe('issue 9 item 1: Azure (azurite)', () => {
  test('issue 9 item 1: a corrupt blob on Azure is reported with its artifact and task, and a new write of the same value repairs it', async () => {
    const { ds, prefix } = datastore();
    const value = { weights: [1, 2, 3], note: 'n'.repeat(500) };
    const ref = await new ArtifactStore(ds, 'F').save('model', value);
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(CONTAINER)
      .getBlockBlobClient(`${prefix}/F/data/${ref.sha.slice(0, 2)}/${ref.sha}`);
    const stored = await blob.downloadToBuffer();
    stored[7] = stored[7]! ^ 0xff;
    await blob.uploadData(stored);
    const err = (await new ArtifactStore(ds, 'F')
      .forTask('F/1/start/1')
      .load(ref)
      .catch((e: unknown) => e)) as TributaryError;
    expect(err.code).toBe('INTEGRITY');
    expect(err.context).toMatchObject({ artifact: 'model', pathspec: 'F/1/start/1', adapter: 'azure' });
    await new ArtifactStore(ds, 'F').save('model', value);
    expect(await new ArtifactStore(ds, 'F').load(ref)).toEqual(value);
    expect(Buffer.compare(await blob.downloadToBuffer(), stored)).not.toBe(0);
    await ds.close();
  });
});

describe('issue 9 item 13: Azure getStream', () => {
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

describe('issue 9 item 15: the Azure adapter keeps its secrets out of inspection, JSON and errors', () => {
  const KEY = Buffer.from('sEcReT-issue9-azure-account-key-material').toString('base64');
  const SIG = 'SeCrEtSiGiSsUe9AzUrE0123456789abcdefXYZ%3D';

  test('issue 9 item 15: an account key, a connection string and a SAS never show in inspect, JSON or errors (bad credentials)', async () => {
    const adapters = [
      datastore({ accountKey: KEY, maxTries: 1 }).ds,
      createAzureDatastore({
        container: CONTAINER,
        connectionString: `DefaultEndpointsProtocol=http;AccountName=${azurite.account};AccountKey=${KEY};BlobEndpoint=${azurite.endpoint};`,
        maxTries: 1,
      }),
      createAzureDatastore({
        container: CONTAINER,
        endpoint: azurite.endpoint,
        sasToken: `sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=https,http&sig=${SIG}`,
        maxTries: 1,
      }),
      // A SAS given inside the endpoint is taken out of it.
      createAzureDatastore({
        container: CONTAINER,
        endpoint: `${azurite.endpoint}?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=https,http&sig=${SIG}`,
        maxTries: 1,
      }),
    ];
    for (const ds of adapters) {
      const errors = [
        await ds.get('k').catch((e: unknown) => e),
        await ds.put('k', new Uint8Array([1])).catch((e: unknown) => e),
        await ds.list('').catch((e: unknown) => e),
      ];
      for (const e of errors) expect(e).toMatchObject({ code: 'CONFIG' });
      for (const x of [ds, ds.locator, ...errors]) {
        expect(shown(x)).not.toContain(KEY);
        expect(shown(x)).not.toContain(SIG);
      }
      await ds.close();
    }
  });

  test('issue 9 item 15: a valid SAS (option, or in the endpoint) works and stays hidden', async () => {
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3600_000),
        permissions: AccountSASPermissions.parse('rwdlac'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
        protocol: SASProtocol.HttpsAndHttp,
      },
      new StorageSharedKeyCredential(azurite.account, azurite.accountKey),
    ).toString();
    const sig = new URLSearchParams(sas).get('sig')!;
    for (const opts of [{ endpoint: azurite.endpoint, sasToken: sas }, { endpoint: `${azurite.endpoint}?${sas}` }]) {
      const ds = createAzureDatastore({ container: CONTAINER, prefix: `sas-${randomBytes(4).toString('hex')}`, ...opts });
      await ds.put('k', Buffer.from('via sas'));
      expect(Buffer.from(await ds.get('k')).toString()).toBe('via sas');
      expect(shown(ds)).not.toContain(sig);
      expect(ds.locator.options).not.toHaveProperty('sasToken');
      const missing = await ds.get('missing').catch((e: unknown) => e);
      expect(missing).toMatchObject({ code: 'NOT_FOUND' });
      expect(shown(missing)).not.toContain(sig);
      await ds.close();
    }
  });
});
