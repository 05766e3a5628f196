import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { TributaryError } from '@tributary/core';
import { extractPackage } from '../src/install/package-archive.ts';
import { zipEntries } from '../src/install/zip-entries.ts';
import { tarArchive } from '../src/testing/tar-writer.ts';
import { zipArchive } from '../src/testing/zip-writer.ts';
import { scratch } from './helpers.ts';

const { root } = scratch('tributary-conda-archive-');
const hasPython = spawnSync('python3', ['--version']).status === 0;
const tools = new Map([
  ['bzip2', 'bzip2'],
  ['zstd', 'zstd'],
] as const);
const signal = new AbortController().signal;
let n = 0;

function stagingDir(): string {
  const dir = join(root, `staging-${n++}`);
  mkdirSync(dir);
  return dir;
}

describe('the tar reader', () => {
  test('reads long names from pax headers and from GNU tar, modes, links and info/', async () => {
    const deep = `share/${'d'.repeat(90)}/${'f'.repeat(90)}.txt`;
    const source = join(root, 'src-tree');
    mkdirSync(join(source, 'info'), { recursive: true });
    mkdirSync(join(source, 'bin'));
    mkdirSync(join(source, ...deep.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(source, deep), 'deep');
    writeFileSync(join(source, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(source, 'info', 'index.json'), '{}');
    writeFileSync(join(source, 'info', 'recipe.txt'), 'not kept');
    execFileSync('ln', ['-s', 'tool', join(source, 'bin', 'tool-link')]);
    execFileSync('ln', [join(source, 'bin', 'tool'), join(source, 'bin', 'tool-hard')]);
    // GNU tar writes its own long-name records (type L), ./-prefixed names and hard links (type 1).
    for (const format of ['gnu', 'pax']) {
      const archive = join(root, `gnu-${format}.tar.bz2`);
      execFileSync('tar', [`--format=${format}`, '-cjf', archive, '-C', source, '.']);
      const staging = stagingDir();
      const contents = await extractPackage(archive, 'tar.bz2', staging, tools, 'tribtest', signal);
      expect(readFileSync(join(staging, deep), 'utf8')).toBe('deep');
      expect(contents.files.get(deep)).toBe(0o644);
      expect(contents.files.get('bin/tool')).toBe(0o755);
      expect(readFileSync(join(staging, 'bin', 'tool-hard'), 'utf8')).toBe('#!/bin/sh\n');
      expect(contents.symlinks.get('bin/tool-link')).toBe('tool');
      expect([...contents.info.keys()]).toEqual(['info/index.json']);
    }
  });

  test('empty files, in info/ and out of it', async () => {
    const tar = tarArchive([
      { path: 'info/index.json', type: 'file', content: Buffer.from('{}') },
      { path: 'info/has_prefix', type: 'file', content: Buffer.alloc(0) },
      { path: 'share/empty.txt', type: 'file', content: Buffer.alloc(0) },
      { path: 'share/after.txt', type: 'file', content: Buffer.from('after') },
    ]);
    const archive = join(root, 'empty-files.tar.bz2');
    writeFileSync(archive, execFileSync('bzip2', ['-c'], { input: tar }));
    const staging = stagingDir();
    const contents = await extractPackage(archive, 'tar.bz2', staging, tools, 'tribtest', signal);
    expect(contents.info.get('info/has_prefix')).toEqual(Buffer.alloc(0));
    expect(readFileSync(join(staging, 'share', 'empty.txt'), 'utf8')).toBe('');
    expect(readFileSync(join(staging, 'share', 'after.txt'), 'utf8')).toBe('after');
  });

  test('a truncated archive is INTEGRITY', async () => {
    const tar = tarArchive([{ path: 'share/a.txt', type: 'file', content: Buffer.alloc(5000, 1) }]);
    const archive = join(root, 'truncated.tar.bz2');
    writeFileSync(archive, execFileSync('bzip2', ['-c'], { input: tar.subarray(0, 2048) }));
    const error = await extractPackage(archive, 'tar.bz2', stagingDir(), tools, 'tribtest', signal).catch((e: unknown) => e);
    expect(TributaryError.is(error, 'INTEGRITY')).toBe(true);
    const corrupt = join(root, 'corrupt.tar.bz2');
    const bytes = readFileSync(archive);
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(corrupt, bytes);
    expect(
      TributaryError.is(
        await extractPackage(corrupt, 'tar.bz2', stagingDir(), tools, 'tribtest', signal).catch((e: unknown) => e),
        'INTEGRITY',
      ),
    ).toBe(true);
  });
});

describe('the zip reader', () => {
  test.skipIf(!hasPython)('lists the members of a .conda and reads stored and deflated members', async () => {
    const archive = join(root, 'stored.conda');
    writeFileSync(archive, zipArchive([['metadata.json', Buffer.from('{}')]]));
    expect((await zipEntries(archive, 'x')).map((e) => [e.name, e.method])).toEqual([['metadata.json', 0]]);
    // Deflated members, as python's zipfile writes them.
    const tar = tarArchive([{ path: 'info/index.json', type: 'file', content: Buffer.from('{"name":"x"}') }]);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    writeFileSync(join(root, 'info-x.tar.zst'), zst);
    writeFileSync(
      join(root, 'pkg-x.tar.zst'),
      execFileSync('zstd', ['-q', '-c'], { input: tarArchive([{ path: 'a.txt', type: 'file', content: Buffer.from('a') }]) }),
    );
    const deflated = join(root, 'deflated.conda');
    execFileSync('python3', [
      '-c',
      `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[2],'info-x.tar.zst')\nz.write(sys.argv[3],'pkg-x.tar.zst')\nz.close()`,
      deflated,
      join(root, 'info-x.tar.zst'),
      join(root, 'pkg-x.tar.zst'),
    ]);
    const staging = stagingDir();
    const contents = await extractPackage(deflated, 'conda', staging, tools, 'x', signal);
    expect(contents.info.get('info/index.json')?.toString()).toBe('{"name":"x"}');
    expect(readFileSync(join(staging, 'a.txt'), 'utf8')).toBe('a');
  });

  test('a .conda without its inner tars is INTEGRITY', async () => {
    const archive = join(root, 'empty.conda');
    writeFileSync(archive, zipArchive([['metadata.json', Buffer.from('{}')]]));
    const error = await extractPackage(archive, 'conda', stagingDir(), tools, 'tribtest', signal).catch((e: unknown) => e);
    expect(TributaryError.is(error, 'INTEGRITY')).toBe(true);
    expect((error as Error).message).toContain('no info-*.tar.zst');
  });
});
