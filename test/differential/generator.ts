/**
 * A generator of valid, terminating sandboxed programs for differential
 * testing of engines: the same nexe must give byte-identical output,
 * report and etags on every engine, and on every run.
 *
 * Pipeline position: test support. `programSpec()` (fast-check) or a saved
 * regression gives a ProgramSpec -> `generateProgram` -> Emitter items
 * (emitter.ts, family-*.ts) -> assembler.ts -> test/nexe-builder.ts ->
 * harness.ts runs it.
 *
 * A program:
 *   1. prologue: fills the scratch memory with xorshift64 values from
 *      `seed`, loads every writable general register and xmm0-15 from it;
 *   2. the main units, each from its own array of random words (the first
 *      word picks the kind: an instruction family, or a structure that takes
 *      the next units as its body: a forward conditional branch, a counted
 *      loop (trip counts 1..6 in memory counters, nesting <= 2), a masked
 *      indirect jump through 2 or 4 bundle-aligned pads, a direct call
 *      (ending its bundle, so the masked return lands on the next one), a
 *      trap in the middle (TrapWrite of scratch bytes, or a failing trap);
 *   3. the dump: every general register (%r15 and %rsp/%rbp included: all
 *      engines place the sandbox at 0x440A00000000), the flags as a valid
 *      program reads them (a setcc byte for each status flag defined at that
 *      point, DF from the direction of a stosb; AF and IF only pushf or lahf
 *      could read, which no session accepts), xmm0-15, then one TrapWrite of
 *      the dump and the scratch memory to stdout and TrapExit with the low
 *      32 bits of the final %rax, or a deliberate fault (`Ending`);
 *   4. the functions the calls go to (leaf functions: no calls, no loops),
 *      each ending with the masked return (nacl_ret).
 * The session's memory etag then covers the rest of memory (stack included).
 *
 * Every instruction is one a session accepts: both original validators
 * (NaCl's and ZeroVM 2015's) accept it, and it is not cpuid
 * (generator.test.ts checks generated programs against the originals).
 *
 * Why words: shrinking removes units and lowers words toward 0, and 0 is
 * always the simplest choice (see emitter.ts Choices), so a failing program
 * shrinks to a short one. A spec is plain JSON, so a shrunk counterexample
 * is kept as is in regressions.json.
 */
import fc from 'fast-check';
import { Instruction, Register, RepPrefixKind } from 'iced-x86';
import { buildNexe } from '../nexe-builder.js';
import { ALIGN, assemble, label, one } from './assembler.js';
import {
  ARGS,
  COUNTERS,
  DUMP,
  DUMP_FLAGS,
  DUMP_FLAG_BYTES,
  DUMP_STOSB,
  DUMP_XMM,
  Emitter,
  Labels,
  meetFlags,
  OUTPUT,
  OUTPUT_SIZE,
  SCRATCH,
  SCRATCH_SIZE,
  SCRATCH_TAIL,
  TEXT,
  TRAMPOLINE,
  type FlagState,
  type Mem,
  Choices,
  ALL_REGISTERS,
} from './emitter.js';
import { GPR_FAMILIES, type Family } from './family-gpr.js';
import { SSE_FAMILIES } from './family-sse.js';
import { m, mi, mr, r, ri, ri64, rm, rr } from './forms.js';
import {
  AF,
  ALL_DEFINED,
  branch,
  code,
  CONDITIONS,
  DIVIDE,
  gpr,
  insn,
  LOGIC,
  KEEPS_FLAGS,
  ORDINARY,
  R11,
  R15,
  RAX,
  RBX,
  RCX,
  RDI,
  RDX,
  STATUS_FLAGS,
  xmm,
  OF,
  ZF,
  type Insn,
} from './x86.js';

export interface ProgramSpec {
  /** Seed of the scratch memory's initial contents. */
  readonly seed: number;
  /** The main program's units, each an array of random words. */
  readonly main: readonly (readonly number[])[];
  /** Each function's units. */
  readonly functions: readonly (readonly (readonly number[])[])[];
  /** How the program ends (ENDINGS, modulo its length); missing = TrapExit. */
  readonly ending?: number;
}

/**
 * How a program ends after writing its dump: TrapExit, or a fault, so that
 * engines are compared on the report's "Signal N from untrusted code:
 * Halting at 0x<address>" too: a load from the NULL guard, a store to the
 * text, a division by zero, a misaligned movdqa, a hlt.
 */
export type Ending = 'exit' | 'null-load' | 'text-store' | 'divide' | 'misaligned' | 'hlt';
const ENDINGS: readonly Ending[] = ['exit', 'exit', 'exit', 'null-load', 'text-store', 'divide', 'misaligned', 'hlt'];

export function endingOf(spec: ProgramSpec): Ending {
  return ENDINGS[(spec.ending ?? 0) % ENDINGS.length]!;
}

export interface GeneratedProgram {
  readonly spec: ProgramSpec;
  readonly ending: Ending;
  readonly text: Uint8Array;
  readonly nexe: Uint8Array;
}

export const TRAP_READ = 0x64616552;
export const TRAP_WRITE = 0x74697257;
export const TRAP_EXIT = 0x74697845;
export const TRAP_FORK = 0x6b726f46;
/** Largest text: the data area must stay in the heap (emitter.ts DATA). */
const MAX_TEXT = 0xe0000;
const MAX_LOOP_DEPTH = 2;
const MAX_DEPTH = 3;

const abs = (address: number): Mem => ({ base: Register.R15, displacement: address, index: Register.None, scale: 1, prefix: null });

/** Units in order; structures take their bodies from the same stream. */
class UnitStream {
  private at = 0;

  constructor(private readonly units: readonly (readonly number[])[]) {}

  take(): readonly number[] | undefined {
    return this.units[this.at++];
  }

  get done(): boolean {
    return this.at >= this.units.length;
  }
}

type Structure = 'if' | 'loop' | 'switch' | 'call' | 'trap';

const STRUCTURES: readonly (readonly [number, Structure])[] = [
  [3, 'if'],
  [2, 'loop'],
  [2, 'switch'],
  [2, 'call'],
  [1, 'trap'],
];

type Kind = { readonly family: Family } | { readonly structure: Structure };

const KINDS: readonly (readonly [number, Kind])[] = [
  ...GPR_FAMILIES.map(([w, family]) => [w, { family }] as const),
  ...SSE_FAMILIES.map(([w, family]) => [w, { family }] as const),
  ...STRUCTURES.map(([w, structure]) => [w, { structure }] as const),
];
const SIMPLE: readonly (readonly [number, Kind])[] = KINDS.filter(([, k]) => 'family' in k);

function weighted(c: Choices, table: readonly (readonly [number, Kind])[]): Kind {
  const total = table.reduce((sum, [w]) => sum + w, 0);
  let pick = c.below(total);
  for (const [w, kind] of table) {
    if (pick < w) return kind;
    pick -= w;
  }
  return table[0]![1];
}

/** The trap sequence of examples/zerovm-abi.inc: %edi = the argument block; the call ends its bundle. */
function trapCall(e: Emitter): void {
  e.emit(ri('Mov_r32_imm32', gpr(RDI, 32), ARGS), ri('Mov_r32_imm32', gpr(RBX, 32), TRAMPOLINE));
  /* the engine resumes with rflags 0x246: every status flag defined */
  e.lock(
    [ri('And_rm32_imm8', gpr(RBX, 32), -32, LOGIC), rr('Add_rm64_r64', gpr(RBX, 64), gpr(R15, 64), ALL_DEFINED), r('Call_rm64', gpr(RBX, 64), ALL_DEFINED)],
    true,
  );
}

function hlt(): Insn {
  const form = code('Hlt');
  return insn(() => Instruction.create(form));
}

function trapArguments(e: Emitter, words: readonly number[]): void {
  words.forEach((word, k) => e.emit(mi('Mov_rm64_imm32', abs(ARGS + 8 * k), word)));
}

class ProgramBuilder {
  readonly labels = new Labels();
  private loopDepth = 0;
  private depth = 0;

  constructor(private readonly functionCount: number) {}

  functionLabel(n: number): string {
    return `function${n}`;
  }

  /** Units from the stream until it ends, or `count` of them. */
  units(e: Emitter, stream: UnitStream, count = Infinity): void {
    for (let n = 0; n < count && !stream.done; n++) this.unit(e, stream);
  }

  private allowed(e: Emitter, structure: Structure): boolean {
    if (this.depth >= MAX_DEPTH && structure !== 'call' && structure !== 'trap') return false;
    if (structure === 'loop') return !e.inFunction && this.loopDepth < MAX_LOOP_DEPTH;
    if (structure === 'call') return !e.inFunction && this.functionCount > 0;
    return true;
  }

  private unit(e: Emitter, stream: UnitStream): void {
    const c = new Choices(stream.take() ?? []);
    let kind = weighted(c, KINDS);
    if ('structure' in kind && !this.allowed(e, kind.structure)) kind = weighted(c, SIMPLE);
    if ('family' in kind) {
      kind.family(e, c);
      return;
    }
    this.depth++;
    try {
      this[kind.structure](e, c, stream);
    } finally {
      this.depth--;
    }
  }

  private body(e: Emitter, c: Choices, stream: UnitStream): void {
    this.units(e, stream, 1 + c.below(4));
  }

  /** A forward conditional branch over a body. */
  if(e: Emitter, c: Choices, stream: UnitStream): void {
    const cc = c.pick(CONDITIONS);
    if (c.chance(2)) e.emit(rr('Test_rm64_r64', gpr(c.pick(ALL_REGISTERS), 64), gpr(c.pick(ALL_REGISTERS), 64), LOGIC));
    e.need(cc.reads, c);
    const skip = this.labels.fresh('skip');
    e.emit(branch(`J${cc.suffix}_rel32_64`, skip, cc.reads));
    const taken = e.flags;
    this.body(e, c, stream);
    e.raw(label(skip));
    e.flags = meetFlags(taken, e.flags);
  }

  /** A counted loop: the counter lives in memory, out of reach of the body's stores. */
  loop(e: Emitter, c: Choices, stream: UnitStream): void {
    const counter = abs(COUNTERS + 8 * this.loopDepth);
    e.emit(mi('Mov_rm64_imm32', counter, 1 + c.below(6)));
    const top = this.labels.fresh('loop');
    e.raw(label(top));
    /* the back edge comes from `sub`, which defines every flag */
    e.flags = meetFlags(e.flags, { def: STATUS_FLAGS, entry: 0 });
    this.loopDepth++;
    try {
      this.body(e, c, stream);
    } finally {
      this.loopDepth--;
    }
    e.emit(mi('Sub_rm64_imm8', counter, 1, ALL_DEFINED), branch('Jne_rel32_64', top, ZF));
  }

  /** A masked indirect jump to one of 2 or 4 bundle-aligned pads, each jumping to its own block. */
  switch(e: Emitter, c: Choices, stream: UnitStream): void {
    const ways = c.pick([2, 4]);
    const target = c.pick(ORDINARY);
    const pads = this.labels.fresh('pads');
    const join = this.labels.fresh('join');
    const add = code('Add_rm32_imm32');
    const target32 = gpr(target, 32);
    e.emit(
      rr('Mov_r32_rm32', target32, gpr(c.pick(ALL_REGISTERS), 32)),
      ri('And_rm32_imm8', target32, (ways - 1) * 32, LOGIC),
      insn((resolve) => Instruction.createRegI32(add, target32, resolve(pads)), ALL_DEFINED),
    );
    e.lock([ri('And_rm32_imm8', target32, -32, LOGIC), rr('Add_rm64_r64', gpr(target, 64), gpr(R15, 64), ALL_DEFINED), r('Jmp_rm64', gpr(target, 64))]);
    const blocks = Array.from({ length: ways }, () => this.labels.fresh('case'));
    e.raw(ALIGN);
    e.raw(label(pads));
    for (const block of blocks) {
      e.raw(one(branch('Jmp_rel32_64', block)));
      e.raw(ALIGN);
    }
    const start = e.flags;
    let joined: FlagState | null = null;
    for (const block of blocks) {
      e.raw(label(block));
      e.flags = start;
      this.units(e, stream, c.below(3));
      e.emit(branch('Jmp_rel32_64', join));
      joined = joined === null ? e.flags : meetFlags(joined, e.flags);
    }
    e.raw(label(join));
    e.flags = joined ?? start;
  }

  /** A direct call ending its bundle; the function returns with every flag defined (nacl_ret ends with add). */
  call(e: Emitter, c: Choices): void {
    e.lock([{ ...branch('Call_rel32_64', this.functionLabel(c.below(this.functionCount))), flags: ALL_DEFINED }], true);
  }

  /** A trap in the middle: a TrapWrite of scratch bytes (mostly to stdout), or one that fails. */
  trap(e: Emitter, c: Choices): void {
    const size = 1 + c.below(64);
    const buffer = SCRATCH + c.below(SCRATCH_SIZE - size + 1);
    const call = c.pick([
      [TRAP_WRITE, 0, 1, buffer, size, 0],
      [TRAP_WRITE, 0, 2, buffer, size, 0] /* stderr */,
      [TRAP_WRITE, 0, 7, buffer, size, 0] /* no such channel: -EINVAL */,
      [TRAP_WRITE, 0, 1, 0x8000, size, 0] /* unmapped buffer: -EINVAL */,
      [TRAP_WRITE, 0, 1, buffer, -1, 0] /* negative size: -EFAULT */,
      [TRAP_READ, 0, 0, buffer, size, 0] /* stdin is /dev/null: 0 */,
      [TRAP_FORK, 0, 0, 0, 0, 0] /* -1 */,
      [0x12345678, 0, 0, 0, 0, 0] /* unknown: -EPERM */,
    ]);
    trapArguments(e, call);
    trapCall(e);
  }

  prologue(e: Emitter, seed: number): void {
    const rax = gpr(RAX, 64);
    const rdx = gpr(RDX, 64);
    const ecx = gpr(RCX, 32);
    e.emit(ri64('Mov_r64_imm64', rax, (BigInt(seed >>> 0) << 32n) | 0x9e3779b9n), rr('Xor_r32_rm32', ecx, ecx, LOGIC));
    const fill = this.labels.fresh('fill');
    e.raw(label(fill));
    for (const [op, n] of [
      ['Shl', 13],
      ['Shr', 7],
      ['Shl', 17],
    ] as const) {
      const shifted = { def: STATUS_FLAGS & ~(AF | OF), undef: AF | OF };
      e.emit(rr('Mov_r64_rm64', rdx, rax), ri(`${op}_rm64_imm8`, rdx, n, shifted), rr('Xor_rm64_r64', rax, rdx, LOGIC));
    }
    const slot: Mem = { base: Register.R15, displacement: SCRATCH, index: gpr(RCX, 64), scale: 8, prefix: null };
    e.lock([rr('Mov_r32_rm32', ecx, ecx), mr('Mov_rm64_r64', slot, rax)]);
    e.emit(ri('Add_rm32_imm8', ecx, 1, ALL_DEFINED), ri('Cmp_rm32_imm32', ecx, (SCRATCH_SIZE + SCRATCH_TAIL) / 8, ALL_DEFINED));
    e.emit(branch('Jne_rel32_64', fill, ZF));
    ORDINARY.forEach((n, k) => e.emit(rm('Mov_r64_rm64', gpr(n, 64), abs(SCRATCH + 8 * k))));
    for (let n = 0; n < 16; n++) e.emit(rm('Movdqa_xmm_xmmm128', xmm(n), abs(SCRATCH + 0x100 + 16 * n)));
  }

  /** Registers, flags, xmm to the dump; one TrapWrite of dump + scratch; TrapExit with the final %eax, or a fault. */
  epilogue(e: Emitter, ending: Ending): void {
    for (let n = 0; n < 16; n++) e.emit(mr('Mov_rm64_r64', abs(DUMP + 8 * n), gpr(n, 64)));
    this.dumpFlags(e);
    const rax = gpr(RAX, 64);
    for (let n = 0; n < 16; n++) e.emit(mr('Movdqa_xmmm128_xmm', abs(DUMP_XMM + 16 * n), xmm(n)));
    trapArguments(e, [TRAP_WRITE, 0, 1, OUTPUT, OUTPUT_SIZE, 0]);
    trapCall(e);
    switch (ending) {
      case 'exit':
        break;
      case 'null-load':
        e.emit(rm('Mov_r64_rm64', rax, abs(8)));
        break;
      case 'text-store':
        e.emit(mr('Mov_rm64_r64', abs(TEXT), rax));
        break;
      case 'divide':
        e.emit(rr('Xor_r32_rm32', gpr(RCX, 32), gpr(RCX, 32), LOGIC), r('Div_rm32', gpr(RCX, 32), DIVIDE));
        break;
      case 'misaligned':
        e.emit(rm('Movdqa_xmm_xmmm128', xmm(0), abs(SCRATCH + 8)));
        break;
      case 'hlt':
        break;
    }
    if (ending !== 'exit') {
      e.emit(hlt());
      return;
    }
    e.emit(rm('Mov_r64_rm64', rax, abs(DUMP)), mr('Mov_rm64_r64', abs(ARGS + 16), rax));
    e.emit(mi('Mov_rm64_imm32', abs(ARGS), TRAP_EXIT));
    trapCall(e);
    e.emit(hlt());
  }

  /**
   * The flags into the dump as a valid program reads them (no pushf, no
   * lahf): a setcc byte per status flag defined here (an undefined one
   * stays 0), then DF: a sandboxed stosb at DUMP_STOSB leaves %edi one past
   * it (DF clear) or one before it (set), stored after it. Clobbers %rdi,
   * the registers being dumped already.
   */
  private dumpFlags(e: Emitter): void {
    e.emit(mi('Mov_rm64_imm32', abs(DUMP_FLAGS), 0), mi('Mov_rm64_imm32', abs(DUMP_FLAGS + 8), 0));
    for (const [offset, suffix] of DUMP_FLAG_BYTES) {
      const cc = CONDITIONS.find((c) => c.suffix === suffix)!;
      if ((e.flags.def & cc.reads) === cc.reads) e.emit(m(`Set${suffix}_rm8`, abs(DUMP_FLAGS + offset), KEEPS_FLAGS, cc.reads));
    }
    const rdi = gpr(RDI, 64);
    e.emit(ri('Mov_r32_imm32', gpr(RDI, 32), DUMP_STOSB));
    e.lock([
      rr('Mov_r32_rm32', gpr(RDI, 32), gpr(RDI, 32)),
      rm('Lea_r64_m', rdi, { base: Register.R15, index: rdi, scale: 1, displacement: 0, prefix: null }),
      insn(() => Instruction.createStosb(64, RepPrefixKind.None)),
    ]);
    e.emit(mr('Mov_rm32_r32', abs(DUMP_FLAGS + 8), gpr(RDI, 32)));
  }

  function(e: Emitter, n: number, units: readonly (readonly number[])[]): void {
    e.raw(ALIGN);
    e.raw(label(this.functionLabel(n)));
    this.units(e, new UnitStream(units));
    const r11 = gpr(R11, 64);
    e.lock([r('Pop_r64', r11), ri('And_rm32_imm8', gpr(R11, 32), -32, LOGIC), rr('Add_rm64_r64', r11, gpr(R15, 64), ALL_DEFINED), r('Jmp_rm64', r11)]);
  }
}

/** The program a spec describes, as text bytes and a nexe. */
export function generateProgram(spec: ProgramSpec): GeneratedProgram {
  const builder = new ProgramBuilder(spec.functions.length);
  const main = new Emitter(builder.labels, false);
  builder.prologue(main, spec.seed);
  builder.units(main, new UnitStream(spec.main));
  const ending = endingOf(spec);
  builder.epilogue(main, ending);
  const items = [...main.items];
  spec.functions.forEach((units, n) => {
    const f = new Emitter(builder.labels, true);
    builder.function(f, n, units);
    items.push(...f.items);
  });
  const { bytes } = assemble(items, TEXT);
  if (bytes.length > MAX_TEXT) throw new Error(`generated text of ${bytes.length} bytes reaches the data area`);
  return { spec, ending, text: bytes, nexe: buildNexe(bytes) };
}

const unit = fc.array(fc.nat(), { minLength: 1, maxLength: 10 });

/** Random program specs; `units` bounds the main program's length. */
export function programSpec(units = 80): fc.Arbitrary<ProgramSpec> {
  return fc.record({
    seed: fc.nat(),
    /* 'max': lengths spread over the whole range, not fast-check's small default */
    main: fc.array(unit, { minLength: 1, maxLength: units, size: 'max' }),
    functions: fc.array(fc.array(unit, { minLength: 1, maxLength: 8, size: 'max' }), { maxLength: 3 }),
    ending: fc.nat(),
  });
}
