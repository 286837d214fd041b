/**
 * narrowLineTableAddresses (debug-line.ts) on small ELF files built here,
 * with a .debug_info unit header and a one-row line program; on real
 * programs it is tested end to end (test/toolchain/cc-flags.test.ts,
 * "assembly with .file 0 and .loc views": addr2line names the lines GNU
 * as would).
 */
import { describe, expect, it } from 'vitest';
import { narrowLineTableAddresses } from './debug-line.js';

/** A DWARF 5 compilation unit header with this address size and no DIEs. */
function info(addressSize: number): number[] {
  return [8, 0, 0, 0, 5, 0, 1, addressSize, 0, 0, 0, 0];
}

const le = (value: number | bigint, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => Number((BigInt(value) >> BigInt(8 * i)) & 0xffn));

/** A DWARF 4 line unit: set_address (8-byte operand), copy, fixed_advance_pc 2, end_sequence. */
function line(address: bigint): { bytes: number[]; program: number } {
  const header = [1, 1, 1, 0xfb, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, ...Buffer.from('a.c\0'), 0, 0, 0, 0];
  const program = [0, 9, 2, ...le(address, 8), 1, 9, 2, 0, 0, 1, 1];
  const body = [4, 0, ...le(header.length, 4), ...header, ...program];
  return { bytes: [...le(body.length, 4), ...body], program: 4 + 2 + 4 + header.length };
}

/** An ELF64 file with .debug_info, .debug_line and the section-name table; returns it and where .debug_line starts. */
function elf(debugInfo: number[], debugLine: number[]): { bytes: Uint8Array; lineAt: number } {
  const names = [...Buffer.from('\0.debug_info\0.debug_line\0.shstrtab\0')];
  const infoAt = 64;
  const lineAt = infoAt + debugInfo.length;
  const namesAt = lineAt + debugLine.length;
  const shoff = namesAt + names.length;
  const section = (name: number, offset: number, size: number): number[] => [...le(name, 4), ...le(1, 4), ...le(0, 16), ...le(offset, 8), ...le(size, 8), ...le(0, 24)];
  const header = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...le(0, 9), ...le(1, 2), ...le(62, 2), ...le(1, 4), ...le(0, 16), ...le(shoff, 8), ...le(0, 4), ...le(64, 2), ...le(0, 2), ...le(0, 2), ...le(64, 2), ...le(4, 2), ...le(3, 2)];
  const bytes = [...header, ...debugInfo, ...debugLine, ...names, ...le(0, 64), ...section(1, infoAt, debugInfo.length), ...section(13, lineAt, debugLine.length), ...section(25, namesAt, names.length)];
  return { bytes: new Uint8Array(bytes), lineAt };
}

describe('narrowLineTableAddresses', () => {
  it('rewrites an 8-byte set_address as a 4-byte one and two no-op advances, in the same bytes', () => {
    const { bytes: table, program } = line(0x20040n);
    const { bytes, lineAt } = elf(info(4), table);
    const before = bytes.length;
    expect(narrowLineTableAddresses(bytes)).toBe(1);
    expect(bytes.length).toBe(before);
    expect([...bytes.subarray(lineAt + program, lineAt + program + 17)]).toEqual([0, 5, 2, 0x40, 0, 2, 0, 2, 0, 2, 0, 1, 9, 2, 0, 0, 1]);
  });
  it('leaves the table alone when a unit has 8-byte addresses (what addr2line then expects)', () => {
    const { bytes } = elf([...info(4), ...info(8)], line(0x20040n).bytes);
    const copy = bytes.slice();
    expect(narrowLineTableAddresses(bytes)).toBe(0);
    expect(bytes).toEqual(copy);
  });
  it('leaves the table alone when an address needs more than 32 bits', () => {
    const { bytes } = elf(info(4), line(0x1_0000_0000n).bytes);
    const copy = bytes.slice();
    expect(narrowLineTableAddresses(bytes)).toBe(0);
    expect(bytes).toEqual(copy);
  });
  it('leaves bytes that are not an ELF64 file, or have no debug sections, alone', () => {
    const junk = new Uint8Array(128).fill(7);
    expect(narrowLineTableAddresses(junk)).toBe(0);
    expect(junk.every((b) => b === 7)).toBe(true);
    const bare = new Uint8Array(64);
    bare.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    expect(narrowLineTableAddresses(bare)).toBe(0);
  });
});
