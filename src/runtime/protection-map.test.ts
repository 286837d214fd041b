/**
 * ProtectionMap (protection-map.ts) against a page-by-page model: any
 * sequence of `set` calls leaves every 4 KiB page with the protection of
 * the last call that covered it, and the queries agree with the pages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Protection, SANDBOX_SIZE } from './engine.js';
import { ProtectionMap } from './protection-map.js';

const PAGE = 0x1000;
/* pages near the bottom and the top of the sandbox, where sessions keep theirs */
const LOW_PAGES = 64;
const pageAddress = fc.oneof(fc.integer({ min: 0, max: LOW_PAGES }), fc.integer({ min: SANDBOX_SIZE / PAGE - LOW_PAGES, max: SANDBOX_SIZE / PAGE }));
const protection = fc.constantFrom(Protection.None, Protection.Read, Protection.Read | Protection.Write, Protection.Read | Protection.Execute);
const setCall = fc.record({ a: pageAddress, b: pageAddress, protection });

/** The pages the model tracks: the low ones and the high ones. */
const TRACKED = [...Array.from({ length: LOW_PAGES }, (_, i) => i), ...Array.from({ length: LOW_PAGES }, (_, i) => SANDBOX_SIZE / PAGE - LOW_PAGES + i)];

describe('ProtectionMap', () => {
  it('agrees with a page-by-page model (property)', () => {
    fc.assert(
      fc.property(fc.array(setCall, { maxLength: 30 }), (calls) => {
        const map = new ProtectionMap();
        const model = new Map<number, Protection>();
        for (const { a, b, protection: p } of calls) {
          const [start, end] = a <= b ? [a, b] : [b, a];
          map.set(start * PAGE, end * PAGE, p);
          for (const page of TRACKED) if (page >= start && page < end) model.set(page, p);
        }
        const at = (page: number): Protection => model.get(page) ?? Protection.None;
        for (const page of TRACKED) expect(map.at(page * PAGE + 1)).toBe(at(page));
        /* the ranges are sorted, merged and cover exactly the pages that are not None */
        const ranges = map.ranges();
        for (let i = 1; i < ranges.length; i++) {
          const previous = ranges[i - 1]!;
          expect(ranges[i]!.address).toBeGreaterThanOrEqual(previous.address + previous.size);
          if (ranges[i]!.address === previous.address + previous.size) expect(ranges[i]!.protection).not.toBe(previous.protection);
        }
        for (const page of TRACKED) {
          const inside = ranges.find((r) => r.address <= page * PAGE && page * PAGE < r.address + r.size);
          expect(inside?.protection ?? Protection.None).toBe(at(page));
        }
        /* every and firstLacking on a run of tracked pages */
        for (const [first, last] of [[0, 10], [5, LOW_PAGES - 1]] as const) {
          const lacking = TRACKED.filter((page) => page >= first && page <= last).find((page) => (at(page) & Protection.Read) === 0);
          expect(map.firstLacking(first * PAGE, (last - first + 1) * PAGE, Protection.Read)).toBe(lacking === undefined ? -1 : lacking * PAGE);
          expect(map.every(first * PAGE, (last - first + 1) * PAGE, Protection.Read)).toBe(lacking === undefined);
        }
      }),
    );
  });

  it('spans merge neighbouring ranges that share a bit', () => {
    const map = new ProtectionMap();
    map.set(0x10000, 0x20000, Protection.Read | Protection.Execute);
    map.set(0x20000, 0x30000, Protection.Read);
    map.set(0x40000, 0x50000, Protection.Read | Protection.Write);
    expect(map.spans(Protection.Read)).toEqual([
      { start: 0x10000, end: 0x30000 },
      { start: 0x40000, end: 0x50000 },
    ]);
    expect(map.spans(Protection.Write)).toEqual([{ start: 0x40000, end: 0x50000 }]);
  });

  it('refuses ranges outside the sandbox in every, and accepts an empty one', () => {
    const map = new ProtectionMap();
    map.set(0, SANDBOX_SIZE, Protection.Read);
    expect(map.every(SANDBOX_SIZE - 1, 2, Protection.Read)).toBe(false);
    expect(map.every(-1, 1, Protection.Read)).toBe(false);
    expect(map.every(SANDBOX_SIZE, 0, Protection.Read)).toBe(true);
    expect(map.ranges()).toEqual([{ address: 0, size: SANDBOX_SIZE, protection: Protection.Read }]);
  });
});
