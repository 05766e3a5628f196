import { describe, expect, test } from 'vitest';
import { hostPlatform, ResolverLifecycle, TributaryError, type EnvironmentLock } from '../src/index.ts';

const lifecycle = () => new ResolverLifecycle({ kind: 'pypi', platforms: ['linux-64', 'osx-arm64'], defaultSources: ['/wheels'] });
const lockOf = (platform: string): EnvironmentLock => ({ kind: 'pypi', platform, sources: [], packages: [] });
const done = async (): Promise<EnvironmentLock> => lockOf('linux-64');

async function failure(p: Promise<unknown>): Promise<TributaryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!TributaryError.is(e)) throw new Error(`expected a TributaryError, got ${String(e)}`);
  return e;
}

describe('ResolverLifecycle: what every resolver refuses before its tool runs', () => {
  test("the spec's sources win over the default; no sources → the default", async () => {
    const seen: string[][] = [];
    const l = lifecycle();
    await l.lock({ kind: 'pypi', packages: {} }, { platform: 'linux-64' }, async (_s, sources) => (seen.push(sources), lockOf('linux-64')));
    await l.lock(
      { kind: 'pypi', packages: {}, sources: ['https://pypi.example/simple'] },
      { platform: 'linux-64' },
      async (_s, sources) => {
        seen.push(sources);
        return lockOf('linux-64');
      },
    );
    expect(seen).toEqual([['/wheels'], ['https://pypi.example/simple']]);
  });

  test('another kind, an unknown platform, a lock for another machine: CONFIG, and the work never runs', async () => {
    const l = lifecycle();
    let ran = 0;
    const work = async () => (ran++, lockOf('linux-64'));
    expect((await failure(l.lock({ kind: 'npm', packages: {} }, { platform: 'linux-64' }, work))).message).toBe(
      'The pypi resolver cannot lock a npm environment',
    );
    expect((await failure(l.lock({ kind: 'pypi', packages: {} }, { platform: 'beos-68k' }, work))).message).toMatch(
      /Unknown platform beos-68k: use one of linux-64, osx-arm64/,
    );
    const other = hostPlatform() === 'linux-64' ? 'osx-arm64' : 'linux-64';
    const e = await failure(l.materialize(lockOf(other), {}, async () => (ran++, { env: {}, path: [] })));
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain(`this machine is ${hostPlatform()}`);
    expect(ran).toBe(0);
  });

  test.each([
    ['https://alice:s3cret@pypi.example/simple', 's3cret'],
    ['https://ghp_t0ken@pypi.example/simple', 'ghp_t0ken'],
    ['https://pypi.example/simple?token=s3cret', 's3cret'],
    ['https://conda.anaconda.org/t/s3cret-tok/my-channel', 's3cret-tok'],
  ])('a source with credentials (%s) is refused, and the message does not repeat them', async (source, secret) => {
    const e = await failure(lifecycle().lock({ kind: 'pypi', packages: {}, sources: [source] }, { platform: 'linux-64' }, done));
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain('carries credentials');
    expect(e.message).not.toContain(secret);
    expect(JSON.stringify(e.context)).not.toContain(secret);
  });

  test('close: running work ends as CLOSED, later calls are refused with CLOSED; an aborted caller gets ABORTED', async () => {
    const l = lifecycle();
    const running = l.run(
      undefined,
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('killed')))),
    );
    l.close();
    expect((await failure(running)).code).toBe('CLOSED');
    expect((await failure(l.lock({ kind: 'pypi', packages: {} }, { platform: 'linux-64' }, done))).code).toBe('CLOSED');
    const aborted = new AbortController();
    aborted.abort();
    expect((await failure(lifecycle().run(aborted.signal, done))).code).toBe('ABORTED');
  });
});
