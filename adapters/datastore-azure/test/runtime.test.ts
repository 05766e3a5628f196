import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFaultProxy } from '@tributary/conformance';
import { runFlow } from 'tributary';
import { TrainFlow } from '../../../examples/train.ts';
import { SlowForeach } from '../../../cli/test/fixtures/resumable.ts';
import { createAzureDatastore } from '../src/index.ts';
import { startAzurite, type Azurite } from '../src/testing/azurite.ts';

let azurite: Azurite;
const home = mkdtempSync(join(tmpdir(), 'tributary-azure-run-'));
beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.createContainer('flows');
  // Task workers read the account key from the environment; it is never passed to them.
  process.env.AZURE_STORAGE_KEY = azurite.accountKey;
});
afterAll(async () => {
  await azurite?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('examples/train.ts runs end to end on the Azure datastore', async () => {
  const run = await runFlow(TrainFlow, {
    home,
    datastore: `azure://${azurite.account}/flows/train?endpoint=${encodeURIComponent(azurite.endpoint)}`,
  });
  expect(run.error?.message).toBeUndefined();
  expect((await run.data()).bestAlpha).toBe(10);
  await run.close();
});

test('a 100-task flow with 10% injected faults (500s, resets, slow responses) completes with every artifact intact', async () => {
  const proxy = await startFaultProxy({ target: `http://127.0.0.1:${azurite.port}`, failureRate: 0.1, seed: 5, slowMs: 400 });
  try {
    const endpoint = `${proxy.url}/${azurite.account}`;
    const run = await runFlow(SlowForeach, {
      home,
      params: { n: 96, ms: 0 },
      maxNumSplits: 96,
      datastore: `azure://${azurite.account}/flows/faults?endpoint=${encodeURIComponent(endpoint)}`,
    });
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect((await run.data()).total).toBe(95 * 96);
    expect(Object.values(proxy.stats.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    await run.close();
  } finally {
    await proxy.stop();
  }
});

test('a missing container and a wrong key are typed CONFIG errors, never printing the key', async () => {
  const missing = createAzureDatastore({
    container: 'no-such-container',
    account: azurite.account,
    endpoint: azurite.endpoint,
    accountKey: azurite.accountKey,
    maxTries: 1,
  });
  await expect(missing.put('k', new Uint8Array([1]))).rejects.toMatchObject({
    code: 'CONFIG',
    message: expect.stringContaining('Container no-such-container does not exist'),
  });
  const wrongKey = Buffer.from('not-the-key-at-all-not-the-key-at-all').toString('base64');
  const bad = createAzureDatastore({
    container: 'flows',
    account: azurite.account,
    endpoint: azurite.endpoint,
    accountKey: wrongKey,
    maxTries: 1,
  });
  const err = (await bad.get('k').catch((e: unknown) => e)) as Error & { code: string };
  expect(err.code).toBe('CONFIG');
  expect(err.message).not.toContain(wrongKey);
});
