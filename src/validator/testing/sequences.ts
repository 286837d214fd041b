/**
 * Sandboxing sequences for the differential tests: the short instruction
 * sequences the sandbox rules are about, right and wrong in every way.
 *
 * Pipeline position: test support only; `families.ts` lists them.
 *
 * - register writes then use: a write of any register (%rsp, %rbp and %r15
 *   included) at any width (8 with and without REX, 16, 32, 64) by every
 *   kind of instruction (mov, ALU, lea, movzx, imul, xchg/xadd/cmpxchg in
 *   register and memory forms, pop, bswap, cmov, bsf, shifts, setcc, SSE
 *   and VEX moves to general registers, BMI...), followed by a memory
 *   access indexed by some register, a %rsp/%rbp rebase, another write,
 *   or nothing;
 * - %rsp/%rbp: the special moves and masks, every rebase encoding (with
 *   spurious REX bits), rebases without writes;
 * - nacljmp/naclcall with every register, both `add` forms, spurious REX
 *   bits, wrong masks, mismatched registers, pieces missing or apart;
 * - string superinstructions and maskmov: complete, partial, out of order,
 *   with every prefix;
 * - the assemblers' long nops (accepted byte for byte) and near misses;
 * - every record may get a direct jump (rel8/rel32, jmp/jcc/call/loop)
 *   into, over or out of it, at any offset of the region.
 */
import { Prng, recordsFrom } from './prng.js';
import { displacement, le, legacy, memoryOperand, sandboxRegister, vex, type MemoryOperand, type RmOperand } from './encode.js';

type Width = 8 | 16 | 32 | 64;

const WIDTHS: readonly (readonly [Width, number])[] = [[32, 5], [64, 3], [16, 1], [8, 1]];

/** Prefix/REX settings of a general-purpose instruction of `width`. */
function sized(width: Width, r: Prng): { prefixes: number[]; w: boolean; rex: boolean } {
  return { prefixes: width === 16 ? [0x66] : [], w: width === 64, rex: width === 8 ? r.chance(0.6) : r.chance(0.05) };
}

function imm(width: Width, r: Prng): number[] {
  const v = r.chance(0.5) ? r.int(256) - 128 : r.int(0x100000000) | 0;
  return le(v, width === 8 ? 1 : width === 16 ? 2 : 4);
}

/** An operand that is the register `dst` or, sometimes, memory. */
function rmOf(r: Prng, dst: number, memory: number): RmOperand {
  return r.chance(memory) ? memoryOperand(r) : dst;
}

type Writer = (r: Prng, dst: number, width: Width) => number[];

const W8 = (width: Width, byteOp: number, op: number): number => (width === 8 ? byteOp : op);

/** Instructions that write the general register `dst` (and sometimes another). */
const WRITERS: readonly (readonly [string, Writer, number])[] = [
  ['mov r,r', (r, d, w) => legacy({ ...sized(w, r), opcode: [W8(w, 0x88, 0x89)], reg: sandboxRegister(r), rm: d }), 6],
  ['mov r,rm', (r, d, w) => legacy({ ...sized(w, r), opcode: [W8(w, 0x8a, 0x8b)], reg: d, rm: rmOf(r, sandboxRegister(r), 0.4) }), 6],
  ['mov imm', (r, d, w) => (r.chance(0.5)
    ? legacy({ ...sized(w, r), opcode: [W8(w, 0xb0, 0xb8)], opreg: d, imm: w === 64 ? r.bytes(8, 0.5) : imm(w, r) })
    : legacy({ ...sized(w, r), opcode: [W8(w, 0xc6, 0xc7)], reg: 0, rm: d, imm: imm(w === 64 ? 32 : w, r) })), 4],
  ['alu r,r', (r, d, w) => {
    const op = r.int(8) * 8;
    return r.chance(0.5)
      ? legacy({ ...sized(w, r), opcode: [op + (w === 8 ? 0 : 1)], reg: sandboxRegister(r), rm: d })
      : legacy({ ...sized(w, r), opcode: [op + (w === 8 ? 2 : 3)], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
  }, 6],
  ['alu imm', (r, d, w) => (r.chance(0.5)
    ? legacy({ ...sized(w, r), opcode: [W8(w, 0x80, 0x83)], reg: r.int(8), rm: d, imm: [r.byte()] })
    : legacy({ ...sized(w, r), opcode: [W8(w, 0x80, 0x81)], reg: r.int(8), rm: d, imm: imm(w === 64 ? 32 : w, r) })), 5],
  ['inc/dec/not/neg', (r, d, w) => (r.chance(0.5)
    ? legacy({ ...sized(w, r), opcode: [W8(w, 0xfe, 0xff)], reg: r.int(2), rm: d })
    : legacy({ ...sized(w, r), opcode: [W8(w, 0xf6, 0xf7)], reg: 2 + r.int(2), rm: d })), 3],
  ['lea', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x8d], reg: d, rm: memoryOperand(r) }), 4],
  ['movzx/movsx', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x0f, r.pick([0xb6, 0xb7, 0xbe, 0xbf])], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) }), 3],
  ['movsxd', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x63], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) }), 2],
  ['imul', (r, d, w) => {
    const s = sized(w === 8 ? 32 : w, r);
    const k = r.int(3);
    if (k === 0) return legacy({ ...s, opcode: [0x0f, 0xaf], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
    return legacy({ ...s, opcode: [k === 1 ? 0x6b : 0x69], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3), imm: k === 1 ? [r.byte()] : imm(w === 16 ? 16 : 32, r) });
  }, 2],
  ['xchg', (r, d, w) => {
    const k = r.int(4);
    if (k === 0 && w !== 8) return legacy({ ...sized(w, r), opcode: [0x90], opreg: d });
    if (k === 1) return legacy({ ...sized(w, r), opcode: [W8(w, 0x86, 0x87)], reg: d, rm: memoryOperand(r) });
    return r.chance(0.5)
      ? legacy({ ...sized(w, r), opcode: [W8(w, 0x86, 0x87)], reg: d, rm: sandboxRegister(r) })
      : legacy({ ...sized(w, r), opcode: [W8(w, 0x86, 0x87)], reg: sandboxRegister(r), rm: d });
  }, 5],
  ['xadd/cmpxchg', (r, d, w) => {
    const op = (r.chance(0.5) ? 0xc0 : 0xb0) + (w === 8 ? 0 : 1);
    const lock = r.chance(0.3) ? [0xf0] : [];
    if (r.chance(0.4)) return legacy({ ...sized(w, r), prefixes: [...lock, ...sized(w, r).prefixes], opcode: [0x0f, op], reg: d, rm: memoryOperand(r) });
    return r.chance(0.5)
      ? legacy({ ...sized(w, r), opcode: [0x0f, op], reg: d, rm: sandboxRegister(r) })
      : legacy({ ...sized(w, r), opcode: [0x0f, op], reg: sandboxRegister(r), rm: d });
  }, 5],
  ['pop', (r, d, w) => (r.chance(0.7)
    ? legacy({ prefixes: w === 16 ? [0x66] : [], w: w === 64 && r.chance(0.2), opcode: [0x58], opreg: d })
    : legacy({ prefixes: w === 16 ? [0x66] : [], opcode: [0x8f], reg: 0, rm: d })), 2],
  ['bswap', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x0f, 0xc8], opreg: d }), 2],
  ['cmov/bsf/bsr/popcnt/lzcnt/tzcnt', (r, d, w) => {
    const s = sized(w === 8 ? 32 : w, r);
    const k = r.int(4);
    if (k === 0) return legacy({ ...s, opcode: [0x0f, 0x40 + r.int(16)], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
    if (k === 1) return legacy({ ...s, opcode: [0x0f, r.pick([0xbc, 0xbd])], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
    return legacy({ ...s, prefixes: [...s.prefixes, 0xf3], opcode: [0x0f, r.pick([0xb8, 0xbc, 0xbd])], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
  }, 3],
  ['shift/rotate', (r, d, w) => {
    const k = r.int(3);
    const ext = r.int(8);
    if (k === 0) return legacy({ ...sized(w, r), opcode: [W8(w, 0xc0, 0xc1)], reg: ext, rm: d, imm: [r.int(64)] });
    return legacy({ ...sized(w, r), opcode: [k === 1 ? W8(w, 0xd0, 0xd1) : W8(w, 0xd2, 0xd3)], reg: ext, rm: d });
  }, 2],
  ['shld/shrd', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x0f, r.pick([0xa4, 0xa5, 0xac, 0xad])], reg: sandboxRegister(r), rm: d, imm: [r.int(64)] }), 1],
  ['setcc', (r, d) => legacy({ rex: r.chance(0.5), opcode: [0x0f, 0x90 + r.int(16)], reg: 0, rm: d }), 1],
  ['bt* $imm', (r, d, w) => legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x0f, 0xba], reg: 4 + r.int(4), rm: d, imm: [r.int(64)] }), 1],
  ['crc32/movbe', (r, d, w) => (r.chance(0.5)
    ? legacy({ prefixes: [0xf2], w: w === 64, opcode: [0x0f, 0x38, r.pick([0xf0, 0xf1])], reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) })
    : legacy({ ...sized(w === 8 ? 32 : w, r), opcode: [0x0f, 0x38, 0xf0], reg: d, rm: memoryOperand(r) })), 1],
  ['xmm to gpr', (r, d, w) => {
    const k = r.int(6);
    const wide = w === 64;
    if (k === 0) return legacy({ prefixes: [0x66], w: wide, opcode: [0x0f, 0x7e], reg: r.int(16), rm: d });
    if (k === 1) return legacy({ prefixes: [r.pick([0xf2, 0xf3])], w: wide, opcode: [0x0f, r.pick([0x2c, 0x2d])], reg: d, rm: r.int(16) });
    if (k === 2) return legacy({ prefixes: r.chance(0.5) ? [0x66] : [], opcode: [0x0f, r.pick([0x50, 0xd7])], reg: d, rm: r.int(16) });
    if (k === 3) return legacy({ prefixes: [0x66], w: wide, opcode: [0x0f, 0x3a, r.pick([0x14, 0x15, 0x16, 0x17])], reg: r.int(16), rm: d, imm: [r.int(16)] });
    if (k === 4) return legacy({ prefixes: [0x66], opcode: [0x0f, 0xc5], reg: d, rm: r.int(16), imm: [r.int(8)] });
    return legacy({ opcode: [0x0f, 0x7e], reg: r.int(8), rm: d }); // movd %mm,%r32
  }, 3],
  ['vex to gpr', (r, d, w) => {
    const k = r.int(4);
    const wide = w === 64 ? 1 : 0;
    if (k === 0) return vex({ map: 1, pp: 1, l: 0, w: wide, v: 0, opcode: 0x7e, reg: r.int(16), rm: d });
    if (k === 1) return vex({ map: 1, pp: r.pick([2, 3]), l: 0, w: wide, v: 0, opcode: r.pick([0x2c, 0x2d]), reg: d, rm: r.int(16) });
    if (k === 2) return vex({ map: 1, pp: r.pick([0, 1]), l: r.int(2), w: 0, v: 0, opcode: r.pick([0x50, 0xd7]), reg: d, rm: r.int(16) });
    return vex({ map: 3, pp: 1, l: 0, w: wide, v: 0, opcode: r.pick([0x14, 0x15, 0x16, 0x17]), reg: r.int(16), rm: d, imm: [r.int(16)] });
  }, 2],
  ['bmi', (r, d, w) => {
    const wide = w === 64 ? 1 : 0;
    const k = r.int(4);
    if (k === 0) return vex({ map: 2, pp: 0, l: 0, w: wide, v: sandboxRegister(r), opcode: 0xf2, reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
    if (k === 1) return vex({ map: 2, pp: 0, l: 0, w: wide, v: d, opcode: 0xf3, reg: 1 + r.int(3), rm: rmOf(r, sandboxRegister(r), 0.3) });
    if (k === 2) return vex({ map: 2, pp: 0, l: 0, w: wide, v: sandboxRegister(r), opcode: 0xf7, reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
    return vex({ map: 2, pp: r.int(4), l: 0, w: wide, v: sandboxRegister(r), opcode: r.pick([0xf5, 0xf6, 0xf7]), reg: d, rm: rmOf(r, sandboxRegister(r), 0.3) });
  }, 2],
  ['implicit', (r) => r.pick([[0x98], [0x48, 0x98], [0x66, 0x98], [0x99], [0x48, 0x99], [0x66, 0x99], [0x0f, 0x31], [0x0f, 0xa2], [0xf7, 0xe0 + r.int(8)], [0x9f], [0xd7]]), 1],
];

const WRITER_CHOICES = WRITERS.map(([, f, weight]) => [f, weight] as const);

/** A write of `dst` at `width` by a random kind of instruction. */
export function writeOf(r: Prng, dst: number, width: Width): number[] {
  return r.weighted(WRITER_CHOICES)(r, dst, width);
}

// ---- uses of a register ------------------------------------------------------------

/** An instruction with a memory operand indexed by `index` (any base). */
function indexedAccess(r: Prng, index: number): number[] {
  const m: MemoryOperand = { ...memoryOperand(r, index), index };
  const k = r.int(8);
  if (k < 3) return legacy({ w: r.chance(0.5), opcode: [r.pick([0x8b, 0x89, 0x03, 0x01, 0x39, 0x85])], reg: sandboxRegister(r), rm: m });
  if (k === 3) return legacy({ opcode: [0xc7], reg: 0, rm: m, imm: r.bytes(4) });
  if (k === 4) return legacy({ prefixes: r.pick([[], [0x66], [0xf2], [0xf3]]), opcode: [0x0f, r.pick([0x10, 0x11, 0x28, 0x58])], reg: r.int(16), rm: m });
  if (k === 5) return vex({ map: 1, pp: r.int(4), l: r.int(2), w: 0, v: r.chance(0.5) ? 0 : r.int(16), opcode: r.pick([0x10, 0x11, 0x28, 0x58, 0x6f]), reg: r.int(16), rm: m });
  if (k === 6) return legacy({ w: r.chance(0.5), opcode: [0x8d], reg: sandboxRegister(r), rm: m });
  return legacy({ opcode: [r.pick([0xff, 0x8f, 0xd9, 0xdd])], reg: r.pick([0, 6]), rm: m });
}

/** The special %rsp/%rbp instructions and their near misses. */
export function stackSpecial(r: Prng): number[] {
  const rexW = (): number => r.pick([0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x48, 0x48]);
  switch (r.int(8)) {
    case 0: return [rexW(), r.pick([0x89, 0x8b]), r.pick([0xe5, 0xec, 0xe4, 0xed])]; // mov %rsp,%rbp / %rbp,%rsp
    case 1: return [rexW(), 0x83, r.pick([0xe4, 0xe5, 0xe0 + r.int(8)]), r.chance(0.7) ? 0x80 + r.int(128) : r.int(128)]; // and $imm8,%rsp
    case 2: return [rexW(), r.pick([0x01, 0x09, 0x03, 0x0b, 0x29, 0x21]), r.pick([0xfc, 0xfd, 0xe7, 0xef, 0xf4, 0xec])]; // add/or %r15 rebases
    case 3: return [rexW(), 0x8d, ...r.pick([[0x24, 0x3c], [0x64, 0x3c, 0x00], [0xa4, 0x3c, 0, 0, 0, 0], [0x6c, 0x3d, 0x00], [0xac, 0x3d, 0, 0, 0, 0], [0x2c, 0x3e], [0x64, 0x3c, 0x08], [0x6c, 0x3d, 0x01], [0x24, 0x27], [0x2c, 0x2f]])]; // lea rebases
    case 4: return legacy({ w: true, opcode: [0x01], reg: 15, rm: r.pick([4, 5]), rexExtra: r.int(4) & 2 });
    case 5: return legacy({ w: true, opcode: [0x03], reg: r.pick([4, 5]), rm: 15, rexExtra: r.int(4) & 2 });
    case 6: return legacy({ w: r.chance(0.8), opcode: [0x83], reg: r.pick([4, 5, 0]), rm: 4, imm: [r.byte()] }); // and/sub/add imm8 on rsp
    default: return legacy({ w: true, opcode: [0x8d], reg: r.pick([4, 5]), rm: { base: r.pick([4, 5, 15]), index: r.pick([15, 4, 5, null]), scale: 0, disp: r.chance(0.7) ? 0 : displacement(r), dispSize: r.pick([0, 1, 4] as const) } });
  }
}

/** What may follow a register write. */
function useOf(r: Prng, reg: number): number[] {
  switch (r.weighted([['index', 6], ['special', 3], ['write', 2], ['nop', 1], ['none', 2], ['pushpop', 1]] as const)) {
    case 'index': return indexedAccess(r, r.chance(0.7) ? reg : sandboxRegister(r));
    case 'special': return stackSpecial(r);
    case 'write': return writeOf(r, sandboxRegister(r), r.weighted(WIDTHS));
    case 'nop': return r.pick([[0x90], [0x66, 0x90], [0x0f, 0x1f, 0x00], [0xf4]]);
    case 'pushpop': return [r.chance(0.5) ? 0x50 + r.int(8) : 0x58 + r.int(8)];
    case 'none': return [];
  }
}

function writeThenUse(r: Prng): number[] {
  const reg = sandboxRegister(r);
  const width = r.weighted(WIDTHS);
  const before = r.chance(0.2) ? useOf(r, sandboxRegister(r)) : [];
  return [...before, ...writeOf(r, reg, width), ...useOf(r, reg)];
}

// ---- nacljmp / naclcall ---------------------------------------------------------------

function naclBranch(r: Prng): number[] {
  const reg = r.chance(0.8) ? r.int(16) : 15;
  const other = (): number => (r.chance(0.85) ? reg : r.int(16));
  const andReg = other();
  const addReg = other();
  const jmpReg = other();
  const parts: number[][] = [];
  // and $-32,%eXX (or near misses: other masks, 64-bit and, imm32 form)
  const mask = r.chance(0.85) ? 0xe0 : r.byte();
  const and = r.weighted([['imm8', 10], ['imm32', 1], ['wide', 1]] as const);
  if (and === 'imm8') parts.push(legacy({ rex: r.chance(0.2), rexExtra: r.chance(0.2) ? r.int(8) & 6 : 0, opcode: [0x83], reg: 4, rm: andReg, imm: [mask] }));
  else if (and === 'imm32') parts.push(legacy({ opcode: [0x81], reg: 4, rm: andReg, imm: [0xe0, 0xff, 0xff, 0xff] }));
  else parts.push(legacy({ w: true, opcode: [0x83], reg: 4, rm: andReg, imm: [mask] }));
  // add %r15,%rXX in both encodings, with spurious X bits; sometimes 32-bit.
  const wide = r.chance(0.93);
  parts.push(r.chance(0.5)
    ? legacy({ w: wide, rexExtra: r.chance(0.3) ? 2 : 0, opcode: [0x01], reg: 15, rm: addReg })
    : legacy({ w: wide, rexExtra: r.chance(0.3) ? 2 : 0, opcode: [0x03], reg: addReg, rm: 15 }));
  // jmp/call *%rXX with optional REX (W, R, X spurious).
  parts.push(legacy({ rex: r.chance(0.2), rexExtra: r.chance(0.3) ? r.int(16) & 0xe : 0, opcode: [0xff], reg: r.chance(0.5) ? 4 : 2, rm: jmpReg }));
  // Drop or separate a part sometimes.
  const k = r.int(12);
  if (k === 0) parts.splice(r.int(3), 1);
  else if (k === 1) parts.splice(1 + r.int(2), 0, r.pick([[0x90], [0x89, 0xc0]]));
  else if (k === 2) parts.reverse();
  return parts.flat();
}

// ---- string superinstructions and maskmov --------------------------------------------

function sandboxPointer(r: Prng, reg: 6 | 7): number[] {
  const mov = legacy({ rex: r.chance(0.1), rexExtra: r.chance(0.1) ? r.int(16) & 0xf : 0, opcode: [r.pick([0x89, 0x8b])], reg: r.chance(0.95) ? reg : r.int(8), rm: reg });
  const lea = r.chance(0.9)
    ? legacy({ w: true, rexExtra: r.chance(0.1) ? 2 : 0, opcode: [0x8d], reg, rm: { base: 15, index: reg, scale: 0, disp: 0, dispSize: r.chance(0.9) ? 0 : r.pick([1, 4] as const) } })
    : legacy({ w: r.chance(0.5), opcode: [0x8d], reg, rm: { base: r.pick([15, reg]), index: r.pick([reg, 15]), scale: r.int(2) as 0 | 1, disp: 0 } });
  return r.chance(0.1) ? lea : [...mov, ...lea];
}

function stringSuperinstruction(r: Prng): number[] {
  const out: number[] = [];
  const op = r.chance(0.85) ? 0xa4 + r.int(12) : r.pick([0x6c, 0x6d, 0x6e, 0x6f]);
  const needsRsi = [0xa4, 0xa5, 0xa6, 0xa7, 0xac, 0xad, 0x6e, 0x6f].includes(op);
  const needsRdi = [0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xae, 0xaf, 0x6c, 0x6d].includes(op);
  const order = r.int(8);
  if (needsRsi && order !== 0) out.push(...sandboxPointer(r, 6));
  if (needsRdi && order !== 1) out.push(...sandboxPointer(r, 7));
  if (order === 2) out.push(...sandboxPointer(r, r.pick([6, 7] as const)));
  if (order === 3 && out.length > 0) out.push(0x90);
  const prefixes: number[] = [];
  const n = r.weighted([[0, 4], [1, 4], [2, 2], [3, 1]] as const);
  for (let i = 0; i < n; i++) prefixes.push(r.pick([0xf3, 0xf2, 0x66, 0x48, 0x40 + r.int(16), 0x2e, 0x64, 0x67, 0xf0]));
  out.push(...prefixes, op);
  return out;
}

function maskmov(r: Prng): number[] {
  const out: number[] = r.chance(0.85) ? sandboxPointer(r, r.chance(0.9) ? 7 : 6) : [];
  const k = r.int(4);
  if (k === 0) out.push(...legacy({ opcode: [0x0f, 0xf7], reg: r.int(8), rm: r.int(8), prefixes: r.chance(0.1) ? [r.pick([0xf3, 0x67, 0x2e])] : [] }));
  else if (k === 1) out.push(...legacy({ prefixes: [0x66], rexExtra: r.chance(0.2) ? r.int(16) : 0, opcode: [0x0f, 0xf7], reg: r.int(16), rm: r.int(16) }));
  else out.push(...vex({ map: 1, pp: 1, l: r.chance(0.9) ? 0 : 1, w: r.chance(0.8) ? 0 : 1, v: r.chance(0.9) ? 0 : r.int(16), opcode: 0xf7, reg: r.int(16), rm: r.int(16), long: r.chance(0.3) }));
  return out;
}

// ---- padding nops and prefixed special instructions ------------------------------------

/** The assemblers' long nops (the validator accepts some byte for byte) and near misses. */
function nopVariant(r: Prng): number[] {
  const n = r.int(7);
  const body = r.pick([[0x90], [0x0f, 0x1f, 0x00], [0x0f, 0x1f, 0x40, 0x00], [0x0f, 0x1f, 0x44, 0x00, 0x00], [0x0f, 0x1f, 0x80, 0, 0, 0, 0], [0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0]]);
  const out = [...new Array<number>(n).fill(0x66), ...(r.chance(0.5) ? [0x2e] : []), ...body];
  // Near misses: another prefix, a REX, another ModRM or displacement byte.
  if (r.chance(0.3)) out.splice(r.int(out.length), 0, r.pick([0x66, 0x2e, 0x3e, 0x48, 0x40, 0xf3, 0x67]));
  if (r.chance(0.2)) out[out.length - 1 - r.int(Math.min(3, out.length))] = r.byte();
  return out;
}

/** A special %rsp/%rbp instruction with a prefix in front (they are matched byte for byte). */
function prefixedSpecial(r: Prng): number[] {
  const prefix = r.pick([[0x66], [0x2e], [0xf3], [0x40], [0x67], [0xf0]]);
  return r.chance(0.5) ? [...writeOf(r, r.pick([4, 5]), 32), ...prefix, ...stackSpecial(r)] : [...prefix, ...stackSpecial(r)];
}

// ---- records and jumps -------------------------------------------------------------------

type Shape = 'write-use' | 'special' | 'nacl' | 'string' | 'maskmov' | 'nops';

function sequence(r: Prng, shape: Shape): number[] {
  switch (shape) {
    case 'write-use': return writeThenUse(r);
    case 'special':
      if (r.chance(0.15)) return prefixedSpecial(r);
      return r.chance(0.5) ? [...writeOf(r, r.pick([4, 5]), r.weighted(WIDTHS)), ...stackSpecial(r)] : stackSpecial(r);
    case 'nops': return nopVariant(r);
    case 'nacl': return naclBranch(r);
    case 'string': return stringSuperinstruction(r);
    case 'maskmov': return maskmov(r);
  }
}

/** A direct jump of any kind from `at` to `target` (offsets in the record). */
export function directJump(r: Prng, at: number, target: number): number[] {
  const k = r.int(6);
  if (k === 0) return [0xe9, ...le(target - (at + 5), 4)];
  if (k === 1) return [0x0f, 0x80 + r.int(16), ...le(target - (at + 6), 4)];
  if (k === 2) return [0xe8, ...le(target - (at + 5), 4)];
  const op = k === 3 ? 0xeb : k === 4 ? 0x70 + r.int(16) : r.pick([0xe0, 0xe1, 0xe2, 0xe3]);
  const rel = target - (at + 2);
  return rel >= -128 && rel <= 127 ? [op, rel & 0xff] : [0xe9, ...le(target - (at + 5), 4)];
}

/** One record: a sequence placed in its bundle, maybe with a jump into, over or out of it. */
export function sequenceRecord(r: Prng): Uint8Array {
  const shape = r.weighted<Shape>([['write-use', 10], ['special', 3], ['nacl', 4], ['string', 3], ['maskmov', 1], ['nops', 1]]);
  const body = sequence(r, shape);
  if (r.chance(0.3) && body.length < 24) body.push(...sequence(r, r.weighted<Shape>([['write-use', 3], ['special', 1], ['nacl', 1], ['string', 1]])));
  return placeWithJump(r, body);
}

/**
 * `body` placed in a region: at the start of a bundle, ending at its end,
 * crossing into the next one or anywhere, on nop or hlt filler, maybe with
 * a direct jump before or after it to a target inside it, anywhere in the
 * region or outside (with probability `jumpChance`).
 */
export function placeWithJump(r: Prng, body: readonly number[], jumpChance = 0.5): Uint8Array {
  // Place it: at the start, ending at the bundle end, or crossing into the next bundle.
  const placement = r.weighted([['start', 4], ['end', 2], ['cross', 1], ['random', 2]] as const);
  let offset = 0;
  if (placement === 'end') offset = Math.max(0, 32 - body.length);
  else if (placement === 'cross') offset = Math.max(0, 32 - body.length + 1 + r.int(Math.max(1, body.length - 1)));
  else if (placement === 'random') offset = r.int(Math.max(1, 32 - body.length));
  const jump = r.chance(jumpChance) ? r.weighted([['before', 3], ['after', 2]] as const) : 'none';
  const filler = r.chance(0.7) ? 0x90 : 0xf4;
  if (jump === 'none') {
    const out = new Uint8Array(offset + body.length).fill(filler);
    out.set(body, offset);
    return out;
  }
  const regionEnd = Math.ceil((offset + body.length + 8) / 32) * 32 + (r.chance(0.2) ? 32 : 0);
  const target = r.weighted([['inside', 6], ['anywhere', 3], ['outside', 1]] as const) === 'inside'
    ? offset + r.int(body.length + 1)
    : r.chance(0.8) ? r.int(regionEnd + 1) : r.pick([-1, -32, regionEnd, regionEnd + 1, regionEnd + 31, 0x1000, -0x1001]);
  if (jump === 'before') {
    // The jump sits in front of the body (which then starts after it).
    const jumpAt = 0;
    const bodyAt = Math.max(offset, 6);
    const bytes = directJump(r, jumpAt, target - offset + bodyAt);
    const out = new Uint8Array(Math.max(bodyAt + body.length, bytes.length)).fill(filler);
    out.set(bytes, jumpAt);
    out.set(body, bodyAt);
    return out;
  }
  const jumpAt = offset + body.length + r.int(3);
  const bytes = directJump(r, jumpAt, target);
  const out = new Uint8Array(jumpAt + bytes.length).fill(filler);
  out.set(body, offset);
  out.set(bytes, jumpAt);
  return out;
}

export function sequenceRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, sequenceRecord);
}
