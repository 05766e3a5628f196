/**
 * Issue 16: a `@pypi` step on remote compute. The orchestrator locks the spec for the containers'
 * platform (linux-64) and stores the lock; it builds nothing. Each task's container reads the
 * stored lock and materializes it with the resolver the task bootstrap bundles, then runs the
 * step inside it: `python3` there is the environment's interpreter.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeWheels } from '@tributary/environment-pypi/testing';
import { Client, environmentId, REMOTE_PLATFORM } from '../src/index.ts';
import { runCliAsync } from './cli-process.ts';
import { makeCondaNpmSources } from './fixtures/issue16-conda-npm-sources.ts';
import { startHarness, type RemoteHarness, type RemoteKind } from './remote-harness.ts';

const base = mkdtempSync(join(tmpdir(), 'tributary-issue16-remote-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

for (const kind of ['kubernetes', 'batch'] as RemoteKind[]) {
  describe(`@pypi on ${kind} (the emulator runs each task as a container process)`, () => {
    let h: RemoteHarness;
    const wheels = join(base, `${kind}-wheels`);
    beforeAll(async () => {
      makeWheels(wheels, [['tribstats', '1.0.0', 'tribstats-1.0.0', []]]);
      h = await startHarness(kind);
    }, 120_000);
    afterAll(() => h?.stop());

    test('examples/python-step.ts: the container builds the venv from the stored linux-64 lock and the step runs python3 in it; a second run reuses it', async () => {
      const home = join(base, kind);
      const env = { ...h.cliEnv, TRIBUTARY_EXAMPLE_WHEELS: wheels };
      const args = ['run', 'examples/python-step.ts', '--with', kind, '--datastore', h.datastore(`${kind}-env`), '--no-progress'];
      const runIds: string[] = [];
      for (let i = 0; i < 2; i++) {
        const r = await runCliAsync(home, args, env);
        expect(r.stderr).toMatch(/Run PythonStepFlow\/\d+ succeeded/);
        expect(r.code).toBe(0);
        expect(r.stderr).toMatch(
          /@pypi of score: environment [0-9a-f]{12} \(1 package(, solved)?\) locked for linux-64 in \S+; each container builds it from the lock/,
        );
        expect(r.stdout).toMatch(/mean 30, max 50 \(scored by tribstats-1\.0\.0 in .*container-environments\/[0-9a-f]{32}\)/);
        runIds.push(r.stdout.trim().split('\n').pop()!.split('/')[1]!);
      }
      // Built in the containers' cache, once; the orchestrator only locked (its home holds the lock, no environment).
      const built = readdirSync(h.containerEnvironments).filter((f) => /^[0-9a-f]{32}$/.test(f));
      expect(built).toHaveLength(1);
      expect(readdirSync(join(home, 'environments')).filter((f) => /^[0-9a-f]{32}$/.test(f))).toEqual([]);

      const client = await Client.open({ home, namespace: null, datastore: h.datastore(`${kind}-env`) });
      try {
        for (const runId of runIds) {
          const task = await (await (await client.run(`PythonStepFlow/${runId}`)).step('score')).task();
          const environment = (await task.environment())!;
          expect(environment.id).toBe(built[0]);
          expect(environment.id).toBe(environmentId(environment.lock));
          expect(environment.lock).toMatchObject({ kind: 'pypi', platform: REMOTE_PLATFORM, sources: [wheels] });
          const summary = (await (await task.artifact('summary')).get()) as { python: string };
          expect(summary.python).toBe(join(h.containerEnvironments, environment.id));
        }
      } finally {
        await client.close();
      }
    });

    // The job and the bootstrap are the same code on both backends: the other kinds and the failure once, on Kubernetes.
    if (kind === 'kubernetes') {
      test('@conda and @npm steps: the containers build the conda prefix and the node_modules from the stored locks', async () => {
        const channel = join(base, `${kind}-channel`);
        const tarballs = join(base, `${kind}-tarballs`);
        makeCondaNpmSources(channel, tarballs, REMOTE_PLATFORM);
        const home = join(base, `${kind}-conda-npm`);
        const r = await runCliAsync(
          home,
          [
            'run',
            'cli/test/fixtures/issue16-conda-npm-flows.ts',
            '--with',
            kind,
            '--datastore',
            h.datastore(`${kind}-conda-npm`),
            '--no-progress',
          ],
          { ...h.cliEnv, TRIBUTARY_TEST_CONDA_CHANNEL: channel, TRIBUTARY_TEST_NPM_TARBALLS: tarballs },
        );
        expect(r.stderr).toMatch(/Run CondaNpmFlow\/\d+ succeeded/);
        expect(r.code).toBe(0);
        const prefix = join(h.containerEnvironments, '[0-9a-f]{32}').replace(/\//g, '\\/');
        expect(r.stdout).toMatch(new RegExp(`hello from ${prefix}: bonjour / \\[\\.\\.\\.\\.x\\]`));
        expect(readdirSync(join(home, 'environments')).filter((f) => /^[0-9a-f]{32}$/.test(f))).toEqual([]);
      });

      test("a container that cannot build the environment fails the task in the resolver's words, and the run says so", async () => {
        const home = join(base, kind);
        // The lock is kept (same spec), but the packages it names are gone and no container has the environment.
        rmSync(h.containerEnvironments, { recursive: true, force: true });
        rmSync(wheels, { recursive: true, force: true });
        mkdirSync(wheels);
        const args = ['run', 'examples/python-step.ts', '--with', kind, '--datastore', h.datastore(`${kind}-env`), '--no-progress'];
        const r = await runCliAsync(home, args, { ...h.cliEnv, TRIBUTARY_EXAMPLE_WHEELS: wheels });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/Run PythonStepFlow\/\d+ failed/);
        expect(r.stderr).toContain("Building the step's @pypi environment in the task's container failed");
        expect(r.stderr).toMatch(/tribstats==1\.0\.0/);
      });
    }
  });
}
