/**
 * The end-to-end suite of a remote compute backend (issue 12), run against its wire-level
 * emulator with the real SDK client: the orchestrator here, every task a container the emulator
 * really runs (empty working directory, only the declared environment), the datastore on S3.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ArtifactStore, createSqliteMetadataStore, runFlow, type RunResult as Run, type RunFlowOptions } from '../src/index.ts';
import { TrainFlow } from '../../examples/train.ts';
import { bin, root, runCliAsync } from './cli-process.ts';
import * as f from './fixtures/issue12-remote.ts';
import { tempHome } from './helpers.ts';
import { startHarness, type RemoteHarness, type RemoteKind } from './remote-harness.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const runCli = runCliAsync;

async function tasksOf(run: Run) {
  return (await run.metadata.listTasks({ flow: run.flow, runId: run.runId })).items.filter((t) => t.step !== '_parameters');
}

async function attemptsOf(run: Run, step: string) {
  const task = (await tasksOf(run)).find((t) => t.step === step)!;
  return run.metadata.listAttempts({ flow: run.flow, runId: run.runId, taskId: task.taskId });
}

async function artifact(run: Run, step: string, name: string): Promise<unknown> {
  const task = (await tasksOf(run)).find((t) => t.step === step)!;
  const ref = (await run.metadata.listArtifacts({ flow: run.flow, runId: run.runId, taskId: task.taskId })).find((a) => a.name === name)!;
  return new ArtifactStore(run.datastore, run.flow).forTask(`${run.flow}/${run.runId}/${step}/${task.taskId}`).load(ref);
}

export function remoteComputeSuite(kind: RemoteKind): void {
  const { home: base, cleanup } = tempHome(`tributary-issue12-${kind}-`);
  let h: RemoteHarness;
  beforeAll(async () => {
    h = await startHarness(kind);
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
    cleanup();
  });

  /** A library run with every step (or the decorated ones) on this backend. */
  async function remoteRun(
    flow: Parameters<typeof runFlow>[0],
    name: string,
    options: RunFlowOptions & { backend?: Record<string, unknown> } = {},
  ) {
    const { backend, ...rest } = options;
    const compute = h.compute(backend);
    try {
      return await runFlow(flow, {
        home: join(base, name),
        datastore: h.datastore(`${kind}-${name}`),
        remoteCompute: { [kind]: compute },
        maxWorkers: 4,
        ...rest,
      });
    } finally {
      await compute.close();
    }
  }

  describe(`${kind}: runs on the emulator`, () => {
    test(`issue 12 item 5: examples/train.ts end to end with --with ${kind} (CLI, S3 datastore, SQLite metadata)`, async () => {
      const home = join(base, 'train-cli');
      const before = h.submissions();
      const res = await runCli(
        home,
        ['run', 'examples/train.ts', '--with', kind, '--datastore', h.datastore(`${kind}-train-cli`), '--no-progress'],
        h.cliEnv,
      );
      expect(res.stderr).toMatch(/Run TrainFlow\/\d+ succeeded/);
      expect(res.stdout).toMatch(/\[TrainFlow\/\d+\/end\/\d+\] best alpha: 10 \(validation MSE \d+\.\d+\)/);
      expect(res.code).toBe(0);
      // start, fit (one array job for the 10 splits), pick, end.
      expect(h.submissions() - before).toBe(4);
      const runId = res.stdout.trim().split('\n').pop()!.split('/')[1]!;
      const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
      try {
        const run = await md.getRun('TrainFlow', runId);
        expect(run.systemTags).toContain(`executor:${kind}`);
        const tasks = (await md.listTasks({ flow: 'TrainFlow', runId })).items.filter((t) => t.step !== '_parameters');
        expect(tasks).toHaveLength(13);
        expect(tasks.every((t) => t.status === 'succeeded')).toBe(true);
      } finally {
        await md.close();
      }
    });

    test(`issue 12 item 5: the library option with: ['${kind}'] runs train.ts the same`, async () => {
      const run = await remoteRun(TrainFlow, 'train-lib', { with: [kind] });
      expect(run.error?.message).toBeUndefined();
      expect((await run.data()).bestAlpha).toBe(10);
    });

    test(`issue 12 item 5: a mixed flow: @${kind} steps run in containers, the others locally`, async () => {
      const flow = kind === 'kubernetes' ? f.MixedKubernetesFlow : f.MixedBatchFlow;
      const before = h.submissions();
      const run = await remoteRun(flow, 'mixed');
      expect(run.error?.message).toBeUndefined();
      expect((await run.data()).squares).toEqual([1, 4, 9]);
      // fan (one array job) and join: two submissions.
      expect(h.submissions() - before).toBe(2);
      const local = JSON.parse((await artifact(run, 'start', 'ranAt')) as string);
      expect(local.cwd).toBe(process.cwd());
      const places = ((await artifact(run, 'join', 'places')) as string[]).map((p) => JSON.parse(p));
      const indexVar = kind === 'kubernetes' ? 'k8sIndex' : 'batchIndex';
      expect(places.map((p) => p[indexVar]).sort()).toEqual(['0', '1', '2']);
      for (const p of places) expect(p.cwd).toMatch(/tributary-ctr-/);
      expect(JSON.parse((await artifact(run, 'end', 'ranAt')) as string).cwd).toBe(process.cwd());
    });

    test('issue 12 item 5: remote compute refuses a local datastore, with the fix in the message', async () => {
      await expect(
        runFlow(TrainFlow, { home: join(base, 'refused'), with: [kind], remoteCompute: { [kind]: h.compute() } }),
      ).rejects.toThrow(/cannot reach the \S+ datastore[\s\S]*--datastore s3:\/\//);
    });
  });

  describe(`${kind}: typed failures`, () => {
    test("issue 12 item 4: an OOM-killed attempt is COMPUTE_OOM and @retry({ only: 'system' }) retries it", async () => {
      h.inject('oom', 'work', 1);
      const run = await remoteRun(f.SystemRetryFlow, 'oom', { with: [kind] });
      h.clearFaults();
      expect(run.error?.message).toBeUndefined();
      const attempts = await attemptsOf(run, 'work');
      expect(attempts.map((a) => [a.status, a.error?.code])).toEqual([
        ['failed', 'COMPUTE_OOM'],
        ['succeeded', undefined],
      ]);
      expect(await artifact(run, 'work', 'attempt')).toBe(1);
    });

    test("issue 12 item 4: a preempted attempt is COMPUTE_PREEMPTED and @retry({ only: 'system' }) retries it", async () => {
      h.inject('preempt', 'work', 1);
      const run = await remoteRun(f.SystemRetryFlow, 'preempt', { with: [kind] });
      h.clearFaults();
      expect(run.error?.message).toBeUndefined();
      expect((await attemptsOf(run, 'work')).map((a) => a.error?.code ?? a.status)).toEqual(['COMPUTE_PREEMPTED', 'succeeded']);
    });

    test("issue 12 item 4: a user error is not retried by @retry({ only: 'system' })", async () => {
      const run = await remoteRun(f.UserErrorFlow, 'user-error', { with: [kind] });
      expect(run.status).toBe('failed');
      const attempts = await attemptsOf(run, 'boom');
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.error?.message).toContain('issue12 user error on attempt 0');
    });

    test('issue 12 item 4: a job stuck pending becomes COMPUTE_UNSCHEDULABLE after pendingTimeout, and is stopped', async () => {
      h.inject('stuck', 'start', 10);
      const t0 = Date.now();
      const run = await remoteRun(f.RemoteEnvFlow, 'stuck', { with: [`${kind}:pendingTimeout=1`] });
      h.clearFaults();
      expect(run.status).toBe('failed');
      const [attempt] = await attemptsOf(run, 'start');
      expect(attempt!.error?.code).toBe('COMPUTE_UNSCHEDULABLE');
      expect(attempt!.error?.message).toMatch(/still pending after 1 s/);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(h.running()).toBe(0);
    });

    test('issue 12 item 4: an image that cannot be pulled is COMPUTE_UNSCHEDULABLE', async () => {
      h.inject('image-pull', 'start', 10);
      const run = await remoteRun(f.RemoteEnvFlow, 'image-pull', { with: [kind] });
      h.clearFaults();
      expect(run.status).toBe('failed');
      const [attempt] = await attemptsOf(run, 'start');
      expect(attempt!.error?.code).toBe('COMPUTE_UNSCHEDULABLE');
    });
  });

  describe(`${kind}: secrets and output`, () => {
    test('issue 12 item 5: no secret of the orchestrator reaches any job spec the emulator received', async () => {
      const secrets = { TRIB_ISSUE12_SECRET: 'issue12-hunter2-secret', DATABASE_PASSWORD: 'issue12-db-password' };
      Object.assign(process.env, secrets);
      try {
        const run = await remoteRun(f.RemoteEnvFlow, 'secrets', { with: [kind] });
        expect(run.error?.message).toBeUndefined();
        const env = JSON.parse((await run.data('start')).env as string) as Record<string, string>;
        expect(env.TRIB_ISSUE12_SECRET).toBeUndefined();
      } finally {
        for (const k of Object.keys(secrets)) delete process.env[k];
      }
      const received = h.receivedText();
      expect(received.length).toBeGreaterThan(100);
      for (const value of [...Object.values(secrets), h.s3.credentials.secretAccessKey]) expect(received).not.toContain(value);
    });

    test("issue 12 item 5: a remote task's output is readable while it runs (tributary logs)", async () => {
      const home = join(base, 'live');
      const compute = h.compute();
      let seen = '';
      let runId = '';
      try {
        const running = runFlow(f.RemoteLiveLogFlow, {
          home,
          datastore: h.datastore(`${kind}-live`),
          with: [kind],
          remoteCompute: { [kind]: compute },
          onEvent: (e) => void (e.type === 'run-started' && (runId = e.runId)),
        });
        for (let i = 0; i < 100 && !seen.includes('before the wait'); i++) {
          await sleep(200);
          if (!runId) continue;
          const r = await runCli(home, ['logs', `RemoteLiveLogFlow/${runId}/start`, '--datastore', h.datastore(`${kind}-live`)], h.cliEnv);
          if (r.code === 0) seen = r.stdout;
        }
        expect(seen).toContain('issue12 live line before the wait');
        expect(seen).not.toContain('after the wait');
        const run = await running;
        expect(run.error?.message).toBeUndefined();
      } finally {
        await compute.close();
      }
    });
  });

  describe(`${kind}: Ctrl-C`, () => {
    test('issue 12 item 6: SIGINT to the CLI mid-run leaves no job running, the run aborted, and resume clones what finished', async () => {
      const home = join(base, 'sigint');
      const datastore = h.datastore(`${kind}-sigint`);
      const child = spawn(
        process.execPath,
        [
          bin,
          'run',
          'cli/test/fixtures/issue12-remote.ts',
          '--flow',
          'SlowSplitsFlow',
          '--with',
          kind,
          '--max-workers',
          '3',
          '--datastore',
          datastore,
          '--no-progress',
        ],
        { cwd: root, env: { ...process.env, ...h.cliEnv, TRIBUTARY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      for (let i = 0; i < 300 && h.running() < 3; i++) await sleep(100);
      expect(h.running(), stderr).toBe(3);
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(h.running()).toBe(0);
      const runId = /\[SlowSplitsFlow\/(\d+)\//.exec(stdout + stderr)?.[1] ?? /SlowSplitsFlow\/(\d+)/.exec(stderr)![1]!;
      const md = createSqliteMetadataStore({ path: join(home, 'metadata.sqlite') });
      try {
        expect((await md.getRun('SlowSplitsFlow', runId)).status).toBe('aborted');
      } finally {
        await md.close();
      }
      const dry = await runCli(
        home,
        ['resume', 'cli/test/fixtures/issue12-remote.ts', '--flow', 'SlowSplitsFlow', '--dry-run', '--datastore', datastore],
        h.cliEnv,
      );
      expect(dry.stdout).toMatch(/start.*clone/i);
    });
  });
}
