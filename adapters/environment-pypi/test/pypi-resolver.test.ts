import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TributaryError, type EnvironmentLock, type EnvironmentSpec } from '@tributary/core';
import { createPypiResolver, type PypiResolver } from '../src/index.ts';
import { hostPlatform } from '@tributary/core';
import { makeWheels, type WheelSpec } from '../src/testing/make-wheels.ts';

const WHEELS: WheelSpec[] = [
  ['tribdemo', '1.0.0', 'one', []],
  ['tribdemo', '1.1.0', 'two', ['tribdep']],
  ['tribdep', '0.5.0', 'dep', []],
];

const hasPip = spawnSync('python3', ['-m', 'pip', '--version']).status === 0;
const root = mkdtempSync(join(tmpdir(), 'tributary-pypi-test-'));
const wheels = join(root, 'wheels');
const host = hostPlatform();
const other = host === 'osx-arm64' ? 'linux-64' : 'osx-arm64';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function spec(packages: Record<string, string>, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return { kind: 'pypi', packages, sources: [wheels], ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!TributaryError.is(error)) throw new Error(`expected a TributaryError, got ${String(error)}`);
  return error;
}

/** Runs `work` with `vars` set in process.env (which the resolver's pip runs start from), then restores it. */
async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return await work();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

let dirCount = 0;
function envDir(): string {
  const dir = join(root, `env-${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

describe.skipIf(!hasPip)('PypiResolver', () => {
  let resolver: PypiResolver;

  beforeAll(() => {
    makeWheels(wheels, WHEELS);
    resolver = createPypiResolver();
  });

  afterAll(async () => {
    await resolver.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('names itself', () => {
    expect(resolver.name).toBe('pypi');
    expect(resolver.capabilities.kinds).toEqual(['pypi']);
  });

  test('locks exact versions and hashes, including the transitive dependency; deterministic', async () => {
    const a = await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host });
    expect(a.kind).toBe('pypi');
    expect(a.platform).toBe(host);
    expect(a.runtime).toMatch(/^3\.\d+$/);
    expect(a.sources).toEqual([wheels]);
    expect(a.packages.map((p) => [p.name, p.version])).toEqual([
      ['tribdemo', '1.1.0'],
      ['tribdep', '0.5.0'],
    ]);
    for (const p of a.packages) {
      const file = join(wheels, `${p.name}-${p.version}-py3-none-any.whl`);
      expect(p.sha256).toBe(sha256(file));
      expect(p.url).toBe(pathToFileURL(file).href);
    }
    const b = await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host });
    expect(b).toEqual(a);
    const c = await resolver.lock(spec({ tribdemo: '1.0.0' }), { platform: host });
    expect(c).not.toEqual(a);
    expect(c.packages.map((p) => [p.name, p.version])).toEqual([['tribdemo', '1.0.0']]);
    // A specifier that is not an exact version is passed to pip as is.
    const d = await resolver.lock(spec({ tribdemo: '<1.1' }), { platform: host });
    expect(d.packages).toEqual(c.packages);
  });

  test('an unsatisfiable spec is CONFIG, in pip’s words', async () => {
    const badVersion = await rejection(resolver.lock(spec({ tribdemo: '9' }), { platform: host }));
    expect(badVersion.code).toBe('CONFIG');
    expect(badVersion.message).toContain('Could not find a version that satisfies the requirement tribdemo==9');
    const unknown = await rejection(resolver.lock(spec({ nosuchtribpkg: '1.0' }), { platform: host }));
    expect(unknown.code).toBe('CONFIG');
    expect(unknown.message).toContain('nosuchtribpkg');
    expect(unknown.message).toContain('No matching distribution');
  });

  test('locks for another platform (binary wheels for its tags, the requested Python)', async () => {
    const linux = await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: 'linux-64' });
    expect(linux.platform).toBe('linux-64');
    expect(linux.packages.map((p) => p.name)).toEqual(['tribdemo', 'tribdep']);
    const lock = await resolver.lock(spec({ tribdemo: '1.1.0' }, { runtime: '3.99' }), { platform: other });
    expect(lock.platform).toBe(other);
    expect(lock.runtime).toBe('3.99');
    expect(lock.packages.map((p) => [p.name, p.sha256])).toEqual(linux.packages.map((p) => [p.name, p.sha256]));
    const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`for ${other} and this machine is ${host}`);
  });

  test('materializes exactly the lock into a virtual environment', async () => {
    const lock = await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host });
    const dir = envDir();
    const activation = await resolver.materialize(lock, { dir });
    expect(activation).toEqual({ env: { VIRTUAL_ENV: dir, PYTHONNOUSERSITE: '1' }, path: [join(dir, 'bin')] });
    const out = execFileSync(
      join(dir, 'bin', 'python'),
      ['-c', 'import sys, tribdemo, tribdep; print(tribdemo.VALUE); print(tribdep.VALUE); print(sys.prefix)'],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim().split('\n')).toEqual(['two', 'dep', dir]);
    expect(readFileSync(join(dir, 'tributary-requirements.txt'), 'utf8')).toBe(
      lock.packages.map((p) => `${p.name}==${p.version} --hash=sha256:${p.sha256}\n`).join(''),
    );
  });

  test('a wheel changed after locking fails materialize with INTEGRITY naming it', async () => {
    const folder = join(root, 'tampered');
    cpSync(wheels, folder, { recursive: true });
    const lock = await resolver.lock({ kind: 'pypi', packages: { tribdemo: '1.0.0' }, sources: [folder] }, { platform: host });
    rmSync(folder, { recursive: true });
    makeWheels(folder, [['tribdemo', '1.0.0', 'evil', []]]);
    expect(readdirSync(folder)).toEqual(['tribdemo-1.0.0-py3-none-any.whl']);
    const file = join(folder, 'tribdemo-1.0.0-py3-none-any.whl');
    const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toBe(
      `The archive of tribdemo 1.0.0 at ${pathToFileURL(file).href} changed since it was locked: ` +
        `its sha256 is ${sha256(file)}, the lock says ${lock.packages[0]!.sha256}`,
    );
    expect(error.context).toEqual({ adapter: 'pypi', path: pathToFileURL(file).href });
  });

  test('a wheel folder that does not exist is CONFIG naming it, at lock and at materialize', async () => {
    const missing = join(root, 'no-such-wheels');
    for (const source of [missing, pathToFileURL(missing).href]) {
      const error = await rejection(
        resolver.lock({ kind: 'pypi', packages: { tribdemo: '1.0.0' }, sources: [source] }, { platform: host }),
      );
      expect(error.code).toBe('CONFIG');
      expect(error.message).toBe(`The wheel folder ${source} does not exist`);
    }
    const folder = join(root, 'removed');
    cpSync(wheels, folder, { recursive: true });
    const lock = await resolver.lock({ kind: 'pypi', packages: { tribdemo: '1.0.0' }, sources: [folder] }, { platform: host });
    rmSync(folder, { recursive: true });
    const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toBe(`The wheel folder ${folder} does not exist`);
  });

  test('an index that cannot be reached is CONFIG with pip’s connection warnings, not only “no matching distribution”', async () => {
    // A closed port: pip's connection is refused at once; one retry (PIP_RETRIES is passed on) is enough for its warning.
    const error = await withEnv({ PIP_RETRIES: '1', PIP_TIMEOUT: '2' }, () =>
      rejection(resolver.lock({ kind: 'pypi', packages: { revstats: '1.0' }, sources: ['http://127.0.0.1:9/simple'] }, { platform: host })),
    );
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain('No matching distribution found for revstats==1.0');
    expect(error.message).toContain('pip could not reach a package index:');
    expect(error.message).toMatch(/Retrying .*Failed to establish a new connection/);
  });

  test('versions and names that are neither are CONFIG before pip runs', async () => {
    const stats = await rejection(resolver.lock(spec({ rev: 'stats' }), { platform: host }));
    expect(stats.code).toBe('CONFIG');
    expect(stats.message).toBe(
      'Invalid version "stats" for @pypi package rev: use a version ("2.1.0"), a specifier list (">=2.1,<3") or "*" for any version',
    );
    const latest = await rejection(resolver.lock(spec({ revstats: 'latest' }), { platform: host }));
    expect(latest.message).toContain('Invalid version "latest" for @pypi package revstats');
    const name = await rejection(resolver.lock(spec({ 'rev stats': '1.0' }), { platform: host }));
    expect(name.code).toBe('CONFIG');
    expect(name.message).toContain('Invalid @pypi package name "rev stats"');
    // Extras and wildcards are pip's.
    const lock = await resolver.lock(spec({ 'tribdemo[extra]': '1.*' }), { platform: host });
    expect(lock.packages.map((p) => [p.name, p.version])).toEqual([
      ['tribdemo', '1.1.0'],
      ['tribdep', '0.5.0'],
    ]);
  });

  test('pip’s configuration (PIP_* variables, config files) changes neither a lock nor what it installs', async () => {
    const baseline = await resolver.lock(spec({ tribdemo: '*' }), { platform: host });
    expect(baseline.packages.map((p) => [p.name, p.version])).toEqual([
      ['tribdemo', '1.1.0'],
      ['tribdep', '0.5.0'],
    ]);
    // Each of these would change the lock if pip read it: other versions, and a package from another folder.
    const others = join(root, 'other-wheels');
    makeWheels(others, [
      ['tribdemo', '1.0.5', 'other', []],
      ['tribdep', '0.6.0', 'other', []],
    ]);
    const constraints = join(root, 'constraints.txt');
    writeFileSync(constraints, 'tribdemo<1.1\n');
    const pipConf = join(root, 'pip.conf');
    writeFileSync(pipConf, `[global]\nfind-links = ${others}\nconstraint = ${constraints}\nno-deps = true\n`);
    const pollutions: Record<string, string>[] = [
      { PIP_CONSTRAINT: constraints, PIP_FIND_LINKS: others },
      { PIP_CONFIG_FILE: pipConf },
      { PIP_NO_DEPS: '1', PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_EXTRA_INDEX_URL: 'http://127.0.0.1:9/simple' },
    ];
    for (const pollution of pollutions) {
      const lock = await withEnv(pollution, () => resolver.lock(spec({ tribdemo: '*' }), { platform: host }));
      expect(lock, JSON.stringify(pollution)).toEqual(baseline);
    }
    // Materializing tribdemo 1.1.0 under a constraint tribdemo<1.1 would fail if pip read it.
    const dir = envDir();
    await withEnv({ PIP_CONSTRAINT: constraints, PIP_CONFIG_FILE: pipConf }, () => resolver.materialize(baseline, { dir }));
    const out = execFileSync(join(dir, 'bin', 'python'), ['-c', 'import tribdemo, tribdep; print(tribdemo.VALUE, tribdep.VALUE)'], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('two dep');
  });

  test('a Python version that is not installed is CONFIG', async () => {
    const error = await rejection(resolver.lock(spec({ tribdemo: '1.0.0' }, { runtime: '3.99' }), { platform: host }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/^Python 3\.99 is not installed here \(found 3\.\d+ at .+\): install it or drop python: from @pypi$/);
    const lock: EnvironmentLock = { kind: 'pypi', platform: host, runtime: '3.99', sources: [wheels], packages: [] };
    expect((await rejection(resolver.materialize(lock, { dir: envDir() }))).code).toBe('CONFIG');
  });

  test('default sources apply when the spec has none', async () => {
    const withDefaults = createPypiResolver({ sources: [pathToFileURL(wheels).href] });
    try {
      const lock = await withDefaults.lock({ kind: 'pypi', packages: { tribdemo: '1.0.0' } }, { platform: host });
      expect(lock.sources).toEqual([pathToFileURL(wheels).href]);
      expect(lock.packages.map((p) => p.version)).toEqual(['1.0.0']);
    } finally {
      await withDefaults.close();
    }
  });

  test('an aborted signal rejects with ABORTED, also while pip runs', async () => {
    const before = new AbortController();
    before.abort();
    expect((await rejection(resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host, signal: before.signal }))).code).toBe('ABORTED');
    const during = new AbortController();
    const pending = resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host, signal: during.signal });
    setTimeout(() => during.abort(), 150);
    expect((await rejection(pending)).code).toBe('ABORTED');
  });

  test('after close, lock and materialize reject with CLOSED', async () => {
    const closing = createPypiResolver();
    const pending = closing.lock(spec({ tribdemo: '1.1.0' }), { platform: host });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await closing.close();
    expect((await rejection(pending)).code).toBe('CLOSED');
    expect((await rejection(closing.lock(spec({ tribdemo: '1.1.0' }), { platform: host }))).code).toBe('CLOSED');
    const lock: EnvironmentLock = { kind: 'pypi', platform: host, runtime: '3.11', sources: [wheels], packages: [] };
    expect((await rejection(closing.materialize(lock, { dir: envDir() }))).code).toBe('CLOSED');
  });
});
