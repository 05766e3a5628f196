/**
 * Issue 16: `@conda` and `@npm` through the CLI, with the real resolvers and offline sources (a
 * conda channel folder and a folder of npm tarballs built here): the conda step runs a command
 * from its prefix (its prefix placeholder replaced by the environment's folder), the npm step
 * imports a package the project does not have.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeCondaChannel } from '@tributary/environment-conda/testing';
import { makeNpmPackages } from '@tributary/environment-npm/testing';
import { runCli } from './cli-process.ts';
import { makeCondaNpmSources } from './fixtures/issue16-conda-npm-sources.ts';

const base = mkdtempSync(join(tmpdir(), 'tributary-issue16-conda-npm-'));
const channel = join(base, 'channel');
const tarballs = join(base, 'tarballs');
const env = { TRIBUTARY_TEST_CONDA_CHANNEL: channel, TRIBUTARY_TEST_NPM_TARBALLS: tarballs };
const flow = 'cli/test/fixtures/issue16-conda-npm-flows.ts';

beforeAll(() => makeCondaNpmSources(channel, tarballs));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('@conda and @npm through the CLI', () => {
  test('pool and local-jobs: the conda command runs from its prefix, the npm import resolves in its environment; the second run reuses both', () => {
    const home = join(base, 'home');
    for (const extra of [[], ['--compute', 'local-jobs://']]) {
      const r = runCli(home, ['run', flow, '--no-progress', ...extra], env);
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/hello from .*\/environments\/[0-9a-f]{32}: bonjour \/ \[\.\.\.\.x\]/);
    }
    const built = readdirSync(join(home, 'environments')).filter((f) => /^[0-9a-f]{32}$/.test(f));
    expect(built).toHaveLength(2);
    const dump = runCli(home, ['dump', 'CondaNpmFlow/1/start']);
    expect(dump.stdout).toMatch(/environment: @conda [0-9a-f]{32} \(linux-64\): tribgreeting 2\.0, tribhello 1\.0/);
    const js = runCli(home, ['dump', 'CondaNpmFlow/1/js']);
    expect(js.stdout).toMatch(/environment: @npm [0-9a-f]{32} \(linux-64\): trib-pad 1\.0\.0/);

    // Another machine (a fresh home: no lock cache, no builds) solves the same specs to the same ids.
    const other = join(base, 'other-machine');
    expect(runCli(other, ['run', flow, '--no-progress'], env).code).toBe(0);
    const ids = (h: string) =>
      ['start', 'js'].map(
        (s) => (JSON.parse(runCli(h, ['dump', `CondaNpmFlow/1/${s}`, '--json']).stdout) as { environment: { id: string } }).environment.id,
      );
    expect(ids(other)).toEqual(ids(home));
    expect(new Set(ids(home))).toEqual(new Set(built));
  });

  test('a conda package or npm version that does not exist fails before the run is recorded, in the solver words', () => {
    const home = join(base, 'missing');
    const empty = join(base, 'empty-channel');
    makeCondaChannel(empty, []);
    const conda = runCli(home, ['run', flow, '--no-progress'], { ...env, TRIBUTARY_TEST_CONDA_CHANNEL: empty });
    expect(conda.code).toBe(1);
    expect(conda.stderr).toContain('error [CONFIG]: @conda of step start:');
    expect(conda.stderr).toMatch(/tribhello/);
    expect(conda.stderr).not.toContain('Run CondaNpmFlow');
    const noTarballs = join(base, 'no-tarballs');
    makeNpmPackages(noTarballs, [['trib-pad', '2.0.0', {}]]);
    const npm = runCli(home, ['run', flow, '--no-progress'], { ...env, TRIBUTARY_TEST_NPM_TARBALLS: noTarballs });
    expect(npm.code).toBe(1);
    expect(npm.stderr).toContain('error [CONFIG]: @npm of step js:');
    expect(npm.stderr).toMatch(/trib-pad@1\.0\.0/);
    expect(npm.stderr).not.toContain('Run CondaNpmFlow');
  });
});
