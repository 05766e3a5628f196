import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeValue, describeKind, encodeArrayItems, encodeValue, MAX_NESTING } from '../src/artifacts/serializer.ts';
import { sha256, TributaryError } from '../src/index.ts';

const site = { step: 'train', artifact: 'model' };
const params = { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 200) };

const roundTrip = (v: unknown) => {
  const e = encodeValue(v, site);
  return decodeValue(e.bytes, e.encoding, e.type);
};

function nest(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('issue 9 item 4: values round-trip exactly', () => {
  test('issue 9 item 4: -0 comes back as -0, at top level and nested', () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    const back = roundTrip({ a: [-0, 0, 1.5], m: new Map([['z', -0]]) }) as { a: number[]; m: Map<string, number> };
    expect(Object.is(back.a[0], -0)).toBe(true);
    expect(Object.is(back.a[1], 0)).toBe(true);
    expect(Object.is(back.m.get('z'), -0)).toBe(true);
    // written as a standard msgpack float64, not as an extension
    expect([...encodeValue(-0, site).bytes]).toEqual([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    expect(sha256(encodeValue(-0, site).bytes)).not.toBe(sha256(encodeValue(0, site).bytes));
  });

  test('issue 9 item 4: an own "__proto__" key comes back as an own key, and no prototype is touched', () => {
    const v = JSON.parse('{"a":1,"__proto__":{"polluted":true},"nested":{"__proto__":[1,2]},"__proto_":"kept"}') as Record<string, unknown>;
    const back = roundTrip(v) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['a', '__proto__', 'nested', '__proto_']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect((back as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    const nested = back.nested as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(nested, '__proto__')?.value).toEqual([1, 2]);
    expect(Array.isArray(nested)).toBe(false);
    expect(back.__proto_).toBe('kept');
    expect(JSON.stringify(back)).toBe(JSON.stringify(v));
  });

  test('issue 9 item 4: the rewriting path keeps determinism and the array-items slicing', () => {
    const items = [-0, JSON.parse('{"__proto__":1}'), { x: -0 }, 'plain', new Map([[1, -0]])];
    const enc = encodeArrayItems(items, site);
    expect(Buffer.from(enc.bytes).equals(Buffer.from(encodeValue(items, site).bytes))).toBe(true);
    expect(sha256(encodeValue(structuredClone(items), site).bytes)).toBe(sha256(enc.bytes));
    items.forEach((item, i) => {
      const back = decodeValue(enc.bytes.subarray(enc.offsets[i], enc.offsets[i]! + enc.lengths[i]!), 'msgpack', 'item');
      expect(back).toEqual(item);
    });
    // The value encoded is never modified by the rewriting copy.
    expect(Object.is(items[0], -0)).toBe(true);
    expect(Object.getPrototypeOf(items[4])).toBe(Map.prototype);
  });

  test('issue 9 item 4: property: values with -0 and "__proto__" keys round-trip exactly and deterministically', () => {
    const key = fc.oneof(fc.constant('__proto__'), fc.constant('__proto_'), fc.string({ maxLength: 4 }));
    const leaf = fc.oneof(fc.constant(-0), fc.constant(0), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null));
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('v'), { maxLength: 4 }),
        fc.array(fc.tuple(key, tie('v')), { maxLength: 4 }).map((entries) => {
          const o: Record<string, unknown> = {};
          for (const [k, x] of entries) Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
          return o;
        }),
        fc.array(fc.tuple(fc.string({ maxLength: 3 }), tie('v')), { maxLength: 3 }).map((e) => new Map(e)),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const a = encodeValue(v, site);
        expect(sha256(encodeValue(v, site).bytes)).toBe(sha256(a.bytes));
        const back = decodeValue(a.bytes, a.encoding, a.type);
        expect(back).toStrictEqual(v);
        // decoded again, the value encodes to the same address (how unchanged loaded artifacts are recognised)
        expect(sha256(encodeValue(back, site).bytes)).toBe(sha256(a.bytes));
      }),
      params,
    );
  });
});

describe('issue 9 item 13: frozen and sealed values store fine', () => {
  test('issue 9 item 13: a frozen Map, a sealed Map and frozen objects round-trip', () => {
    const frozen = Object.freeze(
      new Map<unknown, unknown>([
        ['a', 1],
        ['b', { c: [2] }],
      ]),
    );
    const sealed = Object.seal(new Map([[1, 'x']]));
    const fixed = Object.preventExtensions(new Map([[2, 'y']]));
    const v = Object.freeze({ frozen, sealed, fixed, arr: Object.freeze([1, Object.freeze({ d: 3 })]), set: Object.freeze(new Set([1])) });
    const back = roundTrip(v);
    expect(back).toEqual({
      frozen: new Map(frozen),
      sealed: new Map(sealed),
      fixed: new Map(fixed),
      arr: [1, { d: 3 }],
      set: new Set([1]),
    });
    expect(roundTrip(frozen)).toEqual(new Map(frozen));
    expect(Object.isFrozen(frozen)).toBe(true);
    // same bytes as the same Map unfrozen: content addressing does not see the freeze
    expect(sha256(encodeValue(frozen, site).bytes)).toBe(sha256(encodeValue(new Map(frozen), site).bytes));
  });
});

describe('issue 9 item 21: deep values and readable kinds', () => {
  test('issue 9 item 21: a 100,000-deep value fails with SERIALIZATION naming the artifact, step and the nesting', () => {
    for (const wrap of [(x: unknown) => ({ a: x }), (x: unknown) => [x], (x: unknown) => new Map([['k', x]])]) {
      const err = thrown(() => encodeValue(nest(100_000, wrap), site));
      expect(TributaryError.is(err, 'SERIALIZATION')).toBe(true);
      expect((err as Error).message).toMatch(
        /^Artifact 'model' of step train cannot be stored: it is nested too deeply \(more than 1000 levels/,
      );
      expect((err as TributaryError).context).toMatchObject({ step: 'train', artifact: 'model' });
      expect((err as Error).message.length).toBeLessThan(600);
    }
    const items = thrown(() => encodeArrayItems([1, nest(100_000, (x) => [x])], site));
    expect(TributaryError.is(items, 'SERIALIZATION')).toBe(true);
  });

  test('issue 9 item 21: values nested up to the limit store, one level more is refused (Maps count 3, Sets 2)', () => {
    const cases: Array<[number, (x: unknown) => unknown]> = [
      [MAX_NESTING, (x) => ({ a: x })],
      [MAX_NESTING, (x) => [x]],
      [Math.floor(MAX_NESTING / 3), (x) => new Map([['k', x]])],
      [Math.floor(MAX_NESTING / 2), (x) => new Set([x])],
    ];
    for (const [limit, wrap] of cases) {
      expect(roundTrip(nest(limit, wrap))).toEqual(nest(limit, wrap));
      const over = thrown(() => encodeValue(nest(limit + 1, wrap), site));
      expect(TributaryError.is(over, 'SERIALIZATION')).toBe(true);
      expect((over as Error).message).toMatch(
        /nested too deeply \(more than 1000 levels of objects and arrays; a Map counts as 3 levels, a Set as 2\)/,
      );
    }
  });

  test('issue 9 item 21: generators, iterators and anonymous classes are described readably', () => {
    function* gen() {
      yield 1;
    }
    const Anon = (() => class {})();
    expect(describeKind(gen())).toBe('a generator object');
    expect(describeKind([1].values())).toBe('an iterator (Array Iterator)');
    expect(describeKind(new Anon())).toBe('an instance of an anonymous class');
    expect(describeKind(new (class Model {})())).toBe('an instance of class Model');
    expect(describeKind('s')).toBe('a string');
    expect(() => encodeValue({ g: gen() }, site)).toThrow('cannot be stored: a generator object at model.g. Store its items instead');
    expect(() => encodeValue([new Anon()], site)).toThrow('an instance of an anonymous class at model[0].');
  });
});
