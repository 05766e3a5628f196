import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, type EnvironmentLock, type EnvironmentSpec } from '@tributary/core';
import { createCondaResolver, type CondaResolver } from '../src/index.ts';
import {
  CONDA_FIXTURE_PLACEHOLDER as PLACEHOLDER,
  makeCondaChannel,
  serveCondaChannel,
  type CondaFixturePackage,
  type ServedCondaChannel,
} from '../src/testing/index.ts';
import { rejection, scratch } from './helpers.ts';

const host = hostPlatform();
const hasPython = spawnSync('python3', ['--version']).status === 0;
const { root, envDir } = scratch('tributary-conda-materialize-');
const channelDir = join(root, 'channel');
let served: ServedCondaChannel;
let resolver: CondaResolver;

// A C string holding the placeholder twice (a search path), between other bytes of a "binary".
const binary = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]),
  Buffer.from(`${PLACEHOLDER}/lib:${PLACEHOLDER}/lib64\0`),
  Buffer.from([1, 2, 3, 0, 4]),
]);

function helloPackage(name: string, format: 'conda' | 'tar.bz2', extra: Partial<CondaFixturePackage> = {}): CondaFixturePackage {
  return {
    name,
    version: '1.0',
    format,
    files: {
      [`bin/${name}`]: `#!/bin/sh\necho "${PLACEHOLDER}"\n`,
      [`lib/${name}.so`]: binary,
      [`share/${name}/plain.txt`]: 'no placeholder here\n',
    },
    executables: [`bin/${name}`],
    prefixFiles: { [`bin/${name}`]: 'text', [`lib/${name}.so`]: 'binary' },
    symlinks: { [`bin/${name}-link`]: name },
    ...extra,
  };
}

function spec(packages: Record<string, string>, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return { kind: 'conda', packages, sources: [served.url], ...extra };
}

async function install(
  packages: Record<string, string>,
  extra: Partial<EnvironmentSpec> = {},
): Promise<{ dir: string; lock: EnvironmentLock }> {
  const lock = await resolver.lock(spec(packages, extra), { platform: host });
  const dir = envDir();
  const activation = await resolver.materialize(lock, { dir });
  expect(activation).toEqual({ env: { CONDA_PREFIX: dir }, path: [join(dir, 'bin')] });
  return { dir, lock };
}

/** The binary's bytes after replacement: the C string rewritten, padded with NULs to its old length. */
function expectedBinary(dir: string): Buffer {
  const original = `${PLACEHOLDER}/lib:${PLACEHOLDER}/lib64`;
  const replaced = `${dir}/lib:${dir}/lib64`;
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]),
    Buffer.from(replaced),
    Buffer.alloc(Buffer.byteLength(original) - Buffer.byteLength(replaced) + 1),
    Buffer.from([1, 2, 3, 0, 4]),
  ]);
}

beforeAll(async () => {
  makeCondaChannel(channelDir, [
    helloPackage('hello-conda', 'conda', { depends: ['tribdep'] }),
    helloPackage('hello-bz2', 'tar.bz2'),
    { name: 'tribdep', version: '0.5', files: { 'share/tribdep.txt': 'dep' }, format: 'tar.bz2' },
    {
      name: 'tribold',
      version: '1.0',
      format: 'tar.bz2',
      legacyMetadata: true,
      placeholder: '/opt/anaconda1anaconda2anaconda3',
      files: { 'bin/tribold': '#!/bin/sh\necho "/opt/anaconda1anaconda2anaconda3/share"\n', 'share/tribold.txt': 'old' },
      executables: ['bin/tribold'],
      prefixFiles: { 'bin/tribold': 'text' },
      symlinks: { 'share/tribold-link.txt': 'tribold.txt' },
    },
    {
      name: 'tribshort',
      version: '1.0',
      placeholder: '/short',
      files: { 'lib/short.so': Buffer.from('\0/short/lib\0') },
      prefixFiles: { 'lib/short.so': 'binary' },
    },
    {
      name: 'python',
      version: '3.11.7',
      // A stand-in interpreter: this machine's python3, with the environment's site-packages.
      files: { 'bin/python': `#!/bin/sh\nPYTHONPATH="${PLACEHOLDER}/lib/python3.11/site-packages" exec python3 "$@"\n` },
      executables: ['bin/python'],
      prefixFiles: { 'bin/python': 'text' },
    },
    {
      name: 'tribpy',
      version: '1.0',
      noarch: 'python',
      depends: ['python >=3.8'],
      files: {
        'site-packages/tribpy/__init__.py': 'def main():\n    print("tribpy main")\n',
        'python-scripts/tribpy-script': '#!/bin/sh\necho script\n',
      },
      executables: ['python-scripts/tribpy-script'],
      entryPoints: ['tribcli = tribpy:main'],
    },
  ]);
  served = await serveCondaChannel(channelDir);
  resolver = createCondaResolver({ micromamba: false });
});

afterAll(async () => {
  await resolver.close();
  await served.close();
});

describe('CondaResolver.materialize (built-in installer)', () => {
  for (const [name, format] of [
    ['hello-conda', '.conda'],
    ['hello-bz2', '.tar.bz2'],
  ] as const) {
    test(`installs a ${format} package: prefixes replaced in text and binary files, modes and symlinks kept`, async () => {
      const { dir, lock } = await install({ [name]: '1.0' });
      // The script finds its own prefix: the environment's folder.
      expect(execFileSync(join(dir, 'bin', name), { encoding: 'utf8' })).toBe(`${dir}\n`);
      expect(execFileSync(join(dir, 'bin', `${name}-link`), { encoding: 'utf8' })).toBe(`${dir}\n`);
      expect(readlinkSync(join(dir, 'bin', `${name}-link`))).toBe(name);
      expect(statSync(join(dir, 'bin', name)).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, 'share', name, 'plain.txt')).mode & 0o777).toBe(0o644);
      const so = readFileSync(join(dir, 'lib', `${name}.so`));
      expect(so.length).toBe(binary.length);
      expect(so).toEqual(expectedBinary(dir));
      expect(readFileSync(join(dir, 'share', name, 'plain.txt'), 'utf8')).toBe('no placeholder here\n');
      // A conda environment: one record per package, and the history file.
      const records = readdirSync(join(dir, 'conda-meta')).sort();
      const expected = lock.packages.map((p) => `${p.name}-${p.version}-0.json`);
      expect(records).toEqual([...expected, 'history'].sort());
      const record = JSON.parse(readFileSync(join(dir, 'conda-meta', `${name}-1.0-0.json`), 'utf8'));
      const locked = lock.packages.find((p) => p.name === name)!;
      expect(record).toMatchObject({ name, version: '1.0', build: '0', url: locked.url, sha256: locked.sha256, channel: served.url });
      expect(record.files.sort()).toEqual([`bin/${name}`, `bin/${name}-link`, `lib/${name}.so`, `share/${name}/plain.txt`]);
      // Nothing else: no staging folder, no info/.
      expect(readdirSync(dir).sort()).toEqual(['bin', 'conda-meta', 'lib', 'share']);
    });
  }

  test('dependencies are installed too', async () => {
    const { dir } = await install({ 'hello-conda': '1.0' });
    expect(readFileSync(join(dir, 'share', 'tribdep.txt'), 'utf8')).toBe('dep');
  });

  test('old packages: info/files and info/has_prefix with the legacy placeholder', async () => {
    const { dir } = await install({ tribold: '1.0' });
    expect(execFileSync(join(dir, 'bin', 'tribold'), { encoding: 'utf8' })).toBe(`${dir}/share\n`);
    expect(readFileSync(join(dir, 'share', 'tribold-link.txt'), 'utf8')).toBe('old');
    expect(lstatSync(join(dir, 'share', 'tribold-link.txt')).isSymbolicLink()).toBe(true);
  });

  test('a binary placeholder shorter than the environment folder is CONFIG', async () => {
    const lock = await resolver.lock(spec({ tribshort: '1.0' }), { platform: host });
    const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain('lib/short.so');
    expect(error.message).toContain('longer than the 6-byte placeholder');
  });

  test.skipIf(!hasPython)('noarch: python packages go to site-packages, with their entry points', async () => {
    const { dir } = await install({ tribpy: '1.0' });
    const site = join(dir, 'lib', 'python3.11', 'site-packages');
    expect(existsSync(join(site, 'tribpy', '__init__.py'))).toBe(true);
    expect(existsSync(join(dir, 'site-packages'))).toBe(false);
    expect(execFileSync(join(dir, 'bin', 'tribpy-script'), { encoding: 'utf8' })).toBe('script\n');
    const entryPoint = readFileSync(join(dir, 'bin', 'tribcli'), 'utf8');
    expect(entryPoint.split('\n')[0]).toBe(`#!${dir}/bin/python`);
    expect(statSync(join(dir, 'bin', 'tribcli')).mode & 0o777).toBe(0o755);
    // Through the environment's python (a script on this machine, so run it explicitly).
    expect(execFileSync(join(dir, 'bin', 'python'), [join(dir, 'bin', 'tribcli')], { encoding: 'utf8' })).toBe('tribpy main\n');
    const record = JSON.parse(readFileSync(join(dir, 'conda-meta', 'tribpy-1.0-0.json'), 'utf8'));
    expect(record.files.sort()).toEqual(['bin/tribcli', 'bin/tribpy-script', 'lib/python3.11/site-packages/tribpy/__init__.py']);
  });

  test('a noarch: python package without python in the lock is CONFIG', async () => {
    const lock = await resolver.lock(spec({ tribpy: '1.0' }), { platform: host });
    const withoutPython = { ...lock, packages: lock.packages.filter((p) => p.name !== 'python') };
    const error = await rejection(resolver.materialize(withoutPython, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain('add python');
  });

  test('an empty lock is an empty environment', async () => {
    const dir = envDir();
    await resolver.materialize({ kind: 'conda', platform: host, sources: [served.url], packages: [] }, { dir });
    expect(readdirSync(join(dir, 'conda-meta'))).toEqual(['history']);
  });

  test('an archive changed after locking is INTEGRITY, naming the package', async () => {
    const dir = join(root, 'tamper-channel');
    makeCondaChannel(dir, [helloPackage('hello-tamper', 'conda')]);
    const lock = await resolver.lock(spec({ 'hello-tamper': '1.0' }, { sources: [dir] }), { platform: host });
    makeCondaChannel(dir, [helloPackage('hello-tamper', 'conda', { files: { 'bin/evil': 'evil' } })]);
    const env = envDir();
    const error = await rejection(resolver.materialize(lock, { dir: env }));
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toContain('hello-tamper 1.0 (hello-tamper-1.0-0.conda) does not match the lock');
    expect(error.message).toContain(lock.packages[0]!.sha256);
    expect(existsSync(join(env, 'bin'))).toBe(false);
  });

  test('an archive that is not one is INTEGRITY', async () => {
    const dir = join(root, 'garbage-channel');
    const [pkg] = makeCondaChannel(dir, [helloPackage('hello-garbage', 'conda')]);
    const lock = await resolver.lock(spec({ 'hello-garbage': '1.0' }, { sources: [dir] }), { platform: host });
    for (const [content, expected] of [
      ['not a zip at all', /not a valid \.conda archive/],
      // A valid archive of another package under this name.
      [readFileSync(join(channelDir, host, 'hello-conda-1.0-0.conda')), /holds hello-conda 1\.0, not what the lock says/],
    ] as const) {
      const bytes = Buffer.from(content);
      writeFileSync(pkg!.path, bytes);
      const forged = { ...lock, packages: [{ ...lock.packages[0]!, sha256: createHash('sha256').update(bytes).digest('hex') }] };
      const error = await rejection(resolver.materialize(forged, { dir: envDir() }));
      expect(error.code).toBe('INTEGRITY');
      expect(error.message).toMatch(expected);
    }
  });

  test('a missing decompressor is CONFIG naming it', async () => {
    const lock = await resolver.lock(spec({ 'hello-conda': '1.0' }), { platform: host });
    const path = process.env.PATH;
    const empty = join(root, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    process.env.PATH = empty;
    try {
      const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
      expect(error.code).toBe('CONFIG');
      expect(error.message).toContain('zstd (for hello-conda-1.0-0.conda) and bzip2 (for tribdep-0.5-0.tar.bz2)');
      expect(error.message).toContain('micromamba');
    } finally {
      process.env.PATH = path;
    }
  });
});
