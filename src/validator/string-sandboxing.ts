/**
 * ZeroVM 2015's rule for string instructions and maskmov (the `zerovm` and
 * `deterministic` policies): a general rule where NaCl has fixed byte
 * sequences (superinstructions.ts).
 *
 * Pipeline position: validator (`validate.ts`, checkSuperinstruction), for
 * the `deny=special` string and maskmov forms when the policy's
 * `stringSandboxing` is `zerovm`. spec/validator.md, "Superinstructions",
 * states the rule with examples.
 *
 * A register is sandboxed by a *safe lea*: a 64-bit `lea` into it (REX.W,
 * no other prefix) whose address has base %r15, %rsp, %rbp or %rip, any
 * displacement, and either no index or an index that the instruction right
 * before the lea zero-extended by an identity move (`mov %eX,%eX`, 89 or
 * 8B, same register in both fields, no REX.W, no 66). The address is then
 * at most 34 GiB past the sandbox's end or 2 GiB before its start, inside
 * its 40 GiB guard zones.
 *
 *   stos, scas, maskmov (%rdi)     safe lea into %rdi ; S
 *   lods (%rsi)                    safe lea into %rsi ; S
 *   movs, cmps (%rsi and %rdi)     safe lea into %rsi ; L2 ; safe lea into %rdi ; S
 *
 * L2 is any instruction (the identity move when the %rdi lea has an
 * index), except — our one change to ZeroVM's rule, deviation
 * `string-rsi-overwritten` — one that writes %rsi after it was sandboxed.
 * The instruction before each lea must exist in the same bundle (the lea
 * may not start a bundle); everything from the first lea to S is one unit
 * that nothing may jump into.
 */
import { DecodedInstruction, DecodeStatus, PrefixBit, decode } from './decoder.js';
import { Space } from './forms.js';
import { Gpr, REG_NONE, REG_RIP } from './registers.js';
import { writesRegister } from './register-writes.js';

/**
 * How a superinstruction matched (NaCl's in superinstructions.ts, ZeroVM's
 * string sandboxing here); superinstructions.ts re-exports both types.
 */
export const enum SuperMatch {
  None = 0,
  Ok = 1,
  /** nacljmp/naclcall: the sequence is there but uses different registers (NaCl: non-fatal). */
  RegisterMismatch = 2,
  /** ZeroVM's movs/cmps sequence, but %rsi is written between its sandboxing and the string instruction. */
  RsiOverwritten = 3,
}

export interface SuperResult {
  readonly kind: SuperMatch;
  /** Offset where the whole superinstruction starts: nothing after it, up to its last instruction, is a jump target. */
  readonly start: number;
  /** What the instruction needs, for the error message. */
  readonly needs: string;
}

/** Start of the instruction before `at` in its bundle, or -1 (`starts` has bit i set when one starts at `bundle + i`). */
function previousStart(starts: number, bundle: number, at: number): number {
  const below = starts & ((1 << (at - bundle)) - 1);
  return below === 0 ? -1 : bundle + 31 - Math.clz32(below);
}

const lea = new DecodedInstruction();
const before = new DecodedInstruction();

/** `mov %eX,%eX` (89 or 8B, ModRM.reg = ModRM.rm with REX.R = REX.B, no REX.W, no prefix) at `at`. */
function isIdentityMove(code: Uint8Array, at: number, end: number, register: number): boolean {
  decode(code, at, end, before);
  if (before.status !== DecodeStatus.Ok || before.space !== Space.Legacy || before.vex) return false;
  if (before.opcode !== 0x89 && before.opcode !== 0x8b) return false;
  return before.mod === 3 && before.reg === register && before.rm === register && (before.rex & 8) === 0 && before.prefixes === 0;
}

/**
 * Whether the instruction at `at` is a safe lea into `register`; `previous`
 * is where the instruction before it starts (-1: none in this bundle, which
 * refuses the lea).
 */
function isSafeLea(code: Uint8Array, at: number, previous: number, register: number): boolean {
  if (at < 0 || previous < 0) return false;
  decode(code, at, code.length, lea);
  if (lea.status !== DecodeStatus.Ok || lea.space !== Space.Legacy || lea.vex || lea.opcode !== 0x8d) return false;
  if (!lea.hasMemory || lea.reg !== register || (lea.rex & 8) === 0 || lea.prefixes !== 0 || lea.rexCount !== 1) return false;
  const base = lea.base;
  if (base !== Gpr.R15 && base !== Gpr.RSP && base !== Gpr.RBP && base !== REG_RIP) return false;
  return lea.index === REG_NONE || isIdentityMove(code, previous, at, lea.index);
}

/** Whether the instruction at `at` writes %rsi: through an operand, or as a string instruction that advances it. */
function writesRsi(code: Uint8Array, at: number, end: number): boolean {
  decode(code, at, end, before);
  if (before.status !== DecodeStatus.Ok) return false;
  if (before.space === Space.Legacy && !before.vex) {
    const op = before.opcode;
    if ((op >= 0xa4 && op <= 0xa7) || op === 0xac || op === 0xad) return true;
  }
  return writesRegister(before, Gpr.RSI);
}

/** Which of %rsi/%rdi a string or maskmov instruction uses, and which rep prefixes it takes. */
function usage(insn: DecodedInstruction): { rsi: boolean; rdi: boolean; repne: boolean; wide: boolean } | null {
  if (insn.space !== Space.Legacy) return { rsi: false, rdi: true, repne: false, wide: false }; // maskmovq, maskmovdqu
  switch (insn.opcode) {
    case 0xa4: case 0xa5: return { rsi: true, rdi: true, repne: false, wide: insn.opcode === 0xa5 };
    case 0xa6: case 0xa7: return { rsi: true, rdi: true, repne: true, wide: insn.opcode === 0xa7 };
    case 0xaa: case 0xab: return { rsi: false, rdi: true, repne: false, wide: insn.opcode === 0xab };
    case 0xac: case 0xad: return { rsi: true, rdi: false, repne: false, wide: insn.opcode === 0xad };
    case 0xae: case 0xaf: return { rsi: false, rdi: true, repne: true, wide: insn.opcode === 0xaf };
    default: return null;
  }
}

/**
 * The prefixes ZeroVM 2015 accepts: on a string instruction one REX
 * (last) and at most one of `f3` (any), `f2` (cmps, scas), `66` (the
 * 16-bit forms, without REX.W); on maskmov only its mandatory 66 and a REX
 * without W.
 */
function prefixesOk(insn: DecodedInstruction, repne: boolean, wide: boolean): boolean {
  if (insn.rexCount > 1 || insn.prefixes & PrefixBit.RexNotLast) return false;
  const p = insn.prefixes & ~PrefixBit.RexNotLast;
  if (insn.space !== Space.Legacy) return (p === 0 || p === PrefixBit.OpSize) && (insn.rex & 8) === 0;
  if (p === 0 || p === PrefixBit.Rep) return true;
  if (p === PrefixBit.Repne) return repne;
  if (p === PrefixBit.OpSize) return wide && (insn.rex & 8) === 0;
  return false;
}

const NEEDS_PREFIXES = 'no prefix but one of rep/repne/66 and one REX';
const NEEDS_RDI = 'a 64-bit lea into %rdi from %r15, %rsp, %rbp or %rip right before it';
const NEEDS_RSI = 'a 64-bit lea into %rsi from %r15, %rsp, %rbp or %rip right before it';
const NEEDS_BOTH = 'a 64-bit lea into %rsi, one more instruction, and a 64-bit lea into %rdi right before it (each from %r15, %rsp, %rbp or %rip)';

/** Matches ZeroVM's sandboxing of the string or maskmov instruction `insn` at `pos`. */
export function matchStringSandbox(code: Uint8Array, pos: number, insn: DecodedInstruction, bundle: number, starts: number): SuperResult {
  const use = usage(insn);
  if (use === null) return { kind: SuperMatch.None, start: pos, needs: 'a sandboxing sequence' };
  const needs = use.rsi && use.rdi ? NEEDS_BOTH : use.rsi ? NEEDS_RSI : NEEDS_RDI;
  if (!prefixesOk(insn, use.repne, use.wide)) return { kind: SuperMatch.None, start: pos, needs: `${needs}, and ${NEEDS_PREFIXES}` };
  const l1 = previousStart(starts, bundle, pos);
  const l2 = l1 < 0 ? -1 : previousStart(starts, bundle, l1);
  if (!isSafeLea(code, l1, l2, use.rdi ? Gpr.RDI : Gpr.RSI)) return { kind: SuperMatch.None, start: pos, needs };
  if (!(use.rsi && use.rdi)) return { kind: SuperMatch.Ok, start: l2, needs };
  const l3 = previousStart(starts, bundle, l2);
  const l4 = l3 < 0 ? -1 : previousStart(starts, bundle, l3);
  if (!isSafeLea(code, l3, l4, Gpr.RSI)) return { kind: SuperMatch.None, start: pos, needs };
  if (writesRsi(code, l2, l1)) return { kind: SuperMatch.RsiOverwritten, start: pos, needs };
  return { kind: SuperMatch.Ok, start: l4, needs };
}
