import fc from 'fast-check';
import { describe, test } from 'vitest';
import type { EnvironmentResolver, EnvironmentSpec } from '@tributary/core';
import { checkProperty, propertyParams, rejectsWith, type PropertySettings } from '../common.ts';
import { MemoryEnvironmentResolver } from '../reference/memory-environment-resolver.ts';

/** @public */
export interface EnvironmentConformanceOptions {
  name?: string;
  factory: () => EnvironmentResolver | Promise<EnvironmentResolver>;
  cleanup?: (resolver: EnvironmentResolver) => void | Promise<void>;
  /** Specs the resolver can really build (they must differ from each other). */
  specs: [EnvironmentSpec, EnvironmentSpec, ...EnvironmentSpec[]];
  /** Arbitrary specs for the identity property (default: built from `specs`' kind with random packages). Omit for resolvers that cannot identify arbitrary specs. */
  arbitrarySpec?: fc.Arbitrary<EnvironmentSpec>;
  properties?: PropertySettings;
}

function reorder(spec: EnvironmentSpec): EnvironmentSpec {
  const packages = Object.fromEntries(Object.entries(spec.packages).reverse());
  return spec.runtime === undefined ? { packages, kind: spec.kind } : { runtime: spec.runtime, packages, kind: spec.kind };
}

/**
 * The EnvironmentResolver conformance suite.
 * @public
 */
export function environmentResolverConformance(options: EnvironmentConformanceOptions): void {
  const suite = `EnvironmentResolver conformance${options.name ? `: ${options.name}` : ''}`;
  const props = propertyParams(options.properties, 100);

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
    test('the same spec gets the same id, whatever its key order', ({ expect }) =>
      withResolver(async (r) => {
        for (const spec of options.specs) {
          expect(r.identify(spec)).toBe(r.identify(structuredClone(spec)));
          expect(r.identify(spec)).toBe(r.identify(reorder(spec)));
        }
      }));

    test('different specs get different ids', ({ expect }) =>
      withResolver(async (r) => {
        const ids = options.specs.map((s) => r.identify(s));
        expect(new Set(ids).size).toBe(ids.length);
      }));

    test('resolve is idempotent and agrees with identify', ({ expect }) =>
      withResolver(async (r) => {
        const spec = options.specs[0];
        const a = await r.resolve(spec);
        const b = await r.resolve(reorder(spec));
        expect(a.id).toBe(r.identify(spec));
        expect(b).toEqual(a);
      }));

    test('after close, resolve rejects with CLOSED', () =>
      withResolver(async (r) => {
        await r.close();
        await rejectsWith(r.resolve(options.specs[0]), 'CLOSED');
      }));

    test(`model-based: random resolve sequences agree with the reference resolver (${props.numRuns} runs, seed ${props.seed})`, async () => {
      const reference = new MemoryEnvironmentResolver();
      const specArb = fc.constantFrom(
        ...options.specs.map((s, i) => [i, s] as const),
        ...options.specs.map((s, i) => [i, reorder(s)] as const),
      );
      await checkProperty(
        fc.asyncProperty(fc.array(specArb, { minLength: 1, maxLength: 8 }), async (seq) => {
          const r = await options.factory();
          try {
            const ids: Array<[number, string, string]> = [];
            for (const [i, spec] of seq) ids.push([i, (await r.resolve(spec)).id, (await reference.resolve(spec)).id]);
            // ids are equal for the resolver exactly when they are for the reference (and the specs are the same)
            for (const [i, a, ra] of ids)
              for (const [j, b, rb] of ids)
                if ((a === b) !== (ra === rb) || (a === b) !== (i === j))
                  throw new Error(`specs #${i} and #${j}: ids ${a}/${b}, reference ${ra}/${rb}`);
          } finally {
            await r.close().catch(() => undefined);
            await options.cleanup?.(r);
          }
        }),
        { ...props, numRuns: Math.min(props.numRuns, 20) },
      );
    });

    test(`property: ids are equal exactly when specs are equal (${props.numRuns} runs, seed ${props.seed})`, () =>
      withResolver(async (r) => {
        const kind = options.specs[0].kind;
        const spec =
          options.arbitrarySpec ??
          fc.record({
            kind: fc.constant(kind),
            packages: fc.dictionary(
              fc.constantFrom('left-pad', 'lodash', 'numpy', 'torch', 'zod'),
              fc.constantFrom('1.0.0', '2.1.3', '^3'),
            ),
          });
        const canon = (s: EnvironmentSpec) => JSON.stringify([s.kind, s.runtime ?? null, Object.entries(s.packages).sort()]);
        await checkProperty(
          fc.property(spec, spec, (a, b) => {
            if ((r.identify(a) === r.identify(b)) !== (canon(a) === canon(b)))
              throw new Error(`ids of ${canon(a)} and ${canon(b)} disagree with spec equality`);
          }),
          props,
        );
      }));
  });
}
