import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFaultProxy } from '@tributary/conformance';
import { runFlow } from 'tributary';
import { TrainFlow } from '../../../examples/train.ts';
import { SlowForeach } from '../../../cli/test/fixtures/resumable.ts';
import { startGcsEmulator, type GcsEmulator } from '../src/testing/gcs-emulator.ts';

let emu: GcsEmulator;
const home = mkdtempSync(join(tmpdir(), 'tributary-gcs-run-'));
beforeAll(async () => {
  emu = await startGcsEmulator();
});
afterAll(async () => {
  await emu?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('examples/train.ts runs end to end on the GCS datastore', async () => {
  const run = await runFlow(TrainFlow, {
    home,
    datastore: `gs://flows/train?apiEndpoint=${encodeURIComponent(emu.endpoint)}&conditionalPut=false`,
  });
  expect(run.error?.message).toBeUndefined();
  expect((await run.data()).bestAlpha).toBe(10);
  await run.close();
});

test(
  'a 100-task flow with 10% injected faults (500s, resets, slow responses) completes with every artifact intact',
  { timeout: 180_000 },
  async () => {
    const proxy = await startFaultProxy({ target: emu.endpoint, failureRate: 0.1, seed: 11, slowMs: 400 });
    try {
      const run = await runFlow(SlowForeach, {
        home,
        params: { n: 96, ms: 0 },
        maxNumSplits: 96,
        datastore: `gs://flows/faults?apiEndpoint=${encodeURIComponent(proxy.url)}&conditionalPut=false`,
      });
      expect(run.error?.message).toBeUndefined();
      expect(run.status).toBe('succeeded');
      expect((await run.data()).total).toBe(95 * 96);
      expect(Object.values(proxy.stats.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
      await run.close();
    } finally {
      await proxy.stop();
    }
  },
);
