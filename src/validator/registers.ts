/**
 * Register numbering and names.
 *
 * General registers are numbered 0..15 in encoding order (rax, rcx, rdx,
 * rbx, rsp, rbp, rsi, rdi, r8..r15). Names are AT&T-free lower case, as
 * objdump and iced-x86 print them without the `%`.
 */

export const enum Gpr {
  RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
  R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

/** Memory base/index codes beyond the 16 general registers. */
export const REG_NONE = -1;
export const REG_RIP = 16;

export const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
export const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
export const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
/** 8-bit registers with a REX prefix present. */
export const GPR8_REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
/** 8-bit registers without REX: 4..7 are the high bytes. */
export const GPR8_LEGACY = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
export const SEGMENT_REGISTERS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

/** Name of general register `n` at `bits` width; `rex` selects spl..dil over ah..bh. */
export function gprName(n: number, bits: number, rex: boolean): string {
  switch (bits) {
    case 64: return GPR64[n] ?? '?';
    case 32: return GPR32[n] ?? '?';
    case 16: return GPR16[n] ?? '?';
    default: return (rex ? GPR8_REX[n] : GPR8_LEGACY[n]) ?? '?';
  }
}

/** The 64-bit register an 8-bit register number refers to, or -1 for ah..bh. */
export function gpr8Full(n: number, rex: boolean): number {
  return !rex && n >= 4 && n <= 7 ? -1 : n;
}
