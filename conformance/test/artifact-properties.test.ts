import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ArtifactStore, sha256, TributaryError, type ArtifactRef } from '@tributary/core';
import { MemoryDatastore } from '../src/index.ts';

const params = { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 100) };

// Structured values of every kind an artifact may hold, nested.
const leaf = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  fc.float64Array({ maxLength: 8, noDefaultInfinity: true }),
  fc.int32Array({ maxLength: 8 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.constant(-0), // issue 9 item 4: must come back as -0, not 0
);
// An object built with defineProperty, so a "__proto__" key is an own key (as JSON.parse makes it).
const ownKeys = (entries: Array<[string, unknown]>) => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
};
const structured = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }).map((e) => new Set(e)),
    // issue 9 items 4 and 13: own "__proto__" keys, frozen objects and frozen Maps
    fc.array(fc.tuple(fc.oneof(fc.constant('__proto__'), fc.string({ maxLength: 6 })), tie('value')), { maxLength: 3 }).map(ownKeys),
    fc.array(fc.tuple(fc.string({ maxLength: 6 }), tie('value')), { maxLength: 3 }).map((e) => Object.freeze(Object.fromEntries(e))),
    fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 3 }).map((e) => Object.freeze(new Map(e))),
  ),
})).value;

function blobKeys(ds: MemoryDatastore): Promise<string[]> {
  return ds.list('F/data/').then((p) => p.keys);
}

describe('content addressing properties', () => {
  test('save → load round-trips arbitrary structured values', async () => {
    await fc.assert(
      fc.asyncProperty(structured, async (value) => {
        const store = new ArtifactStore(new MemoryDatastore(), 'F');
        const ref = await store.save('v', value);
        expect(await store.load(ref)).toEqual(value);
      }),
      params,
    );
  });

  // Re-saving a loaded value must give the same address: that is how an untouched loaded
  // artifact is recognised as unchanged at the end of a step.
  test('the address is the SHA-256 of the stored bytes; a value saved again (as loaded) is stored once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(structured, { minLength: 1, maxLength: 6 }), async (values) => {
        const ds = new MemoryDatastore();
        const store = new ArtifactStore(ds, 'F');
        const refs: ArtifactRef[] = [];
        for (const v of values) refs.push(await store.save('v', v));
        for (const r of [...refs]) refs.push(await store.save('v', await store.load(r)));
        for (const ref of refs) expect(sha256(await ds.get(store.blobKey(ref.sha)))).toBe(ref.sha);
        // a second save of an equal value gets the same address and adds no blob
        refs.slice(values.length).forEach((r, i) => expect(r.sha).toBe(refs[i]!.sha));
        expect((await blobKeys(ds)).length).toBe(new Set(refs.map((r) => r.sha)).size);
      }),
      params,
    );
  });

  test('any change to a stored blob is detected on read', async () => {
    await fc.assert(
      fc.asyncProperty(structured, fc.nat(), fc.integer({ min: 1, max: 255 }), async (value, at, flip) => {
        const ds = new MemoryDatastore();
        const store = new ArtifactStore(ds, 'F');
        const ref = await store.save('v', value);
        const key = store.blobKey(ref.sha);
        const bytes = Buffer.from(await ds.get(key));
        fc.pre(bytes.length > 0);
        const i = at % bytes.length;
        bytes[i] = bytes[i]! ^ flip;
        await ds.put(key, bytes);
        const err = await store.load(ref).catch((e: unknown) => e);
        expect(TributaryError.is(err, 'INTEGRITY')).toBe(true);
        expect(() => store.loadSync(ref)).toThrow(/corrupt/);
      }),
      params,
    );
  });

  test('a foreach item read by range equals the item, and a corrupted item is detected', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(structured, { minLength: 1, maxLength: 8 }), async (items) => {
        const ds = new MemoryDatastore();
        const store = new ArtifactStore(ds, 'F');
        const saved = await store.saveArrayWithItems('items', items);
        expect(await store.load(saved.ref)).toEqual(items);
        for (let i = 0; i < items.length; i++) {
          expect(await store.loadItem(saved.items[i]!)).toEqual(items[i]);
          expect(store.loadItemSync(saved.items[i]!)).toEqual(items[i]);
        }
        const bad = { ...saved.items[0]!, sha: '0'.repeat(64) };
        await expect(store.loadItem(bad)).rejects.toThrow(/corrupt/);
      }),
      params,
    );
  });
});
