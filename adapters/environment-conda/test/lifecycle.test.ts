import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostPlatform, type EnvironmentLock } from '@tributary/core';
import { createCondaResolver } from '../src/index.ts';
import { makeCondaChannel } from '../src/testing/index.ts';
import { hangingServer, rejection, scratch } from './helpers.ts';

const host = hostPlatform();
const { root, envDir } = scratch('tributary-conda-lifecycle-');
const channel = join(root, 'channel');
let hung: Awaited<ReturnType<typeof hangingServer>>;
/** A lock whose archive is on a server that never answers. */
let hungLock: EnvironmentLock;

beforeAll(async () => {
  makeCondaChannel(channel, [{ name: 'tribdemo', version: '1.0', files: { 'a.txt': 'a' } }]);
  hung = await hangingServer();
  hungLock = {
    kind: 'conda',
    platform: host,
    sources: [hung.url],
    packages: [{ name: 'tribdemo', version: '1.0', url: `${hung.url}/${host}/tribdemo-1.0-0.conda`, sha256: 'a'.repeat(64) }],
  };
});

afterAll(() => hung.close());

function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))]);
}

describe('abort and close', () => {
  test('an aborted signal rejects with ABORTED, before and while solving or downloading', async () => {
    const resolver = createCondaResolver({ micromamba: false });
    const before = new AbortController();
    before.abort();
    const spec = { kind: 'conda', packages: { tribdemo: '1.0' }, sources: [channel] };
    expect((await rejection(resolver.lock(spec, { platform: host, signal: before.signal }))).code).toBe('ABORTED');
    expect((await rejection(resolver.materialize(hungLock, { dir: envDir(), signal: before.signal }))).code).toBe('ABORTED');
    const solving = new AbortController();
    const pendingLock = resolver.lock({ ...spec, sources: [hung.url] }, { platform: host, signal: solving.signal });
    setTimeout(() => solving.abort(), 100);
    expect((await settlesWithin(rejection(pendingLock), 5000)).code).toBe('ABORTED');
    const downloading = new AbortController();
    const pendingInstall = resolver.materialize(hungLock, { dir: envDir(), signal: downloading.signal });
    setTimeout(() => downloading.abort(), 100);
    expect((await settlesWithin(rejection(pendingInstall), 5000)).code).toBe('ABORTED');
    // The resolver still works.
    expect((await resolver.lock(spec, { platform: host })).packages.map((p) => p.name)).toEqual(['tribdemo']);
    await resolver.close();
  });

  test('the first failing package stops the others: a hash mismatch is reported, not a download left hanging', async () => {
    const resolver = createCondaResolver({ micromamba: false });
    const good = await resolver.lock({ kind: 'conda', packages: { tribdemo: '1.0' }, sources: [channel] }, { platform: host });
    const tampered = { ...good.packages[0]!, name: 'tribtampered', sha256: 'b'.repeat(64) };
    const lock = { ...hungLock, packages: [...hungLock.packages, tampered] };
    const error = await settlesWithin(rejection(resolver.materialize(lock, { dir: envDir() })), 5000);
    expect(error.code).toBe('INTEGRITY');
    expect(error.message).toContain('tribtampered 1.0');
    await resolver.close();
  });

  test('close: calls in flight end as CLOSED at once (a solve is abandoned), later calls reject with CLOSED', async () => {
    const resolver = createCondaResolver({ micromamba: false });
    const solving = resolver.lock({ kind: 'conda', packages: { tribdemo: '1.0' }, sources: [hung.url] }, { platform: host });
    const installing = resolver.materialize(hungLock, { dir: envDir() });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await resolver.close();
    expect((await settlesWithin(rejection(solving), 5000)).code).toBe('CLOSED');
    expect((await settlesWithin(rejection(installing), 5000)).code).toBe('CLOSED');
    expect((await rejection(resolver.lock({ kind: 'conda', packages: {}, sources: [channel] }, { platform: host }))).code).toBe('CLOSED');
    expect((await rejection(resolver.materialize({ ...hungLock, packages: [] }, { dir: envDir() }))).code).toBe('CLOSED');
  });
});
