/**
 * The `exact` region model of the zerovm and deterministic policies
 * (spec/validator.md, "Bundles"): the lengths ZeroVM 2015's validator kept
 * of a region ending in hlt (`haltTrimmedLength`), as measured on the
 * original with jumps into the hlt after a text (the conformance cases
 * elf/hlt-fill-jump-*, jail/jail-trailing-hlt), and what `validate()` makes
 * of them. The session validates its text and every TrapJail block with
 * this model, so these numbers are also the runtime's.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { haltTrimmedLength, trailingHaltStart, validate } from './validate.js';

/** `code` bytes of 0x90 followed by hlt up to `size`. */
function region(code: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(0xf4);
  bytes.fill(0x90, 0, code);
  return bytes;
}

/** A `jmp rel8` at offset 0 to `target`, then nops up to `code` bytes, then hlt up to `size`. */
function jumpInto(target: number, code: number, size: number): Uint8Array {
  const bytes = region(code, size);
  bytes[0] = 0xeb;
  bytes[1] = target - 2;
  return bytes;
}

describe('haltTrimmedLength', () => {
  it('keeps 16 hlt after the last other byte, rounded up to a bundle', () => {
    expect(haltTrimmedLength(region(5, 0x10000))).toBe(32);
    expect(haltTrimmedLength(region(16, 0x10000))).toBe(32);
    expect(haltTrimmedLength(region(17, 0x10000))).toBe(64);
    expect(haltTrimmedLength(region(100, 0x10000))).toBe(128);
  });

  it('never lengthens a region, and leaves one with 16 trailing hlt or fewer alone', () => {
    expect(haltTrimmedLength(region(5, 21))).toBe(21);
    expect(haltTrimmedLength(region(5, 22))).toBe(22); /* 17 hlt: the bundle (32) is longer */
    expect(haltTrimmedLength(region(16, 33))).toBe(32);
    expect(haltTrimmedLength(region(1, 1))).toBe(1);
    expect(haltTrimmedLength(new Uint8Array(0))).toBe(0);
  });

  it('counts hlt inside the code too: only the last other byte matters', () => {
    const bytes = region(40, 4096);
    bytes.fill(0xf4, 3, 40);
    expect(haltTrimmedLength(bytes)).toBe(32);
  });

  it('takes the first byte for code even when it is hlt', () => {
    expect(haltTrimmedLength(new Uint8Array(4096).fill(0xf4))).toBe(32);
  });
});

describe('validate() under the exact region model', () => {
  for (const policy of ['zerovm', 'deterministic'] as const) {
    it(`${policy}: a jump into the kept hlt is valid, one into the dropped hlt is out of the region`, () => {
      /* 5 bytes of code: the region is cut to one bundle */
      expect(validate(jumpInto(0x1f, 5, 0x10000), { policy }).valid).toBe(true);
      expect(validate(jumpInto(0x21, 5, 0x10000), { policy }).errors.map((e) => `${e.offset}:${e.rule}`)).toEqual(['0:direct-jump-out-of-range']);
      /* 17 bytes of code: the region keeps two bundles, 16 bytes: one */
      expect(validate(jumpInto(0x2f, 17, 0x10000), { policy }).valid).toBe(true);
      expect(validate(jumpInto(0x2f, 16, 0x10000), { policy }).valid).toBe(false);
    });

    it(`${policy}: an instruction cut off by the region's end is invalid, whatever would follow it`, () => {
      const cut = Uint8Array.from([0x90, 0xb8, 0x01, 0x00]); // nop; mov $imm32,%eax missing two bytes
      expect(validate(cut, { policy }).valid).toBe(false);
      expect(validate(cut.subarray(0, 1), { policy }).valid).toBe(true);
    });
  }

  it('nacl: the region is padded to whole bundles, so hlt is code and every hlt start is a target', () => {
    expect(validate(jumpInto(0x21, 5, 0x10000), { policy: 'nacl' }).valid).toBe(true);
  });
});

describe('the trailing hlt run (what validate() does not decode byte by byte)', () => {
  /** The obvious definition, one byte at a time. */
  function naiveTrailingHaltStart(bytes: Uint8Array): number {
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0xf4) end--;
    return end;
  }

  it('trailingHaltStart agrees with a byte-by-byte scan, at any alignment in its buffer', () => {
    const bytes = fc.array(fc.oneof(fc.constant(0xf4), fc.integer({ min: 0, max: 255 })), { maxLength: 80 });
    fc.assert(
      fc.property(bytes, fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 7 }), (head, tail, offset) => {
        const buffer = new Uint8Array(offset + head.length + tail + 5).fill(0x90);
        const region = buffer.subarray(offset, offset + head.length + tail);
        region.set(head);
        region.fill(0xf4, head.length);
        expect(trailingHaltStart(region)).toBe(naiveTrailingHaltStart(region));
      }),
      { numRuns: 2000 },
    );
  });

  it('a region ending in hlt bundles validates as it does when each of those bundles takes the per-instruction path', () => {
    /* Code: nops, hlt, direct jumps anywhere in the region (into the hlt run too) and random bytes; then a hlt run.
       In the twin, every hlt-only bundle starts with a nop instead, which the validator treats exactly as hlt
       (a one-byte instruction that writes nothing) but which keeps the bundle out of the trailing run. */
    const piece = fc.oneof(
      fc.constant([0x90]),
      fc.constant([0xf4]),
      fc.integer({ min: -128, max: 127 }).map((d) => [0xeb, d & 0xff]),
      fc.integer({ min: -64, max: 4096 }).map((d) => [0xe9, d & 0xff, (d >> 8) & 0xff, (d >> 16) & 0xff, (d >> 24) & 0xff]),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 0, max: 40 * 32 }), (pieces, halts) => {
        const code = pieces.flat();
        const region = new Uint8Array(code.length + halts).fill(0xf4);
        region.set(code);
        const twin = region.slice();
        for (let bundle = 0; bundle + 32 <= twin.length; bundle += 32) {
          if (twin.subarray(bundle, bundle + 32).every((b) => b === 0xf4)) twin[bundle] = 0x90;
        }
        /* An instruction crossing into a changed bundle reads its first byte (nop, not hlt) as part of
           itself, so its length in the crosses-bundle message may differ; its verdict and rule may not. */
        const comparable = (result: ReturnType<typeof validate>): unknown => ({
          ...result,
          errors: result.errors.map((e) => (e.rule === 'crosses-bundle' ? { ...e, message: 'crosses' } : e)),
        });
        expect(comparable(validate(region, { policy: 'nacl' }))).toEqual(comparable(validate(twin, { policy: 'nacl' })));
      }),
      { numRuns: 1000 },
    );
  });
});
