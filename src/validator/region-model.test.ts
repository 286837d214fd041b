/**
 * The `exact` region model of the zerovm and deterministic policies
 * (spec/validator.md, "Bundles"): the lengths ZeroVM 2015's validator kept
 * of a region ending in hlt (`haltTrimmedLength`), as measured on the
 * original with jumps into the hlt after a text (the conformance cases
 * elf/hlt-fill-jump-*, jail/jail-trailing-hlt), and what `validate()` makes
 * of them. The session validates its text and every TrapJail block with
 * this model, so these numbers are also the runtime's.
 */
import { describe, expect, it } from 'vitest';
import { haltTrimmedLength, validate } from './validate.js';

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
