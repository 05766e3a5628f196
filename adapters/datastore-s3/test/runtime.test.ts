import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFaultProxy } from '@tributary/conformance';
import { runFlow } from 'tributary';
import { TrainFlow } from '../../../examples/train.ts';
import { SlowForeach } from '../../../cli/test/fixtures/resumable.ts';
import { createS3Datastore } from '../src/index.ts';
import { startS3Emulator, type S3Emulator } from '../src/testing/s3-emulator.ts';

let emu: S3Emulator;
const home = mkdtempSync(join(tmpdir(), 'tributary-s3-run-'));
const LIMITS = 'forcePathStyle=true&conditionalPut=false&atomicOverwrite=false&prefixObjects=false';
beforeAll(async () => {
  emu = await startS3Emulator();
  await emu.createBucket('flows');
  // Task workers find credentials the standard way (environment), like any AWS SDK program.
  process.env.AWS_ACCESS_KEY_ID = emu.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = emu.credentials.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
});
afterAll(async () => {
  await emu?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('examples/train.ts runs end to end on the S3 datastore', async () => {
  const run = await runFlow(TrainFlow, { home, datastore: `s3://flows/train?endpoint=${emu.endpoint}&${LIMITS}` });
  expect(run.error?.message).toBeUndefined();
  expect((await run.data()).bestAlpha).toBe(10);
  await run.close();
});

test('an artifact read under a name the source never spells out is fetched synchronously on demand', async () => {
  const { DynamicReadFlow } = await import('../../../cli/test/fixtures/behaviours.ts');
  const run = await runFlow(DynamicReadFlow, { home, datastore: `s3://flows/dynamic?endpoint=${emu.endpoint}&${LIMITS}` });
  expect(run.error?.message).toBeUndefined();
  expect((await run.data()).out).toBe(42);
  await run.close();
});

test('issue 11 item 8: on local jobs, an artifact read under a name the source never spells out is fetched on demand', async () => {
  const { DynamicReadFlow } = await import('../../../cli/test/fixtures/behaviours.ts');
  const dynamic = await runFlow(DynamicReadFlow, {
    home,
    compute: 'local-jobs://',
    datastore: `s3://flows/dynamic-jobs?endpoint=${emu.endpoint}&${LIMITS}`,
  });
  expect(dynamic.error?.message).toBeUndefined();
  expect((await dynamic.data()).out).toBe(42);
});

test('issue 11 item 8: the built packages (the CLI, its workers and jobs) read an unnamed artifact from S3 synchronously', () => {
  const bin = fileURLToPath(new URL('../../../cli/bin/tributary.js', import.meta.url));
  const fixture = fileURLToPath(new URL('../../../cli/test/fixtures/behaviours.ts', import.meta.url));
  for (const compute of ['local://', 'local-jobs://']) {
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'run',
        fixture,
        '--flow',
        'DynamicReadFlow',
        '--quiet',
        '--compute',
        compute,
        '--home',
        home,
        '--datastore',
        `s3://flows/dist-${compute.split(':')[0]}?endpoint=${emu.endpoint}&${LIMITS}`,
      ],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env } },
    );
    // The SDK's notice about Node 20 is the orchestrator's own (printed once per process, by design).
    const stderr = r.stderr.replace(
      /^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?More information can be found at: \S+\n(?:.*--trace-warnings.*\n)?/m,
      '',
    );
    expect(stderr, compute).toBe('');
    expect(r.status, compute).toBe(0);
  }
});

test('a 100-task flow with 10% injected faults (500s, resets, slow responses) completes with every artifact intact', async () => {
  const proxy = await startFaultProxy({ target: emu.endpoint, failureRate: 0.1, seed: 3, slowMs: 400 });
  try {
    const run = await runFlow(SlowForeach, {
      home,
      params: { n: 96, ms: 0 },
      maxNumSplits: 96,
      datastore: `s3://flows/faults?endpoint=${proxy.url}&${LIMITS}`,
    });
    expect(run.error?.message).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(run.tasks).toBeGreaterThanOrEqual(99);
    expect((await run.data()).total).toBe(95 * 96);
    expect(Object.values(proxy.stats.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    await run.close();
  } finally {
    await proxy.stop();
  }
});

test('a missing bucket and bad credentials are typed CONFIG errors that name the bucket, never the secret', async () => {
  const missing = createS3Datastore({
    bucket: 'no-such-bucket',
    endpoint: emu.endpoint,
    forcePathStyle: true,
    credentials: emu.credentials,
    maxAttempts: 1,
  });
  await expect(missing.put('k', new Uint8Array([1]))).rejects.toMatchObject({
    code: 'CONFIG',
    message: expect.stringContaining('Bucket no-such-bucket does not exist'),
  });
  await missing.close();
  const bad = createS3Datastore({
    bucket: 'flows',
    endpoint: emu.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'WRONG', secretAccessKey: 'hunter2-secret' },
    maxAttempts: 1,
  });
  const err = (await bad.get('k').catch((e: unknown) => e)) as Error & { code: string };
  expect(err.code).toBe('CONFIG');
  expect(err.message).toMatch(/rejected the credentials/);
  expect(err.message).not.toContain('hunter2');
  await bad.close();
});

test('the CLI selects the S3 datastore for a whole run with --datastore', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const url = `s3://flows/cli?endpoint=${emu.endpoint}&${LIMITS}`;
  const r = spawnSync(process.execPath, ['cli/bin/tributary.js', 'run', 'examples/hello.ts', '--datastore', url, '--name', 'S3'], {
    cwd: root,
    env: { ...process.env, TRIBUTARY_HOME: home },
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  const logs = spawnSync(
    process.execPath,
    ['cli/bin/tributary.js', 'logs', `${r.stdout.trim().split('\n').pop()}/shout`, '--datastore', url],
    { cwd: root, env: { ...process.env, TRIBUTARY_HOME: home }, encoding: 'utf8' },
  );
  expect(logs.stdout).toBe('HELLO, S3!\n');
});
