/**
 * haltTrimmedLength (halt-trim.ts): the lengths the original ZeroVM 2015's
 * validator kept, as measured with jumps into the hlt after a text (the
 * elf cases hlt-fill-jump-*, jail/jail-trailing-hlt).
 */
import { describe, expect, it } from 'vitest';
import { haltTrimmedLength } from './halt-trim.js';

/** `code` bytes of 0x90 followed by hlt up to `size`. */
function region(code: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(0xf4);
  bytes.fill(0x90, 0, code);
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

describe('haltTrimmedLength with a known hlt run', () => {
  it('gives the same length as a full search', () => {
    for (const code of [0, 1, 5, 16, 17, 40, 100]) {
      const bytes = region(Math.max(code, 1), 0x10000);
      expect(haltTrimmedLength(bytes, code + 3)).toBe(haltTrimmedLength(bytes));
      expect(haltTrimmedLength(bytes, 0x10000)).toBe(haltTrimmedLength(bytes));
    }
  });
});
