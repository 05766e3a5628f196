// Unit tests of the adapter's pure pieces: reading package.json out of tarballs, integrity
// strings, version order, npm lockfile entries, and the lockfile rebuilt for `npm ci`.
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { TributaryError, type LockedPackage } from '@tributary/core';
import { matchesIntegrity, sha512Integrity } from '../src/integrity.ts';
import { lockfileEntries } from '../src/lockfile-entries.ts';
import { installedName, isLockName, rebuildLockfile } from '../src/lockfile-rebuild.ts';
import { unreachable } from '../src/npm-lock.ts';
import { normalizeSources, splitSources } from '../src/npm-sources.ts';
import { specDependencies } from '../src/npm-spec.ts';
import { runsOn } from '../src/platforms.ts';
import { machineUserConfig, npmEnvironment, npmNetworkFailure, redactRegistryText, userConfigPath } from '../src/run-npm.ts';
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
    expect(splitSources(['/a', 'https://r.example/', '/b'])).toEqual({
      registry: 'https://r.example/',
      scopes: new Map(),
      folders: ['/a', '/b'],
    });
    expect(() => normalizeSources(['http://a/', 'https://b/'])).toThrow(/one registry URL/);
    expect(() => normalizeSources(['git://x'])).toThrow(/Unsupported @npm source/);
  });

  test('sources: a scope’s registry is @scope:URL, one per scope, besides the one registry', () => {
    const sources = normalizeSources([
      ' @corp:https://npm.corp.example/repo/ ',
      'https://r.example/',
      '@other:http://o.example',
      '@folder',
    ]);
    expect(sources).toEqual([
      '@corp:https://npm.corp.example/repo/',
      'https://r.example/',
      '@other:http://o.example',
      `${process.cwd()}/@folder`,
    ]);
    expect(splitSources(sources)).toEqual({
      registry: 'https://r.example/',
      scopes: new Map([
        ['@corp', 'https://npm.corp.example/repo/'],
        ['@other', 'http://o.example'],
      ]),
      folders: [`${process.cwd()}/@folder`],
    });
    // Scopes do not count as the one registry.
    expect(splitSources(normalizeSources(['@a:https://a.example/', '@b:https://b.example/'])).registry).toBeUndefined();
    expect(() => normalizeSources(['@corp:https://a.example/', '@corp:https://b.example/'])).toThrow(/one registry per scope/);
    for (const bad of ['@Corp:https://a.example/', '@corp:ftp://a.example/', '@corp:/a/folder', '@corp:https://', '@:https://a.example/']) {
      expect(() => normalizeSources([bad]), bad).toThrow(TributaryError);
    }
    const withToken = (() => {
      try {
        normalizeSources(['@corp:https://s3cr3t@npm.corp.example/']);
      } catch (error) {
        return error as TributaryError;
      }
      return undefined;
    })();
    expect(withToken?.code).toBe('CONFIG');
    expect(withToken?.message).toContain('carries credentials');
    expect(withToken?.message).not.toContain('s3cr3t');
  });
});

describe('npm configuration of the machine', () => {
  test('the user config keeps credentials and how to reach registries, outside sections; nothing that changes a lock', () => {
    const npmrc = [
      '; a comment',
      '# another',
      'registry=http://127.0.0.1:9/',
      '@trib:registry = http://127.0.0.1:9/',
      'legacy-peer-deps=true',
      'omit=optional',
      'install-strategy=nested',
      'save-exact=true',
      '//registry.example/:_authToken=${NPM_TOKEN}',
      '  //127.0.0.1:9/path/:_auth = dXNlcjpwdw==  ',
      '//r.example/:username=u',
      '//r.example/:_password=cHc=',
      '//r.example/:certfile=/c.pem',
      '//r.example/:keyfile=/k.pem',
      '//r.example/:email=someone@example.com',
      '_authToken=top-level-is-not-scoped',
      'https-proxy=http://proxy.example:3128',
      'cafile=/etc/ssl/corp.pem',
      'strict-ssl=false',
      'cache=/var/cache/npm',
      '[section]',
      '//other.example/:_authToken=in-a-section',
    ].join('\r\n');
    expect(machineUserConfig(npmrc)).toBe(
      [
        '//registry.example/:_authToken=${NPM_TOKEN}',
        '//127.0.0.1:9/path/:_auth = dXNlcjpwdw==',
        '//r.example/:username=u',
        '//r.example/:_password=cHc=',
        '//r.example/:certfile=/c.pem',
        '//r.example/:keyfile=/k.pem',
        'https-proxy=http://proxy.example:3128',
        'cafile=/etc/ssl/corp.pem',
        'strict-ssl=false',
        'cache=/var/cache/npm',
        '',
      ].join('\n'),
    );
    expect(machineUserConfig('registry=http://x/\n')).toBe('');
  });

  test('npm_config_* variables are dropped, any case, but credentials and how to reach registries', () => {
    const env = npmEnvironment({
      PATH: '/bin',
      HOME: '/home/me',
      HTTPS_PROXY: 'http://proxy.example:3128',
      npm_config_registry: 'http://127.0.0.1:9/',
      'npm_config_@trib:registry': 'http://127.0.0.1:9/',
      NPM_CONFIG_LEGACY_PEER_DEPS: 'true',
      Npm_Config_Omit: 'optional',
      NPM_CONFIG_USERCONFIG: '/home/me/.other-npmrc',
      npm_config_globalconfig: '/etc/npmrc',
      npm_config_install_strategy: 'nested',
      'npm_config_//registry.example/:_authToken': 'token',
      NPM_CONFIG_CACHE: '/var/cache/npm',
      npm_config_https_proxy: 'http://proxy.example:3128',
      NPM_CONFIG_STRICT_SSL: 'false',
      npm_package_name: 'not-config',
    });
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/home/me',
      HTTPS_PROXY: 'http://proxy.example:3128',
      'npm_config_//registry.example/:_authToken': 'token',
      NPM_CONFIG_CACHE: '/var/cache/npm',
      npm_config_https_proxy: 'http://proxy.example:3128',
      NPM_CONFIG_STRICT_SSL: 'false',
      npm_package_name: 'not-config',
      npm_config_update_notifier: 'false',
      npm_config_progress: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_yes: 'false',
      NO_UPDATE_NOTIFIER: '1',
    });
  });

  test('the user config is $NPM_CONFIG_USERCONFIG (any case, ~ expanded), else ~/.npmrc', () => {
    expect(userConfigPath({})).toBe(join(homedir(), '.npmrc'));
    expect(userConfigPath({ NPM_CONFIG_USERCONFIG: '/etc/my-npmrc' })).toBe('/etc/my-npmrc');
    expect(userConfigPath({ npm_config_userconfig: '~/conf/npmrc' })).toBe(join(homedir(), 'conf', 'npmrc'));
    expect(userConfigPath({ npm_config_userconfig: 'rel/npmrc' })).toBe(join(process.cwd(), 'rel', 'npmrc'));
    expect(userConfigPath({ npm_config_userconfig: '' })).toBe(join(homedir(), '.npmrc'));
  });
});

describe('registries npm cannot reach', () => {
  const refused = [
    'npm error code ECONNREFUSED',
    'npm error syscall connect',
    'npm error errno ECONNREFUSED',
    'npm error FetchError: request to http://127.0.0.1:9/@corp%2fthing failed, reason: connect ECONNREFUSED 127.0.0.1:9',
    'npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)',
    'npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log',
  ].join('\n');
  const notFound = [
    'npm error code ENOTFOUND',
    'npm error syscall getaddrinfo',
    'npm error errno ENOTFOUND',
    'npm error network request to https://u:pw@example.invalid/registry/left-pad failed, reason: getaddrinfo ENOTFOUND example.invalid',
    'npm error network This is a problem related to network connectivity.',
  ].join('\n');
  const unavailable = ['npm error code E503', 'npm error 503 Service Unavailable - GET https://r.example/npm/left-pad'].join('\n');

  test('npm’s network failures are told from other failures', () => {
    expect(npmNetworkFailure(refused)).toEqual({
      code: 'ECONNREFUSED',
      url: 'http://127.0.0.1:9/@corp%2fthing',
      reason: 'request to http://127.0.0.1:9/@corp%2fthing failed, reason: connect ECONNREFUSED 127.0.0.1:9',
    });
    expect(npmNetworkFailure(notFound)?.code).toBe('ENOTFOUND');
    expect(npmNetworkFailure(unavailable)).toEqual({
      code: 'E503',
      url: 'https://r.example/npm/left-pad',
      reason: '503 Service Unavailable - GET https://r.example/npm/left-pad',
      status: 503,
    });
    for (const other of [
      'npm error code E404\nnpm error 404 Not Found - GET http://x/nosuch',
      'npm error code ETARGET',
      'npm printed this',
      '',
    ]) {
      expect(npmNetworkFailure(other)).toBeUndefined();
    }
  });

  test('are INFRASTRUCTURE, retryable, naming the registry the request was for, credentials redacted', () => {
    const error = unreachable(npmNetworkFailure(refused)!, ['http://127.0.0.1:9', 'https://registry.npmjs.org/']);
    expect(error.code).toBe('INFRASTRUCTURE');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      'npm could not reach the registry http://127.0.0.1:9 (ECONNREFUSED): request to http://127.0.0.1:9/@corp%2fthing failed, reason: connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(error.context).toMatchObject({ adapter: 'npm', code: 'ECONNREFUSED', registry: 'http://127.0.0.1:9' });
    const secret = unreachable(npmNetworkFailure(notFound)!, ['https://u:pw@example.invalid/registry/']);
    expect(secret.message).toContain('npm could not reach the registry https://u:***@example.invalid/registry/ (ENOTFOUND)');
    expect(JSON.stringify(secret)).not.toContain(':pw@');
    // The longest registry the URL is below; the URL's origin when none is.
    expect(unreachable(npmNetworkFailure(unavailable)!, ['https://r.example/', 'https://r.example/npm']).message).toBe(
      'npm got HTTP 503 (E503) from the registry https://r.example/npm, also when it tried again: 503 Service Unavailable - GET https://r.example/npm/left-pad',
    );
    expect(unreachable(npmNetworkFailure(unavailable)!, ['https://elsewhere.example/']).message).toContain('from https://r.example,');
  });

  test('credentials are redacted from registry text, scoped names in paths are not', () => {
    expect(redactRegistryText('request to http://localhost:4873/@corp%2fthing failed')).toBe(
      'request to http://localhost:4873/@corp%2fthing failed',
    );
    expect(redactRegistryText('at https://u:pw@r.example/npm/ and https://tok@r.example/')).toBe(
      'at https://u:***@r.example/npm/ and https://tok@r.example/',
    );
    expect(redactRegistryText('https://r.example/x?token=abc&a=1 password=hunter2')).toBe('https://r.example/x?token=***&a=1 password=***');
    expect(redactRegistryText('no URL here')).toBe('no URL here');
  });
});
