import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, type EnvironmentLock } from '@tributary/core';
import { createCondaResolver } from '../src/index.ts';
import { explicitSpecFile, findMicromamba } from '../src/install/micromamba.ts';
import { makeCondaChannel, serveCondaChannel, type ServedCondaChannel } from '../src/testing/index.ts';
import { rejection, scratch } from './helpers.ts';

// No micromamba on this machine: these check what the resolver asks of micromamba (a stand-in
// script that records its arguments and the explicit file), not micromamba itself.
const host = hostPlatform();
const { root, envDir } = scratch('tributary-conda-micromamba-');
const bin = join(root, 'bin');
const fake = join(bin, 'micromamba');
let served: ServedCondaChannel;
let lock: EnvironmentLock;

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(async () => {
  mkdirSync(bin);
  script(
    fake,
    [
      'args="$*"',
      'while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift 2;; --file) file="$2"; shift 2;; *) shift;; esac; done',
      'mkdir -p "$prefix/conda-meta" "$prefix/bin"',
      'echo "$args" > "$prefix/micromamba-args.txt"',
      'cp "$file" "$prefix/explicit.txt"',
    ].join('\n'),
  );
  script(join(root, 'bad-hash'), 'echo "critical libmamba sha256 sum of downloaded file does not match" >&2; exit 1');
  script(join(root, 'offline'), 'echo "critical libmamba Download error (6) Could not resolve host" >&2; exit 1');
  const channel = join(root, 'channel');
  makeCondaChannel(channel, [
    { name: 'tribmm', version: '1.0', depends: ['tribmmdep'], files: { 'a.txt': 'a' } },
    { name: 'tribmmdep', version: '2.0', format: 'tar.bz2', files: { 'b.txt': 'b' } },
  ]);
  served = await serveCondaChannel(channel);
  const resolver = createCondaResolver({ channels: [served.url], micromamba: false });
  lock = await resolver.lock({ kind: 'conda', packages: { tribmm: '1.0' } }, { platform: host });
  await resolver.close();
});

afterAll(() => served.close());

describe('materializing through micromamba', () => {
  test('micromamba creates the prefix from an explicit spec file of the lock', async () => {
    const resolver = createCondaResolver({ micromamba: fake });
    const dir = envDir();
    expect(await resolver.materialize(lock, { dir })).toEqual({ env: { CONDA_PREFIX: dir }, path: [join(dir, 'bin')] });
    const args = readFileSync(join(dir, 'micromamba-args.txt'), 'utf8').trim();
    expect(args).toMatch(new RegExp(`^create --yes --prefix ${dir} --file \\S+/explicit\\.txt$`));
    expect(readFileSync(join(dir, 'explicit.txt'), 'utf8')).toBe(
      [
        '# Written by Tributary from an @conda lock',
        `# platform: ${host}`,
        '@EXPLICIT',
        ...lock.packages.map((p) => `${p.url}#${p.sha256}`),
        '',
      ].join('\n'),
    );
    await resolver.close();
  });

  test('found on PATH by default', async () => {
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const resolver = createCondaResolver();
      const dir = envDir();
      await resolver.materialize(lock, { dir });
      expect(readFileSync(join(dir, 'micromamba-args.txt'), 'utf8')).toContain('create --yes');
      await resolver.close();
    } finally {
      process.env.PATH = path;
    }
    expect(await findMicromamba(undefined, bin)).toBe(fake);
    expect(await findMicromamba(undefined, join(root, 'nothing-here'))).toBeUndefined();
    expect(await findMicromamba(false, bin)).toBeUndefined();
    expect(await findMicromamba('micromamba', bin)).toBe(fake);
  });

  test('a configured micromamba that is not there is CONFIG', async () => {
    const resolver = createCondaResolver({ micromamba: join(root, 'no-such-micromamba') });
    const error = await rejection(resolver.materialize(lock, { dir: envDir() }));
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain('no-such-micromamba');
    await resolver.close();
  });

  test('micromamba failures: a hash mismatch is INTEGRITY, others INFRASTRUCTURE, in its words', async () => {
    const badHash = createCondaResolver({ micromamba: join(root, 'bad-hash') });
    const integrity = await rejection(badHash.materialize(lock, { dir: envDir() }));
    expect(integrity.code).toBe('INTEGRITY');
    expect(integrity.message).toContain('sha256 sum of downloaded file does not match');
    const offline = createCondaResolver({ micromamba: join(root, 'offline') });
    const infrastructure = await rejection(offline.materialize(lock, { dir: envDir() }));
    expect(infrastructure.code).toBe('INFRASTRUCTURE');
    expect(infrastructure.message).toContain('Could not resolve host');
    await Promise.all([badHash.close(), offline.close()]);
  });

  test('the explicit file refuses entries that could break it', () => {
    expect(() => explicitSpecFile([{ name: 'x', version: '1', url: 'https://h/x-1-0.conda #evil', sha256: 'a'.repeat(64) }], host)).toThrow(
      /Invalid @conda lock entry/,
    );
  });
});
