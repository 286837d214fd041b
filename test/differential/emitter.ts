/**
 * The generator's working state: the random choices, the sandbox map of a
 * generated program, sandboxed memory operands, and `Emitter`, which appends
 * instructions while tracking which arithmetic flags hold defined values.
 *
 * Pipeline position: generator.ts and the instruction families
 * (family-gpr.ts, family-sse.ts) -> Emitter -> assembler.ts items.
 *
 * Flags. x86 leaves some flags architecturally undefined (AF after a logic
 * op, SF/ZF/AF/PF after mul, all of them after div, OF after a multi-bit
 * shift, ...), and real CPUs and QEMU's TCG really do leave different values
 * there. A program that reads one would differ between engines for no fault
 * of theirs, so the Emitter tracks, per status flag, "defined", "undefined"
 * or "still the value at function entry" and refuses (as a generator bug)
 * an instruction that reads a flag that is not defined. Generators call
 * `need(flags)` first, which emits a `cmp` when the flags are not defined.
 * The final dump stores a setcc byte for each defined flag only.
 */
import { Instruction, MemoryOperand, Register } from 'iced-x86';
import { one, together, type Item } from './assembler.js';
import { ALL_DEFINED, code, gpr, insn, LOGIC, memory, ORDINARY, STATUS_FLAGS, type FlagEffect, type Insn, type Width } from './x86.js';

// ---- the sandbox map of a generated program (sandbox addresses) ---------------------

/** The trampoline (the engine writes slot 0, the trap; the program may read it). */
export const TRAMPOLINE = 0x10000;
/** Where the text is loaded (test/nexe-builder.ts). */
export const TEXT = 0x20000;
/**
 * The data area, in the heap (the heap starts at the first 64 KiB boundary
 * after the text, so texts up to 0xE0000 bytes leave this free; the heap is
 * zero at entry on every engine).
 */
export const DATA = 0x100000;
/** The trap's argument block: six uint64. */
export const ARGS = DATA;
/** Loop counters, one uint64 per nesting level. */
export const COUNTERS = DATA + 0x40;
/**
 * The final register dump: 16 general registers, the flags (16 bytes at
 * DUMP_FLAGS: generator.ts dumpFlags), then (16-aligned) xmm0-15.
 */
export const DUMP = DATA + 0x100;
export const DUMP_FLAGS = DUMP + 16 * 8;
/** Each status flag's setcc byte in the dump: CF, PF, ZF, SF, OF at DUMP_FLAGS + offset (condition suffixes of x86.ts). */
export const DUMP_FLAG_BYTES: readonly (readonly [number, string])[] = [[0, 'b'], [1, 'p'], [2, 'e'], [3, 's'], [4, 'o']]; // prettier-ignore
/** The byte the DF probe's stosb writes; %edi after it (stored at DUMP_FLAGS + 8) is DUMP_STOSB + 1 when DF is clear. */
export const DUMP_STOSB = DUMP_FLAGS + 6;
export const DUMP_XMM = DUMP + 0x90;
/** Memory the program loads from and stores to at random: SCRATCH_SIZE bytes, then a 16-byte tail reached by unaligned accesses. */
export const SCRATCH = DATA + 0x200;
export const SCRATCH_SIZE = 0x1000;
export const SCRATCH_TAIL = 16;
/** What the program writes to stdout at the end: the dump and the scratch memory. */
export const OUTPUT = DUMP;
export const OUTPUT_SIZE = SCRATCH + SCRATCH_SIZE + SCRATCH_TAIL - DUMP;

// ---- choices --------------------------------------------------------------------------

/**
 * Reads a unit's random words one choice at a time; a missing word is 0, and
 * 0 always means the simplest choice, so fast-check's shrinking (words
 * toward 0, fewer words) shrinks programs toward simple ones.
 */
export class Choices {
  private at = 0;

  constructor(private readonly words: readonly number[]) {}

  next(): number {
    return this.words[this.at++] ?? 0;
  }

  /** 0 .. n-1. */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.below(items.length)]!;
  }

  /** True one time in `n` (false for a missing word). */
  chance(n: number): boolean {
    return this.below(n) === n - 1;
  }

  /** A signed value of `bits` bits, often a boundary value. */
  immediate(bits: 8 | 16 | 32): number {
    const max = 2 ** (bits - 1);
    const w = this.next();
    switch (w % 8) {
      case 0:
        return 0;
      case 1:
        return 1;
      case 2:
        return -1;
      case 3:
        return max - 1;
      case 4:
        return -max;
      default:
        return (Math.floor(w / 8) % (2 * max)) - max;
    }
  }
}

// ---- flags -----------------------------------------------------------------------------

/** Per status flag: defined (`def`), still its value at function entry (`entry`), or neither (undefined). */
export interface FlagState {
  readonly def: number;
  readonly entry: number;
}

export const MAIN_ENTRY_FLAGS: FlagState = { def: STATUS_FLAGS, entry: 0 };
export const FUNCTION_ENTRY_FLAGS: FlagState = { def: 0, entry: STATUS_FLAGS };

export function applyFlags(state: FlagState, effect: FlagEffect): FlagState {
  const touched = effect.def | effect.undef;
  return { def: (state.def & ~touched) | effect.def, entry: state.entry & ~touched };
}

/** The state where two paths join. */
export function meetFlags(a: FlagState, b: FlagState): FlagState {
  return { def: a.def & b.def, entry: a.entry & b.entry };
}

// ---- memory operands ---------------------------------------------------------------------

/** A memory operand, and the masking instruction that must come right before its access (indexed scratch accesses). */
export interface Mem {
  readonly base: Register;
  readonly displacement: number;
  readonly index: Register;
  readonly scale: number;
  readonly prefix: Insn | null;
}

/** The largest d <= `from` with (register + d) a multiple of `align`, the register being `mod` modulo 16. */
function alignDown(from: number, mod: number, align: number): number {
  return from - ((((mod + from) % align) + align) % align);
}

/** Builds an instruction around a fresh iced MemoryOperand (the instruction factories take ownership of it). */
export function withMemory(m: Mem, build: (operand: MemoryOperand) => Instruction): Instruction {
  return build(memory(m.base, m.displacement, m.index, m.scale));
}

export function plain(base: Register, displacement: number): Mem {
  return { base, displacement, index: Register.None, scale: 1, prefix: null };
}

export interface Access {
  /** Bytes accessed. */
  readonly size: number;
  /** Required alignment (16 for legacy-SSE 128-bit operands, else 1). */
  readonly align: number;
  readonly store: boolean;
  /** No masked index (the masking `and` would clobber flags the instruction reads). */
  readonly noIndex?: boolean;
}

/** What the index-masking `and` does to the flags (AF undefined, as after any logic op). */
export const FLAGS_SET_BY_MASK: FlagEffect = LOGIC;

// ---- the emitter ---------------------------------------------------------------------------

/** Unique label names across a program. */
export class Labels {
  private count = 0;

  fresh(prefix: string): string {
    return `${prefix}${this.count++}`;
  }
}

export class Emitter {
  readonly items: Item[] = [];
  flags: FlagState;

  constructor(
    readonly labels: Labels,
    readonly inFunction: boolean,
  ) {
    this.flags = inFunction ? FUNCTION_ENTRY_FLAGS : MAIN_ENTRY_FLAGS;
  }

  /** %rsp modulo 16 between units (the entry %rsp is 2^32 - 56; a call pushes 8). */
  get rspMod16(): number {
    return this.inFunction ? 0 : 8;
  }

  private track(i: Insn): void {
    const missing = i.reads & ~this.flags.def;
    if (missing !== 0) throw new Error(`generator bug: an instruction reads flags 0x${missing.toString(16)} that are not defined`);
    this.flags = applyFlags(this.flags, i.flags);
  }

  /** Instructions that may be laid out independently. */
  emit(...insns: Insn[]): void {
    for (const i of insns) {
      this.track(i);
      this.items.push(one(i));
    }
  }

  /** Instructions that must share a bundle (`end`: and end it). */
  lock(insns: readonly Insn[], end = false): void {
    insns.forEach((i) => this.track(i));
    this.items.push(together(insns, end));
  }

  /** An access through `m`: its masking prefix and the instruction, locked together. */
  access(m: Mem, i: Insn): void {
    if (m.prefix === null) this.emit(i);
    else this.lock([m.prefix, i]);
  }

  /** A label, an alignment or a pre-built group, outside the flag tracking (the caller sets `flags` where paths join). */
  raw(item: Item): void {
    this.items.push(item);
  }

  /** Makes `flags` defined (a `cmp` of two registers) if they are not. */
  need(flags: number, c: Choices): void {
    if ((flags & ~this.flags.def) === 0) return;
    const a = gpr(c.pick(ALL_REGISTERS), 64);
    const b = gpr(c.pick(ALL_REGISTERS), 64);
    const cmp = code('Cmp_rm64_r64');
    this.emit(insn(() => Instruction.createRegReg(cmp, a, b), ALL_DEFINED));
  }

  /** A random memory location for `access`. */
  mem(c: Choices, access: Access): Mem {
    const kinds = access.store ? 4 : 6;
    switch (c.below(kinds)) {
      case 0:
        return this.scratchAbsolute(c, access);
      case 1:
        return access.noIndex ? this.scratchAbsolute(c, access) : this.scratchIndexed(c, access);
      case 2: {
        /* below %rsp: [rsp-128, rsp); nothing the program keeps lives there */
        const top = alignDown(-access.size, this.rspMod16, access.align);
        return plain(Register.RSP, top - c.below(Math.floor((top + 128) / access.align) + 1) * access.align);
      }
      case 3: {
        /* below %rbp (= the entry %rsp, 8 mod 16): [rbp-1024, rbp-256), clear of return addresses and pushes */
        const top = alignDown(-256 - access.size, 8, access.align);
        return plain(Register.RBP, top - c.below(Math.floor((top + 1024) / access.align) + 1) * access.align);
      }
      case 4:
        /* a load from the program's own text, rip-relative */
        return plain(Register.RIP, TEXT + c.below(128 / access.align) * access.align);
      default:
        /* a load from the trampoline's trap slot, which the engine wrote: it must be the same everywhere */
        return plain(Register.R15, TRAMPOLINE + c.below(64 / access.align) * access.align);
    }
  }

  private scratchAbsolute(c: Choices, access: Access): Mem {
    const room = SCRATCH_SIZE + SCRATCH_TAIL - access.size;
    const offset = c.below(Math.floor(room / access.align) + 1) * access.align;
    return plain(Register.R15, SCRATCH + offset);
  }

  /** `and $mask, %eIDX` then `SCRATCH(%r15,%rIDX,scale)`: the index restricted as NaCl requires, and inside scratch. */
  private scratchIndexed(c: Choices, access: Access): Mem {
    const index = c.pick(ORDINARY);
    const scale = c.pick([1, 2, 4, 8]);
    const step = Math.max(1, access.align / scale);
    const mask = (SCRATCH_SIZE / scale - 1) & ~(step - 1);
    const and = code('And_rm32_imm32');
    const register = gpr(index, 32);
    return {
      base: Register.R15,
      displacement: SCRATCH,
      index: gpr(index, 64),
      scale,
      prefix: insn(() => Instruction.createRegI32(and, register, mask), FLAGS_SET_BY_MASK),
    };
  }
}

/** Every general register, for reads (writes use ORDINARY). */
export const ALL_REGISTERS: readonly number[] = Array.from({ length: 16 }, (_, n) => n);

export function width(c: Choices, choices: readonly Width[] = [64, 32, 64, 32, 16, 8]): Width {
  return c.pick(choices);
}
