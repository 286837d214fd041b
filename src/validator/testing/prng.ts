/**
 * A seeded source of choices for the differential generators: the same seed
 * gives the same cases on every machine (mulberry32, 32-bit state).
 *
 * Pipeline position: test support only (testing/sweep.ts, sequences.ts,
 * corpus.ts).
 */
import { mulberry32, type Rand } from './generator.js';

export class Prng implements Rand {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** A uniform integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
  byte(): number {
    return this.next() & 0xff;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  /** An item chosen with the given relative weights. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let k = this.int(total);
    for (const [item, w] of items) {
      if (k < w) return item;
      k -= w;
    }
    return (items[0] as readonly [T, number])[0];
  }
  /** `n` random bytes, zero with probability `zero` each. */
  bytes(n: number, zero = 0): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(zero > 0 && this.chance(zero) ? 0 : this.byte());
    return out;
  }
}

/** A fresh seed per run unless the environment fixes one (printed by every consumer). */
export function seedFromEnvironment(name = 'ZEROVM_DIFFERENTIAL_SEED'): number {
  const fixed = process.env[name];
  if (fixed !== undefined && fixed !== '') return Number(fixed) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** `count` records made by `one` from a PRNG seeded with `seed` (the shape of every generator family). */
export function recordsFrom(seed: number, count: number, one: (r: Prng) => Uint8Array): Uint8Array[] {
  const r = new Prng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(one(r));
  return out;
}
