/**
 * Line tables with 4-byte addresses in a linked nexe, so that GNU
 * addr2line reads them.
 *
 * Assembly a user hands in with `.loc` directives (`gcc -mx32 -S -g`
 * output) has gcc's own x32 .debug_info, whose units say addresses are 4
 * bytes; clang's assembler, an ELF64 target here, builds the line table
 * from the `.loc`s with 8-byte DW_LNE_set_address operands. binutils
 * takes the unit's address size and calls the table "mangled" (readelf
 * and llvm's tools read it). C sources are not affected: for them gcc
 * writes the line table itself (driver.ts, `-gno-as-loc-support`).
 *
 * After the link every address is final and below 4 GiB, so each 11-byte
 * `DW_LNE_set_address` with an 8-byte operand is rewritten in place as a
 * 7-byte one with a 4-byte operand, followed by two `DW_LNS_advance_pc 0`
 * (2 bytes each, no effect): the section keeps its size and every
 * offset into it (DW_AT_stmt_list) stays right. It is done only when every
 * unit of .debug_info has 4-byte addresses, which is what addr2line will
 * assume; otherwise the program is left as it is.
 *
 * Pipeline position: driver.ts linkNexe, after ld and before validation
 * (debug sections are not loaded, so the validator never sees them).
 * DWARF 5 §6.2 (the line number program) and §7.5.1 (unit headers).
 */

interface Section {
  readonly offset: number;
  readonly size: number;
}

/** Sections of an ELF64 little-endian file by name. */
function sections(bytes: Uint8Array): Map<string, Section> {
  const out = new Map<string, Section>();
  if (bytes.length < 0x40 || bytes[4] !== 2 || bytes[5] !== 1) return out;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const entsize = v.getUint16(0x3a, true);
  const count = v.getUint16(0x3c, true);
  const strndx = v.getUint16(0x3e, true);
  if (entsize < 0x40 || shoff + count * entsize > bytes.length || strndx >= count) return out;
  const header = (i: number): { name: number; offset: number; size: number } => ({
    name: v.getUint32(shoff + i * entsize, true),
    offset: Number(v.getBigUint64(shoff + i * entsize + 0x18, true)),
    size: Number(v.getBigUint64(shoff + i * entsize + 0x20, true)),
  });
  const names = header(strndx);
  for (let i = 0; i < count; i++) {
    const h = header(i);
    let end = names.offset + h.name;
    while (end < bytes.length && bytes[end] !== 0) end++;
    const name = Buffer.from(bytes.subarray(names.offset + h.name, end)).toString('latin1');
    if (h.offset + h.size <= bytes.length) out.set(name, { offset: h.offset, size: h.size });
  }
  return out;
}

/** The address sizes of the compilation units in .debug_info (32-bit DWARF only; null for anything unexpected). */
function unitAddressSizes(bytes: Uint8Array, info: Section): number[] | null {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizes: number[] = [];
  let at = info.offset;
  const end = info.offset + info.size;
  while (at + 11 <= end) {
    const length = v.getUint32(at, true);
    if (length >= 0xfffffff0) return null;
    const version = v.getUint16(at + 4, true);
    if (version >= 5) sizes.push(bytes[at + 7] as number);
    else if (version >= 2) sizes.push(bytes[at + 10] as number);
    else return null;
    at += 4 + length;
  }
  return sizes;
}

function uleb(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let p = at;
  for (;;) {
    const b = bytes[p++];
    if (b === undefined) return { value, next: p };
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return { value, next: p };
  }
}

const DW_LNE_set_address = 2;
const DW_LNS_advance_pc = 2;
const DW_LNS_fixed_advance_pc = 9;

/**
 * Rewrites the 8-byte DW_LNE_set_address operands of .debug_line in place
 * (see the module comment); returns how many. Leaves the bytes alone (0)
 * when there is no line table, a unit has 8-byte addresses, or an address
 * does not fit 32 bits.
 */
export function narrowLineTableAddresses(bytes: Uint8Array): number {
  const found = sections(bytes);
  const line = found.get('.debug_line');
  const info = found.get('.debug_info');
  if (line === undefined || info === undefined) return 0;
  const sizes = unitAddressSizes(bytes, info);
  if (sizes === null || sizes.length === 0 || sizes.some((s) => s !== 4)) return 0;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const edits: number[] = [];
  let unit = line.offset;
  const sectionEnd = line.offset + line.size;
  while (unit + 4 <= sectionEnd) {
    const length = v.getUint32(unit, true);
    if (length >= 0xfffffff0) return 0;
    const end = unit + 4 + length;
    if (end > sectionEnd) return 0;
    const version = v.getUint16(unit + 4, true);
    let p = unit + 6;
    const addressSizeAt = version >= 5 ? p : -1;
    if (version >= 5) p += 2;
    const headerLength = v.getUint32(p, true);
    p += 4;
    const program = p + headerLength;
    p += version >= 4 ? 5 : 4; // minimum_instruction_length, [maximum_operations_per_instruction], default_is_stmt, line_base, line_range
    const opcodeBase = bytes[p] as number;
    const argCounts = bytes.subarray(p + 1, p + opcodeBase);
    const before = edits.length;
    p = program;
    while (p < end) {
      const op = bytes[p++] as number;
      if (op === 0) {
        const { value: len, next } = uleb(bytes, p);
        if (bytes[next] === DW_LNE_set_address && len === 9) {
          if (v.getUint32(next + 5, true) !== 0) return 0;
          edits.push(p - 1);
        }
        p = next + len;
      } else if (op === DW_LNS_fixed_advance_pc) {
        p += 2;
      } else if (op < opcodeBase) {
        for (let i = 0; i < (argCounts[op - 1] ?? 0); i++) p = uleb(bytes, p).next;
      }
    }
    if (addressSizeAt >= 0 && edits.length > before) edits.push(-addressSizeAt - 1);
    unit = end;
  }
  let count = 0;
  for (const at of edits) {
    if (at < 0) {
      bytes[-at - 1] = 4; // a DWARF 5 unit's own address_size
      continue;
    }
    const address = v.getUint32(at + 3, true);
    bytes.set([0, 5, DW_LNE_set_address], at);
    v.setUint32(at + 3, address, true);
    bytes.set([DW_LNS_advance_pc, 0, DW_LNS_advance_pc, 0], at + 7);
    count++;
  }
  return count;
}
