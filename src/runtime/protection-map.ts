/**
 * A protection for every byte of the 4 GiB sandbox, kept as a short sorted
 * list of ranges: the engines' record of what they applied (the one record
 * of it, which the trap's view reads through EngineSession.protections)
 * and the layout's page protections.
 *
 * Pipeline position: built by layout.ts, session.ts and
 * src/addon/addon-engine.ts; nothing here touches memory.
 *
 * Choices a reader may question:
 * - Ranges, not a byte per page: at the 4 KiB granule TrapJail needs
 *   (spec/runtime.md "TrapJail and TrapUnjail"), a page array is 1 MiB
 *   that every session would allocate and zero, which was most of a short
 *   session's time. A session has a dozen
 *   ranges or so, a few more per jailed block, so a lookup is a binary
 *   search over a handful of numbers.
 * - Neighbouring ranges of one protection are merged as they are set, so
 *   `ranges()` is already the coarsest description.
 */
import { Protection, SANDBOX_SIZE, type Region } from './engine.js';

/** What readers of a protection record may ask (an engine session's `protections`). */
export interface PageProtections {
  /** The protection of the byte at `address` (0 <= address < 4 GiB). */
  at(address: number): Protection;
  /** Whether every byte of [address, address + length) has a bit of `bits`; an empty range has, one outside the sandbox has not. */
  every(address: number, length: number, bits: Protection): boolean;
  /** The first address of [address, address + length) (inside the sandbox) whose protection has no bit of `bits`; -1 if none. */
  firstLacking(address: number, length: number, bits: Protection): number;
  /** The ranges that are not Protection.None, in address order, neighbours of one protection merged. */
  ranges(): Region[];
}

export class ProtectionMap implements PageProtections {
  /** starts[i] is where range i begins; it ends where range i+1 begins (the last at 4 GiB). starts[0] is 0. */
  private readonly starts: number[] = [0];
  private readonly protections: Protection[] = [Protection.None];

  /** Gives [start, end) `protection`; later calls win over earlier ones. */
  set(start: number, end: number, protection: Protection): void {
    start = Math.max(0, start);
    end = Math.min(SANDBOX_SIZE, end);
    if (end <= start) return;
    const after = end < SANDBOX_SIZE ? this.at(end) : undefined;
    const first = this.firstStartAtOrAbove(start);
    const past = this.firstStartAtOrAbove(end + 1);
    const before = first > 0 ? this.protections[first - 1] : undefined;
    const starts: number[] = [];
    const protections: Protection[] = [];
    if (before !== protection) {
      starts.push(start);
      protections.push(protection);
    }
    if (after !== undefined && after !== protection) {
      starts.push(end);
      protections.push(after);
    }
    this.starts.splice(first, past - first, ...starts);
    this.protections.splice(first, past - first, ...protections);
  }

  /** The protection of the byte at `address` (0 <= address < 4 GiB). */
  at(address: number): Protection {
    return this.protections[this.indexOf(address)]!;
  }

  /** Whether every byte of [address, address + length) has a bit of `bits`; an empty range has, one outside the sandbox has not. */
  every(address: number, length: number, bits: Protection): boolean {
    if (length <= 0) return true;
    if (address < 0 || address + length > SANDBOX_SIZE) return false;
    return this.firstLacking(address, length, bits) < 0;
  }

  /** The first address of [address, address + length) (inside the sandbox) whose protection has no bit of `bits`; -1 if none. */
  firstLacking(address: number, length: number, bits: Protection): number {
    const end = address + length;
    for (let i = this.indexOf(address); i < this.starts.length && this.starts[i]! < end; i++) {
      if ((this.protections[i]! & bits) === 0) return Math.max(address, this.starts[i]!);
    }
    return -1;
  }

  /** The ranges that are not Protection.None, in address order, neighbours of one protection merged. */
  ranges(): Region[] {
    const regions: Region[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const protection = this.protections[i]!;
      if (protection === Protection.None) continue;
      const address = this.starts[i]!;
      regions.push({ address, size: (this.starts[i + 1] ?? SANDBOX_SIZE) - address, protection });
    }
    return regions;
  }

  /** The maximal [start, end) ranges whose protection has any bit of `bits`, in address order. */
  spans(bits: Protection): Array<{ readonly start: number; readonly end: number }> {
    const spans: Array<{ start: number; end: number }> = [];
    for (let i = 0; i < this.starts.length; i++) {
      if ((this.protections[i]! & bits) === 0) continue;
      const start = this.starts[i]!;
      const end = this.starts[i + 1] ?? SANDBOX_SIZE;
      const last = spans[spans.length - 1];
      if (last !== undefined && last.end === start) last.end = end;
      else spans.push({ start, end });
    }
    return spans;
  }

  /** The index of the range holding `address`. */
  private indexOf(address: number): number {
    return this.firstStartAtOrAbove(address + 1) - 1;
  }

  /** The first index whose start is >= `address` (the list's length if none). */
  private firstStartAtOrAbove(address: number): number {
    let low = 0;
    let high = this.starts.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.starts[mid]! < address) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
