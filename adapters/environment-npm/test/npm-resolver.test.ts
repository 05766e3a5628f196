import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, runFlow, TributaryError, type EnvironmentLock, type EnvironmentSpec } from '@tributary/core';
import { createNpmResolver, type NpmResolver } from '../src/index.ts';
import { makeNpmPackages, type NpmPackageSpec } from '../src/testing/index.ts';
import { indexTarballFolders, startFolderRegistry, type FolderRegistry } from '../src/folder-registry.ts';
import { NpmFlow } from './fixtures/npm-flow.ts';

// Fixture packages: `trib-a` 1.0.0 and 1.1.0 (1.1.0 needs `trib-dep` ^1), `trib-c` needing
// `trib-dep` ^2 (so one of the two `trib-dep`s is nested), `trib-cli` with a command, and
// `trib-native` whose optional dependencies are per OS, as esbuild's are, and `trib-bundler`
// with a dependency bundled inside its tarball (no registry has `trib-inner`).
const PACKAGES: NpmPackageSpec[] = [
  ['trib-a', '1.0.0'],
  ['trib-a', '1.1.0', { main: "exports.version = '1.1.0'; exports.dep = require('trib-dep').version;" }, { 'trib-dep': '^1.0.0' }],
  ['trib-dep', '1.0.0'],
  ['trib-dep', '1.2.0'],
  ['trib-dep', '2.0.0'],
  ['trib-c', '1.0.0', { main: "exports.version = '1.0.0'; exports.dep = require('trib-dep').version;" }, { 'trib-dep': '^2.0.0' }],
  ['trib-cli', '1.0.0', { bin: "#!/usr/bin/env node\nconsole.log('trib-cli says hi');\n" }],
  ['@trib/scoped', '3.0.0'],
  ['trib-native', '1.0.0', { packageJson: { optionalDependencies: { 'trib-native-linux': '1.0.0', 'trib-native-darwin': '1.0.0' } } }],
  ['trib-native-linux', '1.0.0', { packageJson: { os: ['linux'] } }],
  ['trib-native-darwin', '1.0.0', { packageJson: { os: ['darwin'] } }],
  ['trib-darwin-only', '1.0.0', { packageJson: { os: ['darwin'] } }],
  [
    'trib-bundler',
    '1.0.0',
    {
      main: "exports.version = '1.0.0'; exports.inner = require('trib-inner').version;",
      packageJson: { bundleDependencies: ['trib-inner'] },
      files: {
        'node_modules/trib-inner/package.json': '{"name":"trib-inner","version":"0.0.1"}',
        'node_modules/trib-inner/index.js': "exports.version = '0.0.1';",
      },
    },
    { 'trib-inner': '0.0.1' },
  ],
];

const root = realpathSync(mkdtempSync(join(tmpdir(), 'tributary-npm-test-')));
const tarballs = join(root, 'tarballs');
const host = hostPlatform();
const other = host === 'osx-arm64' ? 'linux-64' : 'osx-arm64';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function spec(packages: Record<string, string>, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return { kind: 'npm', packages, sources: [tarballs], ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!TributaryError.is(error)) throw new Error(`expected a TributaryError, got ${String(error)}`);
  return error;
}

/** Runs `fn` with `vars` set in this process's environment (what the resolver's npm runs inherit), then puts it back. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** A port nothing listens on: connections to it are refused at once. */
const CLOSED = 'http://127.0.0.1:9/';

let dirCount = 0;
function envDir(): string {
  const dir = join(root, `env-${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

/** Runs `code` in Node inside the environment, as a task would (its activation's variables and PATH). */
function nodeIn(activation: { env: Record<string, string>; path: string[] }, code: string): string {
  return execFileSync(process.execPath, ['-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...activation.env, PATH: [...activation.path, process.env.PATH].join(delimiter) },
  }).trim();
}

function versions(lock: EnvironmentLock): [string, string][] {
  return lock.packages.map((p) => [p.name, p.version]);
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('NpmResolver', () => {
  let resolver: NpmResolver;

  beforeAll(() => {
    makeNpmPackages(tarballs, PACKAGES);
    resolver = createNpmResolver();
  });

  afterAll(() => resolver.close());

  test('names itself, and says how a remote job opens it', () => {
    expect(resolver.name).toBe('npm');
    expect(resolver.capabilities.kinds).toEqual(['npm']);
    expect(resolver.locator).toEqual({
      module: expect.stringMatching(/npm-resolver\.(ts|js)$/),
      factory: 'createNpmResolver',
      options: { sources: [] },
    });
    expect(createNpmResolver({ npm: 'npm', sources: ['https://registry.example/'] }).locator?.options).toEqual({
      npm: 'npm',
      sources: ['https://registry.example/'],
    });
    // A path to npm means nothing in a container.
    expect(createNpmResolver({ npm: '/opt/node/bin/npm' }).locator?.options).toEqual({ sources: [] });
  });

  test('locks exact versions, archive URLs and hashes, nested duplicates by install path; deterministic', async () => {
    const a = await resolver.lock(spec({ 'trib-a': '1.1.0', 'trib-c': '1.0.0' }), { platform: host });
    expect(a.kind).toBe('npm');
    expect(a.platform).toBe(host);
    expect(a.runtime).toBeUndefined();
    expect(a.sources).toEqual([tarballs]);
    // trib-a wants trib-dep ^1 (1.2.0, the highest), trib-c ^2: npm hoists one and nests the other under its dependent.
    expect(versions(a)).toEqual([
      ['trib-a', '1.1.0'],
      ['trib-c', '1.0.0'],
      ['trib-c/node_modules/trib-dep', '2.0.0'],
      ['trib-dep', '1.2.0'],
    ]);
    for (const p of a.packages) {
      const file = join(tarballs, `${p.name.split('/').at(-1)}-${p.version}.tgz`);
      expect(p.url).toBe(pathToFileURL(file).href);
      expect(p.sha256).toBe(sha256(file));
      expect(p.integrity).toBe(`sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`);
    }
    expect(JSON.stringify(a)).not.toContain('tributary-npm-lock-');
    const b = await resolver.lock(spec({ 'trib-c': '1.0.0', 'trib-a': '1.1.0' }), { platform: host });
    expect(b).toEqual(a);
    // Ranges and tags are npm's to pick.
    const c = await resolver.lock(spec({ 'trib-a': '~1.0', 'trib-dep': 'latest' }), { platform: host });
    expect(versions(c)).toEqual([
      ['trib-a', '1.0.0'],
      ['trib-dep', '2.0.0'],
    ]);
    const empty = await resolver.lock(spec({}), { platform: host });
    expect(empty).toEqual({ kind: 'npm', platform: host, sources: [tarballs], packages: [] });
  });

  test('a tarball given by path is locked by its file URL, wherever the path was relative to', async () => {
    const file = join(tarballs, 'trib-a-1.0.0.tgz');
    const absolute = await resolver.lock({ kind: 'npm', packages: { 'trib-a': `file:${file}` } }, { platform: host });
    expect(absolute.packages).toEqual([
      {
        name: 'trib-a',
        version: '1.0.0',
        url: pathToFileURL(file).href,
        sha256: sha256(file),
        integrity: expect.stringMatching(/^sha512-/),
      },
    ]);
    const fromHere = relative(process.cwd(), file);
    const relativeLock = await resolver.lock({ kind: 'npm', packages: { 'trib-a': `file:${fromHere}` } }, { platform: host });
    expect(relativeLock).toEqual(absolute);
    expect((await resolver.lock({ kind: 'npm', packages: { 'trib-a': pathToFileURL(file).href } }, { platform: host })).packages).toEqual(
      absolute.packages,
    );
  });

  test('an unsatisfiable spec is CONFIG, in npm’s words', async () => {
    const badVersion = await rejection(resolver.lock(spec({ 'trib-a': '9.9.9' }), { platform: host }));
    expect(badVersion.code).toBe('CONFIG');
    expect(badVersion.message).toContain('No matching version found for trib-a@9.9.9');
    expect(badVersion.message).toContain('ETARGET');
    expect(badVersion.message).not.toContain('A complete log');
    const unknown = await rejection(resolver.lock(spec({ 'trib-nosuch': '1.0.0' }), { platform: host }));
    expect(unknown.code).toBe('CONFIG');
    expect(unknown.message).toContain('E404');
    expect(unknown.message).toContain("'trib-nosuch@1.0.0'");
    const missingFile = await rejection(
      resolver.lock({ kind: 'npm', packages: { 'trib-a': `file:${join(root, 'gone.tgz')}` } }, { platform: host }),
    );
    expect(missingFile.code).toBe('CONFIG');
    expect(missingFile.message).toContain('ENOENT');
    expect(missingFile.message).toContain('gone.tgz');
    for (const bad of [{ kind: 'pypi', packages: {} }, spec({ '../evil': '1.0.0' }), spec({ 'trib-a': '1.0.0' }, { runtime: 'twenty' })]) {
      expect((await rejection(resolver.lock(bad, { platform: host }))).code).toBe('CONFIG');
    }
    expect((await rejection(resolver.lock(spec({ 'trib-a': '1.0.0' }), { platform: 'beos-64' }))).message).toContain(
      'Unknown platform beos-64',
    );
  });

  test('a lock is for one platform: optional packages for other systems are left out, required ones refused', async () => {
    const linux = await resolver.lock(spec({ 'trib-native': '1.0.0' }), { platform: 'linux-64' });
    expect(versions(linux)).toEqual([
      ['trib-native', '1.0.0'],
      ['trib-native-linux', '1.0.0'],
    ]);
    const mac = await resolver.lock(spec({ 'trib-native': '1.0.0' }), { platform: 'osx-arm64' });
    expect(versions(mac)).toEqual([
      ['trib-native', '1.0.0'],
      ['trib-native-darwin', '1.0.0'],
    ]);
    // The one for this machine installs: the missing optional dependency for the other system is no problem to npm ci.
    const mine = host === 'linux-64' ? linux : host === 'osx-arm64' ? mac : undefined;
    if (mine !== undefined) {
      const activation = await resolver.materialize(mine, { dir: envDir() });
      expect(nodeIn(activation, `console.log(require('${mine.packages[1]!.name}').version)`)).toBe('1.0.0');
    }
    // A required package for another system is refused in npm's words (npm checks those against this machine, whatever the target).
    const refused = await rejection(resolver.lock(spec({ 'trib-darwin-only': '1.0.0' }), { platform: 'linux-64' }));
    expect(refused.code).toBe('CONFIG');
    expect(refused.message).toContain('EBADPLATFORM');
    expect(refused.message).toContain('Unsupported platform for trib-darwin-only@1.0.0');
    const elsewhere = await rejection(resolver.materialize(other === 'linux-64' ? linux : mac, { dir: envDir() }));
    expect(elsewhere.code).toBe('CONFIG');
    expect(elsewhere.message).toContain(`for ${other} and this machine is ${host}`);
  });

  test('materializes exactly the lock: require() through NODE_PATH, nested duplicates, commands on PATH', async () => {
    const lock = await resolver.lock(
      spec({ 'trib-a': '1.1.0', 'trib-c': '1.0.0', 'trib-cli': '1.0.0', '@trib/scoped': '3.0.0', 'trib-bundler': '1.0.0' }),
      { platform: host },
    );
    // The bundled dependency comes with its archive (and its hash): it is not an entry of its own.
    expect(lock.packages.map((p) => p.name)).toEqual([
      '@trib/scoped',
      'trib-a',
      'trib-bundler',
      'trib-c',
      'trib-c/node_modules/trib-dep',
      'trib-cli',
      'trib-dep',
    ]);
    const dir = envDir();
    const activation = await resolver.materialize(lock, { dir });
    expect(activation).toEqual({ env: { NODE_PATH: join(dir, 'node_modules') }, path: [join(dir, 'node_modules', '.bin')] });
    const seen = nodeIn(
      activation,
      "const a = require('trib-a'), c = require('trib-c'); console.log(a.version, a.dep, c.version, c.dep, require('@trib/scoped').version, require('trib-bundler').inner)",
    );
    expect(seen).toBe('1.1.0 1.2.0 1.0.0 2.0.0 3.0.0 0.0.1');
    expect(nodeIn(activation, "require('child_process').execFileSync('trib-cli', { stdio: 'inherit' })")).toBe('trib-cli says hi');
    // What was installed, for people: the lock's own URLs (npm's scratch copy is gone, and so is its hidden lockfile).
    const written = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    expect(Object.keys(written.packages).sort()).toEqual(['', ...lock.packages.map((p) => `node_modules/${p.name}`)].sort());
    for (const p of lock.packages) expect(written.packages[`node_modules/${p.name}`]!.resolved).toBe(p.url);
    expect(existsSync(join(dir, 'node_modules', '.package-lock.json'))).toBe(false);
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).not.toContain('tributary-npm-archives-');
  });

  test('an archive changed after locking fails materialize with INTEGRITY, naming the package', async () => {
    const folder = join(root, 'tampered');
    mkdirSync(folder);
    copyFileSync(join(tarballs, 'trib-a-1.0.0.tgz'), join(folder, 'trib-a-1.0.0.tgz'));
    const lock = await resolver.lock({ kind: 'npm', packages: { 'trib-a': '1.0.0' }, sources: [folder] }, { platform: host });
    const [evil] = makeNpmPackages(join(root, 'evil'), [['trib-a', '1.0.0', { main: "exports.version = 'evil';" }]]);
    copyFileSync(evil!, join(folder, 'trib-a-1.0.0.tgz'));
    const dir = envDir();
    const error = await rejection(resolver.materialize(lock, { dir }));
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toContain('trib-a@1.0.0');
    expect(error.message).toContain(lock.packages[0]!.sha256);
    expect(existsSync(join(dir, 'node_modules', 'trib-a'))).toBe(false);
    // The same for a lock whose hash was edited.
    const edited: EnvironmentLock = { ...lock, packages: [{ ...lock.packages[0]!, sha256: '0'.repeat(64) }] };
    expect((await rejection(resolver.materialize(edited, { dir: envDir() }))).code).toBe('INTEGRITY');
    const invalid: EnvironmentLock = { ...lock, packages: [{ ...lock.packages[0]!, name: '../../outside' }] };
    expect((await rejection(resolver.materialize(invalid, { dir: envDir() }))).code).toBe('CONFIG');
  });

  test('an empty lock materializes without npm', async () => {
    const dir = envDir();
    const activation = await resolver.materialize({ kind: 'npm', platform: host, sources: [], packages: [] }, { dir });
    expect(activation.env.NODE_PATH).toBe(join(dir, 'node_modules'));
    expect(readdirSync(join(dir, 'node_modules'))).toEqual([]);
  });

  test('runtime: the spec’s Node version is recorded, and materializing checks this Node is it', async () => {
    const major = process.versions.node.split('.')[0]!;
    const lock = await resolver.lock(spec({ 'trib-a': '1.0.0' }, { runtime: major }), { platform: host });
    expect(lock.runtime).toBe(major);
    await resolver.materialize(lock, { dir: envDir() });
    const error = await rejection(resolver.materialize({ ...lock, runtime: '4' }, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`This @npm lock is for Node 4 and tasks here run in Node ${process.versions.node}`);
  });

  describe('sources', () => {
    let upstream: FolderRegistry;
    const upstreamFolder = join(root, 'upstream');

    beforeAll(async () => {
      makeNpmPackages(upstreamFolder, [
        ['trib-far', '5.0.0'],
        ['@far/thing', '1.0.0'],
      ]);
      // A registry to fall back on for names the folders do not have: another folder registry, over http.
      upstream = await startFolderRegistry(await indexTarballFolders([upstreamFolder]), undefined);
    });

    afterAll(() => upstream.close());

    test('default sources apply when the spec has none; file:// URLs are folders', async () => {
      const withDefaults = createNpmResolver({ sources: [pathToFileURL(tarballs).href] });
      try {
        const lock = await withDefaults.lock({ kind: 'npm', packages: { 'trib-a': '1.0.0' } }, { platform: host });
        expect(lock.sources).toEqual([tarballs]);
        expect(versions(lock)).toEqual([['trib-a', '1.0.0']]);
      } finally {
        await withDefaults.close();
      }
    });

    test('names no folder has come from the registry source: downloaded, hashed and installed from its URL', async () => {
      const lock = await resolver.lock(spec({ 'trib-a': '1.0.0', 'trib-far': '5.0.0' }, { sources: [tarballs, upstream.url] }), {
        platform: host,
      });
      expect(lock.sources).toEqual([tarballs, upstream.url]);
      const far = lock.packages.find((p) => p.name === 'trib-far')!;
      // The upstream's URL (the folder registry of the lock is gone once it is done).
      expect(far.url).toMatch(new RegExp(`^${upstream.url}-/tarball/\\d+\\.tgz$`));
      expect(upstream.tarballAt(far.url)?.name).toBe('trib-far');
      expect(far.sha256).toBe(sha256(join(upstreamFolder, 'trib-far-5.0.0.tgz')));
      const activation = await resolver.materialize(lock, { dir: envDir() });
      expect(nodeIn(activation, "console.log(require('trib-far').version, require('trib-a').version)")).toBe('5.0.0 1.0.0');
      // The registry alone.
      const only = await resolver.lock({ kind: 'npm', packages: { 'trib-far': '5' }, sources: [upstream.url] }, { platform: host });
      expect(only.packages).toEqual([far]);
    });

    test('a scope’s registry source answers its scope’s names; folders are not asked for them', async () => {
      const scoped = `@far:${upstream.url}`;
      const lock = await resolver.lock(spec({ '@far/thing': '1.0.0', 'trib-a': '1.0.0' }, { sources: [tarballs, scoped] }), {
        platform: host,
      });
      expect(lock.sources).toEqual([tarballs, scoped]);
      const thing = lock.packages.find((p) => p.name === '@far/thing')!;
      expect(upstream.tarballAt(thing.url)?.name).toBe('@far/thing');
      expect(thing.sha256).toBe(sha256(join(upstreamFolder, 'far-thing-1.0.0.tgz')));
      expect(lock.packages.find((p) => p.name === 'trib-a')!.url).toBe(pathToFileURL(join(tarballs, 'trib-a-1.0.0.tgz')).href);
      const activation = await resolver.materialize(lock, { dir: envDir() });
      expect(nodeIn(activation, "console.log(require('@far/thing').version, require('trib-a').version)")).toBe('1.0.0 1.0.0');
      // Folders only: no registry has it.
      const missing = await rejection(resolver.lock(spec({ '@far/thing': '1.0.0' }), { platform: host }));
      expect(missing.code).toBe('CONFIG');
      expect(missing.message).toContain('E404');
      // A scope's names come from its registry only: @trib/scoped is in the folder, not upstream.
      const notAsked = await rejection(
        resolver.lock(spec({ '@trib/scoped': '3.0.0' }, { sources: [tarballs, `@trib:${upstream.url}`] }), { platform: host }),
      );
      expect(notAsked.code).toBe('CONFIG');
      expect(notAsked.message).toContain('E404');
    });

    test('the user’s .npmrc credentials reach the registries of the sources', async () => {
      const token = 'tributary-test-secret';
      const authorizations: (string | undefined)[] = [];
      // A registry that wants a token for its documents and sends npm on to the upstream with one.
      const guard = createServer((req, res) => {
        authorizations.push(req.headers.authorization);
        if (req.headers.authorization !== `Bearer ${token}`) {
          return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"log in first"}');
        }
        res.writeHead(302, { location: new URL(req.url!.slice(1), upstream.url).href }).end();
      });
      await new Promise<void>((resolve) => guard.listen(0, '127.0.0.1', resolve));
      const port = (guard.address() as { port: number }).port;
      const userconfig = join(root, 'npmrc-with-token');
      writeFileSync(userconfig, `registry=${CLOSED}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
      try {
        const sources = [tarballs, `@far:http://127.0.0.1:${port}/`];
        const lock = await withEnv({ NPM_CONFIG_USERCONFIG: userconfig }, () =>
          resolver.lock(spec({ '@far/thing': '1.0.0' }, { sources }), { platform: host }),
        );
        expect(upstream.tarballAt(lock.packages[0]!.url)?.name).toBe('@far/thing');
        expect(authorizations).toContain(`Bearer ${token}`);
        // Without the token, the registry's refusal in npm's words.
        const refused = await withEnv({ NPM_CONFIG_USERCONFIG: join(root, 'no-such-npmrc') }, () =>
          rejection(resolver.lock(spec({ '@far/thing': '1.0.0' }, { sources }), { platform: host })),
        );
        expect(refused.code).toBe('CONFIG');
        expect(refused.message).toContain('E401');
      } finally {
        guard.closeAllConnections();
        await new Promise((resolve) => guard.close(resolve));
      }
    });

    test('a registry that cannot be reached fails within seconds with INFRASTRUCTURE, naming it', async () => {
      const started = Date.now();
      const [alone, behindFolders, ofScope] = await Promise.all([
        rejection(resolver.lock({ kind: 'npm', packages: { 'trib-a': '1.0.0' }, sources: [CLOSED] }, { platform: host })),
        rejection(
          resolver.lock(spec({ 'trib-a': '1.0.0', 'trib-elsewhere': '1.0.0' }, { sources: [tarballs, CLOSED] }), { platform: host }),
        ),
        rejection(resolver.lock(spec({ '@far/thing': '1.0.0' }, { sources: [tarballs, `@far:${CLOSED}npm/`] }), { platform: host })),
      ]);
      const elapsed = Date.now() - started;
      for (const error of [alone, behindFolders, ofScope]) {
        expect(error.code).toBe('INFRASTRUCTURE');
        expect(error.retryable).toBe(true);
        expect(error.message).toContain('ECONNREFUSED');
      }
      expect(alone.message).toContain(`npm could not reach the registry ${CLOSED} (ECONNREFUSED): request to ${CLOSED}trib-a failed`);
      expect(behindFolders.message).toContain(`npm could not reach the registry ${CLOSED} (ECONNREFUSED)`);
      expect(ofScope.message).toContain(`npm could not reach the registry ${CLOSED}npm/ (ECONNREFUSED)`);
      expect(ofScope.context).toMatchObject({ adapter: 'npm', code: 'ECONNREFUSED', registry: `${CLOSED}npm/` });
      // npm's own retry timing took 72 s; ours about 5 s (a loose bound: machines are slow at times).
      expect(elapsed).toBeLessThan(30_000);
    }, 120_000);

    test('sources that cannot be used are CONFIG', async () => {
      for (const sources of [
        ['https://one.example/', 'https://two.example/'],
        ['s3://bucket/'],
        [' '],
        [join(root, 'no-such-folder')],
        ['@Far:https://x.example/'],
        ['@far:https://a.example/', '@far:https://b.example/'],
        ['@far:https://token@x.example/'],
      ]) {
        expect((await rejection(resolver.lock(spec({ 'trib-a': '1.0.0' }, { sources }), { platform: host }))).code).toBe('CONFIG');
      }
    });
  });

  test('the machine’s npm configuration does not change a lock: only credentials are lent, in a file of its own, gone after', async () => {
    const packages = { 'trib-a': '1.1.0', '@trib/scoped': '3.0.0', 'trib-native': '1.0.0', 'trib-c': '1.0.0' };
    const clean = await resolver.lock(spec(packages), { platform: host });
    const folder = join(root, 'machine-config');
    mkdirSync(folder);
    const token = `tributary-test-token-${process.pid}`;
    const userconfig = join(folder, 'npmrc');
    writeFileSync(
      userconfig,
      [
        `registry=${CLOSED}`,
        `@trib:registry=${CLOSED}`,
        'legacy-peer-deps=true',
        'omit=optional',
        'install-strategy=nested',
        `//127.0.0.1:9/:_authToken=${token}`,
        '',
      ].join('\n'),
    );
    const globalconfig = join(folder, 'global-npmrc');
    writeFileSync(globalconfig, `registry=${CLOSED}\n@trib:registry=${CLOSED}\n`);
    // npm's user config of each run, seen while npm runs (other test files' runs have no token in theirs).
    const seen = new Map<string, { text: string; mode: number }>();
    const watch = setInterval(() => {
      for (const name of readdirSync(tmpdir())) {
        if (!name.startsWith('tributary-npm-config-')) continue;
        const file = join(tmpdir(), name, 'user.npmrc');
        try {
          const text = readFileSync(file, 'utf8');
          if (text.includes(token)) seen.set(file, { text, mode: statSync(file).mode & 0o777 });
        } catch {
          // not written yet, or gone already
        }
      }
    }, 5);
    const machine = {
      npm_config_registry: CLOSED,
      'npm_config_@trib:registry': CLOSED,
      NPM_CONFIG_USERCONFIG: userconfig,
      NPM_CONFIG_GLOBALCONFIG: globalconfig,
      npm_config_omit: 'optional',
      NPM_CONFIG_INSTALL_STRATEGY: 'nested',
      npm_config_legacy_peer_deps: 'true',
    };
    try {
      await withEnv(machine, async () => {
        const configured = await resolver.lock(spec(packages), { platform: host });
        expect(configured).toEqual(clean);
        // npm ci too: installed as locked, the optional package and the nested duplicate included.
        const activation = await resolver.materialize(configured, { dir: envDir() });
        expect(nodeIn(activation, "console.log(require('@trib/scoped').version, require('trib-c').dep)")).toBe('3.0.0 2.0.0');
      });
    } finally {
      clearInterval(watch);
    }
    expect(seen.size).toBeGreaterThan(0);
    for (const [file, { text, mode }] of seen) {
      expect(text).toBe(`//127.0.0.1:9/:_authToken=${token}\n`);
      expect(mode).toBe(0o600);
      expect(existsSync(dirname(file))).toBe(false);
    }
  });

  test('an aborted signal rejects with ABORTED, also while npm runs', async () => {
    const before = new AbortController();
    before.abort();
    expect((await rejection(resolver.lock(spec({ 'trib-a': '1.1.0' }), { platform: host, signal: before.signal }))).code).toBe('ABORTED');
    const during = new AbortController();
    const pending = resolver.lock(spec({ 'trib-a': '1.1.0' }), { platform: host, signal: during.signal });
    setTimeout(() => during.abort(), 150);
    expect((await rejection(pending)).code).toBe('ABORTED');
  });

  test('after close, lock and materialize reject with CLOSED, also a lock that was running', async () => {
    const closing = createNpmResolver();
    const pending = closing.lock(spec({ 'trib-a': '1.1.0' }), { platform: host });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await closing.close();
    expect((await rejection(pending)).code).toBe('CLOSED');
    expect((await rejection(closing.lock(spec({ 'trib-a': '1.1.0' }), { platform: host }))).code).toBe('CLOSED');
    const lock: EnvironmentLock = { kind: 'npm', platform: host, sources: [], packages: [] };
    expect((await rejection(closing.materialize(lock, { dir: envDir() }))).code).toBe('CLOSED');
  });
});

describe('a flow with @npm steps', () => {
  test('each step imports, requires and runs its own environment’s packages (locked and installed by npm)', async () => {
    const folder = join(root, 'flow-tarballs');
    makeNpmPackages(folder, [
      ['flow-a', '1.0.0'],
      ['flow-a', '2.0.0', { main: "exports.version = '2.0.0'; exports.b = require('flow-b').version;" }, { 'flow-b': '^1.0.0' }],
      ['flow-b', '1.0.0'],
      ['flow-cli', '1.0.0', { bin: "#!/usr/bin/env node\nconsole.log('cli ran');\n" }],
    ]);
    const npmResolver = createNpmResolver({ sources: [folder] });
    try {
      const run = await runFlow(NpmFlow, { home: join(root, 'flow-home'), environments: { npm: npmResolver }, maxWorkers: 1 });
      expect(run.error?.message ?? run.status).toBe('succeeded');
      // flow-b is in the second environment as flow-a's dependency: importable from the step too.
      expect(await run.data()).toMatchObject({ first: '1.0.0 1.0.0 cli ran', second: '2.0.0 1.0.0 b importable' });
    } finally {
      await npmResolver.close();
    }
  });
});
