import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  Client,
  conda,
  environmentId,
  FlowSpec,
  hostPlatform,
  pypi,
  step,
  runFlow,
  TributaryError,
  type EnvironmentActivation,
  type EnvironmentLock,
  type EnvironmentResolver,
  type EnvironmentSpec,
} from 'tributary';
import { makeWheels } from '@tributary/environment-pypi/testing';
import { EnvMissingFlow, EnvSpecFlow } from './fixtures/issue16-env-flows.ts';
import { runCli } from './cli-process.ts';

/**
 * Issue 16, first slice: step environments through the EnvironmentResolver port, with a
 * resolver that counts what it does (the pypi resolver has its own tests and runs a real venv).
 */
class CountingResolver implements EnvironmentResolver {
  readonly name = 'counting';
  readonly capabilities = { kinds: ['pypi'] };
  locks = 0;
  builds = 0;
  async lock(spec: EnvironmentSpec, options: { platform: string }): Promise<EnvironmentLock> {
    this.locks++;
    const packages = Object.entries(spec.packages).map(([name, version]) => {
      if (version.startsWith('0.0.0-missing'))
        throw new TributaryError('CONFIG', `ERROR: No matching distribution found for ${name}==${version}`);
      return { name, version, url: `memory://${name}/${version}`, sha256: createHash('sha256').update(`${name}@${version}`).digest('hex') };
    });
    return { kind: spec.kind, platform: options.platform, sources: [], packages };
  }
  async materialize(lock: EnvironmentLock, options: { dir: string }): Promise<EnvironmentActivation> {
    this.builds++;
    return {
      env: { TRIBUTARY_MEMORY_ENV: lock.packages.map((p) => `${p.name}@${p.version}`).join(',') },
      path: [join(options.dir, 'bin')],
    };
  }
  async close(): Promise<void> {}
}

const base = mkdtempSync(join(tmpdir(), 'tributary-issue16-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('step environments (the port, the cache, activation, metadata)', () => {
  test('each task runs in its step environment; steps with one spec share it; ids are in metadata and the client; a second run reuses the build', async () => {
    const home = join(base, 'spec');
    const resolver = new CountingResolver();
    const run = await runFlow(EnvSpecFlow, { home, environments: { pypi: resolver } });
    expect(run.status).toBe('succeeded');
    // Two distinct specs: two locks, two builds.
    expect(resolver.locks).toBe(2);
    expect(resolver.builds).toBe(2);
    const client = await Client.open({ home, namespace: null });
    try {
      const r = await client.run(`EnvSpecFlow/${run.runId}`);
      const seen = async (step: string) => (await (await (await r.step(step)).task()).artifact('seen')).get();
      expect(await seen('start')).toBe('tribdemo@1.0.0');
      expect(await seen('same')).toBe('tribdemo@1.0.0');
      expect(await seen('other')).toBe('tribdemo@1.1.0');
      // The worker put its environment back: the next task (in the same worker) has none.
      expect(await seen('end')).toBeNull();
      const env = async (step: string) => (await (await r.step(step)).task()).environment();
      const a = (await env('start'))!;
      expect(a.id).toBe(environmentId(a.lock));
      expect(a.lock.packages).toEqual([expect.objectContaining({ name: 'tribdemo', version: '1.0.0' })]);
      expect((await env('same'))!.id).toBe(a.id);
      expect((await env('other'))!.id).not.toBe(a.id);
      expect(await env('end')).toBeUndefined();
      expect(
        readdirSync(join(home, 'environments'))
          .filter((f) => /^[0-9a-f]{32}$/.test(f))
          .sort(),
      ).toEqual([a.id, (await env('other'))!.id].sort());
    } finally {
      await client.close();
    }
    const again = new CountingResolver();
    expect((await runFlow(EnvSpecFlow, { home, environments: { pypi: again } })).status).toBe('succeeded');
    // A spec locked before keeps its lock (like a lockfile): no solve, no build.
    expect(again.locks).toBe(0);
    expect(again.builds).toBe(0);
  });

  test('a package that cannot be resolved fails before the run is recorded, in the resolver words, naming the step', async () => {
    const home = join(base, 'missing');
    const err = await runFlow(EnvMissingFlow, { home, environments: { pypi: new CountingResolver() } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(TributaryError.is(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toBe('@pypi of step start, end: ERROR: No matching distribution found for tribdemo==0.0.0-missing');
    const client = await Client.open({ home, namespace: null });
    try {
      expect(await client.flows()).toEqual([]);
    } finally {
      await client.close();
    }
    expect(existsSync(join(home, 'environments'))).toBe(false);
  });

  test('@pypi and @conda on one step are refused when the class is defined, before anything runs', () => {
    expect(() => {
      class Mixed extends FlowSpec {
        @conda({ packages: { numpy: '2.1.0' } })
        @pypi({ packages: { numpy: '2.1.0' } })
        @step
        start() {}
      }
      return Mixed;
    }).toThrow('Step start has both @pypi and @conda: a step runs in one environment, and kinds are not combined.');
    expect(() => pypi({ packages: { numpy: 2 as unknown as string } })).toThrow(/needs a version string/);
  });
});

describe('@pypi for real: a venv from locked wheels, the example flow', () => {
  const wheels = join(base, 'wheels');
  const env = { TRIBUTARY_EXAMPLE_WHEELS: wheels };
  const withWheels = async <T>(fn: () => Promise<T>): Promise<T> => {
    const before = process.env.TRIBUTARY_EXAMPLE_WHEELS;
    process.env.TRIBUTARY_EXAMPLE_WHEELS = wheels;
    try {
      return await fn();
    } finally {
      if (before === undefined) delete process.env.TRIBUTARY_EXAMPLE_WHEELS;
      else process.env.TRIBUTARY_EXAMPLE_WHEELS = before;
    }
  };

  test('the example runs through the CLI, on the warm pool and with --compute local-jobs://; the second run reuses the environment', () => {
    makeWheels(wheels, [['tribstats', '1.0.0', 'tribstats-1.0.0', []]]);
    const home = join(base, 'example');
    for (const [i, extra] of [[], ['--compute', 'local-jobs://']].entries()) {
      const r = runCli(home, ['run', 'examples/python-step.ts', '--no-progress', ...extra], env);
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      // Before the run starts, what happened to the step's environment.
      expect(r.stderr).toMatch(
        i === 0
          ? /@pypi of score: environment [0-9a-f]{12} \(1 package, solved\) built in \d/
          : /@pypi of score: environment [0-9a-f]{12} \(1 package\) reused in \d/,
      );
      expect(r.stdout + r.stderr).toMatch(/mean 30, max 50 \(scored by tribstats-1\.0\.0 in .*environments\/[0-9a-f]{32}\)/);
    }
    // One environment, built once, used by both runs.
    const ids = readdirSync(join(home, 'environments')).filter((f) => /^[0-9a-f]{32}$/.test(f));
    expect(ids).toHaveLength(1);
    // `tributary dump` of a task shows the environment it ran in, exactly.
    const dump = runCli(home, ['dump', 'PythonStepFlow/2/score']);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toMatch(new RegExp(`environment: @pypi ${ids[0]} \\(${hostPlatform()}, python 3\\.\\d+\\): tribstats 1\\.0\\.0`));
    const json = JSON.parse(runCli(home, ['dump', 'PythonStepFlow/2/score', '--json']).stdout) as { environment: unknown };
    expect(json.environment).toMatchObject({ id: ids[0], kind: 'pypi', packages: [{ name: 'tribstats', version: '1.0.0' }] });
  });

  test('library: the artifact comes from the venv interpreter; the client shows the id and the exact lock', async () => {
    await withWheels(async () => {
      const { PythonStepFlow } = await import('../../examples/python-step.ts');
      const home = join(base, 'library');
      const run = await runFlow(PythonStepFlow, { home, params: { count: 3 } });
      expect(run.status).toBe('succeeded');
      const client = await Client.open({ home, namespace: null });
      try {
        const task = await (await (await client.run(`PythonStepFlow/${run.runId}`)).step('score')).task();
        const summary = (await (await task.artifact('summary')).get()) as { mean: number; library: string; python: string };
        expect(summary).toMatchObject({ mean: 20, library: 'tribstats-1.0.0' });
        const environment = (await task.environment())!;
        expect(summary.python).toBe(join(home, 'environments', environment.id));
        expect(environment.id).toBe(environmentId(environment.lock));
        expect(environment.lock).toMatchObject({ kind: 'pypi', platform: hostPlatform(), sources: [wheels] });
        expect(environment.lock.packages).toEqual([
          {
            name: 'tribstats',
            version: '1.0.0',
            url: expect.stringMatching(/^file:.*tribstats-1\.0\.0-py3-none-any\.whl$/),
            sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
        ]);
      } finally {
        await client.close();
      }
    });
  });

  test("a version that does not exist fails before the run is recorded, with pip's words", () => {
    const home = join(base, 'bad-version');
    makeWheels(join(base, 'other-wheels'), [['tribstats', '2.0.0', 'x', []]]);
    const r = runCli(home, ['run', 'examples/python-step.ts', '--no-progress'], { TRIBUTARY_EXAMPLE_WHEELS: join(base, 'other-wheels') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [CONFIG]: @pypi of step score:');
    expect(r.stderr).toContain('tribstats==1.0.0');
    expect(r.stderr).toMatch(/from versions: 2\.0\.0/);
    expect(r.stderr).not.toContain('Run PythonStepFlow');
  });
});
