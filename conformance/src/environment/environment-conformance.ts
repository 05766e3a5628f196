import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { environmentId, hostPlatform, type EnvironmentResolver, type EnvironmentSpec } from '@tributary/core';
import { checkProperty, propertyParams, rejectsWith, type PropertySettings } from '../common.ts';

/** @public */
export interface EnvironmentConformanceOptions {
  name?: string;
  factory: () => EnvironmentResolver | Promise<EnvironmentResolver>;
  cleanup?: (resolver: EnvironmentResolver) => void | Promise<void>;
  /** Specs the resolver can really lock and build; they must lock to different environments. */
  specs: [EnvironmentSpec, EnvironmentSpec, ...EnvironmentSpec[]];
  /** A spec no source can satisfy (a missing package or version); its lock must fail with `CONFIG`. */
  unsatisfiable: EnvironmentSpec;
  /** Checks that a materialized environment works, e.g. runs its interpreter (default: nothing). */
  verify?: (spec: EnvironmentSpec, dir: string, activation: { env: Record<string, string>; path: string[] }) => void | Promise<void>;
  properties?: PropertySettings;
}

function reorder(spec: EnvironmentSpec): EnvironmentSpec {
  const packages = Object.fromEntries(Object.entries(spec.packages).reverse());
  return { ...structuredClone(spec), packages };
}

/**
 * The EnvironmentResolver conformance suite: locks are deterministic and exact, environment ids
 * (the core's hash of the lock) are equal exactly when the locks are, unsatisfiable specs fail
 * before anything is built, and materialized environments verify.
 * @public
 */
export function environmentResolverConformance(options: EnvironmentConformanceOptions): void {
  const suite = `EnvironmentResolver conformance${options.name ? `: ${options.name}` : ''}`;
  const props = propertyParams(options.properties, 10);
  const platform = hostPlatform();

  async function withResolver(fn: (r: EnvironmentResolver) => Promise<void>): Promise<void> {
    const r = await options.factory();
    try {
      await fn(r);
    } finally {
      await r.close().catch(() => undefined);
      await options.cleanup?.(r);
    }
  }

  describe(suite, () => {
    test('the same spec locks the same way, whatever its key order; the lock is exact and sorted', ({ expect }) =>
      withResolver(async (r) => {
        for (const spec of options.specs) {
          const a = await r.lock(spec, { platform });
          const b = await r.lock(reorder(spec), { platform });
          expect(b).toEqual(a);
          expect(environmentId(b)).toBe(environmentId(a));
          expect(a).toMatchObject({ kind: spec.kind, platform });
          const names = a.packages.map((p) => p.name);
          expect(names).toEqual([...names].sort());
          for (const p of a.packages) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
        }
      }));

    test('different specs lock to different environments', ({ expect }) =>
      withResolver(async (r) => {
        const ids = await Promise.all(options.specs.map(async (s) => environmentId(await r.lock(s, { platform }))));
        expect(new Set(ids).size).toBe(ids.length);
      }));

    test('an unsatisfiable spec fails to lock with CONFIG', () =>
      withResolver(async (r) => {
        await rejectsWith(r.lock(options.unsatisfiable, { platform }), 'CONFIG');
      }));

    test('a lock materializes into its folder, and verifies', () =>
      withResolver(async (r) => {
        const spec = options.specs[0];
        const lock = await r.lock(spec, { platform });
        const dir = mkdtempSync(join(tmpdir(), 'tributary-env-conf-'));
        try {
          const activation = await r.materialize(lock, { dir });
          if (typeof activation !== 'object' || !Array.isArray(activation.path) || typeof activation.env !== 'object')
            throw new Error(`materialize returned ${JSON.stringify(activation)}, not { env, path }`);
          await options.verify?.(spec, dir, activation);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }));

    test('after close, lock and materialize reject with CLOSED', () =>
      withResolver(async (r) => {
        const lock = await r.lock(options.specs[0], { platform });
        await r.close();
        await rejectsWith(r.lock(options.specs[0], { platform }), 'CLOSED');
        await rejectsWith(r.materialize(lock, { dir: tmpdir() }), 'CLOSED');
      }));

    test(`property: environment ids are equal exactly when the specs are (${props.numRuns} runs, seed ${props.seed})`, () =>
      withResolver(async (r) => {
        const pick = fc.constantFrom(...options.specs.map((s, i) => [i, s] as const));
        const locked = new Map<number, string>();
        for (const [i, s] of options.specs.entries()) locked.set(i, environmentId(await r.lock(s, { platform })));
        await checkProperty(
          fc.asyncProperty(pick, pick, fc.boolean(), async ([i, a], [j, b], shuffle) => {
            const idA = environmentId(await r.lock(shuffle ? reorder(a) : a, { platform }));
            const idB = environmentId(await r.lock(b, { platform }));
            if ((idA === idB) !== (i === j) || idA !== locked.get(i)) throw new Error(`specs #${i} and #${j}: ids ${idA} and ${idB}`);
          }),
          props,
        );
      }));
  });
}
