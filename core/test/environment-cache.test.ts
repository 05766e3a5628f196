import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { EnvironmentCache } from '../src/environments/environment-cache.ts';
import type { EnvironmentLock, EnvironmentResolver } from '../src/index.ts';

const base = mkdtempSync(join(tmpdir(), 'tributary-env-cache-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const lock: EnvironmentLock = { kind: 'test', platform: 'linux-64', sources: [], packages: [] };
const builder = fileURLToPath(new URL('./fixtures/environment-cache-builder.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function countingResolver(ms: number, fail = false): EnvironmentResolver & { builds: number } {
  const r = {
    name: 'counting',
    capabilities: { kinds: ['test'] },
    builds: 0,
    async lock(): Promise<EnvironmentLock> {
      return lock;
    },
    async materialize(_l: EnvironmentLock, { dir }: { dir: string }) {
      r.builds++;
      await new Promise((res) => setTimeout(res, ms));
      if (fail) throw new Error('the build broke');
      writeFileSync(join(dir, 'marker'), 'x');
      return { env: { N: String(r.builds) }, path: [dir] };
    },
    async close() {},
  };
  return r;
}

function buildInChild(root: string, id: string, counter: string, ms: number): Promise<{ built: boolean }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', tsx, builder, root, id, counter, String(ms)], { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as { built: boolean }),
    );
  });
}

describe('EnvironmentCache: one build per id', () => {
  test('concurrent materializations of one id in a process build once; all get the same activation', async () => {
    const cache = new EnvironmentCache(join(base, 'in-process'));
    const resolver = countingResolver(200);
    const results = await Promise.all(Array.from({ length: 8 }, () => cache.materialize('a'.repeat(32), lock, resolver)));
    expect(resolver.builds).toBe(1);
    expect(results.filter((r) => r.built)).toHaveLength(1);
    expect(new Set(results.map((r) => JSON.stringify(r.activation))).size).toBe(1);
    // Later: reused, not rebuilt.
    expect((await cache.materialize('a'.repeat(32), lock, resolver)).built).toBe(false);
    expect(resolver.builds).toBe(1);
  });

  test('four processes building one id at once: one builds, the others wait and reuse it', async () => {
    const root = join(base, 'processes');
    const counter = join(base, 'processes-counter');
    const results = await Promise.all(Array.from({ length: 4 }, () => buildInChild(root, 'b'.repeat(32), counter, 800)));
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(results.filter((r) => r.built)).toHaveLength(1);
  });

  test('a build that fails leaves nothing behind; the next materialization builds again', async () => {
    const cache = new EnvironmentCache(join(base, 'failing'));
    await expect(cache.materialize('c'.repeat(32), lock, countingResolver(10, true))).rejects.toThrow('the build broke');
    expect(existsSync(join(base, 'failing', 'c'.repeat(32)))).toBe(false);
    expect(existsSync(join(base, 'failing', `${'c'.repeat(32)}.lock`))).toBe(false);
    const ok = countingResolver(10);
    expect((await cache.materialize('c'.repeat(32), lock, ok)).built).toBe(true);
  });

  test('a lock left by a dead process, or by another host and no longer touched, is taken over', async () => {
    const root = join(base, 'stale');
    mkdirSync(root, { recursive: true });
    const cache = new EnvironmentCache(root, { staleMs: 500 });
    // A pid that does not exist on this host.
    writeFileSync(join(root, `${'d'.repeat(32)}.lock`), '999999999 ' + (await import('node:os')).hostname());
    expect((await cache.materialize('d'.repeat(32), lock, countingResolver(10))).built).toBe(true);
    // Another host's lock: waited on while fresh, taken over once stale.
    const other = join(root, `${'e'.repeat(32)}.lock`);
    writeFileSync(other, '1 some-other-host');
    const old = new Date(Date.now() - 2_000);
    utimesSync(other, old, old);
    expect((await cache.materialize('e'.repeat(32), lock, countingResolver(10))).built).toBe(true);
  });

  test('a builder keeps its lock fresh while it builds, so a long build is not taken over', async () => {
    const root = join(base, 'long');
    const a = new EnvironmentCache(root, { staleMs: 300, touchMs: 50 });
    const b = new EnvironmentCache(root, { staleMs: 300, touchMs: 50 });
    const resolver = countingResolver(1_200);
    const [first, second] = await Promise.all([
      a.materialize('f'.repeat(32), lock, resolver),
      new Promise((r) => setTimeout(r, 100)).then(() => b.materialize('f'.repeat(32), lock, resolver)),
    ]);
    expect(resolver.builds).toBe(1);
    expect([first.built, second.built].sort()).toEqual([false, true]);
  });

  test('five waiters finding one abandoned lock at once: exactly one breaks it and builds, none breaks a fresh lock', async () => {
    for (let round = 0; round < 5; round++) {
      const root = join(base, `race-${round}`);
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, `${'9'.repeat(32)}.lock`), `999999999 ${(await import('node:os')).hostname()} old`);
      const resolver = countingResolver(300);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => new EnvironmentCache(root, { staleMs: 60_000 }).materialize('9'.repeat(32), lock, resolver)),
      );
      expect(resolver.builds).toBe(1);
      expect(results.filter((r) => r.built)).toHaveLength(1);
      expect(readdirSync(root).filter((f) => f.endsWith('.lock') || f.endsWith('.break'))).toEqual([]);
    }
  });

  test("a holder whose lock was broken (it froze past staleMs) does not remove its successor's lock", async () => {
    const root = join(base, 'successor');
    mkdirSync(root, { recursive: true });
    const { BuildLock } = await import('../src/environments/build-lock.ts');
    const file = join(root, 'x.lock');
    const first = (await new BuildLock(file, { touchMs: 60_000, staleMs: 50 }).tryAcquire())!;
    // Another host's waiter sees it unchanged for longer than staleMs and breaks it, then takes it.
    const waiter = new BuildLock(file, { touchMs: 60_000, staleMs: 50 });
    await waiter.breakIfAbandoned();
    await new Promise((r) => setTimeout(r, 80));
    await waiter.breakIfAbandoned();
    const second = (await waiter.tryAcquire())!;
    expect(second).toBeDefined();
    await first.release();
    expect(existsSync(file)).toBe(true);
    await second.release();
    expect(existsSync(file)).toBe(false);
  });
});
