import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, type EnvironmentSpec } from '@tributary/core';
import { createCondaResolver, type CondaResolver } from '../src/index.ts';
import { makeCondaChannel, serveCondaChannel, type CondaChannelPackage, type ServedCondaChannel } from '../src/testing/index.ts';
import { closedPort, rejection, scratch } from './helpers.ts';

const host = hostPlatform();
const other = host === 'osx-arm64' ? 'linux-64' : 'osx-arm64';
const { root, envDir } = scratch('tributary-conda-lock-');
const channelDir = join(root, 'channel');
let built: CondaChannelPackage[];
let served: ServedCondaChannel;
let resolver: CondaResolver;

function spec(packages: Record<string, string>, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return { kind: 'conda', packages, sources: [served.url], ...extra };
}

function fixture(name: string, version: string, subdir = host): CondaChannelPackage {
  const found = built.find((p) => p.name === name && p.version === version && p.subdir === subdir);
  if (found === undefined) throw new Error(`no fixture ${name} ${version} ${subdir}`);
  return found;
}

beforeAll(async () => {
  const platforms = [...new Set([host, 'linux-64', 'osx-arm64'])];
  built = makeCondaChannel(
    channelDir,
    [
      { name: 'tribdemo', version: '1.0.0', files: { 'share/tribdemo.txt': 'one' } },
      { name: 'tribdemo', version: '1.1.0', depends: ['tribdep >=0.5'], files: { 'share/tribdemo.txt': 'two' }, format: 'tar.bz2' },
      { name: 'tribdep', version: '0.4.0', files: { 'share/tribdep.txt': 'old' } },
      { name: 'tribdep', version: '0.5.0', files: { 'share/tribdep.txt': 'dep' }, omitSha256: true },
      { name: 'tribnoarch', version: '2.0', noarch: 'generic', files: { 'share/tribnoarch.txt': 'any' } },
      ...platforms.map((subdir) => ({
        name: 'tribplat',
        version: '1.0',
        subdir,
        depends: ['tribnoarch'],
        files: { 'share/plat.txt': subdir },
      })),
      { name: 'python', version: '3.11.7', files: { 'share/python.txt': '3.11' } },
      { name: 'python', version: '3.12.1', files: { 'share/python.txt': '3.12' } },
      { name: 'tribglibc', version: '1.0', subdir: 'linux-64', depends: ['__glibc >=2.17', '__unix'] },
      { name: 'tribnewglibc', version: '1.0', subdir: 'linux-64', depends: ['__glibc >=2.99'] },
      { name: 'tribcuda', version: '1.0', subdir: 'linux-64', depends: ['__cuda >=12'] },
    ],
    { subdirs: platforms },
  );
  served = await serveCondaChannel(channelDir);
  resolver = createCondaResolver({ micromamba: false });
});

afterAll(async () => {
  await resolver.close();
  await served.close();
});

describe('CondaResolver.lock', () => {
  test('names itself and can be opened elsewhere', () => {
    expect(resolver.name).toBe('conda');
    expect(resolver.capabilities.kinds).toEqual(['conda']);
    expect(resolver.locator.factory).toBe('createCondaResolver');
    expect(resolver.locator.module).toMatch(/conda-resolver\.(ts|js)$/);
    expect(resolver.locator.options).toEqual({ channels: [], micromamba: false });
    const withOptions = createCondaResolver({
      channels: ['conda-forge'],
      micromamba: '/opt/bin/micromamba',
      virtualPackages: { __cuda: '12.4' },
    });
    // A micromamba path is this machine's: a remote job finds its own.
    expect(withOptions.locator.options).toEqual({ channels: ['conda-forge'], virtualPackages: { __cuda: '12.4' } });
    expect(JSON.parse(JSON.stringify(withOptions.locator.options))).toEqual(withOptions.locator.options);
  });

  test('locks the exact versions, URLs and hashes of the solution, dependencies included; deterministic', async () => {
    const a = await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host });
    expect(a).toEqual({
      kind: 'conda',
      platform: host,
      sources: [served.url],
      packages: [
        {
          name: 'tribdemo',
          version: '1.1.0',
          url: `${served.url}/${host}/tribdemo-1.1.0-0.tar.bz2`,
          sha256: fixture('tribdemo', '1.1.0').sha256,
        },
        // Its repodata has no SHA-256: the lock hashed the archive.
        {
          name: 'tribdep',
          version: '0.5.0',
          url: `${served.url}/${host}/tribdep-0.5.0-0.conda`,
          sha256: fixture('tribdep', '0.5.0').sha256,
        },
      ],
    });
    expect(await resolver.lock(spec({ tribdemo: '1.1.0' }), { platform: host })).toEqual(a);
    const fresh = createCondaResolver({ micromamba: false });
    expect(await fresh.lock(spec({ tribdemo: '1.1.0' }), { platform: host })).toEqual(a);
    await fresh.close();
    const exact = await resolver.lock(spec({ tribdemo: '1.0.0' }), { platform: host });
    expect(exact.packages.map((p) => [p.name, p.version])).toEqual([['tribdemo', '1.0.0']]);
  });

  test('version syntax: exact by default, conda ranges and wildcards as given, key order irrelevant', async () => {
    const pinned = await resolver.lock(spec({ tribdemo: '1.1.0', tribdep: '0.5.0' }), { platform: host });
    const reordered = await resolver.lock(spec({ tribdep: '0.5.0', tribdemo: '1.1.0' }), { platform: host });
    expect(reordered).toEqual(pinned);
    expect((await resolver.lock(spec({ tribdemo: '<1.1' }), { platform: host })).packages.map((p) => p.version)).toEqual(['1.0.0']);
    expect((await resolver.lock(spec({ tribdemo: '1.1.*' }), { platform: host })).packages.map((p) => p.version)).toEqual([
      '1.1.0',
      '0.5.0',
    ]);
    // No constraint: the newest.
    expect((await resolver.lock(spec({ tribdemo: '*' }), { platform: host })).packages.map((p) => p.version)).toEqual(['1.1.0', '0.5.0']);
    expect((await resolver.lock(spec({ tribdep: '' }), { platform: host })).packages.map((p) => p.version)).toEqual(['0.5.0']);
  });

  test('a python runtime becomes python <version>.*', async () => {
    const py311 = await resolver.lock(spec({}, { runtime: '3.11' }), { platform: host });
    expect(py311.runtime).toBe('3.11');
    expect(py311.packages.map((p) => [p.name, p.version])).toEqual([['python', '3.11.7']]);
    const py312 = await resolver.lock(spec({ tribdemo: '1.0.0' }, { runtime: '3.12' }), { platform: host });
    expect(py312.packages.map((p) => [p.name, p.version])).toEqual([
      ['python', '3.12.1'],
      ['tribdemo', '1.0.0'],
    ]);
    expect((await rejection(resolver.lock(spec({}, { runtime: '3.13' }), { platform: host }))).message).toContain('python 3.13.*');
    expect((await rejection(resolver.lock(spec({}, { runtime: 'three' }), { platform: host }))).code).toBe('CONFIG');
    // A python package pin and the runtime both constrain python.
    expect(
      (await resolver.lock(spec({ python: '3.11.7' }, { runtime: '3.11' }), { platform: host })).packages.map((p) => p.version),
    ).toEqual(['3.11.7']);
    expect((await rejection(resolver.lock(spec({ python: '3.12.1' }, { runtime: '3.11' }), { platform: host }))).code).toBe('CONFIG');
  });

  test('locks for any platform from this machine, with noarch packages; such a lock materializes only there', async () => {
    for (const platform of ['linux-64', 'osx-arm64']) {
      const lock = await resolver.lock(spec({ tribplat: '1.0' }), { platform });
      expect(lock.platform).toBe(platform);
      expect(lock.packages).toEqual([
        {
          name: 'tribnoarch',
          version: '2.0',
          url: `${served.url}/noarch/tribnoarch-2.0-0.conda`,
          sha256: fixture('tribnoarch', '2.0', 'noarch').sha256,
        },
        {
          name: 'tribplat',
          version: '1.0',
          url: `${served.url}/${platform}/tribplat-1.0-0.conda`,
          sha256: fixture('tribplat', '1.0', platform).sha256,
        },
      ]);
    }
    const foreign = await resolver.lock(spec({ tribplat: '1.0' }), { platform: other });
    const error = await rejection(resolver.materialize(foreign, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`for ${other} and this machine is ${host}`);
  });

  test('virtual packages: a linux-64 baseline by default, changed by virtualPackages', async () => {
    const glibc = await resolver.lock(spec({ tribglibc: '1.0' }), { platform: 'linux-64' });
    // Virtual packages are what the machine has, not something to install: not in the lock.
    expect(glibc.packages.map((p) => p.name)).toEqual(['tribglibc']);
    const tooNew = await rejection(resolver.lock(spec({ tribnewglibc: '1.0' }), { platform: 'linux-64' }));
    expect(tooNew.code).toBe('CONFIG');
    expect(tooNew.message).toContain('__glibc >=2.99');
    expect((await rejection(resolver.lock(spec({ tribcuda: '1.0' }), { platform: 'linux-64' }))).message).toContain('__cuda');
    const gpu = createCondaResolver({ micromamba: false, virtualPackages: { __glibc: '2.99', __cuda: '12.4' } });
    try {
      expect(
        (await gpu.lock(spec({ tribnewglibc: '1.0', tribcuda: '1.0' }), { platform: 'linux-64' })).packages.map((p) => p.name),
      ).toEqual(['tribcuda', 'tribnewglibc']);
    } finally {
      await gpu.close();
    }
    const noGlibc = createCondaResolver({ micromamba: false, virtualPackages: { __glibc: false } });
    try {
      expect((await rejection(noGlibc.lock(spec({ tribglibc: '1.0' }), { platform: 'linux-64' }))).code).toBe('CONFIG');
    } finally {
      await noGlibc.close();
    }
  });

  test('an unsatisfiable spec is CONFIG, in the solver’s words naming the package', async () => {
    const badVersion = await rejection(resolver.lock(spec({ tribdemo: '9.9' }), { platform: host }));
    expect(badVersion.code).toBe('CONFIG');
    expect(badVersion.message).toContain('No candidates were found for tribdemo ==9.9');
    const unknown = await rejection(resolver.lock(spec({ nosuchtribpkg: '1.0' }), { platform: host }));
    expect(unknown.code).toBe('CONFIG');
    expect(unknown.message).toContain('No candidates were found for nosuchtribpkg');
    const conflict = await rejection(resolver.lock(spec({ tribdemo: '1.1.0', tribdep: '0.4.0' }), { platform: host }));
    expect(conflict.code).toBe('CONFIG');
    expect(conflict.message).toMatch(/Cannot solve the request/);
    expect(conflict.message).toContain('tribdep');
  });

  test('invalid specs, platforms and channels are CONFIG before solving', async () => {
    const noChannels = await rejection(resolver.lock({ kind: 'conda', packages: { tribdemo: '1.0.0' } }, { platform: host }));
    expect(noChannels.code).toBe('CONFIG');
    expect(noChannels.message).toContain("channels: ['conda-forge']");
    expect((await rejection(resolver.lock(spec({ 'bad name': '1' }), { platform: host }))).code).toBe('CONFIG');
    expect((await rejection(resolver.lock(spec({ tribdemo: "1[build='x']" }), { platform: host }))).code).toBe('CONFIG');
    expect((await rejection(resolver.lock(spec({ tribdemo: '1.0.0' }), { platform: 'amiga-68k' }))).message).toContain(
      'Unknown platform amiga-68k',
    );
    expect((await rejection(resolver.lock({ kind: 'pypi', packages: {} }, { platform: host }))).code).toBe('CONFIG');
    expect(
      (await rejection(resolver.lock(spec({ tribdemo: '1.0.0' }, { sources: ['ftp://example.com/channel'] }), { platform: host }))).code,
    ).toBe('CONFIG');
    const missingFolder = await rejection(
      resolver.lock(spec({ tribdemo: '1.0.0' }, { sources: [join(root, 'nope')] }), { platform: host }),
    );
    expect(missingFolder.message).toContain('does not exist');
  });

  test('the resolver’s channels apply when the spec has none; the spec’s win', async () => {
    const withDefaults = createCondaResolver({ channels: [served.url], micromamba: false });
    try {
      const lock = await withDefaults.lock({ kind: 'conda', packages: { tribdemo: '1.0.0' } }, { platform: host });
      expect(lock.sources).toEqual([served.url]);
      const error = await rejection(
        withDefaults.lock({ kind: 'conda', packages: { tribdemo: '1.0.0' }, sources: [join(root, 'nope')] }, { platform: host }),
      );
      expect(error.code).toBe('CONFIG');
    } finally {
      await withDefaults.close();
    }
  });

  test('a local channel folder is a channel: the lock has file:// URLs', async () => {
    const lock = await resolver.lock(spec({ tribdemo: '1.1.0' }, { sources: [channelDir] }), { platform: host });
    const base = pathToFileURL(channelDir).href;
    expect(lock.sources).toEqual([base]);
    expect(lock.packages.map((p) => p.url)).toEqual([`${base}/${host}/tribdemo-1.1.0-0.tar.bz2`, `${base}/${host}/tribdep-0.5.0-0.conda`]);
    expect(await resolver.lock(spec({ tribdemo: '1.1.0' }, { sources: [`${base}/`] }), { platform: host })).toEqual(lock);
  });

  test('an archive without a SHA-256 in its repodata is hashed, and checked against its MD5', async () => {
    const dir = join(root, 'md5-channel');
    const [pkg] = makeCondaChannel(dir, [{ name: 'tribmd5', version: '1.0', files: { 'a.txt': 'a' }, omitSha256: true }]);
    const lock = await resolver.lock(spec({ tribmd5: '1.0' }, { sources: [dir] }), { platform: host });
    expect(lock.packages[0]!.sha256).toBe(pkg!.sha256);
    writeFileSync(pkg!.path, 'not what the repodata says');
    const error = await rejection(resolver.lock(spec({ tribmd5: '1.0' }, { sources: [dir] }), { platform: host }));
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toContain('tribmd5-1.0-0.conda');
  });

  test('a channel that cannot be reached is INFRASTRUCTURE, retryable', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error = await rejection(resolver.lock(spec({ tribdemo: '1.0.0' }, { sources: [url] }), { platform: host }));
    expect(error.code).toBe('INFRASTRUCTURE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(url);
  });
});
