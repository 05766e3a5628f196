import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { InstanceRotation } from '../src/instance-rotation.ts';

describe('InstanceRotation: which service instance a call tries', () => {
  test('calls take the instances in turn; a call retries on the next instance and backs off only after trying all', () => {
    const r = new InstanceRotation(3);
    expect([r.first(), r.first(), r.first(), r.first()]).toEqual([0, 1, 2, 0]);
    expect([0, 1, 2, 3, 4].map((i) => r.at(2, i))).toEqual([2, 0, 1, 2, 0]);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => r.backsOff(i))).toEqual([false, false, false, true, false, false, true]);
    const one = new InstanceRotation(1);
    expect([0, 1, 2].map((i) => one.backsOff(i))).toEqual([false, true, true]);
  });

  test('an instance that failed gets no first tries while it cools down; it is back after a success', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.nat(), fc.integer({ min: 1, max: 40 }), (size, downSeed, calls) => {
        const r = new InstanceRotation(size);
        const down = downSeed % size;
        r.failed(down);
        for (let c = 0; c < calls; c++) expect(r.first()).not.toBe(down);
        r.succeeded(down);
        const firsts = Array.from({ length: size }, () => r.first());
        expect(new Set(firsts).size).toBe(size);
      }),
    );
  });

  test('when every instance is cooling down, calls still go to them in turn', () => {
    const r = new InstanceRotation(3);
    for (const i of [0, 1, 2]) r.failed(i);
    expect(new Set([r.first(), r.first(), r.first()])).toEqual(new Set([0, 1, 2]));
  });
});
