import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll } from 'vitest';
import { datastoreConformance } from '@tributary/conformance';
import { createAzureDatastore, type AzureDatastore } from '../src/index.ts';
import { startAzurite, type Azurite } from '../src/testing/azurite.ts';

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.createContainer('conformance');
});
afterAll(async () => {
  await azurite?.stop();
});

const prefixes = new WeakMap<object, string>();

datastoreConformance({
  name: 'azure (azurite)',
  factory: () => {
    const prefix = `t-${randomBytes(6).toString('hex')}`;
    const ds = createAzureDatastore({
      container: 'conformance',
      prefix,
      connectionString: azurite.connectionString,
      blockSize: 4 * 1024 * 1024,
    });
    prefixes.set(ds, prefix);
    return ds;
  },
  manyKeys: 120,
  properties: { numRuns: 10 },
  // Raw read through the SDK, not the adapter.
  inspect: {
    async read(ds, key) {
      const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
        .getContainerClient('conformance')
        .getBlobClient(`${prefixes.get(ds as AzureDatastore)}/${key}`);
      return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
    },
  },
});
