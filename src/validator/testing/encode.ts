/**
 * Small byte encoders shared by the differential generators: REX, ModRM
 * with SIB and displacement for any base/index, VEX prefixes from fields.
 * Deliberately independent of the validator's opcode tables, so that a
 * table mistake cannot hide itself in a generated case.
 *
 * Pipeline position: test support only.
 */
import { Prng } from './prng.js';

/** `value` as `size` little-endian bytes (two's complement). */
export function le(value: number, size: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let i = 0; i < size; i++) {
    out.push(((v % 256) + 256) % 256);
    v = Math.floor(v / 256);
  }
  return out;
}

/** A memory operand: base register 0..15, 'rip' or 'none'; index 0..15 (4 = none unless REX.X) or null. */
export interface MemoryOperand {
  readonly base: number | 'rip' | 'none';
  readonly index: number | null;
  readonly scale: 0 | 1 | 2 | 3;
  readonly disp: number;
  /** Displacement size to force (0, 1, 4); default: the smallest that encodes `disp`. */
  readonly dispSize?: 0 | 1 | 4;
}

/** ModRM (+SIB +displacement) bytes and the REX.X/REX.B bits they need. */
export function modrmMemory(regField: number, m: MemoryOperand): { bytes: number[]; x: number; b: number } {
  const reg = (regField & 7) << 3;
  if (m.base === 'rip') return { bytes: [0x05 | reg, ...le(m.disp, 4)], x: 0, b: 0 };
  if (m.base === 'none') {
    const index = m.index ?? 4;
    return { bytes: [0x04 | reg, (m.scale << 6) | ((index & 7) << 3) | 5, ...le(m.disp, 4)], x: index >> 3, b: 0 };
  }
  const baseLow = m.base & 7;
  const natural = m.disp === 0 && baseLow !== 5 ? 0 : m.disp >= -128 && m.disp <= 127 ? 1 : 4;
  const dispSize = m.dispSize === undefined || (m.dispSize === 0 && baseLow === 5) ? natural : m.dispSize;
  const mod = dispSize === 0 ? 0 : dispSize === 1 ? 0x40 : 0x80;
  const disp = le(m.disp, dispSize);
  if (m.index !== null || baseLow === 4) {
    const index = m.index ?? 4;
    return { bytes: [mod | reg | 4, (m.scale << 6) | ((index & 7) << 3) | baseLow, ...disp], x: index >> 3, b: m.base >> 3 };
  }
  return { bytes: [mod | reg | baseLow, ...disp], x: 0, b: m.base >> 3 };
}

/** ModRM of a register form: reg field and rm register 0..15. */
export function modrmRegister(regField: number, rm: number): { bytes: number[]; x: number; b: number } {
  return { bytes: [0xc0 | ((regField & 7) << 3) | (rm & 7)], x: 0, b: rm >> 3 };
}

/** Operand of a ModRM-based instruction: a register number or memory. */
export type RmOperand = number | MemoryOperand;

export interface LegacyInstruction {
  readonly prefixes?: readonly number[];
  /** REX.W. */
  readonly w?: boolean;
  /** Emit a REX byte even when it is 0x40. */
  readonly rex?: boolean;
  /** Extra REX bits ORed in (spurious bits). */
  readonly rexExtra?: number;
  /** Opcode bytes (escapes included). */
  readonly opcode: readonly number[];
  /** ModRM.reg: register 0..15 or opcode extension. */
  readonly reg?: number;
  readonly rm?: RmOperand;
  /** Register in the opcode's low 3 bits (+r forms). */
  readonly opreg?: number;
  readonly imm?: readonly number[];
}

/** Encodes a legacy (non-VEX) instruction. */
export function legacy(i: LegacyInstruction): number[] {
  let r = 0;
  let x = 0;
  let b = 0;
  let tail: number[] = [];
  if (i.rm !== undefined) {
    const m = typeof i.rm === 'number' ? modrmRegister(i.reg ?? 0, i.rm) : modrmMemory(i.reg ?? 0, i.rm);
    r = ((i.reg ?? 0) >> 3) & 1;
    x = m.x;
    b = m.b;
    tail = m.bytes;
  }
  if (i.opreg !== undefined) b = i.opreg >> 3;
  const rex = 0x40 | (i.w ? 8 : 0) | (r << 2) | (x << 1) | b | (i.rexExtra ?? 0);
  const out = [...(i.prefixes ?? [])];
  if (rex !== 0x40 || i.rex) out.push(rex);
  const opcode = [...i.opcode];
  if (i.opreg !== undefined) opcode[opcode.length - 1] = ((opcode[opcode.length - 1] as number) & 0xf8) | (i.opreg & 7);
  out.push(...opcode, ...tail, ...(i.imm ?? []));
  return out;
}

export interface VexInstruction {
  /** 1 = 0F, 2 = 0F38, 3 = 0F3A. */
  readonly map: number;
  /** 0 none, 1 = 66, 2 = F3, 3 = F2. */
  readonly pp: number;
  readonly l: number;
  readonly w: number;
  /** VEX.vvvv register (0..15), unused = 0 (encoded 1111). */
  readonly v: number;
  readonly opcode: number;
  readonly reg: number;
  readonly rm: RmOperand;
  readonly imm?: readonly number[];
  /** Force the 3-byte form. */
  readonly long?: boolean;
  /** Extra R/X/B bits ORed in (spurious). */
  readonly extra?: { r?: number; x?: number; b?: number };
}

/** Encodes a VEX instruction (2-byte form when possible). */
export function vex(i: VexInstruction): number[] {
  const m = typeof i.rm === 'number' ? modrmRegister(i.reg, i.rm) : modrmMemory(i.reg, i.rm);
  const r = ((i.reg >> 3) & 1) | (i.extra?.r ?? 0);
  const x = m.x | (i.extra?.x ?? 0);
  const b = m.b | (i.extra?.b ?? 0);
  const last = (i.w << 7) | ((~i.v & 15) << 3) | (i.l << 2) | i.pp;
  const prefix = !i.long && i.map === 1 && x === 0 && b === 0 && i.w === 0
    ? [0xc5, (r ? 0 : 0x80) | (last & 0x7f)]
    : [0xc4, (r ? 0 : 0x80) | (x ? 0 : 0x40) | (b ? 0 : 0x20) | i.map, last];
  return [...prefix, i.opcode, ...m.bytes, ...(i.imm ?? [])];
}

/** A register 0..15 biased to the sandbox's special ones (rsp, rbp, r15) and rax. */
export function sandboxRegister(r: Prng): number {
  return r.chance(0.45) ? r.pick([4, 5, 15, 0]) : r.int(16);
}

/** A displacement: mostly zero or small, sometimes anything. */
export function displacement(r: Prng): number {
  return r.weighted([[0, 4], [1, 3], [4, 2]] as const) === 0 ? 0 : r.chance(0.6) ? r.int(256) - 128 : (r.int(0x100000000) | 0);
}

/** A memory operand of any shape, biased to the sandbox's bases and to `index`. */
export function memoryOperand(r: Prng, index: number | null = null): MemoryOperand {
  const base = r.weighted<number | 'rip' | 'none'>([[15, 5], [4, 2], [5, 2], ['rip', 1], ['none', 1], [r.int(16), 3]]);
  const idx = base === 'rip' ? null : r.chance(0.5) ? (index ?? sandboxRegister(r)) : r.chance(0.5) ? null : r.int(16);
  return { base, index: idx, scale: r.int(4) as 0 | 1 | 2 | 3, disp: displacement(r), dispSize: r.chance(0.15) ? (r.pick([0, 1, 4] as const)) : undefined };
}
