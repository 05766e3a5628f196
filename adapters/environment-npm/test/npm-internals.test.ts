// Unit tests of the adapter's pure pieces: reading package.json out of tarballs, integrity
// strings, version order, npm lockfile entries, and the lockfile rebuilt for `npm ci`.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { TributaryError, type LockedPackage } from '@tributary/core';
import { matchesIntegrity, sha512Integrity } from '../src/integrity.ts';
import { lockfileEntries } from '../src/lockfile-entries.ts';
import { installedName, isLockName, rebuildLockfile } from '../src/lockfile-rebuild.ts';
import { normalizeSources, splitSources } from '../src/npm-sources.ts';
import { specDependencies } from '../src/npm-spec.ts';
import { runsOn } from '../src/platforms.ts';
import { compareVersions } from '../src/semver-order.ts';
import { readTarballManifest } from '../src/tarball-manifest.ts';

/** A tar entry: 512-byte ustar header (name, optional prefix) and its padded body. */
function entry(name: string, body: string | Buffer, type = '0', prefix = ''): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(type, 156);
  header.write('ustar\u000000', 257, 'latin1');
  header.write(prefix, 345, 155, 'utf8');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function tgz(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

function pax(path: string): Buffer {
  const record = (n: number) => `${n} path=${path}\n`;
  let length = record(0).length;
  while (Buffer.byteLength(record(length)) !== length) length = Buffer.byteLength(record(length));
  return entry('PaxHeader', record(length), 'x');
}

async function error(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error('resolved'),
    (e: Error) => e,
  );
}

describe('readTarballManifest', () => {
  test('finds the top folder’s package.json, whatever the folder is called, past other files', async () => {
    const big = Buffer.alloc(5000, 'x');
    const bytes = tgz(
      entry('package/README.md', big),
      entry('package/lib/package.json', '{"name":"wrong"}'),
      entry('node/package.json', '{"name":"right"}'),
    );
    expect(await readTarballManifest(bytes)).toEqual({ name: 'right' });
  });

  test('reads ustar prefixes, pax paths and GNU long names', async () => {
    expect(await readTarballManifest(tgz(entry('package.json', '{"a":1}', '0', 'package')))).toEqual({ a: 1 });
    const long = `${'d'.repeat(120)}/package.json`;
    expect(await readTarballManifest(tgz(pax(long), entry('ignored-name', '{"a":2}')))).toEqual({ a: 2 });
    expect(await readTarballManifest(tgz(pax('pkg/package.json'), entry('whatever', '{"a":3}')))).toEqual({ a: 3 });
    expect(await readTarballManifest(tgz(entry('././@LongLink', 'pkg/package.json\0', 'L'), entry('truncated', '{"a":4}')))).toEqual({
      a: 4,
    });
    // A pax path applies to the next entry only.
    expect(
      await readTarballManifest(tgz(pax('pkg/other.txt'), entry('pkg/package.json', 'x'), entry('pkg/package.json', '{"a":5}'))),
    ).toEqual({ a: 5 });
  });

  test('says why when there is no package.json', async () => {
    expect((await error(readTarballManifest(tgz(entry('package/index.js', ''))))).message).toBe('it has no package.json');
    expect((await error(readTarballManifest(tgz(entry('package/package.json', '[1]'))))).message).toBe('its package.json is not an object');
    expect((await error(readTarballManifest(Buffer.from('not gzip')))).message).toMatch(/header/i);
  });
});

describe('integrity', () => {
  const bytes = Buffer.from('hello');
  const sha1 = `sha1-${createHash('sha1').update(bytes).digest('base64')}`;
  test('checks the strongest algorithm given, as ssri does', () => {
    expect(matchesIntegrity(bytes, sha512Integrity(bytes))).toBe(true);
    expect(matchesIntegrity(Buffer.from('other'), sha512Integrity(bytes))).toBe(false);
    expect(matchesIntegrity(bytes, sha1)).toBe(true);
    // A wrong sha1 does not matter beside a right sha512, and a right sha1 cannot save a wrong sha512.
    expect(matchesIntegrity(bytes, `sha1-AAAA ${sha512Integrity(bytes)}`)).toBe(true);
    expect(matchesIntegrity(bytes, `${sha1} ${sha512Integrity(Buffer.from('x'))}`)).toBe(false);
    expect(matchesIntegrity(bytes, `${sha512Integrity(bytes)}?opt`)).toBe(true);
    expect(matchesIntegrity(bytes, 'md5-xyz')).toBeUndefined();
  });
});

describe('compareVersions', () => {
  test('orders releases and prereleases as semver does', () => {
    const sorted = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    expect([...sorted].reverse().sort(compareVersions)).toEqual(sorted);
    expect(compareVersions('1.0.0+build', '1.0.0')).toBe(0);
    expect(compareVersions('junk', '0.0.1')).toBeLessThan(0);
  });
});

describe('lockfileEntries', () => {
  const lock = (packages: Record<string, unknown>) => ({ lockfileVersion: 3, packages: { '': { name: 'x' }, ...packages } });
  const pkg = (extra: Record<string, unknown> = {}) => ({
    version: '1.0.0',
    resolved: 'https://r.example/x.tgz',
    integrity: 'sha512-x',
    ...extra,
  });

  test('names by install path, makes local tarballs absolute file URLs, sorted', () => {
    const entries = lockfileEntries(
      lock({
        'node_modules/b': pkg(),
        'node_modules/a/node_modules/@s/b': pkg({ version: '2.0.0', resolved: 'file:../tarballs/b-2.0.0.tgz', integrity: undefined }),
        'node_modules/a': pkg(),
      }),
      'linux-64',
      '/work/project',
    );
    expect(entries).toEqual([
      { name: 'a', version: '1.0.0', resolved: 'https://r.example/x.tgz', integrity: 'sha512-x' },
      { name: 'a/node_modules/@s/b', version: '2.0.0', resolved: 'file:///work/tarballs/b-2.0.0.tgz' },
      { name: 'b', version: '1.0.0', resolved: 'https://r.example/x.tgz', integrity: 'sha512-x' },
    ]);
  });

  test('leaves out bundled packages and optional ones for other platforms; refuses links, git and required foreign packages', () => {
    const entries = lockfileEntries(
      lock({
        'node_modules/a': pkg(),
        'node_modules/a/node_modules/bundled': { version: '1.0.0', inBundle: true },
        'node_modules/mac': pkg({ optional: true, os: ['darwin'] }),
        'node_modules/notwin': pkg({ optional: true, os: ['!win32'], cpu: ['x64', 'arm64'] }),
        'node_modules/musl': pkg({ optional: true, os: ['linux'], libc: ['musl'] }),
      }),
      'linux-64',
      '/p',
    );
    expect(entries.map((e) => e.name)).toEqual(['a', 'notwin']);
    const refuse = (packages: Record<string, unknown>, text: string) => {
      let thrown: unknown;
      try {
        lockfileEntries(lock(packages), 'linux-64', '/p');
      } catch (e) {
        thrown = e;
      }
      expect(TributaryError.is(thrown, 'CONFIG')).toBe(true);
      expect((thrown as Error).message).toContain(text);
    };
    refuse({ 'node_modules/a': { resolved: '../a', link: true } }, 'a is a folder');
    refuse({ 'node_modules/g': pkg({ resolved: 'git+ssh://git@host/g.git#abc' }) }, 'g comes from git+ssh://');
    refuse({ 'node_modules/m': pkg({ os: ['darwin'] }) }, 'm 1.0.0 does not run on linux-64');
    refuse({ 'node_modules/n': { version: '1.0.0' } }, 'no version or resolved URL');
    refuse({ 'packages/w': pkg() }, 'not in node_modules');
    expect(() => lockfileEntries({ lockfileVersion: 1, dependencies: {} }, 'linux-64', '/p')).toThrow(/lockfileVersion 2 or 3/);
  });

  test('platform lists follow npm’s rules', () => {
    expect(runsOn({}, 'win-64')).toBe(true);
    expect(runsOn({ os: 'any' }, 'osx-64')).toBe(true);
    expect(runsOn({ os: ['!darwin'] }, 'osx-arm64')).toBe(false);
    expect(runsOn({ cpu: ['arm64'] }, 'linux-aarch64')).toBe(true);
    expect(runsOn({ cpu: ['arm64'] }, 'linux-64')).toBe(false);
    expect(runsOn({ libc: ['glibc'] }, 'osx-arm64')).toBe(true);
  });
});

describe('rebuildLockfile', () => {
  const locked = (name: string, version = '1.0.0'): LockedPackage => ({
    name,
    version,
    url: `https://r.example/${name}.tgz`,
    sha256: '0'.repeat(64),
  });

  test('puts entries back at their install paths with the archive’s edges and bin; root depends on the top level', () => {
    const { packageJson, lockfile } = rebuildLockfile(
      [
        {
          locked: locked('a'),
          integrity: 'sha512-a',
          manifest: { name: 'a', dependencies: { b: '^2', opt: '1' }, optionalDependencies: { opt: '1', gone: '1' }, bin: 'cli.js' },
        },
        {
          locked: locked('a/node_modules/b', '2.0.0'),
          integrity: 'sha512-b2',
          manifest: { name: 'b', bin: { bee: 'b.js' }, os: ['linux'] },
        },
        {
          locked: locked('b'),
          integrity: 'sha512-b',
          manifest: { name: 'b', peerDependencies: { a: '*' }, bundleDependencies: true, dependencies: { inner: '1' } },
        },
        { locked: locked('opt'), integrity: 'sha512-o', manifest: { name: 'opt' } },
        { locked: locked('alias', '3.0.0'), integrity: 'sha512-r', manifest: { name: '@s/real' } },
      ],
      (i) => `file:///scratch/${i}.tgz`,
    );
    const deps = { a: '1.0.0', b: '1.0.0', opt: '1.0.0', alias: 'npm:@s/real@3.0.0' };
    expect(packageJson).toEqual({ name: 'tributary-environment', version: '0.0.0', private: true, dependencies: deps });
    expect((lockfile as { packages: unknown }).packages).toEqual({
      '': { name: 'tributary-environment', version: '0.0.0', dependencies: deps },
      'node_modules/a': {
        version: '1.0.0',
        resolved: 'file:///scratch/0.tgz',
        integrity: 'sha512-a',
        dependencies: { b: '^2' },
        // `gone` (for another platform) is not in the lock: no edge for npm ci to chase.
        optionalDependencies: { opt: '1' },
        bin: { a: 'cli.js' },
      },
      'node_modules/a/node_modules/b': {
        version: '2.0.0',
        resolved: 'file:///scratch/1.tgz',
        integrity: 'sha512-b2',
        bin: { bee: 'b.js' },
        os: ['linux'],
      },
      'node_modules/b': {
        version: '1.0.0',
        resolved: 'file:///scratch/2.tgz',
        integrity: 'sha512-b',
        dependencies: { inner: '1' },
        bundleDependencies: ['inner'],
        peerDependencies: { a: '*' },
      },
      'node_modules/opt': { version: '1.0.0', resolved: 'file:///scratch/3.tgz', integrity: 'sha512-o' },
      'node_modules/alias': { name: '@s/real', version: '3.0.0', resolved: 'file:///scratch/4.tgz', integrity: 'sha512-r' },
    });
  });

  test('lock names are install paths of packages, nothing else', () => {
    expect(installedName('a/node_modules/@s/b')).toBe('@s/b');
    expect(installedName('@s/b')).toBe('@s/b');
    for (const good of ['a', '@s/b', 'a/node_modules/@s/b', 'left-pad']) expect(isLockName(good)).toBe(true);
    for (const bad of ['../x', 'a/../../x', '/abs', 'a/b', '', 'a/node_modules/', '@s/../x']) expect(isLockName(bad)).toBe(false);
  });
});

describe('specs and sources', () => {
  test('dependencies are sorted, local tarballs made absolute, empty versions any', () => {
    expect(specDependencies({ z: '1.0.0', a: '', m: 'file:rel/m.tgz', '@s/p': '^2', u: 'file:///abs/u.tgz', d: './d.tgz' })).toEqual({
      '@s/p': '^2',
      a: '*',
      d: `file:${process.cwd()}/d.tgz`,
      m: `file:${process.cwd()}/rel/m.tgz`,
      u: 'file:/abs/u.tgz',
      z: '1.0.0',
    });
    expect(Object.keys(specDependencies({ b: '1', a: '1' }))).toEqual(['a', 'b']);
    for (const bad of ['../x', 'a b', '', 'UPPER/../x']) expect(() => specDependencies({ [bad]: '1' })).toThrow(TributaryError);
  });

  test('sources: folders absolute, one registry at most', () => {
    expect(normalizeSources(['rel', 'file:///abs/f', 'https://r.example/'])).toEqual([
      `${process.cwd()}/rel`,
      '/abs/f',
      'https://r.example/',
    ]);
    expect(splitSources(['/a', 'https://r.example/', '/b'])).toEqual({ registry: 'https://r.example/', folders: ['/a', '/b'] });
    expect(() => normalizeSources(['http://a/', 'https://b/'])).toThrow(/one registry URL/);
    expect(() => normalizeSources(['git://x'])).toThrow(/Unsupported @npm source/);
  });
});
