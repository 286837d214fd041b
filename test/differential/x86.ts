/**
 * The instruction vocabulary of the differential-program generator: general
 * registers by number and width, sandboxed memory operands, arithmetic-flag
 * effects, and `Insn`, one instruction that iced-x86 encodes.
 *
 * Pipeline position: test support for test/differential/ only.
 * generator.ts picks instructions from here -> assembler.ts lays them out in
 * bundles and encodes them with iced-x86's Encoder -> nexe.
 *
 * Why iced-x86's encoder rather than the validator's generator
 * (src/validator/testing/generator.ts): that generator makes code that
 * validates but is not meant to run (jumps anywhere, arbitrary addresses);
 * here every program must run to TrapExit on every engine. iced encodes any
 * form by name (`Code`), including the SSE2 forms, so no encoder is hand
 * written, and it is independent of the project's decoder tables: a program
 * that fails validation points at the generator or the validator, never at
 * a shared table.
 *
 * Every instruction is built from an explicit iced `Code` (one encoding
 * form), so its length depends only on its operands, never on a label's
 * value: the assembler sizes with placeholder labels and encodes again with
 * the real ones.
 */
import { Code, Instruction, MemoryOperand, Register } from 'iced-x86';
import { RECOMMENDED_NOPS } from '../../src/validator/nops.js';

// ---- arithmetic flags -----------------------------------------------------------

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const OF = 0x800;
export const STATUS_FLAGS = CF | PF | AF | ZF | SF | OF;

/** What an instruction does to each status flag: sets it to a defined value, leaves it undefined, or keeps it. */
export interface FlagEffect {
  readonly def: number;
  readonly undef: number;
}

export const KEEPS_FLAGS: FlagEffect = { def: 0, undef: 0 };
/** add, sub, cmp, adc, sbb, neg, cmpxchg, (u)comis*: all six defined. */
export const ALL_DEFINED: FlagEffect = { def: STATUS_FLAGS, undef: 0 };
/** and, or, xor, test: AF undefined. */
export const LOGIC: FlagEffect = { def: STATUS_FLAGS & ~AF, undef: AF };
/** mul, imul: CF and OF defined, the rest undefined. */
export const MULTIPLY: FlagEffect = { def: CF | OF, undef: PF | AF | ZF | SF };
/** div, idiv: all undefined. */
export const DIVIDE: FlagEffect = { def: 0, undef: STATUS_FLAGS };
/** inc, dec: CF kept. */
export const INC_DEC: FlagEffect = { def: STATUS_FLAGS & ~CF, undef: 0 };

// ---- registers --------------------------------------------------------------------

export type Width = 8 | 16 | 32 | 64;

const GPR_NAMES: Record<Width, readonly string[]> = {
  64: ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'],
  32: ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI', 'R8D', 'R9D', 'R10D', 'R11D', 'R12D', 'R13D', 'R14D', 'R15D'],
  16: ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI', 'R8W', 'R9W', 'R10W', 'R11W', 'R12W', 'R13W', 'R14W', 'R15W'],
  8: ['AL', 'CL', 'DL', 'BL', 'SPL', 'BPL', 'SIL', 'DIL', 'R8L', 'R9L', 'R10L', 'R11L', 'R12L', 'R13L', 'R14L', 'R15L'],
};

export const RAX = 0;
export const RCX = 1;
export const RDX = 2;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;
export const R11 = 11;
export const R15 = 15;

/**
 * Registers ordinary instructions may write: all but %rsp, %rbp (changed
 * only by sandboxed sequences) and %r15 (the base, never changed).
 */
export const ORDINARY: readonly number[] = [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14];

function lookup<T>(table: Record<string, T>, name: string, what: string): T {
  const value = table[name];
  if (value === undefined) throw new Error(`iced-x86 has no ${what} ${name}`);
  return value;
}

const REGISTERS = Register as unknown as Record<string, Register>;
const CODES = Code as unknown as Record<string, Code>;

/** iced's register for general register `n` (0 = rax .. 15 = r15) at `width` bits. */
export function gpr(n: number, width: Width): Register {
  return lookup(REGISTERS, GPR_NAMES[width][n]!, 'register');
}

export function xmm(n: number): Register {
  return lookup(REGISTERS, `XMM${n}`, 'register');
}

/** An iced encoding form by name (`Add_rm64_r64`); throws for a misspelt one, so the tables below are checked. */
export function code(name: string): Code {
  return lookup(CODES, name, 'form');
}

// ---- instructions -----------------------------------------------------------------

/** A label's sandbox address (the assembler passes placeholders while sizing). */
export type Resolve = (label: string) => number;

export interface Insn {
  readonly build: (resolve: Resolve) => Instruction;
  readonly flags: FlagEffect;
  /** Status flags the instruction reads (they must be defined when it runs). */
  readonly reads: number;
}

export function insn(build: (resolve: Resolve) => Instruction, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  return { build, flags, reads };
}

/**
 * A memory operand: `base + index * scale + displacement`, with the
 * shortest displacement (none for 0 unless the base needs one): the
 * string superinstructions' `lea (%r15,%rdi,1),%rdi` must be exactly the
 * four bytes NaCl expects.
 */
export function memory(base: Register, displacement: number, index: Register = Register.None, scale = 1): MemoryOperand {
  const size = displacement === 0 && base !== Register.RIP ? 0 : displacement >= -128 && displacement < 128 && base !== Register.RIP ? 1 : 8;
  return new MemoryOperand(base, index, scale, BigInt(displacement), size, false, Register.None);
}

/** A rel32 branch (jmp, jcc, call) to a label. */
export function branch(form: string, label: string, reads = 0): Insn {
  const c = code(form);
  return insn((resolve) => Instruction.createBranch(c, BigInt(resolve(label))), KEEPS_FLAGS, reads);
}

// ---- condition codes --------------------------------------------------------------

export interface Condition {
  /** Suffix in iced's names: `Cmov${suffix}_r64_rm64`, `J${suffix}_rel32_64`, `Set${suffix}_rm8`. */
  readonly suffix: string;
  readonly reads: number;
}

export const CONDITIONS: readonly Condition[] = [
  { suffix: 'e', reads: ZF },
  { suffix: 'ne', reads: ZF },
  { suffix: 'b', reads: CF },
  { suffix: 'ae', reads: CF },
  { suffix: 'be', reads: CF | ZF },
  { suffix: 'a', reads: CF | ZF },
  { suffix: 's', reads: SF },
  { suffix: 'ns', reads: SF },
  { suffix: 'o', reads: OF },
  { suffix: 'no', reads: OF },
  { suffix: 'p', reads: PF },
  { suffix: 'np', reads: PF },
  { suffix: 'l', reads: SF | OF },
  { suffix: 'ge', reads: SF | OF },
  { suffix: 'le', reads: ZF | SF | OF },
  { suffix: 'g', reads: ZF | SF | OF },
];

/** The canonical multi-byte nops by length (index 0: none). */
export const NOPS: readonly (readonly number[])[] = [[], ...RECOMMENDED_NOPS];
