import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeValue, encodeArrayItems, encodeValue } from '../src/artifacts/serializer.ts';
import { sha256 } from '../src/index.ts';

const site = { step: 'train', artifact: 'model' };

describe('serializer', () => {
  test('structured values round-trip with their types', () => {
    const v = {
      m: new Map<unknown, unknown>([
        [1, 'a'],
        ['k', { z: new Map([[2n, 3]]) }],
      ]),
      s: new Set([1, 2]),
      d: new Date(5),
      b: 12345678901234567890123n,
      f: new Float64Array([1.5, 2]),
      buf: Buffer.from('hi'),
      o: { x: undefined, nul: null },
      a: [1, 'two', [3]],
      r: /x+/gi,
    };
    const e = encodeValue(v, site);
    expect(e).toMatchObject({ encoding: 'msgpack', type: 'object' });
    expect(decodeValue(e.bytes, e.encoding, e.type)).toEqual(v);
  });

  test('top-level binary values are stored raw, as a view of the same memory', () => {
    const f = new Float64Array([1, 2, 3]);
    const e = encodeValue(f, site);
    expect(e).toMatchObject({ encoding: 'raw', type: 'Float64Array' });
    expect(e.bytes.buffer).toBe(f.buffer);
    expect(decodeValue(e.bytes, e.encoding, e.type)).toEqual(f);
    const buf = Buffer.from('bytes');
    expect(Buffer.isBuffer(decodeValue(encodeValue(buf, site).bytes, 'raw', 'Buffer'))).toBe(true);
  });

  test('array items are slices of the array encoding', () => {
    const items = [1, { a: new Map([[1, 2]]) }, 'x', ...Array.from({ length: 20 }, (_, i) => i)];
    const enc = encodeArrayItems(items, site);
    expect(Buffer.from(enc.bytes).equals(Buffer.from(encodeValue(items, site).bytes))).toBe(true);
    items.forEach((item, i) => {
      expect(decodeValue(enc.bytes.subarray(enc.offsets[i], enc.offsets[i]! + enc.lengths[i]!), 'msgpack', 'item')).toEqual(item);
    });
  });

  test('unserializable values fail naming step, artifact and path', () => {
    class Model {}
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(() => encodeValue({ layers: [1, { fn: () => 1 }] }, site)).toThrow(
      "Artifact 'model' of step train cannot be stored: a function (fn) at model.layers[1].fn.",
    );
    expect(() => encodeValue({ m: new Model() }, site)).toThrow('an instance of class Model at model.m.');
    expect(() => encodeValue(cyc, site)).toThrow('a circular reference at model.self.');
    expect(() => encodeValue(new Map([['k', Symbol('s')]]), site)).toThrow('a symbol at model.get("k").');
    expect(() => encodeValue({ p: Promise.resolve(1) }, site)).toThrow('a Promise at model.p. Await it');
  });

  // Content addressing relies on one value always encoding to the same bytes.
  test('property: encoding is deterministic and round-trips arbitrary JSON-like values', () => {
    const value = fc.oneof(fc.jsonValue(), fc.array(fc.bigInt()), fc.dictionary(fc.string(), fc.date({ noInvalidDate: true })));
    fc.assert(
      fc.property(value, (v) => {
        const a = encodeValue(v, site);
        const b = encodeValue(structuredClone(v), site);
        expect(sha256(a.bytes)).toBe(sha256(b.bytes));
        expect(decodeValue(a.bytes, a.encoding, a.type)).toEqual(v);
      }),
      { seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 200) },
    );
  });
});
