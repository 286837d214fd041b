/**
 * A worker's slots counted in sessions (slots.ts): a task of k nodes takes
 * k slots (all of them when k is more), never more than the worker has in
 * use at once whatever order tasks come and go in; a task waiting for
 * slots is served first and blocks smaller ones meanwhile; closing hands
 * the waiting tasks back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionSlots } from './slots.js';

describe('SessionSlots', () => {
  it('takes a task\'s node count, all the slots for a larger task, and refuses what does not fit', () => {
    const slots = new SessionSlots(3);
    expect(slots.needOf(1)).toBe(1);
    expect(slots.needOf(3)).toBe(3);
    expect(slots.needOf(7)).toBe(3);
    /* a 3-node part and a 1-node part of one group: the old count (one per task) took both */
    expect(slots.tryTake(slots.needOf(3))).toBe(true);
    expect(slots.tryTake(slots.needOf(1))).toBe(false);
    expect(slots.inUse).toBe(3);
    slots.give(3);
    expect(slots.tryTake(1)).toBe(true);
    expect(slots.tryTake(3)).toBe(false);
    expect(slots.free).toBe(2);
    expect(() => new SessionSlots(0)).toThrow(/at least 1/);
    expect(() => slots.give(2)).toThrow(/beyond those taken/);
  });

  it('serves a waiting task first: no smaller task takes a slot while it waits', async () => {
    const slots = new SessionSlots(2);
    expect(slots.tryTake(1)).toBe(true);
    const big = slots.take(2);
    expect(slots.queued).toBe(true);
    expect(slots.tryTake(1)).toBe(false);
    slots.give(1);
    expect(await big).toBe(true);
    expect(slots.inUse).toBe(2);
    expect(slots.queued).toBe(false);
  });

  it('wakes loops waiting for a free slot, and hands waiting tasks back when closed', async () => {
    const slots = new SessionSlots(1);
    expect(slots.tryTake(1)).toBe(true);
    let woke = false;
    const loop = slots.until(() => slots.free > 0).then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    slots.give(1);
    await loop;
    expect(woke).toBe(true);
    expect(slots.tryTake(1)).toBe(true);
    const waiting = slots.take(1);
    slots.close();
    expect(await waiting).toBe(false);
    expect(slots.tryTake(1)).toBe(false);
    await slots.until(() => false); /* closed: returns */
  });

  it('never has more slots in use than it has, over any order of takes and gives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 9 })), { maxLength: 60 }), (total, steps) => {
        const slots = new SessionSlots(total);
        const held: number[] = [];
        for (const [give, nodes] of steps) {
          if (give && held.length > 0) slots.give(held.splice(nodes % held.length, 1)[0]!);
          else {
            const need = slots.needOf(nodes);
            const free = slots.free;
            const took = slots.tryTake(need);
            expect(took).toBe(need <= free);
            if (took) held.push(need);
          }
          expect(slots.inUse).toBe(held.reduce((a, b) => a + b, 0));
          expect(slots.inUse).toBeLessThanOrEqual(total);
        }
      }),
    );
  });
});
