import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
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
  'file-under-symlink-dotdot': { symlinks: { 'share/out': '../../..' }, files: { 'share/ok.txt': 'ok', 'share/out/escape.txt': 'out' } },
};

// Links that stay inside the environment, with a file entry under them.
const insideLinks: Record<string, Partial<CondaFixturePackage>> = {
  // `bin` exists when `lib/esc/x` is written (paths are linked in sorted order).
  'link-to-folder': { files: { 'bin/a': 'a', 'lib/esc/x': 'x' }, symlinks: { 'lib/esc': '../bin' } },
  // Nothing at `share` when `lib/esc/x` is written: the link leads nowhere yet.
  'link-dangling': { files: { 'lib/esc/x': 'x' }, symlinks: { 'lib/esc': '../share' } },
};

beforeAll(() => {
  const packages: CondaFixturePackage[] = [];
  for (const [name, extra] of Object.entries(cases)) {
    packages.push({ name, version: '1.0', files: { 'share/ok.txt': 'ok' }, ...extra });
    packages.push({ name: `${name}-bz2`, version: '1.0', format: 'tar.bz2', files: { 'share/ok.txt': 'ok' }, ...extra });
  }
  for (const [name, extra] of Object.entries(insideLinks)) {
    packages.push({ name, version: '1.0', ...extra });
    packages.push({ name: `${name}-bz2`, version: '1.0', format: 'tar.bz2', ...extra });
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

describe('a file entry under a symlink that stays inside the environment', () => {
  async function materialize(name: string): Promise<{ dir: string; result: Promise<unknown> }> {
    const lock = await resolver.lock({ kind: 'conda', packages: { [name]: '1.0' } }, { platform: host });
    const dir = join(root, name, 'env');
    mkdirSync(dir, { recursive: true });
    return { dir, result: resolver.materialize(lock, { dir }) };
  }

  for (const suffix of ['', '-bz2']) {
    test(`is written through a link to an existing folder${suffix}`, async () => {
      const { dir, result } = await materialize(`link-to-folder${suffix}`);
      await result;
      expect(readlinkSync(join(dir, 'lib', 'esc'))).toBe('../bin');
      expect(readdirSync(join(dir, 'bin')).sort()).toEqual(['a', 'x']);
      expect(readFileSync(join(dir, 'lib', 'esc', 'x'), 'utf8')).toBe('x');
    });

    test(`is refused, as writing through a dangling symlink, when the link leads nowhere${suffix}`, async () => {
      const name = `link-dangling${suffix}`;
      const { dir, result } = await materialize(name);
      const error = await rejection(result);
      expect(error.code).toBe('INTEGRITY');
      expect(error.message).toContain(`${name} 1.0`);
      expect(error.message).toContain('writes to lib/esc, which goes through the symlink lib/esc → ../share');
      expect(error.message).toContain('refusing to write through a dangling symlink');
      expect(error.message).not.toMatch(/outside the environment/);
      // Nothing was created through the link.
      expect(existsSync(join(dir, 'share'))).toBe(false);
      expect(readdirSync(join(root, name))).toEqual(['env']);
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

  test('does not write through a dangling symlink, inside or outside, and says so', async () => {
    const base = join(root, 'writer-dangling');
    const env = join(base, 'env');
    mkdirSync(env, { recursive: true });
    symlinkSync('../missing-inside', join(env, 'inside'));
    mkdirSync(join(env, 'lib'));
    symlinkSync(join(base, 'missing-outside'), join(env, 'lib', 'outside'));
    const writer = new PrefixWriter(await realpath(env));
    for (const [rel, link] of [
      ['inside/x.txt', 'inside → ../missing-inside'],
      ['lib/outside/sub/x.txt', `lib/outside → ${join(base, 'missing-outside')}`],
    ]) {
      const error = await rejection(writer.writeFile(rel!, 'x', 0o644, 'tribtest 1.0'));
      expect(error.code).toBe('INTEGRITY');
      expect(error.message).toContain(`goes through the symlink ${link} leading to no existing folder`);
      expect(error.message).toContain('refusing to write through a dangling symlink');
    }
    expect(readdirSync(base)).toEqual(['env']);
    expect(readdirSync(env).sort()).toEqual(['inside', 'lib']);
  });
});
