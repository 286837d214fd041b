/**
 * SSE and SSE2 instruction families for generated programs: integer and
 * floating-point arithmetic on xmm registers and memory, shuffles,
 * conversions, comparisons into rflags, moves between xmm, general
 * registers and memory.
 *
 * Pipeline position: generator.ts picks a family per unit -> here -> Emitter.
 *
 * Left out, and why:
 * - rcpps/rsqrtps/rcpss/rsqrtss: approximations whose low bits differ
 *   between CPU generations (and QEMU computes them exactly).
 * - MXCSR: stmxcsr/ldmxcsr are not generated and the dump does not include
 *   MXCSR, whose sticky exception flags (notably DE, denormal operand) are
 *   not modelled by QEMU's TCG as CPUs set them; rounding stays the
 *   default round-to-nearest.
 * - Anything past SSE2 (SSE3..SSE4.2, AVX): not in every CPU model an
 *   emulator offers; x87 and MMX: separate register files the ABI resets
 *   on every trap, left to hand-written tests; maskmovdqu/movnt*: a
 *   non-temporal hint or an implicit %rdi address, nothing new to compare.
 * Legacy-SSE 128-bit memory operands must be 16-byte aligned (the CPU
 * faults otherwise), so they are; scalar and movdqu/movups operands may be
 * unaligned.
 */
import type { Register } from 'iced-x86';
import { ALL_REGISTERS, type Choices, type Emitter, type Mem } from './emitter.js';
import type { Family } from './family-gpr.js';
import { mr, ri, rm, rmi, rr, rri } from './forms.js';
import { ALL_DEFINED, gpr, KEEPS_FLAGS, ORDINARY, xmm, type Insn } from './x86.js';

const INTEGER_128 = [
  'Paddb', 'Paddw', 'Paddd', 'Paddq', 'Psubb', 'Psubw', 'Psubd', 'Psubq',
  'Paddsb', 'Paddsw', 'Paddusb', 'Paddusw', 'Psubsb', 'Psubsw', 'Psubusb', 'Psubusw',
  'Pmullw', 'Pmulhw', 'Pmulhuw', 'Pmuludq', 'Pmaddwd', 'Psadbw', 'Pavgb', 'Pavgw',
  'Pminub', 'Pmaxub', 'Pminsw', 'Pmaxsw', 'Pand', 'Pandn', 'Por', 'Pxor',
  'Pcmpeqb', 'Pcmpeqw', 'Pcmpeqd', 'Pcmpgtb', 'Pcmpgtw', 'Pcmpgtd',
  'Punpcklbw', 'Punpcklwd', 'Punpckldq', 'Punpcklqdq', 'Punpckhbw', 'Punpckhwd', 'Punpckhdq', 'Punpckhqdq',
  'Packsswb', 'Packssdw', 'Packuswb',
  'Psllw', 'Pslld', 'Psllq', 'Psrlw', 'Psrld', 'Psrlq', 'Psraw', 'Psrad',
] as const; // prettier-ignore

const FLOAT_128 = [
  'Addps', 'Addpd', 'Subps', 'Subpd', 'Mulps', 'Mulpd', 'Divps', 'Divpd',
  'Minps', 'Minpd', 'Maxps', 'Maxpd', 'Sqrtps', 'Sqrtpd',
  'Andps', 'Andpd', 'Andnps', 'Andnpd', 'Orps', 'Orpd', 'Xorps', 'Xorpd',
  'Unpcklps', 'Unpcklpd', 'Unpckhps', 'Unpckhpd',
  'Cvtdq2ps', 'Cvtps2dq', 'Cvttps2dq', 'Cvtpd2dq', 'Cvttpd2dq', 'Cvtpd2ps',
] as const; // prettier-ignore

/** Scalar and half-register forms: [name, memory operand bytes]. */
const SCALAR: readonly (readonly [string, 4 | 8])[] = [
  ['Addss', 4], ['Subss', 4], ['Mulss', 4], ['Divss', 4], ['Minss', 4], ['Maxss', 4], ['Sqrtss', 4], ['Cvtss2sd', 4],
  ['Addsd', 8], ['Subsd', 8], ['Mulsd', 8], ['Divsd', 8], ['Minsd', 8], ['Maxsd', 8], ['Sqrtsd', 8], ['Cvtsd2ss', 8],
  ['Cvtps2pd', 8], ['Cvtdq2pd', 8],
]; // prettier-ignore

const IMM_128: readonly (readonly [string, number])[] = [
  ['Pshufd', 256], ['Pshuflw', 256], ['Pshufhw', 256], ['Shufps', 256], ['Shufpd', 4], ['Cmpps', 8], ['Cmppd', 8],
]; // prettier-ignore

const SHIFT_IMM = ['Psllw', 'Pslld', 'Psllq', 'Psrlw', 'Psrld', 'Psrlq', 'Psraw', 'Psrad', 'Pslldq', 'Psrldq'] as const;

const anyXmm = (c: Choices): Register => xmm(c.below(16));

function aligned(e: Emitter, c: Choices, store = false): Mem {
  return e.mem(c, { size: 16, align: 16, store });
}

/** xmm op= xmm or aligned m128. */
function packed(e: Emitter, c: Choices, form: string): void {
  const to = anyXmm(c);
  if (c.chance(3)) {
    const mem = aligned(e, c);
    e.access(mem, rm(form, to, mem));
  } else {
    e.emit(rr(form, to, anyXmm(c)));
  }
}

const integer: Family = (e, c) => packed(e, c, `${c.pick(INTEGER_128)}_xmm_xmmm128`);

const float: Family = (e, c) => packed(e, c, `${c.pick(FLOAT_128)}_xmm_xmmm128`);

const scalar: Family = (e, c) => {
  const [name, size] = c.pick(SCALAR);
  const form = `${name}_xmm_xmmm${size * 8}`;
  const to = anyXmm(c);
  if (c.chance(3)) {
    const mem = e.mem(c, { size, align: 1, store: false });
    e.access(mem, rm(form, to, mem));
  } else {
    e.emit(rr(form, to, anyXmm(c)));
  }
};

const withImmediate: Family = (e, c) => {
  if (c.chance(3)) {
    const [name, size] = c.pick<readonly [string, number]>([
      ['Cmpss', 4],
      ['Cmpsd', 8],
    ]);
    const form = `${name}_xmm_xmmm${size * 8}_imm8`;
    e.emit(rri(form, anyXmm(c), anyXmm(c), c.below(8)));
    return;
  }
  if (c.chance(3)) {
    e.emit(ri(`${c.pick(SHIFT_IMM)}_xmm_imm8`, anyXmm(c), c.below(256)));
    return;
  }
  const [name, range] = c.pick(IMM_128);
  const form = `${name}_xmm_xmmm128_imm8`;
  const to = anyXmm(c);
  const imm = c.below(range);
  if (c.chance(3)) {
    const mem = aligned(e, c);
    e.access(mem, rmi(form, to, mem, imm));
  } else {
    e.emit(rri(form, to, anyXmm(c), imm));
  }
};

/** comiss/ucomiss/comisd/ucomisd: ZF, PF, CF from the comparison; OF, SF, AF cleared. */
const compare: Family = (e, c) => {
  const [name, size] = c.pick<readonly [string, number]>([
    ['Comiss', 4],
    ['Ucomiss', 4],
    ['Comisd', 8],
    ['Ucomisd', 8],
  ]);
  const form = `${name}_xmm_xmmm${size * 8}`;
  if (c.chance(3)) {
    const mem = e.mem(c, { size, align: 1, store: false });
    e.access(mem, rm(form, anyXmm(c), mem, ALL_DEFINED));
  } else {
    e.emit(rr(form, anyXmm(c), anyXmm(c), ALL_DEFINED));
  }
};

/** Between xmm and general registers: conversions, movd/movq, masks, pextrw/pinsrw. */
const crossing: Family = (e, c) => {
  const to = (w: 32 | 64): Register => gpr(c.pick(ORDINARY), w);
  const from = (w: 32 | 64): Register => gpr(c.pick(ALL_REGISTERS), w);
  switch (c.below(6)) {
    case 0: {
      const [name, w, size] = c.pick<readonly [string, 32 | 64, 4 | 8]>([
        ['Cvttsd2si', 64, 8],
        ['Cvtsd2si', 64, 8],
        ['Cvttsd2si', 32, 8],
        ['Cvtsd2si', 32, 8],
        ['Cvttss2si', 64, 4],
        ['Cvtss2si', 64, 4],
        ['Cvttss2si', 32, 4],
        ['Cvtss2si', 32, 4],
      ]);
      const form = `${name}_r${w}_xmmm${size * 8}`;
      if (c.chance(3)) {
        const mem = e.mem(c, { size, align: 1, store: false });
        e.access(mem, rm(form, to(w), mem));
      } else {
        e.emit(rr(form, to(w), anyXmm(c)));
      }
      return;
    }
    case 1: {
      const w = c.pick<32 | 64>([64, 32]);
      const form = `${c.pick(['Cvtsi2sd', 'Cvtsi2ss'])}_xmm_rm${w}`;
      if (c.chance(3)) {
        const mem = e.mem(c, { size: w / 8, align: 1, store: false });
        e.access(mem, rm(form, anyXmm(c), mem));
      } else {
        e.emit(rr(form, anyXmm(c), from(w)));
      }
      return;
    }
    case 2: {
      const w = c.pick<32 | 64>([64, 32]);
      if (c.chance(2)) e.emit(rr(w === 64 ? 'Movq_xmm_rm64' : 'Movd_xmm_rm32', anyXmm(c), from(w)));
      else e.emit(rr(w === 64 ? 'Movq_rm64_xmm' : 'Movd_rm32_xmm', to(w), anyXmm(c)));
      return;
    }
    case 3:
      e.emit(rr(c.pick(['Pmovmskb_r32_xmm', 'Movmskps_r32_xmm', 'Movmskpd_r32_xmm']), to(32), anyXmm(c)));
      return;
    case 4:
      e.emit(rri('Pextrw_r32_xmm_imm8', to(32), anyXmm(c), c.below(8)));
      return;
    default:
      if (c.chance(2)) {
        const mem = e.mem(c, { size: 2, align: 1, store: false });
        e.access(mem, rmi('Pinsrw_xmm_r32m16_imm8', anyXmm(c), mem, c.below(8)));
      } else {
        e.emit(rri('Pinsrw_xmm_r32m16_imm8', anyXmm(c), from(32), c.below(8)));
      }
  }
};

/** Loads, stores and register moves of xmm registers. */
const moves: Family = (e, c) => {
  const shape = c.below(5);
  if (shape === 0) {
    const form = c.pick(['Movdqa_xmm_xmmm128', 'Movaps_xmm_xmmm128', 'Movq_xmm_xmmm64', 'Movss_xmm_xmmm32', 'Movsd_xmm_xmmm64', 'Movhlps_xmm_xmm', 'Movlhps_xmm_xmm']);
    e.emit(rr(form, anyXmm(c), anyXmm(c)));
    return;
  }
  const store = shape >= 3;
  const [name, size, align] = c.pick<readonly [string, number, number]>([
    ['Movdqa', 16, 16],
    ['Movdqu', 16, 1],
    ['Movaps', 16, 16],
    ['Movups', 16, 1],
    ['Movapd', 16, 16],
    ['Movupd', 16, 1],
    ['Movq', 8, 1],
    ['Movss', 4, 1],
    ['Movsd', 8, 1],
    ['Movhps', 8, 1],
    ['Movlps', 8, 1],
    ['Movhpd', 8, 1],
    ['Movlpd', 8, 1],
  ]);
  const mem = e.mem(c, { size, align, store });
  const halves = /^Mov[hl]p/.test(name);
  const operand = halves ? 'm64' : `xmmm${size * 8}`;
  const i: Insn = store ? mr(`${name}_${operand}_xmm`, mem, anyXmm(c), KEEPS_FLAGS) : rm(`${name}_xmm_${operand}`, anyXmm(c), mem, KEEPS_FLAGS);
  e.access(mem, i);
};

export const SSE_FAMILIES: readonly (readonly [number, Family])[] = [
  [3, integer],
  [3, float],
  [3, scalar],
  [2, withImmediate],
  [1, compare],
  [2, crossing],
  [3, moves],
];
