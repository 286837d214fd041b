/**
 * A generator of VALID sandboxed x86-64 code, for property tests and the
 * validator benchmark.
 *
 * Pipeline position: test support only (nothing in the product imports it).
 * `validate.property.test.ts` checks that everything produced here
 * validates and that each single mutation from `mutations.ts` is rejected
 * with the right rule; `bench/validator.bench.ts` measures throughput on
 * `generateValidRegion()`.
 *
 * Source of truth: NaCl's rules as written in spec/validator.md (and, for
 * what NaCl accepts, its validator itself: the differential tests of
 * oracles.ts), NOT the validator's own tables: bytes are encoded here by small hand-written
 * encoders, so a regression in the validator's tables or matchers shows up
 * as a generated program that fails to validate.
 *
 * Model:
 * - A program is a list of *units*. A unit is one instruction or one
 *   sandboxing sequence that must stay together (nacljmp, a zero-extending
 *   `mov %eXX,%eXX` and the memory access that uses %rXX as index,
 *   `mov ...,%esp; add %r15,%rsp`, string superinstructions). Each unit
 *   keeps its instructions as structured `InsnSpec`s (so a mutation can
 *   change one field and re-encode), its bytes, the start of each
 *   instruction, and named roles (mask, rebase, branch, zeroExtend, access,
 *   write, ...).
 * - `layout()` packs units into 32-byte bundles: a unit never crosses a
 *   bundle end (the gap is padded with `hlt`, one-byte nops or the
 *   assembler's long nops); calls (direct, and naclcall) are placed to end
 *   exactly at a bundle end, as NaCl toolchains do, so return addresses are
 *   bundle-aligned. Direct jump targets are resolved after placement.
 * - Direct jumps target unit starts (never the inside of a unit), bundle
 *   starts, or 32-byte-aligned addresses outside the region. A rel8 jump
 *   picks among the targets it can reach; if none of its kind is reachable
 *   it jumps to itself (`eb fe`, valid).
 *
 * Choices a reader might question:
 * - Units are built from a fixed-length array of random words (one word per
 *   choice, 0 = the simplest choice). fast-check generates and shrinks the
 *   words; the benchmark feeds the same builders from a seeded PRNG. So
 *   both consumers share one generator, and shrinking tends toward nops and
 *   %rax.
 * - Instructions: general-purpose (opcodes/legacy.ts, system0f.ts), a
 *   curated set of SSE-SSE4.2/MMX/x87/AVX/AVX2/FMA forms, padding nops.
 *   Only canonical encodings, as assemblers emit them (no spurious REX
 *   bits; VEX.W0/L0 where the CPU ignores them), so "valid here" also
 *   means "valid for NaCl". Left out on purpose: what NaCl rejects (pushf,
 *   popf, fxsave, clflush, AES-NI, CLMUL, F16C, BMI1, BMI2, ...) and x87
 *   transcendentals / rcpps-style approximations, whose
 *   results differ between CPUs (the deterministic policy may reject them).
 * - Instructions whose address is never accessed (lea, prefetch) get
 *   arbitrary addresses; every other memory operand is sandboxed: %r15,
 *   %rsp, %rbp or %rip base, and an index only when zero-extended by the
 *   instruction right before (both in one unit).
 * - Registers written by ordinary instructions are never %rsp, %rbp, %r15
 *   (see ORDINARY_REGISTERS); they may be read freely.
 * - `generateValidRegion()` lays out 256 KiB of distinct code once and
 *   repeats it (documented there): repetition keeps every jump valid
 *   because chunks are whole bundles and targets are relative.
 * - This module imports fast-check (a devDependency) although it lives in
 *   src/: it belongs next to the validator it exercises, and the benchmark
 *   needs it outside vitest. Keep src/validator/testing/ out of the
 *   published build.
 */
import fc from 'fast-check';
import { WHITELISTED_NOPS } from '../nops.js';

export const BUNDLE = 32;

// ---- registers ----------------------------------------------------------------

export const RAX = 0;
export const RCX = 1;
export const RDX = 2;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;
export const R8 = 8;
export const R12 = 12;
export const R13 = 13;
export const R14 = 14;
export const R15 = 15;

/** Registers ordinary instructions may write: all but %rsp, %rbp and %r15. */
export const ORDINARY_REGISTERS: readonly number[] = [RAX, RCX, RDX, RBX, RSI, RDI, 8, 9, 10, 11, R12, R13, R14];

const REG64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
export function regName(reg: number): string {
  return REG64[reg] ?? `r?${reg}`;
}

// ---- encoding -------------------------------------------------------------------

/** A memory operand. `base` 'rip' is RIP-relative, 'none' an absolute disp32. */
export interface Mem {
  readonly base: number | 'rip' | 'none';
  readonly index: number | null;
  readonly scale: 1 | 2 | 4 | 8;
  readonly disp: number;
}

/**
 * One instruction, in fields. Encoded as: prefixes, REX (when needed or
 * `forceRex`), opcode (last byte + (opreg & 7) for "+r" forms), ModRM/SIB/
 * displacement for `rm`, immediate bytes, then `rel` zero bytes for a
 * relative displacement that `layout()` fills in. `raw` bypasses all that.
 */
export interface InsnSpec {
  readonly raw?: readonly number[];
  readonly prefixes?: readonly number[];
  readonly w?: boolean;
  readonly forceRex?: boolean;
  readonly opcode?: readonly number[];
  readonly opreg?: number;
  /** ModRM.reg: a register 0..15, or an opcode extension /0../7. */
  readonly reg?: number;
  readonly rm?: number | Mem;
  readonly imm?: readonly number[];
  readonly rel?: 1 | 4;
  /** VEX encoding (instead of REX): opcode map 0F/0F38/0F3A, implied prefix, L, W, vvvv register. */
  readonly vex?: VexFields;
}

export interface VexFields {
  readonly map: 1 | 2 | 3;
  /** Implied prefix: 0 none, 1 66, 2 F3, 3 F2. */
  readonly pp: 0 | 1 | 2 | 3;
  readonly l: 0 | 1;
  readonly w: 0 | 1;
  /** The register in VEX.vvvv (0 when unused: encoded 1111). */
  readonly v: number;
}

/** Little-endian bytes of `value` (two's complement) in `size` bytes. */
export function le(value: number, size: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(size * 8, BigInt(Math.trunc(value)));
  for (let i = 0; i < size; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

const SCALE_BITS: Record<Mem['scale'], number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

function encodeMem(regField: number, m: Mem): { bytes: number[]; x: number; b: number } {
  const reg = (regField & 7) << 3;
  if (m.base === 'rip') return { bytes: [0x05 | reg, ...le(m.disp, 4)], x: 0, b: 0 };
  const index = m.index;
  if (m.base === 'none') {
    const idx = index === null ? 4 : index & 7;
    return { bytes: [0x04 | reg, (SCALE_BITS[m.scale] << 6) | (idx << 3) | 5, ...le(m.disp, 4)], x: index !== null && index > 7 ? 1 : 0, b: 0 };
  }
  const baseLow = m.base & 7;
  const dispSize = m.disp === 0 && baseLow !== 5 ? 0 : m.disp >= -128 && m.disp <= 127 ? 1 : 4;
  const mod = dispSize === 0 ? 0 : dispSize === 1 ? 0x40 : 0x80;
  const disp = dispSize === 0 ? [] : le(m.disp, dispSize);
  const b = m.base > 7 ? 1 : 0;
  if (index !== null || baseLow === 4) {
    const idx = index === null ? 4 : index & 7;
    const sib = (SCALE_BITS[m.scale] << 6) | (idx << 3) | baseLow;
    return { bytes: [mod | reg | 4, sib, ...disp], x: index !== null && index > 7 ? 1 : 0, b };
  }
  return { bytes: [mod | reg | baseLow, ...disp], x: 0, b };
}

/** Encodes one instruction (see `InsnSpec`). */
export function encodeInsn(s: InsnSpec): number[] {
  if (s.raw) return [...s.raw];
  const out: number[] = [...(s.prefixes ?? [])];
  let r = 0;
  let x = 0;
  let b = 0;
  const tail: number[] = [];
  if (s.rm !== undefined) {
    const regField = s.reg ?? 0;
    r = (regField >> 3) & 1;
    if (typeof s.rm === 'number') {
      b = (s.rm >> 3) & 1;
      tail.push(0xc0 | ((regField & 7) << 3) | (s.rm & 7));
    } else {
      const m = encodeMem(regField, s.rm);
      x = m.x;
      b = m.b;
      tail.push(...m.bytes);
    }
  }
  if (s.opreg !== undefined) b = (s.opreg >> 3) & 1;
  if (s.vex) {
    const { map, pp, l, w, v } = s.vex;
    const vvvvLpp = ((~v & 15) << 3) | (l << 2) | pp;
    if (map === 1 && x === 0 && b === 0 && w === 0) out.push(0xc5, (r ? 0 : 0x80) | vvvvLpp);
    else out.push(0xc4, (r ? 0 : 0x80) | (x ? 0 : 0x40) | (b ? 0 : 0x20) | map, (w << 7) | vvvvLpp);
  } else {
    const rex = 0x40 | (s.w ? 8 : 0) | (r << 2) | (x << 1) | b;
    if (rex !== 0x40 || s.forceRex) out.push(rex);
  }
  const opcode = [...(s.opcode ?? [])];
  if (s.opreg !== undefined && opcode.length > 0) opcode[opcode.length - 1] = ((opcode[opcode.length - 1] as number) + (s.opreg & 7)) & 0xff;
  out.push(...opcode, ...tail, ...(s.imm ?? []));
  if (s.rel !== undefined) for (let i = 0; i < s.rel; i++) out.push(0);
  return out;
}

// ---- units ---------------------------------------------------------------------

export type UnitKind =
  | 'nop' | 'simple' | 'alu-rr' | 'alu-ri' | 'mov-ri' | 'misc' | 'mem' | 'lea' | 'push-pop'
  | 'jump' | 'call' | 'nacljmp' | 'naclcall' | 'rsp-set' | 'rbp-set' | 'stack-special' | 'string' | 'simd'
  /** Units only mutations create (forbidden or otherwise invalid code). */
  | 'invalid';

/** Indices (into `Unit.insns`) of the instructions that play a role. */
export interface UnitRoles {
  /** nacljmp/naclcall: `and $-32,%eXX`. */
  readonly mask?: number;
  /** nacljmp/naclcall: `add %r15,%rXX`; rsp/rbp-set: `add %r15,%rsp|%rbp` (or lea). */
  readonly rebase?: number;
  /** nacljmp/naclcall: the `jmp|call *%rXX`. */
  readonly branch?: number;
  /** mem: the 32-bit write that makes the index register restricted. */
  readonly zeroExtend?: number;
  /** mem: the instruction with the memory operand. */
  readonly access?: number;
  /** rsp/rbp-set: the 32-bit write to %esp/%ebp. */
  readonly write?: number;
  /** string: `mov %esi,%esi` and `mov %edi,%edi` (each followed by its lea). */
  readonly sandboxRsi?: number;
  readonly sandboxRdi?: number;
  /** string: the string instruction. */
  readonly string?: number;
}

/** Where a direct jump goes; resolved by `layout()`. */
export type JumpTarget =
  /** The start of a unit (pick modulo the reachable ones). */
  | { readonly kind: 'unit'; readonly pick: number }
  /** A bundle start in [0, size] (pick modulo the reachable ones). */
  | { readonly kind: 'bundle'; readonly pick: number }
  /** An aligned address outside the region: -32k or size + 32(k-1). */
  | { readonly kind: 'outside'; readonly pick: number }
  /** Mutations: `delta` bytes into unit `unit` (rel32 only). */
  | { readonly kind: 'inside-unit'; readonly unit: number; readonly delta: number }
  /** Mutations: `delta` bytes from the region's start or end (rel32 only). */
  | { readonly kind: 'region'; readonly fromEnd: boolean; readonly delta: number };

export interface JumpInfo {
  /** Index of the jump instruction in `insns` (its last `size` bytes are the displacement). */
  readonly insn: number;
  readonly size: 1 | 4;
  readonly target: JumpTarget;
}

/** The written register of a single-instruction unit, for the r15 mutation. */
export interface DestinationField {
  readonly insn: number;
  readonly field: 'reg' | 'rm' | 'opreg' | 'vvvv';
}

export interface Unit {
  readonly kind: UnitKind;
  readonly insns: readonly InsnSpec[];
  /** Encoded bytes (jump displacements zero; `layout()` patches a copy). */
  readonly bytes: Uint8Array;
  /** Start of each instruction, relative to the unit. */
  readonly starts: readonly number[];
  readonly roles: UnitRoles;
  readonly dst?: DestinationField;
  readonly jump?: JumpInfo;
  /** Must end exactly at a bundle end (calls). */
  readonly alignEnd: boolean;
  /** Short human-readable description. */
  readonly text: string;
}

export interface UnitParts {
  readonly roles?: UnitRoles;
  readonly dst?: DestinationField;
  readonly jump?: JumpInfo;
  readonly alignEnd?: boolean;
}

/** Encodes `insns` into a unit. */
export function makeUnit(kind: UnitKind, text: string, insns: readonly InsnSpec[], parts: UnitParts = {}): Unit {
  const bytes: number[] = [];
  const starts: number[] = [];
  for (const insn of insns) {
    starts.push(bytes.length);
    bytes.push(...encodeInsn(insn));
  }
  if (bytes.length === 0 || bytes.length > BUNDLE) throw new Error(`unit ${text} is ${bytes.length} bytes`);
  return {
    kind,
    insns,
    bytes: Uint8Array.from(bytes),
    starts,
    roles: parts.roles ?? {},
    ...(parts.dst ? { dst: parts.dst } : {}),
    ...(parts.jump ? { jump: parts.jump } : {}),
    alignEnd: parts.alignEnd ?? false,
    text,
  };
}

/** The same unit with instruction `i` replaced (re-encoded; roles kept). */
export function replaceInsn(unit: Unit, i: number, insn: InsnSpec, text = unit.text): Unit {
  const insns = unit.insns.map((s, j) => (j === i ? insn : s));
  return makeUnit(unit.kind, text, insns, unit);
}

/** Length in bytes of instruction `i` of `unit`. */
export function insnLength(unit: Unit, i: number): number {
  return (unit.starts[i + 1] ?? unit.bytes.length) - (unit.starts[i] as number);
}

// ---- random choices ---------------------------------------------------------------

/** A source of choices: `int(n)` is in [0, n). */
export interface Rand {
  int(n: number): number;
}

/** Number of random words a unit is built from. */
export const UNIT_WORDS = 16;

/** Choices read from fixed words (fast-check shrinks them toward 0); 0 once exhausted. */
export class WordRand implements Rand {
  private i = 0;
  constructor(private readonly words: readonly number[]) {}
  int(n: number): number {
    const w = this.words[this.i++] ?? 0;
    return n <= 1 ? 0 : w % n;
  }
}

/** mulberry32: a tiny seeded PRNG (deterministic across platforms). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function pick<T>(r: Rand, items: readonly T[]): T {
  return items[r.int(items.length)] as T;
}
function bool(r: Rand): boolean {
  return r.int(2) === 1;
}
function imm8(r: Rand): number {
  return r.int(256) - 128;
}
function imm32(r: Rand): number {
  // Mostly small values, sometimes anything.
  return bool(r) ? r.int(0x10000) - 0x8000 : (r.int(0x100000000) | 0);
}

// ---- unit builders -------------------------------------------------------------------

/** The padding/alignment nops assemblers emit (GNU as, LLVM): the accepted ones up to 11 bytes. */
export const ASSEMBLER_NOPS: readonly (readonly number[])[] = WHITELISTED_NOPS.filter((nop) => nop.length <= 11);

/** Nops covering exactly `n` bytes (longest first). */
export function nopBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 0) {
    let best = ASSEMBLER_NOPS[0] as readonly number[];
    for (const nop of ASSEMBLER_NOPS) if (nop.length <= n && nop.length > best.length) best = nop;
    out.push(...best);
    n -= best.length;
  }
  return out;
}

function buildNop(r: Rand): Unit {
  const nop = pick(r, ASSEMBLER_NOPS);
  return makeUnit('nop', `nop${nop.length}`, [{ raw: nop }]);
}

const SIMPLE: readonly (readonly [string, readonly number[]])[] = [
  ['hlt', [0xf4]],
  ['cld', [0xfc]],
  ['std', [0xfd]],
  ['clc', [0xf8]],
  ['stc', [0xf9]],
  ['cmc', [0xf5]],
  ['pause', [0xf3, 0x90]],
  ['ud2', [0x0f, 0x0b]],
  ['lfence', [0x0f, 0xae, 0xe8]],
  ['mfence', [0x0f, 0xae, 0xf0]],
  ['sfence', [0x0f, 0xae, 0xf8]],
  ['cltq', [0x48, 0x98]],
  ['cwtl', [0x98]],
  ['cltd', [0x99]],
  ['cqto', [0x48, 0x99]],
  ['cbtw', [0x66, 0x98]],
  ['cwtd', [0x66, 0x99]],
];

function buildSimple(r: Rand): Unit {
  const [name, bytes] = pick(r, SIMPLE);
  return makeUnit('simple', name, [{ raw: bytes }]);
}

interface SizeChoice {
  readonly bits: 8 | 16 | 32 | 64;
  readonly prefixes: readonly number[];
  readonly w: boolean;
}
const SIZES: readonly SizeChoice[] = [
  { bits: 32, prefixes: [], w: false },
  { bits: 64, prefixes: [], w: true },
  { bits: 16, prefixes: [0x66], w: false },
  { bits: 8, prefixes: [], w: false },
];
function sizeOf(r: Rand, allow8: boolean): SizeChoice {
  return SIZES[r.int(allow8 ? 4 : 3)] as SizeChoice;
}
function immOf(r: Rand, bits: number): number[] {
  return bits === 8 ? le(imm8(r), 1) : bits === 16 ? le(imm32(r), 2) : le(imm32(r), 4);
}

/**
 * Registers for an instruction with operand size `bits` writing `dst`.
 * 8-bit forms: without REX, encodings 4..7 are %ah..%bh (harmless to write);
 * with REX they are %spl..%dil, so then the destination must be ordinary.
 */
function regs8(r: Rand, size: SizeChoice, writes: boolean): { dst: number; src: number; forceRex: boolean } {
  if (size.bits === 8 && !bool(r)) return { dst: r.int(8), src: r.int(8), forceRex: false };
  const dst = writes ? pick(r, ORDINARY_REGISTERS) : r.int(16);
  return { dst, src: r.int(16), forceRex: size.bits === 8 };
}

const ALU_OPS: readonly (readonly [string, number, boolean])[] = [
  // name, opcode of the Ev,Gv form (8-bit form is opcode-1, Gv,Ev is +2), writes
  ['add', 0x01, true],
  ['or', 0x09, true],
  ['adc', 0x11, true],
  ['sbb', 0x19, true],
  ['and', 0x21, true],
  ['sub', 0x29, true],
  ['xor', 0x31, true],
  ['cmp', 0x39, false],
  ['test', 0x85, false],
  ['mov', 0x89, true],
];

function buildAluRR(r: Rand): Unit {
  const [name, op, writes] = pick(r, ALU_OPS);
  const size = sizeOf(r, true);
  const { dst, src, forceRex } = regs8(r, size, writes);
  // test has no Gv,Ev form (0x87 would be xchg).
  const reverse = name !== 'test' && bool(r);
  const opcode = (size.bits === 8 ? op - 1 : op) + (reverse ? 2 : 0);
  const insn: InsnSpec = reverse
    ? { prefixes: size.prefixes, w: size.w, forceRex, opcode: [opcode], reg: dst, rm: src }
    : { prefixes: size.prefixes, w: size.w, forceRex, opcode: [opcode], reg: src, rm: dst };
  return makeUnit('alu-rr', `${name}${size.bits} ${regName(src)} -> ${regName(dst)}`, [insn], writes ? { dst: { insn: 0, field: reverse ? 'reg' : 'rm' } } : {});
}

function buildAluRI(r: Rand): Unit {
  const size = sizeOf(r, true);
  const b8 = size.bits === 8;
  const form = r.int(5);
  let ext: number;
  let opcode: number;
  let imm: number[];
  let writes = true;
  let name: string;
  switch (form) {
    case 0: // group 1 with a full immediate
      ext = r.int(8);
      opcode = b8 ? 0x80 : 0x81;
      imm = immOf(r, size.bits);
      name = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'][ext] as string;
      writes = ext !== 7;
      break;
    case 1: // group 1 with a sign-extended imm8
      ext = r.int(8);
      opcode = b8 ? 0x80 : 0x83;
      imm = le(imm8(r), 1);
      name = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'][ext] as string;
      writes = ext !== 7;
      break;
    case 2: // shifts and rotates (not /6, the sal alias NaCl rejects)
      ext = pick(r, [0, 1, 2, 3, 4, 5, 7]);
      opcode = pick(r, b8 ? [0xc0, 0xd0, 0xd2] : [0xc1, 0xd1, 0xd3]);
      imm = opcode === 0xc0 || opcode === 0xc1 ? le(r.int(64), 1) : [];
      name = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', '?', 'sar'][ext] as string;
      break;
    case 3: // test with an immediate, not, neg
      ext = pick(r, [0, 2, 3]);
      opcode = b8 ? 0xf6 : 0xf7;
      imm = ext === 0 ? immOf(r, size.bits) : [];
      name = ['test', '?', 'not', 'neg'][ext] as string;
      writes = ext !== 0;
      break;
    default: // inc, dec
      ext = r.int(2);
      opcode = b8 ? 0xfe : 0xff;
      imm = [];
      name = ext === 0 ? 'inc' : 'dec';
  }
  const { dst, forceRex } = regs8(r, size, writes);
  const insn: InsnSpec = { prefixes: size.prefixes, w: size.w, forceRex, opcode: [opcode], reg: ext, rm: dst, imm };
  return makeUnit('alu-ri', `${name}${size.bits} $imm -> ${regName(dst)}`, [insn], writes ? { dst: { insn: 0, field: 'rm' } } : {});
}

function buildMovRI(r: Rand): Unit {
  const dst = pick(r, ORDINARY_REGISTERS);
  switch (r.int(5)) {
    case 0:
      return makeUnit('mov-ri', `mov $imm32 -> ${regName(dst)}d`, [{ opcode: [0xb8], opreg: dst, imm: le(imm32(r), 4) }], { dst: { insn: 0, field: 'opreg' } });
    case 1:
      return makeUnit('mov-ri', `movabs $imm64 -> ${regName(dst)}`, [{ w: true, opcode: [0xb8], opreg: dst, imm: [...le(imm32(r), 4), ...le(imm32(r), 4)] }], { dst: { insn: 0, field: 'opreg' } });
    case 2:
      return makeUnit('mov-ri', `movq $simm32 -> ${regName(dst)}`, [{ w: true, opcode: [0xc7], reg: 0, rm: dst, imm: le(imm32(r), 4) }], { dst: { insn: 0, field: 'rm' } });
    case 3:
      return makeUnit('mov-ri', `movw $imm16 -> ${regName(dst)}`, [{ prefixes: [0x66], opcode: [0xb8], opreg: dst, imm: le(imm32(r), 2) }], { dst: { insn: 0, field: 'opreg' } });
    default:
      return makeUnit('mov-ri', `movb $imm8 -> ${regName(dst)}b`, [{ forceRex: true, opcode: [0xb0], opreg: dst, imm: le(imm8(r), 1) }], { dst: { insn: 0, field: 'opreg' } });
  }
}

/** Other register-only general-purpose instructions (destination ordinary, sources anything). */
function buildMisc(r: Rand): Unit {
  const dst = pick(r, ORDINARY_REGISTERS);
  const src = r.int(16);
  const w = bool(r);
  const cc = r.int(16);
  const forms: readonly (() => readonly [string, InsnSpec])[] = [
    () => ['imul', { w, opcode: [0x0f, 0xaf], reg: dst, rm: src }],
    () => ['imul $imm8', { w, opcode: [0x6b], reg: dst, rm: src, imm: le(imm8(r), 1) }],
    () => ['imul $imm32', { w, opcode: [0x69], reg: dst, rm: src, imm: le(imm32(r), 4) }],
    () => ['movzb', { w, forceRex: true, opcode: [0x0f, 0xb6], reg: dst, rm: src }],
    () => ['movzw', { w, opcode: [0x0f, 0xb7], reg: dst, rm: src }],
    () => ['movsb', { w, forceRex: true, opcode: [0x0f, 0xbe], reg: dst, rm: src }],
    () => ['movsw', { w, opcode: [0x0f, 0xbf], reg: dst, rm: src }],
    () => ['movslq', { w: true, opcode: [0x63], reg: dst, rm: src }],
    () => ['cmovcc', { w, opcode: [0x0f, 0x40 + cc], reg: dst, rm: src }],
    () => ['setcc', { forceRex: true, opcode: [0x0f, 0x90 + cc], reg: 0, rm: dst }],
    () => ['bsf', { w, opcode: [0x0f, 0xbc], reg: dst, rm: src }],
    () => ['bsr', { w, opcode: [0x0f, 0xbd], reg: dst, rm: src }],
    () => ['popcnt', { prefixes: [0xf3], w, opcode: [0x0f, 0xb8], reg: dst, rm: src }],
    () => ['tzcnt', { prefixes: [0xf3], w, opcode: [0x0f, 0xbc], reg: dst, rm: src }],
    () => ['lzcnt', { prefixes: [0xf3], w, opcode: [0x0f, 0xbd], reg: dst, rm: src }],
    () => ['bswap', { w, opcode: [0x0f, 0xc8], opreg: dst }],
    () => ['xchg', { w, opcode: [0x87], reg: pick(r, ORDINARY_REGISTERS), rm: dst }],
    () => ['xadd', { w, opcode: [0x0f, 0xc1], reg: pick(r, ORDINARY_REGISTERS), rm: dst }],
    () => ['bt* $imm', { w, opcode: [0x0f, 0xba], reg: 4 + r.int(4), rm: dst, imm: le(r.int(64), 1) }],
    () => ['shld $imm', { w, opcode: [0x0f, 0xa4], reg: src, rm: dst, imm: le(r.int(64), 1) }],
    () => ['shrd %cl', { w, opcode: [0x0f, 0xad], reg: src, rm: dst }],
    () => ['mul/imul/div/idiv', { w, opcode: [0xf7], reg: 4 + r.int(4), rm: src }],
    () => ['crc32', { prefixes: [0xf2], w, opcode: [0x0f, 0x38, 0xf1], reg: dst, rm: src }],
  ];
  const [name, insn] = pick(r, forms)();
  return makeUnit('misc', `${name} ${regName(src)} -> ${regName(dst)}`, [insn]);
}

/** A 32-bit write to `reg` that NaCl counts as zero-extending. */
function zeroExtendingWrite(r: Rand, reg: number): readonly [string, InsnSpec] {
  switch (r.int(6)) {
    case 0: return ['mov', { opcode: [0x89], reg, rm: reg }];
    case 1: return ['mov', { opcode: [0x8b], reg, rm: reg }];
    case 2: return ['mov $imm', { opcode: [0xb8], opreg: reg, imm: le(imm32(r), 4) }];
    case 3: return ['and $imm', { opcode: [0x83], reg: 4, rm: reg, imm: le(imm8(r), 1) }];
    case 4: return ['lea', { opcode: [0x8d], reg, rm: { base: pick(r, ORDINARY_REGISTERS), index: null, scale: 1, disp: imm8(r) } }];
    default: return ['add', { opcode: [0x01], reg: r.int(16), rm: reg }];
  }
}

function memOperand(r: Rand): { mem: Mem; zx?: readonly [string, InsnSpec]; text: string } {
  const disp = pick(r, [0, imm8(r), imm32(r)]);
  const scale = pick(r, [1, 2, 4, 8] as const);
  switch (r.int(6)) {
    case 0:
    case 1: {
      const index = pick(r, ORDINARY_REGISTERS);
      const zx = zeroExtendingWrite(r, index);
      return { mem: { base: R15, index, scale, disp }, zx, text: `${disp}(%r15,%${regName(index)},${scale})` };
    }
    case 2:
      return { mem: { base: R15, index: null, scale: 1, disp }, text: `${disp}(%r15)` };
    case 3:
      return { mem: { base: pick(r, [RSP, RBP]), index: null, scale: 1, disp }, text: `${disp}(%rsp|%rbp)` };
    case 4:
      return { mem: { base: 'rip', index: null, scale: 1, disp }, text: `${disp}(%rip)` };
    default: {
      const index = pick(r, ORDINARY_REGISTERS);
      const zx = zeroExtendingWrite(r, index);
      return { mem: { base: pick(r, [RSP, RBP]), index, scale, disp }, zx, text: `${disp}(%rsp|%rbp,%${regName(index)},${scale})` };
    }
  }
}

// ---- SIMD and x87 (tables in opcodes/sse*.ts, mmx.ts, x87.ts, vex.ts) --------------------

/** A SIMD/x87 form; `rm` is a memory operand, or null for the register form. */
interface SimdForm {
  readonly name: string;
  readonly mem: boolean;
  readonly reg: boolean;
  readonly build: (r: Rand, rm: Mem | null) => readonly [InsnSpec, DestinationField?];
}

const xmm = (r: Rand): number => r.int(16);
const mmx = (r: Rand): number => r.int(8);
const MANDATORY: readonly (readonly number[])[] = [[], [0x66], [0xf3], [0xf2]];

function sse(name: string, prefixes: readonly number[], opcode: readonly number[], opts: { imm?: boolean; mem?: boolean; reg?: boolean } = {}): SimdForm {
  return {
    name,
    mem: opts.mem ?? true,
    reg: opts.reg ?? true,
    build: (r, rm) => [{ prefixes, opcode, reg: xmm(r), rm: rm ?? xmm(r), ...(opts.imm ? { imm: le(r.int(256), 1) } : {}) }],
  };
}

function vex(name: string, map: 1 | 2 | 3, pp: 0 | 1 | 2 | 3, op: number, opts: { l?: readonly (0 | 1)[]; w?: 0 | 1; nds?: boolean; imm?: boolean; mem?: boolean; reg?: boolean } = {}): SimdForm {
  return {
    name,
    mem: opts.mem ?? true,
    reg: opts.reg ?? true,
    build: (r, rm) => [{
      vex: { map, pp, l: pick(r, opts.l ?? [0, 1]), w: opts.w ?? 0, v: opts.nds === false ? 0 : xmm(r) },
      opcode: [op], reg: xmm(r), rm: rm ?? xmm(r),
      ...(opts.imm ? { imm: le(r.int(256), 1) } : {}),
    }],
  };
}

function x87(name: string, opcode: number, ext: number): SimdForm {
  return { name, mem: true, reg: false, build: (_r, rm) => [{ opcode: [opcode], reg: ext, rm: rm ?? 0 }] };
}
function x87reg(name: string, bytes: readonly number[], stackIndex: boolean): SimdForm {
  return { name, mem: false, reg: true, build: (r) => [{ raw: stackIndex ? [...bytes.slice(0, -1), (bytes[bytes.length - 1] as number) + r.int(8)] : bytes }] };
}

const SIMD_FORMS: readonly SimdForm[] = [
  // SSE/SSE2 moves and arithmetic, every mandatory prefix
  { name: 'movups/movupd/movss/movsd load', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, MANDATORY), opcode: [0x0f, 0x10], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'movups/movupd/movss/movsd store', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, MANDATORY), opcode: [0x0f, 0x11], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'movaps/movapd', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[], [0x66]]), opcode: [0x0f, 0x28 + r.int(2)], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'sqrt/add/mul/sub/min/div/max ps/pd/ss/sd', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, MANDATORY), opcode: [0x0f, pick(r, [0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f])], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'and/andn/or/xor ps/pd', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[], [0x66]]), opcode: [0x0f, 0x54 + r.int(4)], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'cmpps/pd/ss/sd', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, MANDATORY), opcode: [0x0f, 0xc2], reg: xmm(r), rm: rm ?? xmm(r), imm: le(r.int(8), 1) }] },
  { name: 'ucomis/comis', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[], [0x66]]), opcode: [0x0f, 0x2e + r.int(2)], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'cvtps2pd/cvtss2sd/...', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, MANDATORY), opcode: [0x0f, 0x5a], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'SSE2 integer', mem: true, reg: true, build: (r, rm) => [{ prefixes: [0x66], opcode: [0x0f, pick(r, [0xfe, 0xd4, 0xef, 0xdb, 0xeb, 0xf8, 0x74, 0x60, 0x6c, 0xf4, 0xe4, 0x66, 0xd5])], reg: xmm(r), rm: rm ?? xmm(r) }] },
  { name: 'movdqa/movdqu', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[0x66], [0xf3]]), opcode: [0x0f, pick(r, [0x6f, 0x7f])], reg: xmm(r), rm: rm ?? xmm(r) }] },
  sse('pshufd', [0x66], [0x0f, 0x70], { imm: true }),
  sse('shufps', [], [0x0f, 0xc6], { imm: true }),
  sse('pshufb', [0x66], [0x0f, 0x38, 0x00]),
  sse('palignr', [0x66], [0x0f, 0x3a, 0x0f], { imm: true }),
  sse('pminsd', [0x66], [0x0f, 0x38, 0x39]),
  sse('ptest', [0x66], [0x0f, 0x38, 0x17]),
  sse('pmulld', [0x66], [0x0f, 0x38, 0x40]),
  sse('roundsd', [0x66], [0x0f, 0x3a, 0x0b], { imm: true }),
  sse('pcmpgtq', [0x66], [0x0f, 0x38, 0x37]),
  { name: 'cvtsi2sd/ss', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[0xf2], [0xf3]]), w: bool(r), opcode: [0x0f, 0x2a], reg: xmm(r), rm: rm ?? r.int(16) }] },
  { name: 'movd/movq to xmm', mem: true, reg: true, build: (r, rm) => [{ prefixes: [0x66], w: bool(r), opcode: [0x0f, 0x6e], reg: xmm(r), rm: rm ?? r.int(16) }] },
  // Forms writing a general register: destination ordinary.
  { name: 'cvttsd2si/cvtss2si', mem: true, reg: true, build: (r, rm) => [{ prefixes: pick(r, [[0xf2], [0xf3]]), w: bool(r), opcode: [0x0f, 0x2c + r.int(2)], reg: pick(r, ORDINARY_REGISTERS), rm: rm ?? xmm(r) }, { insn: 0, field: 'reg' }] },
  { name: 'movd/movq from xmm', mem: true, reg: true, build: (r, rm) => [{ prefixes: [0x66], w: bool(r), opcode: [0x0f, 0x7e], reg: xmm(r), rm: rm ?? pick(r, ORDINARY_REGISTERS) }, rm ? undefined : { insn: 0, field: 'rm' }] },
  { name: 'pmovmskb/movmskps', mem: false, reg: true, build: (r) => [{ prefixes: pick(r, [[0x66], []]), opcode: [0x0f, 0xd7], reg: pick(r, ORDINARY_REGISTERS), rm: xmm(r) }, { insn: 0, field: 'reg' }] },
  { name: 'pextrd/pextrq', mem: true, reg: true, build: (r, rm) => [{ prefixes: [0x66], w: bool(r), opcode: [0x0f, 0x3a, 0x16], reg: xmm(r), rm: rm ?? pick(r, ORDINARY_REGISTERS), imm: le(r.int(4), 1) }, rm ? undefined : { insn: 0, field: 'rm' }] },
  // MMX
  { name: 'MMX', mem: true, reg: true, build: (r, rm) => [{ opcode: [0x0f, pick(r, [0xfc, 0xfe, 0xef, 0xd5, 0x6f, 0x7f, 0xdb, 0x74])], reg: mmx(r), rm: rm ?? mmx(r) }] },
  { name: 'emms', mem: false, reg: true, build: () => [{ raw: [0x0f, 0x77] }] },
  // x87 (no transcendental instructions: their results differ between CPUs)
  x87('fadd..fdivr m32', 0xd8, 0), x87('fmul m32', 0xd8, 1), x87('fsub m64', 0xdc, 4), x87('fdivr m64', 0xdc, 7),
  x87('flds', 0xd9, 0), x87('fldl', 0xdd, 0), x87('fldt', 0xdb, 5), x87('fsts', 0xd9, 2), x87('fstps', 0xd9, 3),
  x87('fstpl', 0xdd, 3), x87('fstpt', 0xdb, 7), x87('fildl', 0xdb, 0), x87('fildll', 0xdf, 5), x87('fistpl', 0xdb, 3),
  x87('fisttpll', 0xdd, 1), x87('fldcw', 0xd9, 5), x87('fnstcw', 0xd9, 7), x87('fnstsw m16', 0xdd, 7),
  x87reg('fadd %st(i),%st', [0xd8, 0xc0], true), x87reg('faddp', [0xde, 0xc0], true), x87reg('fxch', [0xd9, 0xc8], true),
  x87reg('fld %st(i)', [0xd9, 0xc0], true), x87reg('fstp %st(i)', [0xdd, 0xd8], true), x87reg('fucomi', [0xdb, 0xe8], true),
  x87reg('fcmovb', [0xda, 0xc0], true), x87reg('fldz', [0xd9, 0xee], false), x87reg('fld1', [0xd9, 0xe8], false),
  x87reg('fchs', [0xd9, 0xe0], false), x87reg('fabs', [0xd9, 0xe1], false), x87reg('fsqrt', [0xd9, 0xfa], false),
  x87reg('fnstsw %ax', [0xdf, 0xe0], false),
  // AVX / AVX2 / FMA / F16C (W0 and L0 where the CPU ignores them, as NaCl wants)
  vex('vadd/vmul/vsub/vmin/vdiv/vmax ps', 1, 0, 0x58), vex('vmulpd', 1, 1, 0x59), vex('vsubss', 1, 2, 0x5c, { l: [0] }), vex('vmaxsd', 1, 3, 0x5f, { l: [0] }),
  vex('vxorps', 1, 0, 0x57), vex('vandpd', 1, 1, 0x54), vex('vorps', 1, 0, 0x56),
  vex('vmovups load', 1, 0, 0x10, { nds: false }), vex('vmovupd store', 1, 1, 0x11, { nds: false }),
  vex('vmovdqu load', 1, 2, 0x6f, { nds: false }), vex('vmovdqa store', 1, 1, 0x7f, { nds: false }),
  vex('vpaddd', 1, 1, 0xfe), vex('vpxor', 1, 1, 0xef), vex('vpand', 1, 1, 0xdb),
  vex('vpshufb', 2, 1, 0x00), vex('vpminsd', 2, 1, 0x39),
  vex('vfmadd231ps', 2, 1, 0xb8), vex('vfmadd231sd', 2, 1, 0xb9, { l: [0], w: 1 }),
  vex('vbroadcastss', 2, 1, 0x18, { nds: false, reg: false }),
  vex('vperm2f128', 3, 1, 0x06, { l: [1], imm: true }), vex('vinsertf128', 3, 1, 0x18, { l: [1], imm: true }),
  vex('vextractf128', 3, 1, 0x19, { l: [1], nds: false, imm: true }),
  { name: 'vzeroupper/vzeroall', mem: false, reg: true, build: (r) => [{ raw: [0xc5, pick(r, [0xf8, 0xfc]), 0x77] }] },
  { name: 'vcvtsi2sd', mem: true, reg: true, build: (r, rm) => [{ vex: { map: 1, pp: 3, l: 0, w: r.int(2) as 0 | 1, v: xmm(r) }, opcode: [0x2a], reg: xmm(r), rm: rm ?? r.int(16) }] },
  { name: 'vcvttsd2si', mem: true, reg: true, build: (r, rm) => [{ vex: { map: 1, pp: 3, l: 0, w: r.int(2) as 0 | 1, v: 0 }, opcode: [0x2c], reg: pick(r, ORDINARY_REGISTERS), rm: rm ?? xmm(r) }, { insn: 0, field: 'reg' }] },
];

const SIMD_REG_FORMS = SIMD_FORMS.filter((f) => f.reg);
const SIMD_MEM_FORMS = SIMD_FORMS.filter((f) => f.mem);

/** A SIMD, x87 or VEX instruction on registers. */
function buildSimd(r: Rand): Unit {
  const form = pick(r, SIMD_REG_FORMS);
  const [insn, dst] = form.build(r, null);
  return makeUnit('simd', form.name, [insn], dst ? { dst } : {});
}

/** A SIMD, x87 or VEX instruction with memory operand `mem`. */
function simdMemoryForm(r: Rand, mem: Mem): readonly [string, InsnSpec] {
  const form = pick(r, SIMD_MEM_FORMS);
  return [form.name, form.build(r, mem)[0]];
}

/** Less common general-purpose instructions with a memory operand (32/64-bit, `reg` ordinary). */
function otherMemoryForm(r: Rand, mem: Mem, reg: number): readonly [string, InsnSpec] {
  const w = bool(r);
  const lock = bool(r) ? [0xf0] : [];
  const cc = r.int(16);
  const forms: readonly (() => readonly [string, InsnSpec])[] = [
    () => ['movzx/movsx load', { w, opcode: [0x0f, pick(r, [0xb6, 0xb7, 0xbe, 0xbf])], reg, rm: mem }],
    () => ['movslq load', { w: true, opcode: [0x63], reg, rm: mem }],
    () => ['imul load', { w, opcode: [0x0f, 0xaf], reg, rm: mem }],
    () => ['cmovcc load', { w, opcode: [0x0f, 0x40 + cc], reg, rm: mem }],
    () => ['cmpxchg', { prefixes: lock, w, opcode: [0x0f, 0xb1], reg, rm: mem }],
    () => ['xadd', { prefixes: lock, w, opcode: [0x0f, 0xc1], reg, rm: mem }],
    () => ['xchg', { w, opcode: [0x87], reg, rm: mem }],
    () => ['setcc', { opcode: [0x0f, 0x90 + cc], reg: 0, rm: mem }],
    () => ['bt* $imm', { w, opcode: [0x0f, 0xba], reg: 4 + r.int(4), rm: mem, imm: le(r.int(64), 1) }],
    () => ['push mem', { opcode: [0xff], reg: 6, rm: mem }],
    () => ['pop mem', { opcode: [0x8f], reg: 0, rm: mem }],
    () => ['shift mem', { w, opcode: [0xc1], reg: pick(r, [0, 1, 2, 3, 4, 5, 7]), rm: mem, imm: le(r.int(64), 1) }],
    () => ['not/neg mem', { prefixes: lock, w, opcode: [0xf7], reg: 2 + r.int(2), rm: mem }],
    () => ['mul/div mem', { w, opcode: [0xf7], reg: 4 + r.int(4), rm: mem }],
    () => ['test mem', { w, opcode: [0x85], reg: r.int(16), rm: mem }],
    () => ['movbe', { w, opcode: [0x0f, 0x38, 0xf0 + r.int(2)], reg, rm: mem }],
    () => ['crc32 mem', { prefixes: [0xf2], w, opcode: [0x0f, 0x38, 0xf1], reg, rm: mem }],
    () => ['cmpxchg8b/16b', { prefixes: lock, w, opcode: [0x0f, 0xc7], reg: 1, rm: mem }],
    () => ['ldmxcsr/stmxcsr', { opcode: [0x0f, 0xae], reg: 2 + r.int(2), rm: mem }],
  ];
  return pick(r, forms)();
}

function buildMem(r: Rand): Unit {
  const { mem, zx, text } = memOperand(r);
  const size = sizeOf(r, true);
  const b8 = size.bits === 8;
  const reg = pick(r, ORDINARY_REGISTERS);
  const forceRex = b8 && reg >= 4;
  let access: InsnSpec;
  let name: string;
  switch (r.int(13)) {
    case 10: case 11: case 12: [name, access] = simdMemoryForm(r, mem); break;
    case 0: name = 'load'; access = { prefixes: size.prefixes, w: size.w, forceRex, opcode: [b8 ? 0x8a : 0x8b], reg, rm: mem }; break;
    case 1: name = 'store'; access = { prefixes: size.prefixes, w: size.w, forceRex, opcode: [b8 ? 0x88 : 0x89], reg: r.int(16), rm: mem }; break;
    case 2: name = 'store $imm'; access = { prefixes: size.prefixes, w: size.w, opcode: [b8 ? 0xc6 : 0xc7], reg: 0, rm: mem, imm: immOf(r, size.bits) }; break;
    case 3: {
      const [n, op] = pick(r, ALU_OPS.filter(([, , wr]) => wr));
      name = `${n} to memory`;
      access = { prefixes: size.prefixes, w: size.w, forceRex: b8, opcode: [b8 ? op - 1 : op], reg: r.int(16), rm: mem };
      break;
    }
    case 4: {
      const [n, op] = pick(r, ALU_OPS.filter(([nm]) => nm !== 'test'));
      name = `${n} from memory`;
      access = { prefixes: size.prefixes, w: size.w, forceRex, opcode: [(b8 ? op - 1 : op) + 2], reg, rm: mem };
      break;
    }
    case 5: name = 'lock add'; access = { prefixes: [0xf0, ...size.prefixes], w: size.w, forceRex: b8, opcode: [b8 ? 0x00 : 0x01], reg: r.int(16), rm: mem }; break;
    case 6: name = 'inc/dec memory'; access = { prefixes: size.prefixes, w: size.w, opcode: [b8 ? 0xfe : 0xff], reg: r.int(2), rm: mem }; break;
    default: [name, access] = otherMemoryForm(r, mem, reg); break;
  }
  if (zx) {
    return makeUnit('mem', `${zx[0]} -> ${text}; ${name}`, [zx[1], access], { roles: { zeroExtend: 0, access: 1 } });
  }
  return makeUnit('mem', `${name} ${text}`, [access], { roles: { access: 0 } });
}

/** Instructions with an address operand that is never accessed (lea, prefetch): any address. */
function buildLea(r: Rand): Unit {
  const dst = pick(r, ORDINARY_REGISTERS);
  const baseChoice = r.int(18);
  const base: Mem['base'] = baseChoice === 16 ? 'rip' : baseChoice === 17 ? 'none' : baseChoice;
  const indexChoice = r.int(17);
  // Index 4 (%rsp) cannot be encoded; 16 means none.
  const index = indexChoice === 16 || indexChoice === RSP || base === 'rip' ? null : indexChoice;
  const mem: Mem = { base, index, scale: pick(r, [1, 2, 4, 8] as const), disp: pick(r, [0, imm8(r), imm32(r)]) };
  // prefetch* never access memory either: no sandboxing needed (NaCl's corpus agrees).
  if (r.int(4) === 0) return makeUnit('lea', 'prefetch', [{ opcode: [0x0f, 0x18], reg: r.int(4), rm: mem }]);
  const size = sizeOf(r, false);
  return makeUnit('lea', `lea -> ${regName(dst)}`, [{ prefixes: size.prefixes, w: size.w, opcode: [0x8d], reg: dst, rm: mem }], { dst: { insn: 0, field: 'reg' } });
}

function buildPushPop(r: Rand): Unit {
  switch (r.int(5)) {
    case 0:
    case 1: {
      const reg = r.int(16);
      return makeUnit('push-pop', `push %${regName(reg)}`, [{ opcode: [0x50], opreg: reg }]);
    }
    case 2: {
      const reg = pick(r, ORDINARY_REGISTERS);
      return makeUnit('push-pop', `pop %${regName(reg)}`, [{ opcode: [0x58], opreg: reg }], { dst: { insn: 0, field: 'opreg' } });
    }
    case 3:
      return makeUnit('push-pop', 'push $imm8', [{ opcode: [0x6a], imm: le(imm8(r), 1) }]);
    default:
      return makeUnit('push-pop', 'push $imm32', [{ opcode: [0x68], imm: le(imm32(r), 4) }]);
  }
}

function jumpTarget(r: Rand): JumpTarget {
  const k = r.int(10);
  const p = r.int(0x7fffffff);
  return k < 7 ? { kind: 'unit', pick: p } : k < 9 ? { kind: 'bundle', pick: p } : { kind: 'outside', pick: p };
}

function buildJump(r: Rand): Unit {
  const target = jumpTarget(r);
  const cc = r.int(16);
  switch (r.int(5)) {
    case 0: return makeUnit('jump', 'jmp rel8', [{ opcode: [0xeb], rel: 1 }], { jump: { insn: 0, size: 1, target } });
    case 1: return makeUnit('jump', 'jmp rel32', [{ opcode: [0xe9], rel: 4 }], { jump: { insn: 0, size: 4, target } });
    case 2: return makeUnit('jump', 'jcc rel8', [{ opcode: [0x70 + cc], rel: 1 }], { jump: { insn: 0, size: 1, target } });
    case 3: return makeUnit('jump', 'jcc rel32', [{ opcode: [0x0f, 0x80 + cc], rel: 4 }], { jump: { insn: 0, size: 4, target } });
    default: {
      const op = 0xe0 + r.int(4);
      return makeUnit('jump', ['loopne', 'loope', 'loop', 'jrcxz'][op - 0xe0] as string, [{ opcode: [op], rel: 1 }], { jump: { insn: 0, size: 1, target } });
    }
  }
}

function buildCall(r: Rand): Unit {
  return makeUnit('call', 'call rel32', [{ opcode: [0xe8], rel: 4 }], { jump: { insn: 0, size: 4, target: jumpTarget(r) }, alignEnd: true });
}

/** `and $-32,%eXX; add %r15,%rXX; jmp|call *%rXX` (canonical encodings; the add either way round). */
export function naclBranch(reg: number, call: boolean, addForm: 0 | 1): Unit {
  const mask: InsnSpec = { opcode: [0x83], reg: 4, rm: reg, imm: [0xe0] };
  const rebase: InsnSpec = addForm === 0 ? { w: true, opcode: [0x01], reg: R15, rm: reg } : { w: true, opcode: [0x03], reg, rm: R15 };
  const branch: InsnSpec = { opcode: [0xff], reg: call ? 2 : 4, rm: reg };
  return makeUnit(call ? 'naclcall' : 'nacljmp', `${call ? 'naclcall' : 'nacljmp'} %${regName(reg)}`, [mask, rebase, branch], {
    roles: { mask: 0, rebase: 1, branch: 2 },
    alignEnd: call,
  });
}

function buildNaclJump(r: Rand): Unit {
  return naclBranch(pick(r, ORDINARY_REGISTERS), false, r.int(2) as 0 | 1);
}
function buildNaclCall(r: Rand): Unit {
  return naclBranch(pick(r, ORDINARY_REGISTERS), true, r.int(2) as 0 | 1);
}

/** The ways to finish a %rsp/%rbp update: add %r15 (either encoding) or lea. */
export function rebaseInsn(target: typeof RSP | typeof RBP, form: number): InsnSpec {
  if (form === 0) return { w: true, opcode: [0x01], reg: R15, rm: target };
  if (form === 1) return { w: true, opcode: [0x03], reg: target, rm: R15 };
  return target === RSP ? { raw: [0x4a, 0x8d, 0x24, 0x3c] } : { raw: [0x4a, 0x8d, 0x6c, 0x3d, 0x00] };
}

function buildStackSet(r: Rand, target: typeof RSP | typeof RBP): Unit {
  const src = r.int(16);
  let write: InsnSpec;
  let name: string;
  switch (r.int(5)) {
    case 0: name = `mov %${regName(src)}d`; write = { opcode: [0x89], reg: src, rm: target }; break;
    case 1: name = `mov %${regName(src)}d`; write = { opcode: [0x8b], reg: target, rm: src }; break;
    case 2: name = 'lea'; write = { opcode: [0x8d], reg: target, rm: { base: target, index: null, scale: 1, disp: imm8(r) } }; break;
    case 3: name = 'sub $imm8'; write = { opcode: [0x83], reg: 5, rm: target, imm: le(r.int(128), 1) }; break;
    default: name = 'add $imm32'; write = { opcode: [0x81], reg: 0, rm: target, imm: le(r.int(0x10000), 4) }; break;
  }
  const e = target === RSP ? 'esp' : 'ebp';
  return makeUnit(target === RSP ? 'rsp-set' : 'rbp-set', `${name} -> %${e}; rebase`, [write, rebaseInsn(target, r.int(3))], { roles: { write: 0, rebase: 1 } });
}

const STACK_SPECIAL: readonly (readonly [string, readonly number[]])[] = [
  ['mov %rsp,%rbp', [0x48, 0x89, 0xe5]],
  ['mov %rsp,%rbp', [0x48, 0x8b, 0xec]],
  ['mov %rbp,%rsp', [0x48, 0x89, 0xec]],
  ['mov %rbp,%rsp', [0x48, 0x8b, 0xe5]],
];

function buildStackSpecial(r: Rand): Unit {
  if (r.int(3) === 0) {
    const mask = 0x80 + r.int(0x80);
    return makeUnit('stack-special', `and $${mask - 256},%rsp`, [{ raw: [0x48, 0x83, 0xe4, mask] }]);
  }
  const [name, bytes] = pick(r, STACK_SPECIAL);
  return makeUnit('stack-special', name, [{ raw: bytes }]);
}

/** `mov %esi,%esi; lea (%r15,%rsi,1),%rsi` / the %rdi version (the mov either way round). */
export function sandboxString(reg: typeof RSI | typeof RDI, movForm: number): InsnSpec[] {
  return [
    { opcode: [movForm === 0 ? 0x89 : 0x8b], reg, rm: reg },
    { w: true, opcode: [0x8d], reg, rm: { base: R15, index: reg, scale: 1, disp: 0 } },
  ];
}

/** String instructions: opcode (byte form), uses rsi, uses rdi, may take repne. */
const STRINGS: readonly (readonly [string, number, boolean, boolean, boolean])[] = [
  ['movs', 0xa4, true, true, false],
  ['cmps', 0xa6, true, true, true],
  ['stos', 0xaa, false, true, false],
  ['lods', 0xac, true, false, false],
  ['scas', 0xae, false, true, true],
];

function buildString(r: Rand): Unit {
  const [name, op, rsi, rdi, conditional] = pick(r, STRINGS);
  const width = r.int(4); // b, w, l, q
  const rep = r.int(conditional ? 3 : 2); // none, rep, repne
  const prefixes: number[] = [];
  if (rep === 1) prefixes.push(0xf3);
  if (rep === 2) prefixes.push(0xf2);
  // 0x66 only without rep (nativeclient issue 1950).
  const w = width === 1 && rep !== 0 ? 2 : width;
  if (w === 1) prefixes.push(0x66);
  const insns: InsnSpec[] = [];
  const roles: { sandboxRsi?: number; sandboxRdi?: number; string?: number } = {};
  if (rsi) {
    roles.sandboxRsi = insns.length;
    insns.push(...sandboxString(RSI, r.int(2)));
  }
  if (rdi) {
    roles.sandboxRdi = insns.length;
    insns.push(...sandboxString(RDI, r.int(2)));
  }
  roles.string = insns.length;
  insns.push({ prefixes, w: w === 3, opcode: [w === 0 ? op : op + 1] });
  const suffix = ['b', 'w', 'l', 'q'][w] as string;
  return makeUnit('string', `${['', 'rep ', 'repne '][rep] as string}${name}${suffix}`, insns, { roles });
}

type Builder = (r: Rand) => Unit;

/** Unit kinds with their relative weights. The first is what shrinking tends to. */
const BUILDERS: readonly (readonly [Builder, number])[] = [
  [buildNop, 3],
  [buildSimple, 2],
  [buildAluRR, 12],
  [buildAluRI, 8],
  [buildMovRI, 4],
  [buildMisc, 8],
  [buildMem, 14],
  [buildLea, 4],
  [buildPushPop, 4],
  [buildJump, 6],
  [buildCall, 2],
  [buildNaclJump, 3],
  [buildNaclCall, 2],
  [(r) => buildStackSet(r, RSP), 2],
  [(r) => buildStackSet(r, RBP), 2],
  [buildStackSpecial, 2],
  [buildString, 3],
  [buildSimd, 8],
];
const TOTAL_WEIGHT = BUILDERS.reduce((s, [, w]) => s + w, 0);

/** Builds one unit from `UNIT_WORDS` random words (the first chooses the kind). */
export function unitFromRand(r: Rand): Unit {
  let k = r.int(TOTAL_WEIGHT);
  for (const [build, weight] of BUILDERS) {
    if (k < weight) return build(r);
    k -= weight;
  }
  return buildNop(r);
}

export function unitFromWords(words: readonly number[]): Unit {
  return unitFromRand(new WordRand(words));
}

/** Builds a unit of one kind (mutations use it to make sure a kind exists). */
export function unitOfKind(kind: 'mem-indexed' | 'nacljmp' | 'naclcall' | 'rsp-set' | 'rbp-set' | 'string' | 'alu' | 'mem-sandboxed', seed: number): Unit {
  const rand = mulberry32(seed);
  const r: Rand = { int: (n) => (n <= 1 ? 0 : rand() % n) };
  for (let attempt = 0; attempt < 1000; attempt++) {
    let u: Unit;
    switch (kind) {
      case 'nacljmp': return buildNaclJump(r);
      case 'naclcall': return buildNaclCall(r);
      case 'rsp-set': return buildStackSet(r, RSP);
      case 'rbp-set': return buildStackSet(r, RBP);
      case 'string': return buildString(r);
      case 'alu': u = r.int(2) === 0 ? buildAluRR(r) : buildAluRI(r); if (u.dst) return u; break;
      case 'mem-indexed': u = buildMem(r); if (u.roles.zeroExtend !== undefined) return u; break;
      case 'mem-sandboxed': u = buildMem(r); if (u.roles.access !== undefined) return u; break;
    }
  }
  throw new Error(`cannot build a unit of kind ${kind}`);
}

// ---- programs and layout ----------------------------------------------------------

export type PadStyle = 'hlt' | 'nop' | 'long';

export interface Program {
  readonly units: readonly Unit[];
  /** How gaps before a unit that would cross a bundle end are filled. */
  readonly pad: PadStyle;
}

/**
 * The program in ZeroVM 2015's instruction set (the `zerovm` and
 * `deterministic` policies): every unit with a VEX instruction replaced by
 * a nop. Jumps still target unit starts (`layout()` resolves them), so the
 * program stays valid.
 */
export function withoutVex(program: Program): Program {
  // In 64-bit mode C4/C5 always start a VEX prefix (the generator puts no other prefix before one).
  const vex = (u: Unit): boolean => u.starts.some((s) => u.bytes[s] === 0xc4 || u.bytes[s] === 0xc5);
  const units = program.units.map((u) => (vex(u) ? makeUnit('nop', 'nop1 (for a VEX unit)', [{ raw: [0x90] }]) : u));
  return { ...program, units };
}

export interface Layout {
  /** Whole bundles. */
  readonly bytes: Uint8Array;
  /** Start of each unit. */
  readonly offsets: readonly number[];
  readonly size: number;
}

export interface LayoutOptions {
  /**
   * Mutations only: place unit `unit` so that the bundle boundary falls
   * `at` bytes into it (0 < at < its length): it crosses the boundary.
   */
  readonly cross?: { readonly unit: number; readonly at: number };
  /** Pad the region to at least this many bytes (hlt). */
  readonly minSize?: number;
}

/** Fills [from, to) with padding; multi-byte nops never cross a bundle end. */
function fillPad(out: Uint8Array, from: number, to: number, style: PadStyle): void {
  if (style === 'hlt') out.fill(0xf4, from, to);
  else if (style === 'nop') out.fill(0x90, from, to);
  else {
    for (let at = from; at < to; ) {
      const end = Math.min(to, (Math.floor(at / BUNDLE) + 1) * BUNDLE);
      out.set(nopBytes(end - at), at);
      at = end;
    }
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where the next unit goes under the placement rules of `layout()`. */
export function placeUnit(pos: number, unit: Unit, cross?: number): number {
  const len = unit.bytes.length;
  // Crossing (mutations): the bundle boundary falls `cross` bytes into the unit.
  if (cross !== undefined) return Math.ceil((pos + cross) / BUNDLE) * BUNDLE - cross;
  // Calls end exactly at a bundle end, so the return address is aligned.
  if (unit.alignEnd) return Math.ceil((pos + len) / BUNDLE) * BUNDLE - len;
  // Nothing crosses a bundle end.
  if ((pos % BUNDLE) + len > BUNDLE) return Math.ceil(pos / BUNDLE) * BUNDLE;
  return pos;
}

/** Start offsets of the units (no bytes): the placement rules of `layout()`. */
export function placeUnits(units: readonly Unit[], options: LayoutOptions = {}): { offsets: number[]; end: number } {
  const offsets: number[] = [];
  let pos = 0;
  units.forEach((unit, i) => {
    const start = placeUnit(pos, unit, options.cross && options.cross.unit === i ? options.cross.at : undefined);
    offsets.push(start);
    pos = start + unit.bytes.length;
  });
  return { offsets, end: pos };
}

function resolveTarget(target: JumpTarget, size: 1 | 4, jumpStart: number, end: number, offsets: readonly number[], regionSize: number): number {
  const lo = size === 1 ? end - 128 : -Infinity;
  const hi = size === 1 ? end + 127 : Infinity;
  switch (target.kind) {
    case 'unit': {
      const a = lowerBound(offsets, lo);
      const b = lowerBound(offsets, hi + 1);
      if (b <= a) return jumpStart;
      return offsets[a + (target.pick % (b - a))] as number;
    }
    case 'bundle': {
      const first = Math.max(0, Math.ceil(lo / BUNDLE));
      const last = Math.min(regionSize / BUNDLE, Math.floor(hi / BUNDLE));
      if (last < first) return jumpStart;
      return (first + (target.pick % (last - first + 1))) * BUNDLE;
    }
    case 'outside': {
      const k = 1 + ((target.pick >>> 1) % 4);
      const t = target.pick & 1 ? regionSize + BUNDLE * (k - 1) : -BUNDLE * k;
      return t >= lo && t <= hi ? t : jumpStart;
    }
    case 'inside-unit':
      return (offsets[target.unit] as number) + target.delta;
    case 'region':
      return (target.fromEnd ? regionSize : 0) + target.delta;
  }
}

/** Packs the units into bundles and resolves direct jumps (see the module header). */
export function layout(program: Program, options: LayoutOptions = {}): Layout {
  const { units } = program;
  const { offsets, end } = placeUnits(units, options);
  const size = Math.max(Math.ceil(end / BUNDLE) * BUNDLE, Math.ceil((options.minSize ?? 0) / BUNDLE) * BUNDLE);
  const bytes = new Uint8Array(size);
  let pos = 0;
  units.forEach((unit, i) => {
    const start = offsets[i] as number;
    fillPad(bytes, pos, start, program.pad);
    bytes.set(unit.bytes, start);
    pos = start + unit.bytes.length;
  });
  bytes.fill(0xf4, pos, size);
  units.forEach((unit, i) => {
    const jump = unit.jump;
    if (!jump) return;
    const insnStart = (offsets[i] as number) + (unit.starts[jump.insn] as number);
    const insnEnd = insnStart + insnLength(unit, jump.insn);
    const target = resolveTarget(jump.target, jump.size, insnStart, insnEnd, offsets, size);
    const rel = target - insnEnd;
    if (jump.size === 1 && (rel < -128 || rel > 127)) throw new Error(`rel8 jump out of reach (${rel})`);
    bytes.set(le(rel, jump.size), insnEnd - jump.size);
  });
  return { bytes, offsets, size };
}

/** Offset of instruction `insn` of unit `unit` in `l`. */
export function insnOffset(program: Program, l: Layout, unit: number, insn: number): number {
  return (l.offsets[unit] as number) + ((program.units[unit] as Unit).starts[insn] as number);
}

// ---- fast-check ---------------------------------------------------------------------

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/** One line per unit: offset, bytes, description (for failure messages). */
export function describeProgram(program: Program, l: Layout = layout(program)): string {
  const lines = program.units.map((u, i) => `  ${(l.offsets[i] as number).toString(16).padStart(4, '0')}: ${hex(l.bytes.subarray(l.offsets[i], (l.offsets[i] as number) + u.bytes.length)).padEnd(36)} ${u.kind}: ${u.text}`);
  return `Program(pad=${program.pad}, ${program.units.length} units, ${l.size} bytes)\n${lines.join('\n')}`;
}

function withToString(program: Program): Program {
  return Object.assign({ [fc.toStringMethod]: () => describeProgram(program) }, program);
}

export interface ProgramArbitraryOptions {
  readonly minUnits?: number;
  readonly maxUnits?: number;
}

/** fast-check arbitrary of one unit (built from `UNIT_WORDS` shrinkable words). */
export function unitArbitrary(): fc.Arbitrary<Unit> {
  return fc.array(fc.nat(), { minLength: UNIT_WORDS, maxLength: UNIT_WORDS }).map(unitFromWords);
}

/** fast-check arbitrary of valid programs (lay them out with `layout()`). */
export function programArbitrary(options: ProgramArbitraryOptions = {}): fc.Arbitrary<Program> {
  return fc
    .record({
      units: fc.array(unitArbitrary(), { minLength: options.minUnits ?? 1, maxLength: options.maxUnits ?? 48 }),
      pad: fc.constantFrom<PadStyle>('hlt', 'nop', 'long'),
    })
    .map(withToString);
}

// ---- plain generation (benchmark) ----------------------------------------------------

/** A program of `count` units from a seeded PRNG. */
export function randomProgram(seed: number, count: number, pad: PadStyle = 'long'): Program {
  const next = mulberry32(seed);
  const r: Rand = { int: (n) => (n <= 1 ? 0 : next() % n) };
  const units: Unit[] = [];
  for (let i = 0; i < count; i++) units.push(unitFromRand(r));
  return { units, pad };
}

/** Distinct code generated per `generateValidRegion` call; the rest repeats it. */
export const DISTINCT_CHUNK = 1 << 18;

/**
 * A valid code region of `bytes` bytes rounded up to whole bundles,
 * deterministic in `seed`. At most `DISTINCT_CHUNK` bytes are generated
 * (256 KiB, a fraction of a second); larger regions repeat that chunk and
 * end with a freshly generated remainder. Repetition is safe: chunks are
 * whole bundles and every jump is relative, to a unit start of its own
 * chunk or to an aligned address.
 */
export function generateValidRegion(bytes: number, seed: number): Uint8Array {
  const total = Math.max(BUNDLE, Math.ceil(bytes / BUNDLE) * BUNDLE);
  const out = new Uint8Array(total);
  const chunkSize = Math.min(total, DISTINCT_CHUNK);
  const chunk = regionOfSize(chunkSize, seed);
  let pos = 0;
  while (pos + chunkSize <= total) {
    out.set(chunk, pos);
    pos += chunkSize;
  }
  if (pos < total) out.set(regionOfSize(total - pos, seed + 1), pos);
  return out;
}

/** Exactly `size` bytes (a multiple of 32) of valid code: units while they fit, then hlt. */
function regionOfSize(size: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const r: Rand = { int: (n) => (n <= 1 ? 0 : next() % n) };
  const units: Unit[] = [];
  let pos = 0;
  for (;;) {
    const unit = unitFromRand(r);
    const start = placeUnit(pos, unit);
    if (start + unit.bytes.length > size) break;
    units.push(unit);
    pos = start + unit.bytes.length;
  }
  const l = layout({ units, pad: 'long' }, { minSize: size });
  if (l.size !== size) throw new Error(`region of ${l.size} bytes, wanted ${size}`);
  return l.bytes;
}
