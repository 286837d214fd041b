/**
 * Instruction families on general registers and memory for generated
 * programs: ALU, moves, conditionals, shifts and rotates, multiply and
 * divide, bit tests and scans, stack, carry-flag instructions, exchanges,
 * lea, string stores/moves and boundary constants.
 *
 * Pipeline position: generator.ts picks a family per unit -> here -> Emitter.
 *
 * Source of truth for flags: the Intel SDM's "Flags Affected" of each
 * instruction (AMD's manual agrees on what is defined). What is left out or
 * constrained, and why:
 * - Anything reading an undefined flag: `need()` defines flags first (see
 *   emitter.ts).
 * - Only what a session accepts, i.e. both original validators: no
 *   pushf/popf (neither accepts them), no lahf/sahf (ZeroVM 2015's refuses
 *   them); flags are read by setcc, cmovcc, adc/sbb, rcl/rcr, jcc and the
 *   final dump's setcc bytes, and set by arithmetic and clc/stc/cmc.
 * - Shift and rotate counts are never 0 (a zero count keeps the flags) and
 *   below the operand width (8/16-bit shifts by >= the width leave CF
 *   undefined); by-%cl counts are made odd first. rcl/rcr only by
 *   immediate (their 8/16-bit counts are taken modulo 9/17).
 * - div/idiv: the divisor has bit 0 set and bit 1 clear (never 0, never -1)
 *   and the dividend's upper half is the zero or sign extension of its lower
 *   half, so no division faults or overflows.
 * - bsf/bsr: the source is made non-zero first (their destination is
 *   undefined for 0: real CPUs keep it, the SDM does not promise it).
 * - bt/bts/btr/btc only with an immediate bit offset: NaCl forbids the
 *   register forms, even on registers (on memory the offset reaches outside
 *   the operand).
 * - No popcnt/lzcnt/tzcnt/BMI/movbe/cmpxchg16b: beyond baseline x86-64, and
 *   the emulator's CPU model need not have them. No cpuid, rdtsc
 *   (machine-dependent; the session's policy rejects them). No cbw/cwd: NaCl
 *   rejects their operand-size prefix (movsx and mov+sar do their job).
 *   shld/shrd only by immediate (by %cl, a 16-bit one is undefined past
 *   16); no high-byte registers (ah..bh), to keep operand choice simple.
 */
import { Instruction, Register } from 'iced-x86';
import { ALL_REGISTERS, SCRATCH, width, type Choices, type Emitter, type Mem } from './emitter.js';
import { m, mi, mr, mri, none, r, ri, ri64, rm, rmi, rr, rri } from './forms.js';
import {
  ALL_DEFINED,
  CF,
  code,
  CONDITIONS,
  DIVIDE,
  gpr,
  INC_DEC,
  insn,
  KEEPS_FLAGS,
  LOGIC,
  MULTIPLY,
  OF,
  ORDINARY,
  PF,
  RAX,
  RCX,
  RDI,
  RDX,
  RSI,
  SF,
  STATUS_FLAGS,
  ZF,
  AF,
  type FlagEffect,
  type Insn,
  type Width,
} from './x86.js';

export type Family = (e: Emitter, c: Choices) => void;

interface Binary {
  readonly op: string;
  readonly flags: FlagEffect;
  readonly reads: number;
  readonly writes: boolean;
}

const BINARY: readonly Binary[] = [
  { op: 'Add', flags: ALL_DEFINED, reads: 0, writes: true },
  { op: 'Sub', flags: ALL_DEFINED, reads: 0, writes: true },
  { op: 'Xor', flags: LOGIC, reads: 0, writes: true },
  { op: 'And', flags: LOGIC, reads: 0, writes: true },
  { op: 'Or', flags: LOGIC, reads: 0, writes: true },
  { op: 'Cmp', flags: ALL_DEFINED, reads: 0, writes: false },
  { op: 'Test', flags: LOGIC, reads: 0, writes: false },
  { op: 'Adc', flags: ALL_DEFINED, reads: CF, writes: true },
  { op: 'Sbb', flags: ALL_DEFINED, reads: CF, writes: true },
];

const bytes = (w: Width): number => w / 8;
const dest = (c: Choices): number => c.pick(ORDINARY);
const source = (c: Choices): number => c.pick(ALL_REGISTERS);

/** An immediate form and a value for it: `_imm8` (sign-extended) or the full-width one. */
function immediate(c: Choices, op: string, w: Width): { form: string; value: number } {
  const short = op !== 'Test' && w !== 8 && c.chance(2);
  if (short || w === 8) return { form: `${op}_rm${w}_imm8`, value: c.immediate(8) };
  const bits = w === 16 ? 16 : 32;
  return { form: `${op}_rm${w}_imm${bits}`, value: c.immediate(bits) };
}

const binary: Family = (e, c) => {
  const op = c.pick(BINARY);
  const w = width(c);
  e.need(op.reads, c);
  const shape = c.below(5);
  const target = op.writes ? dest(c) : source(c);
  if (shape === 0) {
    e.emit(rr(`${op.op}_rm${w}_r${w}`, gpr(target, w), gpr(source(c), w), op.flags, op.reads));
  } else if (shape === 1) {
    const imm = immediate(c, op.op, w);
    e.emit(ri(imm.form, gpr(target, w), imm.value, op.flags, op.reads));
  } else {
    const load = shape === 2 && op.op !== 'Test';
    const mem = e.mem(c, { size: bytes(w), align: 1, store: op.writes && !load, noIndex: op.reads !== 0 });
    if (load) {
      e.access(mem, rm(`${op.op}_r${w}_rm${w}`, gpr(target, w), mem, op.flags, op.reads));
    } else if (shape === 3) {
      e.access(mem, mr(`${op.op}_rm${w}_r${w}`, mem, gpr(source(c), w), op.flags, op.reads));
    } else {
      const imm = immediate(c, op.op, w);
      e.access(mem, mi(imm.form, mem, imm.value, op.flags, op.reads));
    }
  }
};

const unary: Family = (e, c) => {
  const [op, flags] = c.pick<[string, FlagEffect]>([
    ['Neg', ALL_DEFINED],
    ['Not', KEEPS_FLAGS],
    ['Inc', INC_DEC],
    ['Dec', INC_DEC],
  ]);
  const w = width(c);
  if (c.chance(3)) {
    const mem = e.mem(c, { size: bytes(w), align: 1, store: true });
    e.access(mem, m(`${op}_rm${w}`, mem, flags));
  } else {
    e.emit(r(`${op}_rm${w}`, gpr(dest(c), w), flags));
  }
};

/** Values at the edges of integer and floating-point ranges (as 64-bit patterns). */
export const BOUNDARY_VALUES: readonly bigint[] = [
  0n,
  1n,
  -1n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  -0x8000000000000000n,
  0x3ff0000000000000n /* 1.0 */,
  0x3fe0000000000000n /* 0.5 */,
  0x4004000000000000n /* 2.5 */,
  0x7ff0000000000000n /* +inf */,
  -0x10000000000000n /* -inf */,
  0x7ff8000000000000n /* quiet NaN */,
  -0x8000000000000n /* the default NaN, 0xfff8... */,
  0x7ff8000000000123n /* quiet NaN with a payload */,
  0x7ff0000000000001n /* signalling NaN */,
  0x000fffffffffffffn /* largest subnormal */,
  0x7fefffffffffffffn /* largest finite */,
  0x43e0000000000000n /* 2^63 */,
  -0x3c20000000000000n /* -2^63 */,
  0x3f8000007fc00000n /* floats 1.0, quiet NaN */,
  0x7f800000ff800000n /* floats +inf, -inf */,
  0x0000000180000000n /* floats smallest subnormal, -0.0 */,
  0x7f8000014f000000n /* floats signalling NaN, 2^31 */,
];

const moves: Family = (e, c) => {
  const w = width(c);
  switch (c.below(8)) {
    case 0:
      e.emit(rr(`Mov_rm${w}_r${w}`, gpr(dest(c), w), gpr(source(c), w)));
      return;
    case 1: {
      const mem = e.mem(c, { size: bytes(w), align: 1, store: false });
      e.access(mem, rm(`Mov_r${w}_rm${w}`, gpr(dest(c), w), mem));
      return;
    }
    case 2: {
      const mem = e.mem(c, { size: bytes(w), align: 1, store: true });
      e.access(mem, mr(`Mov_rm${w}_r${w}`, mem, gpr(source(c), w)));
      return;
    }
    case 3: {
      const mem = e.mem(c, { size: bytes(w), align: 1, store: true });
      e.access(mem, mi(`Mov_rm${w}_imm${w === 64 ? 32 : w}`, mem, c.immediate(w === 64 ? 32 : (w as 8 | 16 | 32))));
      return;
    }
    case 4: {
      /* movzx / movsx / movsxd, register or memory source */
      const [form, from] = c.pick<[string, Width]>([
        ['Movzx_r32_rm8', 8],
        ['Movzx_r64_rm8', 8],
        ['Movzx_r32_rm16', 16],
        ['Movzx_r64_rm16', 16],
        ['Movzx_r16_rm8', 8],
        ['Movsx_r32_rm8', 8],
        ['Movsx_r64_rm8', 8],
        ['Movsx_r32_rm16', 16],
        ['Movsx_r64_rm16', 16],
        ['Movsx_r16_rm8', 8],
        ['Movsxd_r64_rm32', 32],
      ]);
      const to = Number(/_r(\d+)_/.exec(form)![1]) as Width;
      if (c.chance(2)) {
        const mem = e.mem(c, { size: bytes(from), align: 1, store: false });
        e.access(mem, rm(form, gpr(dest(c), to), mem));
      } else {
        e.emit(rr(form, gpr(dest(c), to), gpr(source(c), from)));
      }
      return;
    }
    case 5:
      e.emit(none(c.pick(['Cwde', 'Cdqe', 'Cdq', 'Cqo'])));
      return;
    case 6: {
      const bits = c.pick<32 | 64>([64, 32]);
      e.emit(r(`Bswap_r${bits}`, gpr(dest(c), bits)));
      return;
    }
    default: {
      const value = c.chance(3) ? BigInt(c.next()) * 0x9e3779b97f4a7c15n : c.pick(BOUNDARY_VALUES);
      const register = dest(c);
      e.emit(ri64('Mov_r64_imm64', gpr(register, 64), value));
      if (c.chance(2)) {
        const mem = e.mem(c, { size: 8, align: 1, store: true });
        e.access(mem, mr('Mov_rm64_r64', mem, gpr(register, 64)));
      }
    }
  }
};

const conditional: Family = (e, c) => {
  const cc = c.pick(CONDITIONS);
  const setcc = c.chance(3);
  const fromMemory = c.chance(3);
  const w = width(c, [64, 32, 16]);
  const mem = fromMemory ? e.mem(c, { size: setcc ? 1 : bytes(w), align: 1, store: setcc, noIndex: true }) : null;
  e.need(cc.reads, c);
  if (setcc) {
    const form = `Set${cc.suffix}_rm8`;
    e.emit(mem ? m(form, mem, KEEPS_FLAGS, cc.reads) : r(form, gpr(dest(c), 8), KEEPS_FLAGS, cc.reads));
  } else {
    const form = `Cmov${cc.suffix}_r${w}_rm${w}`;
    const to = gpr(dest(c), w);
    e.emit(mem ? rm(form, to, mem, KEEPS_FLAGS, cc.reads) : rr(form, to, gpr(source(c), w), KEEPS_FLAGS, cc.reads));
  }
};

/** Flags of shl/shr/sar (and shld/shrd) by a non-zero count `n` (0 = unknown non-zero). */
function shiftFlags(n: number): FlagEffect {
  return n === 1 ? { def: CF | PF | ZF | SF | OF, undef: AF } : { def: CF | PF | ZF | SF, undef: AF | OF };
}

function rotateFlags(n: number): FlagEffect {
  return n === 1 ? { def: CF | OF, undef: 0 } : { def: CF, undef: OF };
}

/** A shift or rotate target: a register, or memory (with its masking prefix). */
function target(e: Emitter, c: Choices, w: Width, noIndex = false): { reg: Register; mem: Mem | null } {
  if (c.chance(3)) return { reg: Register.None, mem: e.mem(c, { size: bytes(w), align: 1, store: true, noIndex }) };
  return { reg: gpr(dest(c), w), mem: null };
}

const shifts: Family = (e, c) => {
  const op = c.pick(['Shl', 'Shr', 'Sar', 'Rol', 'Ror', 'Rcl', 'Rcr']);
  const rotate = op.startsWith('R');
  const throughCarry = op === 'Rcl' || op === 'Rcr';
  if (!throughCarry && c.chance(3)) {
    /* by %cl, made odd so the count is never 0 */
    const w = width(c, [64, 32]);
    e.emit(ri('Or_rm32_imm8', gpr(RCX, 32), 1, LOGIC));
    const flags = rotate ? rotateFlags(0) : shiftFlags(0);
    const t = target(e, c, w);
    const form = `${op}_rm${w}_CL`;
    if (t.mem) e.access(t.mem, mr(form, t.mem, Register.CL, flags));
    else e.emit(rr(form, t.reg, Register.CL, flags));
    return;
  }
  const w = width(c);
  const n = 1 + c.below(w - 1);
  const flags = rotate ? rotateFlags(n) : shiftFlags(n);
  const reads = throughCarry ? CF : 0;
  const t = target(e, c, w, throughCarry);
  e.need(reads, c);
  const form = `${op}_rm${w}_imm8`;
  if (t.mem) e.access(t.mem, mi(form, t.mem, n, flags, reads));
  else e.emit(ri(form, t.reg, n, flags, reads));
};

const doubleShifts: Family = (e, c) => {
  const w = width(c, [64, 32, 16]);
  const n = 1 + c.below(w - 1);
  const form = `${c.pick(['Shld', 'Shrd'])}_rm${w}_r${w}_imm8`;
  const from = gpr(source(c), w);
  const t = target(e, c, w);
  if (t.mem) e.access(t.mem, mri(form, t.mem, from, n, shiftFlags(n)));
  else e.emit(rri(form, t.reg, from, n, shiftFlags(n)));
};

const multiply: Family = (e, c) => {
  const w = width(c);
  const shape = c.below(4);
  if (shape === 0 || w === 8) {
    /* one operand: rdx:rax (ax for bytes) */
    const form = `${c.pick(['Mul', 'Imul'])}_rm${w}`;
    if (c.chance(3)) {
      const mem = e.mem(c, { size: bytes(w), align: 1, store: false });
      e.access(mem, m(form, mem, MULTIPLY));
    } else {
      e.emit(r(form, gpr(source(c), w), MULTIPLY));
    }
    return;
  }
  const to = gpr(dest(c), w);
  const mem = shape === 2 ? e.mem(c, { size: bytes(w), align: 1, store: false }) : null;
  if (shape === 3 || c.chance(2)) {
    const short = c.chance(2);
    const form = `Imul_r${w}_rm${w}_imm${short ? 8 : w === 16 ? 16 : 32}`;
    const value = c.immediate(short ? 8 : w === 16 ? 16 : 32);
    if (mem) e.access(mem, rmi(form, to, mem, value, MULTIPLY));
    else e.emit(rri(form, to, gpr(source(c), w), value, MULTIPLY));
  } else {
    const form = `Imul_r${w}_rm${w}`;
    if (mem) e.access(mem, rm(form, to, mem, MULTIPLY));
    else e.emit(rr(form, to, gpr(source(c), w), MULTIPLY));
  }
};

const divide: Family = (e, c) => {
  const w = width(c);
  const signed = c.chance(2);
  const op = signed ? 'Idiv' : 'Div';
  /* the divisor: bit 0 set, bit 1 clear */
  const inMemory = c.chance(3);
  const mem = inMemory ? e.mem(c, { size: bytes(w), align: 1, store: true, noIndex: true }) : null;
  const divisor = gpr(c.pick(ORDINARY.filter((n) => n !== RAX && n !== RDX)), w);
  const andForm = `And_rm${w}_imm8`;
  const orForm = `Or_rm${w}_imm8`;
  if (mem) e.emit(mi(andForm, mem, -3, LOGIC), mi(orForm, mem, 1, LOGIC));
  else e.emit(ri(andForm, divisor, -3, LOGIC), ri(orForm, divisor, 1, LOGIC));
  /* the dividend's upper half */
  if (w === 8) e.emit(rr(signed ? 'Movsx_r16_rm8' : 'Movzx_r32_rm8', gpr(RAX, signed ? 16 : 32), gpr(RAX, 8)));
  else if (w === 16 && signed) e.emit(rr('Mov_rm16_r16', gpr(RDX, 16), gpr(RAX, 16)), ri('Sar_rm16_imm8', gpr(RDX, 16), 15, { def: 0, undef: STATUS_FLAGS }));
  else if (signed) e.emit(none(w === 32 ? 'Cdq' : 'Cqo'));
  else e.emit(rr('Xor_r32_rm32', gpr(RDX, 32), gpr(RDX, 32), LOGIC));
  e.emit(mem ? m(`${op}_rm${w}`, mem, DIVIDE) : r(`${op}_rm${w}`, divisor, DIVIDE));
};

const BIT_TEST: FlagEffect = { def: CF, undef: OF | SF | AF | PF | ZF };
const BIT_SCAN: FlagEffect = { def: ZF, undef: CF | OF | SF | AF | PF };

const bits: Family = (e, c) => {
  const w = width(c, [64, 32, 16]);
  if (c.chance(3)) {
    /* bsf/bsr of a non-zero source: bts of the top bit (bsf), or of bit 0 (bsr) */
    const forward = c.chance(2);
    const bit = forward ? w - 1 : 0;
    const mem = c.chance(3) ? e.mem(c, { size: bytes(w), align: 1, store: true }) : null;
    const from = gpr(dest(c), w);
    if (mem) e.access(mem, mi(`Bts_rm${w}_imm8`, mem, bit, BIT_TEST));
    else e.emit(ri(`Bts_rm${w}_imm8`, from, bit, BIT_TEST));
    const form = `${forward ? 'Bsf' : 'Bsr'}_r${w}_rm${w}`;
    const to = gpr(dest(c), w);
    if (mem) e.access(mem, rm(form, to, mem, BIT_SCAN));
    else e.emit(rr(form, to, from, BIT_SCAN));
    return;
  }
  const op = c.pick(['Bt', 'Bts', 'Btr', 'Btc']);
  const writes = op !== 'Bt';
  const n = c.below(w);
  if (c.chance(2)) {
    const mem = e.mem(c, { size: bytes(w), align: 1, store: writes });
    e.access(mem, mi(`${op}_rm${w}_imm8`, mem, n, BIT_TEST));
  } else {
    e.emit(ri(`${op}_rm${w}_imm8`, gpr(writes ? dest(c) : source(c), w), n, BIT_TEST));
  }
};

const stack: Family = (e, c) => {
  const to = gpr(dest(c), 64);
  switch (c.below(4)) {
    case 0:
      e.emit(r('Push_r64', gpr(source(c), 64)), r('Pop_r64', to));
      return;
    case 1: {
      const value = c.immediate(32);
      const push = code('Pushq_imm32');
      e.emit(insn(() => Instruction.createI32(push, value)), r('Pop_r64', to));
      return;
    }
    case 2: {
      const from = e.mem(c, { size: 8, align: 1, store: false });
      e.access(from, m('Push_rm64', from));
      const into = e.mem(c, { size: 8, align: 1, store: true });
      if (into.base === Register.RSP || into.base === Register.RBP) e.emit(r('Pop_r64', to));
      else e.access(into, m('Pop_rm64', into));
      return;
    }
    default: {
      /* a sign-extended 8-bit immediate */
      const value = c.immediate(8);
      const push = code('Pushq_imm8');
      e.emit(insn(() => Instruction.createI32(push, value)), r('Pop_r64', to));
    }
  }
};

/** CF: cleared, set or complemented, then (sometimes) read at once: sbb of a register with itself (0 or -1), or adc (2r + CF). */
const carry: Family = (e, c) => {
  const [form, reads] = c.pick<[string, number]>([
    ['Clc', 0],
    ['Stc', 0],
    ['Cmc', CF],
  ]);
  e.need(reads, c);
  e.emit(none(form, { def: CF, undef: 0 }, reads));
  if (c.chance(2)) {
    const w = c.pick<32 | 64>([64, 32]);
    const to = gpr(dest(c), w);
    e.emit(rr(`${c.pick(['Sbb', 'Adc'])}_rm${w}_r${w}`, to, to, ALL_DEFINED, CF));
  }
};

const exchange: Family = (e, c) => {
  const w = width(c);
  /* No 32-bit cmpxchg: when it succeeds, Unicorn (QEMU 5.0) zero-extends
   * %rax where hardware leaves it alone, a documented engine difference
   * (spec/runtime.md, Engines) that regressions.json tracks as known. */
  const [op, flags] = c.pick<[string, FlagEffect]>([
    ['Xchg', KEEPS_FLAGS],
    ['Xadd', ALL_DEFINED],
    ...(w === 32 ? [] : [['Cmpxchg', ALL_DEFINED] as [string, FlagEffect]]),
  ]);
  const form = `${op}_rm${w}_r${w}`;
  const other = gpr(dest(c), w);
  if (c.chance(2)) {
    const mem = e.mem(c, { size: bytes(w), align: 1, store: true });
    const lock = op !== 'Xchg' && c.chance(2);
    e.access(mem, lock ? withLock(mr(form, mem, other, flags)) : mr(form, mem, other, flags));
  } else {
    e.emit(rr(form, gpr(dest(c), w), other, flags));
  }
};

/** The same instruction with a lock prefix. */
function withLock(i: Insn): Insn {
  return insn(
    (resolve) => {
      const built = i.build(resolve);
      built.hasLockPrefix = true;
      return built;
    },
    i.flags,
    i.reads,
  );
}

const lea: Family = (e, c) => {
  const w = width(c, [64, 32, 16]);
  const base = c.chance(4) ? Register.RIP : gpr(source(c), 64);
  const index = base === Register.RIP || c.chance(3) ? Register.None : gpr(c.pick(ALL_REGISTERS.filter((n) => n !== 4)), 64);
  const mem: Mem = {
    base,
    index,
    scale: index === Register.None ? 1 : c.pick([1, 2, 4, 8]),
    displacement: base === Register.RIP ? c.below(0x100000) : c.immediate(32),
    prefix: null,
  };
  e.emit(rm(`Lea_r${w}_m`, gpr(dest(c), w), mem));
};

/** rep stos / rep movs through the NaCl string superinstructions, %rdi (and %rsi) pointing into scratch. */
const strings: Family = (e, c) => {
  const quad = c.chance(2);
  const move = c.chance(2);
  const mask = quad ? 0xef8 : 0xfe0;
  const pointers = move ? [RSI, RDI] : [RDI];
  for (const p of pointers) {
    e.emit(ri('And_rm32_imm32', gpr(p, 32), mask, LOGIC), ri('Add_rm32_imm32', gpr(p, 32), SCRATCH, ALL_DEFINED));
  }
  e.emit(ri('And_rm32_imm8', gpr(RCX, 32), 31, LOGIC));
  const sandbox = (p: number): Insn[] => [
    rr('Mov_r32_rm32', gpr(p, 32), gpr(p, 32)),
    rm('Lea_r64_m', gpr(p, 64), { base: Register.R15, index: gpr(p, 64), scale: 1, displacement: 0, prefix: null }),
  ];
  const op = move
    ? insn(() => (quad ? Instruction.createRepMovsq(64) : Instruction.createRepMovsb(64)))
    : insn(() => (quad ? Instruction.createRepStosq(64) : Instruction.createRepStosb(64)));
  e.lock([...pointers.flatMap(sandbox), op]);
};

/** The families and their weights (the first is what shrinking tends to). */
export const GPR_FAMILIES: readonly (readonly [number, Family])[] = [
  [6, binary],
  [2, unary],
  [5, moves],
  [3, conditional],
  [3, shifts],
  [1, doubleShifts],
  [2, multiply],
  [2, divide],
  [2, bits],
  [2, stack],
  [1, carry],
  [1, exchange],
  [1, lea],
  [1, strings],
];
