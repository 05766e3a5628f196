import { randomBytes } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll } from 'vitest';
import { datastoreConformance } from '@tributary/conformance';
import { createGcsDatastore, type GcsDatastore } from '../src/index.ts';
import { startGcsEmulator, type GcsEmulator } from '../src/testing/gcs-emulator.ts';

let emu: GcsEmulator;
beforeAll(async () => {
  emu = await startGcsEmulator();
});
afterAll(async () => {
  await emu?.stop();
});

const prefixes = new WeakMap<object, string>();

datastoreConformance({
  name: 'gcs (firebase storage emulator)',
  // The emulator ignores ifGenerationMatch: declared, so put-if-absent checks existence first.
  factory: () => {
    const prefix = `t-${randomBytes(6).toString('hex')}`;
    const ds = createGcsDatastore({ bucket: 'conformance', prefix, apiEndpoint: emu.endpoint, conditionalPut: false });
    prefixes.set(ds, prefix);
    return ds;
  },
  manyKeys: 120,
  properties: { numRuns: 10 },
  inspect: {
    async read(ds, key) {
      const file = new Storage({ apiEndpoint: emu.endpoint, projectId: 'demo-test' })
        .bucket('conformance')
        .file(`${prefixes.get(ds as GcsDatastore)}/${key}`);
      return (await file.exists())[0] ? (await file.download())[0] : undefined;
    },
  },
});
