import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  buildGraph,
  FlowSpec,
  pypi,
  REMOTE_PLATFORM,
  step,
  TributaryError,
  type EnvironmentLock,
  type EnvironmentResolver,
} from '../src/index.ts';
import { prepareEnvironments, taskEnvironment } from '../src/environments/prepare-environments.ts';

const base = mkdtempSync(join(tmpdir(), 'tributary-prepare-env-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

class MixedFlow extends FlowSpec {
  @pypi({ packages: { a: '1' } }) @step start() {
    this.next(this.remote);
  }
  @pypi({ packages: { a: '1' } }) @step remote() {
    this.next(this.end);
  }
  @step end() {}
}

function recordingResolver(locator: boolean): EnvironmentResolver & { asked: string[]; built: string[] } {
  const asked: string[] = [];
  const built: string[] = [];
  return {
    name: 'recording',
    capabilities: { kinds: ['pypi'] },
    ...(locator ? { locator: { module: 'file:///nowhere.js', factory: 'createRecording', options: {} } } : {}),
    asked,
    built,
    async lock(spec, { platform }): Promise<EnvironmentLock> {
      asked.push(platform);
      const packages = Object.entries(spec.packages).map(([name, version]) => ({
        name,
        version,
        url: `memory://${platform}/${name}`,
        sha256: createHash('sha256').update(`${platform}${name}${version}`).digest('hex'),
      }));
      return { kind: 'pypi', platform, sources: [], packages };
    },
    async materialize(lock) {
      built.push(lock.platform);
      return { env: {}, path: [] };
    },
    async close() {},
  };
}

class TwoSpecs extends FlowSpec {
  @pypi({ packages: { a: '1' } }) @step start() {
    this.next(this.later);
  }
  @pypi({ packages: { missing: '0' } }) @step later() {
    this.next(this.end);
  }
  @step end() {}
}

describe('prepareEnvironments: local and remote steps', () => {
  test("every spec is locked before any is built: a bad package in a later step fails before the first step's build", async () => {
    const resolver = recordingResolver(true);
    const lock = resolver.lock.bind(resolver);
    resolver.lock = async (spec, o) => {
      if (spec.packages.missing) throw new TributaryError('CONFIG', 'No matching distribution found for missing==0');
      return lock(spec, o);
    };
    const error = await prepareEnvironments(buildGraph(TwoSpecs), {
      resolverFor: async () => resolver,
      cacheRoot: join(base, 'two'),
      storeLock: async () => 'x',
      remoteSteps: new Set(),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('@pypi of step later: No matching distribution found for missing==0');
    expect(resolver.built).toEqual([]);
  });

  test('on a laptop, a remote step locks for linux-64 and is not built here; the local step with the same spec gets its own lock and build', async () => {
    const resolver = recordingResolver(true);
    const stored: string[] = [];
    const prepared = await prepareEnvironments(buildGraph(MixedFlow), {
      resolverFor: async () => resolver,
      cacheRoot: join(base, 'laptop'),
      storeLock: async (bytes) => {
        const sha = createHash('sha256').update(bytes).digest('hex');
        stored.push(sha);
        return sha;
      },
      remoteSteps: new Set(['remote']),
      hostPlatform: 'osx-arm64',
    });
    expect(resolver.asked.sort()).toEqual([REMOTE_PLATFORM, 'osx-arm64'].sort());
    expect(resolver.built).toEqual(['osx-arm64']);
    expect(prepared.start!.lock.platform).toBe('osx-arm64');
    expect(prepared.remote!.lock.platform).toBe(REMOTE_PLATFORM);
    expect(prepared.remote!.id).not.toBe(prepared.start!.id);
    // The remote task carries what its container needs to build the environment, and no activation.
    expect(taskEnvironment(prepared.remote!)).toEqual({
      id: prepared.remote!.id,
      env: {},
      path: [],
      materialize: { lockSha: prepared.remote!.lockSha, resolver: resolver.locator },
    });
    expect(taskEnvironment(prepared.start!).materialize).toBeUndefined();
    expect(stored).toContain(prepared.remote!.lockSha);
    expect(readdirSync(join(base, 'laptop')).filter((f) => /^[0-9a-f]{32}$/.test(f))).toEqual([prepared.start!.id]);
  });

  test('a remote step whose resolver has no locator is refused before anything is built, naming the step', async () => {
    const resolver = recordingResolver(false);
    const error = await prepareEnvironments(buildGraph(MixedFlow), {
      resolverFor: async () => resolver,
      cacheRoot: join(base, 'no-locator'),
      storeLock: async () => 'x',
      remoteSteps: new Set(['remote']),
    }).catch((e: unknown) => e);
    expect(TributaryError.is(error) && error.code).toBe('CONFIG');
    expect(resolver.asked).toEqual([]);
    expect(resolver.built).toEqual([]);
    expect((error as Error).message).toMatch(/@pypi of step remote: runs on remote compute, and the recording resolver has no locator/);
  });
  test("a spec keeps its lock across runs, until the resolver's own configuration (its default sources) changes", async () => {
    const run = (resolver: EnvironmentResolver) =>
      prepareEnvironments(buildGraph(MixedFlow), {
        resolverFor: async () => resolver,
        cacheRoot: join(base, 'lock-cache'),
        storeLock: async () => 'x',
        remoteSteps: new Set(),
      });
    const first = recordingResolver(true);
    await run(first);
    expect(first.asked).toHaveLength(1);
    const again = recordingResolver(true);
    await run(again);
    expect(again.asked).toEqual([]);
    const otherSources = Object.assign(recordingResolver(true), {
      locator: { module: 'file:///nowhere.js', factory: 'createRecording', options: { sources: ['https://mirror.example/simple'] } },
    });
    await run(otherSources);
    expect(otherSources.asked).toHaveLength(1);
  });
});
