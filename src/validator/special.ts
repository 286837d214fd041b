/**
 * The special %rsp/%rbp instructions, recognised byte for byte.
 *
 * Pipeline position: validator (`validate.ts`), before the normal rules.
 * Source of truth: NaCl's validator_x86_64.rl (rsp/rbp_modifications and
 * rsp/rbp_sandboxing). These exact encodings obey rules of their own:
 * - modifications (`mov %rsp,%rbp`, `mov %rbp,%rsp`, `and $-N,%rsp`) keep
 *   a sandboxed value sandboxed, so they are always allowed;
 * - rebases (`add %r15,%rsp`, `lea (%rsp,%r15,1),%rsp`, ...) are the second
 *   half of a %rsp/%rbp update and are allowed *only* right after a 32-bit
 *   write to %esp/%ebp.
 * Byte patterns rather than decoded operands, because NaCl accepts exactly
 * these encodings and no equivalent ones (e.g. not `lea (%r15,%rbp),%rbp`).
 */

export const enum SpecialKind {
  None = 0,
  /** mov %rsp,%rbp / mov %rbp,%rsp / and $negative-imm8,%rsp. */
  Modification = 1,
  RspRebase = 2,
  RbpRebase = 3,
}

/** REX bytes W=1 with an optional (meaningless here) X bit: 48/4a, 4c/4e, 49/4b. */
function rexW(b: number): boolean {
  return b === 0x48 || b === 0x4a;
}
function rexWR(b: number): boolean {
  return b === 0x4c || b === 0x4e;
}
function rexWB(b: number): boolean {
  return b === 0x49 || b === 0x4b;
}

function bytesEqual(code: Uint8Array, pos: number, length: number, pattern: readonly number[]): boolean {
  if (length !== pattern.length) return false;
  for (let i = 0; i < length; i++) if (code[pos + i] !== pattern[i]) return false;
  return true;
}

const LEA_RSP = [
  [0x4a, 0x8d, 0x24, 0x3c], // lea (%rsp,%r15,1),%rsp
  [0x4a, 0x8d, 0x64, 0x3c, 0x00], // lea 0x0(%rsp,%r15,1),%rsp
  [0x4a, 0x8d, 0xa4, 0x3c, 0x00, 0x00, 0x00, 0x00],
];
const LEA_RBP = [
  [0x4a, 0x8d, 0x6c, 0x3d, 0x00], // lea 0x0(%rbp,%r15,1),%rbp (no disp-less form exists)
  [0x4a, 0x8d, 0xac, 0x3d, 0x00, 0x00, 0x00, 0x00],
];

/** Classifies the decoded instruction at `pos` (of `length` bytes). */
export function matchSpecialRegisterInstruction(code: Uint8Array, pos: number, length: number): SpecialKind {
  const b0 = code[pos] as number;
  if (length === 3) {
    const b1 = code[pos + 1] as number;
    const b2 = code[pos + 2] as number;
    if (rexW(b0)) {
      if ((b1 === 0x89 && b2 === 0xe5) || (b1 === 0x8b && b2 === 0xec)) return SpecialKind.Modification; // mov %rsp,%rbp
      if ((b1 === 0x89 && b2 === 0xec) || (b1 === 0x8b && b2 === 0xe5)) return SpecialKind.Modification; // mov %rbp,%rsp
    }
    if (rexWR(b0)) {
      if ((b1 === 0x01 || b1 === 0x09) && b2 === 0xfc) return SpecialKind.RspRebase; // add/or %r15,%rsp
      if (b1 === 0x01 && b2 === 0xfd) return SpecialKind.RbpRebase; // add %r15,%rbp
    }
    if (rexWB(b0)) {
      if ((b1 === 0x03 || b1 === 0x0b) && b2 === 0xe7) return SpecialKind.RspRebase; // add/or %r15,%rsp
      if (b1 === 0x03 && b2 === 0xef) return SpecialKind.RbpRebase; // add %r15,%rbp
    }
    return SpecialKind.None;
  }
  if (length === 4 && b0 === 0x48 && code[pos + 1] === 0x83 && code[pos + 2] === 0xe4 && (code[pos + 3] as number) >= 0x80) {
    return SpecialKind.Modification; // and $-N,%rsp (stack alignment)
  }
  if (b0 === 0x4a && code[pos + 1] === 0x8d) {
    for (const p of LEA_RSP) if (bytesEqual(code, pos, length, p)) return SpecialKind.RspRebase;
    for (const p of LEA_RBP) if (bytesEqual(code, pos, length, p)) return SpecialKind.RbpRebase;
  }
  return SpecialKind.None;
}
