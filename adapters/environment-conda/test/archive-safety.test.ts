import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform } from '@tributary/core';
import { createCondaResolver, type CondaResolver } from '../src/index.ts';
import { PrefixWriter } from '../src/install/prefix-writer.ts';
import { makeCondaChannel, type CondaFixturePackage } from '../src/testing/index.ts';
import { rejection, scratch } from './helpers.ts';

// Archives that try to write outside the environment folder. Each environment folder is
// `<root>/<case>/env`, so what escapes by one or two levels lands in `<root>/<case>`, checked empty.
const host = hostPlatform();
const { root } = scratch('tributary-conda-safety-');
const channel = join(root, 'channel');
let resolver: CondaResolver;

const cases: Record<string, Partial<CondaFixturePackage>> = {
  'dotdot-file': { rawEntries: [{ path: '../escape.txt', type: 'file', content: Buffer.from('out') }] },
  'nested-dotdot-file': { rawEntries: [{ path: 'share/../../escape.txt', type: 'file', content: Buffer.from('out') }] },
  'absolute-file': { rawEntries: [{ path: `${root}/absolute-escape.txt`, type: 'file', content: Buffer.from('out') }] },
  'long-dotdot-file': { rawEntries: [{ path: `share/${'x'.repeat(120)}/../../../escape.txt`, type: 'file', content: Buffer.from('out') }] },
  'hardlink-out': { rawEntries: [{ path: 'share/passwd', type: 'hardlink', target: '../../../../etc/passwd' }] },
  'symlink-dotdot': { symlinks: { 'share/out': '../../..' } },
  'symlink-absolute': { symlinks: { 'share/out': '/etc' } },
};

beforeAll(() => {
  const packages: CondaFixturePackage[] = [];
  for (const [name, extra] of Object.entries(cases)) {
    packages.push({ name, version: '1.0', files: { 'share/ok.txt': 'ok' }, ...extra });
    packages.push({ name: `${name}-bz2`, version: '1.0', format: 'tar.bz2', files: { 'share/ok.txt': 'ok' }, ...extra });
  }
  makeCondaChannel(channel, packages);
  resolver = createCondaResolver({ channels: [channel], micromamba: false });
});

afterAll(() => resolver.close());

describe('archives that write outside the environment are refused with INTEGRITY', () => {
  for (const name of Object.keys(cases).flatMap((n) => [n, `${n}-bz2`])) {
    test(name, async () => {
      const lock = await resolver.lock({ kind: 'conda', packages: { [name]: '1.0' } }, { platform: host });
      const around = join(root, name);
      const dir = join(around, 'env');
      mkdirSync(dir, { recursive: true });
      const error = await rejection(resolver.materialize(lock, { dir }));
      expect(error.code).toBe('INTEGRITY');
      expect(error.message).toContain(`${name} 1.0`);
      expect(error.message).toMatch(/outside the environment/);
      expect(readdirSync(around)).toEqual(['env']);
      expect(existsSync(join(root, 'escape.txt'))).toBe(false);
      expect(existsSync(join(root, 'absolute-escape.txt'))).toBe(false);
    });
  }
});

describe('PrefixWriter', () => {
  test('does not write through a symlink that leads outside the environment', async () => {
    const base = join(root, 'writer');
    const env = join(base, 'env');
    const outside = join(base, 'outside');
    mkdirSync(env, { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(env, 'lib'));
    symlinkSync('.', join(env, 'self'));
    const writer = new PrefixWriter(await realpath(env));
    const error = await rejection(writer.writeFile('lib/sub/file.txt', 'x', 0o644, 'tribtest 1.0'));
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toContain('leading outside the environment');
    expect(readdirSync(outside)).toEqual([]);
    // `self/..` is inside by its text and outside in fact: the real path decides.
    expect((await rejection(writer.writeFile('self/../escape.txt', 'x', 0o644, 'tribtest 1.0'))).code).toBe('INTEGRITY');
    expect(existsSync(join(base, 'escape.txt'))).toBe(false);
    // A link that stays inside is followed.
    symlinkSync('share', join(env, 'share-link'));
    mkdirSync(join(env, 'share'));
    await writer.writeFile('share-link/inside.txt', 'in', 0o644, 'tribtest 1.0');
    expect(readdirSync(join(env, 'share'))).toEqual(['inside.txt']);
  });
});
