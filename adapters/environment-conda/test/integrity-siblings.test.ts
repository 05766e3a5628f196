import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, type EnvironmentLock } from '@tributary/core';
import { createCondaResolver, type CondaResolver } from '../src/index.ts';
import { makeCondaChannel } from '../src/testing/index.ts';
import { rejection, scratch } from './helpers.ts';

// One archive of a lock of several packages does not match its hash: the installer must report
// INTEGRITY naming it, while the other packages, stopped part-way (their downloads and
// decompressors aborted through the shared signal), end quietly: no uncaught error, no
// unhandled rejection, no process left running, nothing left in the environment folder.
const host = hostPlatform();
const { root, envDir } = scratch('tributary-conda-siblings-');
let resolver: CondaResolver;

// Enough content that its decompression is still running when the tampered download fails.
const bigFiles: Record<string, string> = {};
for (let i = 0; i < 50; i++) bigFiles[`share/tribbig/f${i}.txt`] = `line ${i}\n`.repeat(6000);

function channelFor(format: 'conda' | 'tar.bz2'): string {
  const dir = join(root, `channel-${format}`);
  makeCondaChannel(dir, [
    { name: 'tribrev', version: '1.0', format, files: { 'bin/tribrev': 'one' } },
    { name: 'tribrev', version: '2.0', format, files: { 'bin/tribrev': 'two' } },
    { name: 'tribbig', version: '1.0', format, files: bigFiles },
  ]);
  return dir;
}

/** Replaces tribrev 1.0's archive with the bytes of tribrev 2.0's (a valid archive, the wrong one). */
function tamper(channel: string, format: 'conda' | 'tar.bz2'): void {
  copyFileSync(join(channel, host, `tribrev-2.0-0.${format}`), join(channel, host, `tribrev-1.0-0.${format}`));
}

/** Records the unhandled rejections and uncaught errors of this process until `stop()`. */
function watchUnhandled(): { errors: unknown[]; stop: () => Promise<void> } {
  const errors: unknown[] = [];
  const record = (error: unknown) => void errors.push(error);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return {
    errors,
    stop: async () => {
      // Let late 'error' events and rejections surface first.
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    },
  };
}

async function expectTamperedRejection(lock: EnvironmentLock, format: 'conda' | 'tar.bz2'): Promise<string> {
  const dir = envDir();
  const unhandled = watchUnhandled();
  let error;
  try {
    error = await rejection(resolver.materialize(lock, { dir }));
  } finally {
    await unhandled.stop();
  }
  expect(unhandled.errors).toEqual([]);
  expect(error.code).toBe('INTEGRITY');
  expect(error.message).toContain(`tribrev 1.0 (tribrev-1.0-0.${format}) does not match the lock`);
  expect(error.message).toContain(lock.packages.find((p) => p.name === 'tribrev')!.sha256);
  // The lock's hashes are checked before anything is linked, and the staging folder is removed.
  expect(readdirSync(dir)).toEqual([]);
  return dir;
}

beforeAll(() => {
  resolver = createCondaResolver({ micromamba: false });
});

afterAll(() => resolver.close());

describe.each(['conda', 'tar.bz2'] as const)('a tampered .%s archive in a lock of two packages', (format) => {
  test('is INTEGRITY naming it, and the aborted sibling ends quietly', async () => {
    const channel = channelFor(format);
    const lock = await resolver.lock(
      { kind: 'conda', packages: { tribrev: '1.0', tribbig: '1.0' }, sources: [channel] },
      { platform: host },
    );
    expect(lock.packages.map((p) => p.name).sort()).toEqual(['tribbig', 'tribrev']);
    tamper(channel, format);
    // The failure races the sibling's download and decompression: try a few times.
    for (let attempt = 0; attempt < 3; attempt++) await expectTamperedRejection(lock, format);
  });

  test("is INTEGRITY while the sibling's decompressor is still running, which is stopped", async () => {
    const channel = channelFor(format);
    tamper(channel, format);
    // A channel server that holds back tribrev 1.0's archive until the sibling's decompressor has started.
    const started = join(root, `started-${format}`);
    let hold = false;
    const server = createServer((req, res) => {
      void (async () => {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (hold && path.endsWith('/tribrev-1.0-0.' + format))
          for (let waited = 0; !existsSync(started) && waited < 20_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
        const content = await readFile(join(channel, ...path.split('/').filter((s) => s !== '' && s !== '..'))).catch(() => undefined);
        if (content === undefined) res.writeHead(404).end();
        else res.writeHead(200, { 'content-length': content.length }).end(content);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Decompressors that record their process id and never finish: only an abort ends them.
    const bin = join(root, `fake-bin-${format}`);
    mkdirSync(bin, { recursive: true });
    for (const tool of ['bzip2', 'zstd'])
      writeFileSync(join(bin, tool), `#!/bin/sh\necho $$ > '${started}'\nexec sleep 30\n`, { mode: 0o755 });
    const path = process.env.PATH;
    try {
      const lock = await resolver.lock({ kind: 'conda', packages: { tribrev: '1.0', tribbig: '1.0' }, sources: [url] }, { platform: host });
      // The lock was made from the original channel's repodata: its hash for tribrev 1.0 is the original's.
      expect(lock.packages.find((p) => p.name === 'tribrev')!.url).toBe(`${url}/${host}/tribrev-1.0-0.${format}`);
      hold = true;
      process.env.PATH = `${bin}${delimiter}${path ?? ''}`;
      await expectTamperedRejection(lock, format);
      const pid = Number(readFileSync(started, 'utf8').trim());
      expect(pid).toBeGreaterThan(0);
      // The sibling's decompressor was killed, and reaped before materialize settled.
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    } finally {
      process.env.PATH = path;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});
