/**
 * How the front end cuts a connected group into parts (split.ts): runs of
 * the group's nodes in plan order, as even as can be; as many as `spread`
 * asks, or as `maxNodesPerWorker` needs; never more than the group has
 * nodes; and a group of one node is never split. With the registry's slot
 * counts, each part fits the worker it is sized for; the pipes a part's
 * task carries cross to other parts exactly where the group was cut.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipePlan } from '../jobs/executor.js';
import { partPipes, partsOf, planParts } from './split.js';

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

describe('planParts with the live workers\' slot counts', () => {
  it('sizes the parts to the largest workers\' slots: the fewest parts, as even as those slots allow', () => {
    /* 10 nodes past maxNodesPerWorker 8: today 2 parts of 5; with workers of 8 and 2 slots, 8 + 2 */
    expect(planParts([...Array(10).keys()], { maxNodesPerWorker: 8 }, [2, 8])).toEqual({ parts: [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]], workers: [1, 0] });
    expect(planParts([...Array(6).keys()], { spread: 2 }, [1, 5, 5])).toEqual({ parts: [[0, 1, 2], [3, 4, 5]], workers: [1, 2] });
    /* three parts asked of two workers, or too few slots at once: as today */
    expect(planParts([0, 1, 2], { spread: 3 }, [1, 1])).toEqual({ parts: [[0], [1], [2]] });
    expect(planParts([0, 1, 2, 3, 4], { maxNodesPerWorker: 2 }, [1, 1])).toEqual({ parts: [[0, 1], [2, 3], [4]] });
    /* a group one worker runs is not split, whatever the slots */
    expect(planParts([0, 1, 2], {}, [1, 1, 1])).toEqual({ parts: [[0, 1, 2]] });
  });

  const pipesOf = (n: number) =>
    fc.array(
      fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 })).filter(([a, b]) => a !== b),
      { maxLength: 3 * n },
    );

  it('every node in exactly one part; no part exceeds its worker\'s slots; the pipes that cross parts are exactly the cut edges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 80 }).chain((n) => fc.tuple(fc.constant(n), pipesOf(n), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 6 }))),
        ([n, edges, slots, max, spread]) => {
          const members = Array.from({ length: n }, (_, i) => i + 100);
          const plan = planParts(members, { maxNodesPerWorker: max, spread }, slots);
          expect(plan.parts.flat()).toEqual(members);
          expect(plan.parts.every((p) => p.length >= 1)).toBe(true);
          const today = partsOf(members, { maxNodesPerWorker: max, spread });
          if (plan.workers === undefined) {
            expect(plan.parts).toEqual(today);
          } else {
            /* one part per worker, each within that worker's slots (and a pool's threads), at least as many parts as spread asks */
            expect(new Set(plan.workers).size).toBe(plan.parts.length);
            plan.parts.forEach((p, k) => expect(p.length).toBeLessThanOrEqual(Math.min(slots[plan.workers![k]!]!, max)));
            expect(plan.parts.length).toBeGreaterThanOrEqual(Math.min(spread, n));
            expect(plan.parts.length).toBeGreaterThan(1);
          }
          const name = (i: number): string => `n${i}`;
          const pipes: PipePlan[] = edges.map(([a, b], k) => ({ id: `p${k}`, from: name(members[a]!), to: name(members[b]!) }));
          const partOf = new Map(plan.parts.flatMap((p, k) => p.map((i) => [name(i), k] as const)));
          const cut = pipes.filter((p) => partOf.get(p.from) !== partOf.get(p.to)).map((p) => p.id);
          const views = plan.parts.map((p) => partPipes(pipes, new Set(p.map(name))));
          expect(views.flatMap((v) => v.outgoing.map((p) => p.id)).sort()).toEqual([...cut].sort());
          expect(views.flatMap((v) => v.incoming.map((p) => p.id)).sort()).toEqual([...cut].sort());
          /* every pipe is carried by the part(s) of its ends: once when inside one part, twice when cut */
          for (const pipe of pipes) expect(views.filter((v) => v.carried.includes(pipe)).length).toBe(cut.includes(pipe.id) ? 2 : 1);
        },
      ),
    );
  });
});
