/**
 * Superinstructions: the fixed sequences that make dangerous instructions
 * safe, recognised by looking back from the dangerous instruction.
 *
 * Pipeline position: validator (`validate.ts`), for forms marked
 * `deny=special` in the opcode tables.
 *
 * - nacljmp / naclcall (indirect jump or call through a register):
 *       and $-32,%eXX ; add %r15,%rXX ; jmp|call *%rXX
 *   The `and` clears the low 5 bits (bundle-aligned target) and zero-extends,
 *   the `add` rebases into the sandbox. Same register in all three, not r15.
 * - string instructions (movs, cmps, stos, scas, lods) and maskmov use
 *   %rsi/%rdi implicitly, so each used register is sandboxed first:
 *       mov %esi,%esi ; lea (%r15,%rsi,1),%rsi      (sandbox_rsi)
 *       mov %edi,%edi ; lea (%r15,%rdi,1),%rdi      (sandbox_rdi)
 * The whole sequence must lie in one bundle and nothing may jump into it.
 * Source of truth: NaCl's validator_x86_64.rl; the encodings accepted are
 * exactly NaCl's (including its optional spurious REX bytes). Under the
 * `zerovm` string sandboxing (policies.ts) string instructions and maskmov
 * follow ZeroVM 2015's general rule instead (string-sandboxing.ts).
 */
import type { DecodedInstruction } from './decoder.js';
import { PrefixBit, SEGMENT_PREFIX_MASK } from './decoder.js';
import { Space } from './forms.js';
import type { StringSandboxing } from './policies.js';
import { matchStringSandbox, SuperMatch, type SuperResult } from './string-sandboxing.js';

export { SuperMatch, type SuperResult };

/** `starts` has bit i set when an instruction starts at `bundle + i`. */
function isStart(starts: number, bundle: number, at: number): boolean {
  return at >= bundle && ((starts >>> (at - bundle)) & 1) === 1;
}

/** `mov %eXX,%eXX` (89 or 8B with ModRM `modrm`), optionally after a REX.X-only byte; then `lea (%r15,%rXX,1),%rXX`. */
function sandboxLength(code: Uint8Array, end: number, bundle: number, starts: number, modrm: number, leaModrm: number, leaSib: number): number {
  // lea: 49 8D <leaModrm> <leaSib>, 4 bytes right before `end`.
  const lea = end - 4;
  if (lea < bundle || !isStart(starts, bundle, lea)) return 0;
  if (code[lea] !== 0x49 || code[lea + 1] !== 0x8d || code[lea + 2] !== leaModrm || code[lea + 3] !== leaSib) return 0;
  const mov6 = lea - 2;
  if (mov6 >= bundle && isStart(starts, bundle, mov6) && (code[mov6] === 0x89 || code[mov6] === 0x8b) && code[mov6 + 1] === modrm) return 6;
  const mov7 = lea - 3;
  if (mov7 >= bundle && isStart(starts, bundle, mov7) && (code[mov7] === 0x40 || code[mov7] === 0x42) && (code[mov7 + 1] === 0x89 || code[mov7 + 1] === 0x8b) && code[mov7 + 2] === modrm) {
    return 7;
  }
  return 0;
}

function sandboxRdi(code: Uint8Array, end: number, bundle: number, starts: number): number {
  return sandboxLength(code, end, bundle, starts, 0xff, 0x3c, 0x3f);
}
function sandboxRsi(code: Uint8Array, end: number, bundle: number, starts: number): number {
  return sandboxLength(code, end, bundle, starts, 0xf6, 0x34, 0x37);
}

/** Prefixes NaCl allows on a string instruction; `conditional` for cmps/scas (F2 or F3). */
function stringPrefixesOk(insn: DecodedInstruction, conditional: boolean, wide: boolean): boolean {
  const p = insn.prefixes;
  if (p & (SEGMENT_PREFIX_MASK | PrefixBit.AddrSize | PrefixBit.Lock | PrefixBit.Duplicate | PrefixBit.RexNotLast | PrefixBit.ManyReps)) return false;
  if (insn.rexCount > 1) return false;
  if (p & PrefixBit.Repne && !conditional) return false;
  const rep = (p & (PrefixBit.Rep | PrefixBit.Repne)) !== 0;
  if (p & PrefixBit.OpSize) {
    // data16 without rep only (nativeclient issue 1950), no REX.
    return wide && !rep && insn.rex === 0;
  }
  // Only a plain REX.W (0x48) may accompany the 32/64-bit forms.
  return insn.rex === 0 || (wide && insn.rex === 0x48);
}

function stringKind(opcode: number): { rsi: boolean; rdi: boolean; conditional: boolean; wide: boolean } | null {
  switch (opcode) {
    case 0xa4: case 0xa5: return { rsi: true, rdi: true, conditional: false, wide: opcode === 0xa5 };
    case 0xa6: case 0xa7: return { rsi: true, rdi: true, conditional: true, wide: opcode === 0xa7 };
    case 0xaa: case 0xab: return { rsi: false, rdi: true, conditional: false, wide: opcode === 0xab };
    case 0xac: case 0xad: return { rsi: true, rdi: false, conditional: false, wide: opcode === 0xad };
    case 0xae: case 0xaf: return { rsi: false, rdi: true, conditional: true, wide: opcode === 0xaf };
    default: return null;
  }
}

const NO_MATCH = (needs: string): SuperResult => ({ kind: SuperMatch.None, start: 0, needs });

/** Matches the superinstruction that must end with the instruction at `pos`, under the policy's string sandboxing. */
export function matchSuperinstruction(code: Uint8Array, pos: number, insn: DecodedInstruction, bundle: number, starts: number, strings: StringSandboxing): SuperResult {
  if (insn.space === Space.Legacy && insn.opcode === 0xff) return matchNaclJump(code, pos, insn, bundle, starts);
  if (strings === 'zerovm') return matchStringSandbox(code, pos, insn, bundle, starts);
  if (insn.space === Space.Legacy) {
    const kind = stringKind(insn.opcode);
    const needs = kind === null ? 'a sandboxing sequence' : kind.rsi && kind.rdi ? 'mov %esi,%esi; lea (%r15,%rsi,1),%rsi; mov %edi,%edi; lea (%r15,%rdi,1),%rdi before it' : kind.rsi ? 'mov %esi,%esi; lea (%r15,%rsi,1),%rsi before it' : 'mov %edi,%edi; lea (%r15,%rdi,1),%rdi before it';
    if (kind === null || !stringPrefixesOk(insn, kind.conditional, kind.wide)) return NO_MATCH(`${needs}, and no prefixes but rep/repne, REX.W or (alone) 0x66`);
    let start = pos;
    if (kind.rdi) {
      const n = sandboxRdi(code, start, bundle, starts);
      if (n === 0) return NO_MATCH(needs);
      start -= n;
    }
    if (kind.rsi) {
      const n = sandboxRsi(code, start, bundle, starts);
      if (n === 0) return NO_MATCH(needs);
      start -= n;
    }
    return { kind: SuperMatch.Ok, start, needs };
  }
  // maskmovq / maskmovdqu / vmaskmovdqu: write through %rdi.
  const needs = 'mov %edi,%edi; lea (%r15,%rdi,1),%rdi before it';
  const p = insn.prefixes;
  if (p & (SEGMENT_PREFIX_MASK | PrefixBit.AddrSize | PrefixBit.Lock | PrefixBit.Rep | PrefixBit.Repne | PrefixBit.Duplicate | PrefixBit.RexNotLast) || insn.rexCount > 1) {
    return NO_MATCH(`${needs}, and no extra prefixes`);
  }
  const n = sandboxRdi(code, pos, bundle, starts);
  if (n === 0) return NO_MATCH(needs);
  return { kind: SuperMatch.Ok, start: pos - n, needs };
}

/**
 * nacljmp/naclcall: `[rex] 83 /4 e0` + `rex 01|03 ...` + `[rex] ff /2|/4`.
 * The register is 0..7 with no REX.B anywhere, or 8..14 with REX.B on all
 * three (and on the add's r15 side accordingly).
 */
function matchNaclJump(code: Uint8Array, pos: number, insn: DecodedInstruction, bundle: number, starts: number): SuperResult {
  const needs = 'and $-32,%eXX; add %r15,%rXX right before it, on the same register';
  const p = insn.prefixes;
  if (insn.mod !== 3 || p !== 0 || insn.rexCount > 1) return NO_MATCH(needs);
  // The jmp/call: optional REX without W? NaCl allows W/R/X bits; B selects high registers.
  const jmpHasRex = code[pos] !== 0xff;
  const jmpRex = jmpHasRex ? (code[pos] as number) : 0;
  const high = (jmpRex & 1) !== 0;
  if (high && !jmpHasRex) return NO_MATCH(needs);
  const jmpReg = (insn.modrm & 7);
  if (high && jmpReg === 7) return NO_MATCH(needs); // r15
  // The add, 3 bytes before.
  const add = pos - 3;
  if (add < bundle || !isStart(starts, bundle, add)) return NO_MATCH(needs);
  const addRex = code[add] as number;
  const addOp = code[add + 1] as number;
  const addModrm = code[add + 2] as number;
  let addReg: number;
  if (addOp === 0x01) {
    // add %r15,%rXX: REX.W+R (B for high), ModRM 11 111 xxx
    if ((addModrm & 0xf8) !== 0xf8) return NO_MATCH(needs);
    if (high ? addRex !== 0x4d && addRex !== 0x4f : addRex !== 0x4c && addRex !== 0x4e) return NO_MATCH(needs);
    addReg = addModrm & 7;
  } else if (addOp === 0x03) {
    // add %r15 (r/m), %rXX (reg): REX.W+B (R for high), ModRM 11 xxx 111
    if ((addModrm & 0xc7) !== 0xc7) return NO_MATCH(needs);
    if (high ? addRex !== 0x4d && addRex !== 0x4f : addRex !== 0x49 && addRex !== 0x4b) return NO_MATCH(needs);
    addReg = (addModrm >> 3) & 7;
  } else {
    return NO_MATCH(needs);
  }
  if (high && addReg === 7) return NO_MATCH(needs);
  // The and, 3 bytes (no REX) or 4 bytes (REX) before the add.
  let andStart = -1;
  let andReg = -1;
  const and3 = add - 3;
  if (!high && and3 >= bundle && isStart(starts, bundle, and3) && code[and3] === 0x83 && ((code[and3 + 1] as number) & 0xf8) === 0xe0 && code[and3 + 2] === 0xe0) {
    andStart = and3;
    andReg = (code[and3 + 1] as number) & 7;
  } else {
    const and4 = add - 4;
    if (and4 >= bundle && isStart(starts, bundle, and4) && code[and4 + 1] === 0x83 && ((code[and4 + 2] as number) & 0xf8) === 0xe0 && code[and4 + 3] === 0xe0) {
      const rex = code[and4] as number;
      const ok = high ? rex === 0x41 || rex === 0x43 || rex === 0x45 || rex === 0x47 : rex === 0x40 || rex === 0x42 || rex === 0x44 || rex === 0x46;
      if (ok) {
        andStart = and4;
        andReg = (code[and4 + 2] as number) & 7;
      }
    }
  }
  if (andStart < 0) return NO_MATCH(needs);
  if (high && andReg === 7) return NO_MATCH(needs);
  if (andReg !== addReg || andReg !== jmpReg) return { kind: SuperMatch.RegisterMismatch, start: andStart, needs };
  return { kind: SuperMatch.Ok, start: andStart, needs };
}
