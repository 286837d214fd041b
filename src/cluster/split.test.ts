/**
 * How the front end cuts a connected group into parts (split.ts): runs of
 * the group's nodes in plan order, as even as can be; as many as `spread`
 * asks, or as `maxNodesPerWorker` needs; never more than the group has
 * nodes; and a group of one node is never split.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partsOf } from './split.js';

describe('partsOf', () => {
  it('keeps a group whole unless told, and cuts runs in plan order', () => {
    expect(partsOf([0, 1, 2], {})).toEqual([[0, 1, 2]]);
    expect(partsOf([4, 7, 9], { spread: 2 })).toEqual([[4, 7], [9]]);
    expect(partsOf([0, 1, 2, 3, 4], { maxNodesPerWorker: 2 })).toEqual([[0, 1], [2, 3], [4]]);
    expect(partsOf([5], { spread: 3 })).toEqual([[5]]);
    expect(() => partsOf([0, 1], { spread: 0 })).toThrow(/spread must be a whole number/);
    expect(() => partsOf([0, 1], { maxNodesPerWorker: 1.5 })).toThrow(/maxNodesPerWorker must be a whole number/);
  });

  it('every node in exactly one part, in order; parts within one node of each other in size and within the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 8 }), (size, max, spread) => {
        const members = Array.from({ length: size }, (_, i) => i * 3);
        const parts = partsOf(members, { maxNodesPerWorker: max, spread });
        expect(parts.flat()).toEqual(members);
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
        expect(parts.length).toBe(size < 2 ? 1 : Math.min(size, Math.max(spread, Math.ceil(size / max))));
        if (parts.length === Math.ceil(size / max)) expect(Math.max(...sizes)).toBeLessThanOrEqual(max);
      }),
    );
  });
});
