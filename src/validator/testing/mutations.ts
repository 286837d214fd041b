/**
 * Single mutations of a valid program, each breaking exactly one sandbox
 * rule, with the rule id and the offset where the validator must report it.
 *
 * Pipeline position: test support only, used by validate.property.test.ts
 * on programs from `generator.ts`.
 *
 * Source of truth for the expected (rule, offset) pairs: NaCl's reporting
 * conventions as mirrored in validate.ts and rules.ts — an error is
 * reported at the start of the offending instruction; for a superinstruction
 * at its final instruction (the jmp/call, the string instruction); a
 * missing %rsp/%rbp rebase at the instruction after the write (or at the
 * bundle end when nothing follows, which is the same offset); a bad direct
 * jump target at the jump.
 *
 * Choices a reader might question:
 * - Mutations work on units, not raw bytes, and the program is laid out
 *   again: inserting or lengthening an instruction keeps every other unit
 *   valid (jump targets are re-resolved), so exactly one rule is broken.
 * - A mutation that needs a unit of some kind (say a nacljmp) inserts one
 *   when the program has none, so every mutation applies to every program.
 * - Some rules are *fatal* for the rest of their bundle (the validator
 *   cannot know where the next instruction starts). Instructions after the
 *   error in that bundle are then never seen, and jumps to them are
 *   reported as `bad-jump-target`; `alsoAllowed` lists such follow-on
 *   errors. A crossing instruction also turns the start of the next bundle
 *   into arbitrary bytes: `tolerate` covers that bundle.
 */
import type { RuleId } from '../rules.js';
import {
  BUNDLE, ORDINARY_REGISTERS, R15, RAX, RBP, RSP,
  insnLength, insnOffset, layout, makeUnit, nopBytes, regName, replaceInsn, unitOfKind,
  type InsnSpec, type JumpTarget, type Layout, type LayoutOptions, type Mem, type Program, type Unit,
} from './generator.js';

export const MUTATION_NAMES = [
  'drop-mask',
  'change-mask',
  'nacl-register-mismatch',
  'cross-bundle',
  'split-superinstruction',
  'write-r15',
  'write-rsp',
  'write-rbp',
  'drop-rsp-rebase',
  'drop-rbp-rebase',
  'rebase-without-write',
  'jump-into-superinstruction',
  'jump-mid-instruction',
  'jump-out-of-range',
  'drop-zero-extension',
  'bad-base',
  'segment-prefix',
  'addr-size-prefix',
  'forbidden-instruction',
  'unsupported-extension',
  'drop-string-sandbox',
] as const;

export type MutationName = (typeof MUTATION_NAMES)[number];

export interface Mutation {
  readonly name: MutationName;
  /** What was done, for failure messages. */
  readonly description: string;
  readonly program: Program;
  readonly layout: Layout;
  readonly bytes: Uint8Array;
  /** The error the validator must report... */
  readonly rule: RuleId;
  /** ...at this offset. */
  readonly offset: number;
  /** Follow-on errors that may accompany it (see the module header). */
  readonly alsoAllowed: readonly RuleId[];
  /** Errors of any rule at offsets in [from, to] are tolerated too. */
  readonly tolerate?: readonly [number, number];
}

// ---- helpers -------------------------------------------------------------------------

function choose<T>(items: readonly T[], choice: number): T {
  return items[choice % items.length] as T;
}

/** Derives a second independent-looking choice from one. */
function rehash(choice: number, salt: number): number {
  let h = Math.imul((choice ^ salt) >>> 0, 0x9e3779b1) >>> 0;
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) >>> 0;
}

function withUnits(program: Program, units: readonly Unit[]): Program {
  return { units, pad: program.pad };
}

function replaceUnit(program: Program, index: number, unit: Unit): Program {
  return withUnits(program, program.units.map((u, i) => (i === index ? unit : u)));
}

function insertUnit(program: Program, at: number, unit: Unit): Program {
  return withUnits(program, [...program.units.slice(0, at), unit, ...program.units.slice(at)]);
}

/**
 * Index of a unit satisfying `wanted` (chosen by `choice`); when there is
 * none, a unit from `make()` is inserted and its index returned.
 */
function findOrInsert(program: Program, wanted: (u: Unit) => boolean, make: () => Unit, choice: number): { program: Program; index: number } {
  const found: number[] = [];
  program.units.forEach((u, i) => {
    if (wanted(u)) found.push(i);
  });
  if (found.length > 0) return { program, index: choose(found, choice) };
  const at = choice % (program.units.length + 1);
  return { program: insertUnit(program, at, make()), index: at };
}

function raw(bytes: readonly number[]): InsnSpec {
  return { raw: bytes };
}

function result(
  name: MutationName,
  description: string,
  program: Program,
  rule: RuleId,
  offset: (l: Layout) => number,
  extra: { alsoAllowed?: readonly RuleId[]; layoutOptions?: LayoutOptions; tolerate?: (l: Layout) => readonly [number, number] } = {},
): Mutation {
  const l = layout(program, extra.layoutOptions);
  return {
    name,
    description,
    program,
    layout: l,
    bytes: l.bytes,
    rule,
    offset: offset(l),
    alsoAllowed: extra.alsoAllowed ?? [],
    ...(extra.tolerate ? { tolerate: extra.tolerate(l) } : {}),
  };
}

const FATAL_FOLLOW_ON: readonly RuleId[] = ['bad-jump-target'];

const isNacl = (u: Unit): boolean => u.kind === 'nacljmp' || u.kind === 'naclcall';
const naclOf = (choice: number): Unit => unitOfKind(choice & 1 ? 'naclcall' : 'nacljmp', choice);

/** Registers of the same REX group as `reg` that a nacljmp could use, minus `reg`. */
function otherNaclRegister(reg: number, choice: number): number {
  const group = ORDINARY_REGISTERS.filter((r) => (r > 7) === (reg > 7) && r !== reg);
  return choose(group, choice);
}

/** The register a nacljmp/naclcall unit sandboxes (its `and` operand). */
function naclRegister(unit: Unit): number {
  const mask = unit.insns[unit.roles.mask ?? 0] as InsnSpec;
  return typeof mask.rm === 'number' ? mask.rm : RAX;
}

// ---- the mutations ---------------------------------------------------------------------

/** nacljmp/naclcall without its `and $-32` (replaced by nops of the same length). */
function dropMask(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, isNacl, () => naclOf(choice), choice);
  const unit = p.units[index] as Unit;
  const mask = unit.roles.mask as number;
  const mutated = replaceUnit(p, index, replaceInsn(unit, mask, raw(nopBytes(insnLength(unit, mask))), `${unit.text} without mask`));
  return result('drop-mask', `unit ${index}: ${unit.text}, and replaced by nops`, mutated, 'unsandboxed-string-or-indirect', (l) => insnOffset(mutated, l, index, unit.roles.branch as number), { alsoAllowed: FATAL_FOLLOW_ON });
}

/** nacljmp/naclcall whose mask is not the 8-bit $-32 (another imm8, or the imm32 form of the same mask). */
function changeMask(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, isNacl, () => naclOf(choice), choice);
  const unit = p.units[index] as Unit;
  const reg = naclRegister(unit);
  const variant = rehash(choice, 1) % 9;
  const insn: InsnSpec = variant === 8
    ? { opcode: [0x81], reg: 4, rm: reg, imm: [0xe0, 0xff, 0xff, 0xff] }
    : { opcode: [0x83], reg: 4, rm: reg, imm: [choose([0xf0, 0xc0, 0x00, 0xff, 0xe1, 0x1f, 0x80, 0xfe], variant)] };
  const mutated = replaceUnit(p, index, replaceInsn(unit, unit.roles.mask as number, insn));
  return result('change-mask', `unit ${index}: ${unit.text}, mask variant ${variant}`, mutated, 'unsandboxed-string-or-indirect', (l) => insnOffset(mutated, l, index, unit.roles.branch as number), { alsoAllowed: FATAL_FOLLOW_ON });
}

/** nacljmp/naclcall whose mask, rebase or branch uses another register (same REX group). */
function naclRegisterMismatch(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, isNacl, () => naclOf(choice), choice);
  const unit = p.units[index] as Unit;
  const reg = naclRegister(unit);
  const other = otherNaclRegister(reg, rehash(choice, 2));
  const which = rehash(choice, 3) % 3;
  let mutatedUnit: Unit;
  let what: string;
  if (which === 0) {
    mutatedUnit = replaceInsn(unit, unit.roles.mask as number, { opcode: [0x83], reg: 4, rm: other, imm: [0xe0] });
    what = 'mask';
  } else if (which === 1) {
    const rebase = unit.insns[unit.roles.rebase as number] as InsnSpec;
    const insn: InsnSpec = rebase.opcode?.[0] === 0x01 ? { w: true, opcode: [0x01], reg: R15, rm: other } : { w: true, opcode: [0x03], reg: other, rm: R15 };
    mutatedUnit = replaceInsn(unit, unit.roles.rebase as number, insn);
    what = 'rebase';
  } else {
    mutatedUnit = replaceInsn(unit, unit.roles.branch as number, { opcode: [0xff], reg: unit.kind === 'naclcall' ? 2 : 4, rm: other });
    what = 'branch';
  }
  const mutated = replaceUnit(p, index, mutatedUnit);
  return result('nacl-register-mismatch', `unit ${index}: ${unit.text}, ${what} on %${regName(other)}`, mutated, 'superinstruction-register-mismatch', (l) => insnOffset(mutated, l, index, unit.roles.branch as number));
}

/** One instruction placed across a bundle boundary. */
function crossBundle(program: Program, choice: number): Mutation {
  const multiByte = (u: Unit): boolean => u.starts.some((_, j) => insnLength(u, j) >= 2);
  const { program: p, index } = findOrInsert(program, multiByte, () => unitOfKind('alu', choice), choice);
  const unit = p.units[index] as Unit;
  const candidates = unit.starts.map((_, j) => j).filter((j) => insnLength(unit, j) >= 2);
  const j = choose(candidates, rehash(choice, 4));
  const at = (unit.starts[j] as number) + 1 + (rehash(choice, 5) % (insnLength(unit, j) - 1));
  const layoutOptions: LayoutOptions = { cross: { unit: index, at } };
  return result('cross-bundle', `unit ${index}: ${unit.text}, instruction ${j} split ${at - (unit.starts[j] as number)} bytes in`, p, 'crosses-bundle', (l) => insnOffset(p, l, index, j), {
    alsoAllowed: FATAL_FOLLOW_ON,
    layoutOptions,
    tolerate: (l) => {
      const boundary = (l.offsets[index] as number) + at;
      return [boundary, boundary + BUNDLE];
    },
  });
}

/**
 * A superinstruction whose instructions are split between two bundles (no
 * instruction crosses; the boundary falls between two of them). The
 * sandboxing state does not survive a bundle boundary.
 */
function splitSuperinstruction(program: Program, choice: number): Mutation {
  const splittable = (u: Unit): boolean => u.insns.length > 1 && u.kind !== 'invalid';
  const kinds = ['nacljmp', 'naclcall', 'string', 'rsp-set', 'rbp-set', 'mem-indexed'] as const;
  const { program: p, index } = findOrInsert(program, splittable, () => unitOfKind(choose(kinds, choice), choice), choice);
  const unit = p.units[index] as Unit;
  const j = 1 + (rehash(choice, 26) % (unit.insns.length - 1));
  const at = unit.starts[j] as number;
  const layoutOptions: LayoutOptions = { cross: { unit: index, at } };
  const boundary = (l: Layout): number => (l.offsets[index] as number) + at;
  const description = `unit ${index}: ${unit.text}, bundle boundary before instruction ${j}`;
  switch (unit.kind) {
    case 'mem':
      return result('split-superinstruction', description, p, 'bad-index-register', boundary, { layoutOptions });
    case 'rsp-set':
    case 'rbp-set': {
      const rsp = unit.kind === 'rsp-set';
      // Not rebased at the end of the first bundle; the rebase alone starts the next one.
      return result('split-superinstruction', description, p, rsp ? 'rsp-not-rebased' : 'rbp-not-rebased', boundary, {
        layoutOptions,
        alsoAllowed: [rsp ? 'rsp-rebase-without-write' : 'rbp-rebase-without-write', 'bad-jump-target'],
      });
    }
    default: {
      // nacljmp/naclcall/string: the final instruction no longer sees its sandboxing.
      const last = unit.insns.length - 1;
      return result('split-superinstruction', description, p, 'unsandboxed-string-or-indirect', (l) => insnOffset(p, l, index, last), { layoutOptions, alsoAllowed: FATAL_FOLLOW_ON });
    }
  }
}

const R15_WRITES: readonly (readonly [string, readonly number[]])[] = [
  ['mov %rax,%r15', [0x49, 0x89, 0xc7]],
  ['xor %r15d,%r15d', [0x45, 0x31, 0xff]],
  ['inc %r15', [0x49, 0xff, 0xc7]],
  ['pop %r15', [0x41, 0x5f]],
  ['lea 0x8(%r15),%r15', [0x4d, 0x8d, 0x7f, 0x08]],
  ['mov $0x1,%r15b', [0x41, 0xb7, 0x01]],
  ['mov %ax,%r15w', [0x66, 0x41, 0x89, 0xc7]],
  ['add $0x10,%r15d', [0x41, 0x83, 0xc7, 0x10]],
];

/** The destination of an instruction changed to %r15 (or a write to %r15 inserted). */
function writeR15(program: Program, choice: number): Mutation {
  const eligible = program.units.map((u, i) => i).filter((i) => (program.units[i] as Unit).dst !== undefined);
  if (eligible.length > 0 && rehash(choice, 6) % 4 !== 0) {
    const index = choose(eligible, choice);
    const unit = program.units[index] as Unit;
    const dst = unit.dst as NonNullable<Unit['dst']>;
    const insn = unit.insns[dst.insn] as InsnSpec;
    const changed: InsnSpec =
      dst.field === 'reg' ? { ...insn, reg: R15 }
        : dst.field === 'rm' ? { ...insn, rm: R15 }
          : dst.field === 'opreg' ? { ...insn, opreg: R15 }
            : { ...insn, vex: { ...(insn.vex as NonNullable<InsnSpec['vex']>), v: R15 } };
    const mutated = replaceUnit(program, index, replaceInsn(unit, dst.insn, changed, `${unit.text}, destination r15`));
    return result('write-r15', `unit ${index}: ${unit.text}, destination changed to r15`, mutated, 'r15-modified', (l) => insnOffset(mutated, l, index, dst.insn));
  }
  const [text, bytes] = choose(R15_WRITES, rehash(choice, 7));
  const at = choice % (program.units.length + 1);
  const mutated = insertUnit(program, at, makeUnit('invalid', text, [raw(bytes)]));
  return result('write-r15', `inserted ${text} as unit ${at}`, mutated, 'r15-modified', (l) => l.offsets[at] as number);
}

/** A 64-bit (or 16/8-bit) write to %rsp or %rbp that is not one of the allowed forms. */
function writeStackRegister(program: Program, choice: number, target: typeof RSP | typeof RBP): Mutation {
  // mov %rXX,%rsp|%rbp from any register but the other stack register (mov %rbp,%rsp is allowed).
  const src = choose([...ORDINARY_REGISTERS, R15], rehash(choice, 8));
  const variants: readonly (readonly [string, InsnSpec])[] = [
    [`mov %${regName(src)},%${regName(target)}`, { w: true, opcode: [0x89], reg: src, rm: target }],
    [`mov %${regName(src)},%${regName(target)} (8b)`, { w: true, opcode: [0x8b], reg: target, rm: src }],
    [`add $8,%${regName(target)}`, { w: true, opcode: [0x83], reg: 0, rm: target, imm: [8] }],
    [`lea 8(%${regName(target)}),%${regName(target)}`, { w: true, opcode: [0x8d], reg: target, rm: { base: target, index: null, scale: 1, disp: 8 } }],
    [`pop %${regName(target)}`, { opcode: [0x58], opreg: target }],
    [`mov %ax,%${regName(target)}w`, { prefixes: [0x66], opcode: [0x89], reg: RAX, rm: target }],
    [`mov $1,%${regName(target)}l`, { forceRex: true, opcode: [0xb0], opreg: target, imm: [1] }],
    [`xchg %${regName(src === R15 ? RAX : src)},%${regName(target)}`, { w: true, opcode: [0x87], reg: src === R15 ? RAX : src, rm: target }],
  ];
  // The first two (the 64-bit mov the brief asks for) are the most frequent.
  const v = rehash(choice, 9) % 12;
  const [text, insn] = variants[v < 6 ? v % 2 : v - 4] as readonly [string, InsnSpec];
  const at = choice % (program.units.length + 1);
  const mutated = insertUnit(program, at, makeUnit('invalid', text, [insn]));
  const rule: RuleId = target === RSP ? 'rsp-modified' : 'rbp-modified';
  return result(target === RSP ? 'write-rsp' : 'write-rbp', `inserted ${text} as unit ${at}`, mutated, rule, (l) => l.offsets[at] as number);
}

/** `mov ...,%esp` (or %ebp) without the `add %r15,%rsp` after it. */
function dropRebase(program: Program, choice: number, target: typeof RSP | typeof RBP): Mutation {
  const kind = target === RSP ? 'rsp-set' : 'rbp-set';
  const { program: p, index } = findOrInsert(program, (u) => u.kind === kind, () => unitOfKind(kind, choice), choice);
  const unit = p.units[index] as Unit;
  const write = unit.insns[unit.roles.write as number] as InsnSpec;
  const mutated = replaceUnit(p, index, makeUnit('invalid', `${unit.text} without rebase`, [write]));
  const rule: RuleId = target === RSP ? 'rsp-not-rebased' : 'rbp-not-rebased';
  // Reported at the next instruction, or at the bundle end: both are the end of the write.
  return result(target === RSP ? 'drop-rsp-rebase' : 'drop-rbp-rebase', `unit ${index}: ${unit.text}, rebase dropped`, mutated, rule, (l) => (l.offsets[index] as number) + (mutated.units[index] as Unit).bytes.length);
}

/** `add %r15,%rsp` (or %rbp, or the lea forms) without the 32-bit write before it. */
function rebaseWithoutWrite(program: Program, choice: number): Mutation {
  const kind = choice & 1 ? 'rbp-set' : 'rsp-set';
  const { program: p, index } = findOrInsert(program, (u) => u.kind === 'rsp-set' || u.kind === 'rbp-set', () => unitOfKind(kind, choice), choice);
  const unit = p.units[index] as Unit;
  const rebase = unit.insns[unit.roles.rebase as number] as InsnSpec;
  const mutated = replaceUnit(p, index, makeUnit('invalid', `${unit.text} without write`, [rebase]));
  const rule: RuleId = unit.kind === 'rsp-set' ? 'rsp-rebase-without-write' : 'rbp-rebase-without-write';
  // The rebase is never a valid jump target (as in NaCl), even when it is an error.
  return result('rebase-without-write', `unit ${index}: ${unit.text}, write dropped`, mutated, rule, (l) => l.offsets[index] as number, { alsoAllowed: FATAL_FOLLOW_ON });
}

/** A rel32 jump or call unit to `target`, inserted at `at`. */
function jumpUnit(target: JumpTarget, choice: number): Unit {
  switch (choice % 3) {
    case 0: return makeUnit('invalid', 'jmp rel32', [{ opcode: [0xe9], rel: 4 }], { jump: { insn: 0, size: 4, target } });
    case 1: return makeUnit('invalid', 'jcc rel32', [{ opcode: [0x0f, 0x80 + ((choice >>> 2) & 15)], rel: 4 }], { jump: { insn: 0, size: 4, target } });
    default: return makeUnit('invalid', 'call rel32', [{ opcode: [0xe8], rel: 4 }], { jump: { insn: 0, size: 4, target }, alignEnd: true });
  }
}

/** Instructions inside `unit` that nothing may jump to (the rest of a superinstruction). */
function innerInstructions(unit: Unit): number[] {
  switch (unit.kind) {
    case 'nacljmp':
    case 'naclcall':
    case 'string':
      return unit.starts.map((_, j) => j).slice(1);
    case 'rsp-set':
    case 'rbp-set':
      return [unit.roles.rebase as number];
    case 'mem':
      return unit.roles.zeroExtend !== undefined ? [unit.roles.access as number] : [];
    default:
      return [];
  }
}

/** A direct jump to an instruction inside a superinstruction. */
function jumpIntoSuperinstruction(program: Program, choice: number): Mutation {
  const kinds = ['nacljmp', 'naclcall', 'string', 'rsp-set', 'rbp-set', 'mem-indexed'] as const;
  const { program: p, index } = findOrInsert(program, (u) => innerInstructions(u).length > 0, () => unitOfKind(choose(kinds, choice), choice), choice);
  const unit = p.units[index] as Unit;
  const j = choose(innerInstructions(unit), rehash(choice, 10));
  const at = rehash(choice, 11) % (p.units.length + 1);
  const targetIndex = at <= index ? index + 1 : index;
  const mutated = insertUnit(p, at, jumpUnit({ kind: 'inside-unit', unit: targetIndex, delta: unit.starts[j] as number }, rehash(choice, 12)));
  return result('jump-into-superinstruction', `jump inserted as unit ${at} into instruction ${j} of unit ${targetIndex} (${unit.text})`, mutated, 'bad-jump-target', (l) => l.offsets[at] as number);
}

/** A direct jump into the middle of an instruction. */
function jumpMidInstruction(program: Program, choice: number): Mutation {
  const multiByte = (u: Unit): boolean => u.starts.some((_, j) => insnLength(u, j) >= 2);
  const { program: p, index } = findOrInsert(program, multiByte, () => unitOfKind('alu', choice), choice);
  const unit = p.units[index] as Unit;
  const candidates = unit.starts.map((_, j) => j).filter((j) => insnLength(unit, j) >= 2);
  const j = choose(candidates, rehash(choice, 13));
  const delta = (unit.starts[j] as number) + 1 + (rehash(choice, 14) % (insnLength(unit, j) - 1));
  const at = rehash(choice, 15) % (p.units.length + 1);
  const targetIndex = at <= index ? index + 1 : index;
  const mutated = insertUnit(p, at, jumpUnit({ kind: 'inside-unit', unit: targetIndex, delta }, rehash(choice, 16)));
  return result('jump-mid-instruction', `jump inserted as unit ${at} to byte ${delta} of unit ${targetIndex} (${unit.text})`, mutated, 'bad-jump-target', (l) => l.offsets[at] as number);
}

/** A direct jump to an unaligned address outside the region (after its end or before its start). */
function jumpOutOfRange(program: Program, choice: number): Mutation {
  const fromEnd = (choice & 1) === 1;
  const h = rehash(choice, 17);
  let distance = 1 + (h & 1 ? h % 300 : h % 0x100000);
  if (distance % BUNDLE === 0) distance++;
  const target: JumpTarget = { kind: 'region', fromEnd, delta: fromEnd ? distance : -distance };
  const at = choice % (program.units.length + 1);
  const mutated = insertUnit(program, at, jumpUnit(target, rehash(choice, 18)));
  return result('jump-out-of-range', `jump inserted as unit ${at} to ${fromEnd ? 'end + ' : 'start - '}${distance}`, mutated, 'direct-jump-out-of-range', (l) => l.offsets[at] as number);
}

/** The index register of an r15/rsp/rbp-based access no longer zero-extended right before. */
function dropZeroExtension(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, (u) => u.roles.zeroExtend !== undefined, () => unitOfKind('mem-indexed', choice), choice);
  const unit = p.units[index] as Unit;
  const zx = unit.roles.zeroExtend as number;
  const access = unit.insns[unit.roles.access as number] as InsnSpec;
  const index64 = (access.rm as Mem).index as number;
  const zxInsn = unit.insns[zx] as InsnSpec;
  const variant = rehash(choice, 19) % 4;
  let replacement: InsnSpec;
  let what: string;
  const widenable = zxInsn.opcode !== undefined && zxInsn.opreg === undefined;
  if (variant === 0 || (variant === 1 && !widenable)) {
    replacement = raw(nopBytes(insnLength(unit, zx)));
    what = 'replaced by nops';
  } else if (variant === 1) {
    replacement = { ...zxInsn, w: true };
    what = 'made 64-bit';
  } else if (variant === 2) {
    const other = choose(ORDINARY_REGISTERS.filter((r) => r !== index64), rehash(choice, 20));
    replacement = { opcode: [0x89], reg: other, rm: other };
    what = `zero-extends %${regName(other)} instead`;
  } else {
    // Still zero-extended, but not by the instruction right before the access.
    const between = choose<readonly [string, InsnSpec]>(
      [
        ['nop', raw([0x90])],
        ['a long nop', raw([0x0f, 0x1f, 0x44, 0x00, 0x00])],
        ['cmp', { opcode: [0x39], reg: index64, rm: index64 }],
        ['mov %rsp,%rbp', raw([0x48, 0x89, 0xe5])],
      ],
      rehash(choice, 27),
    );
    const insns = [zxInsn, between[1], unit.insns[unit.roles.access as number] as InsnSpec];
    const mutated = replaceUnit(p, index, makeUnit('invalid', `${unit.text} with ${between[0]} in between`, insns, { roles: { zeroExtend: 0, access: 2 } }));
    return result('drop-zero-extension', `unit ${index}: ${unit.text}, ${between[0]} inserted after the zero-extension`, mutated, 'bad-index-register', (l) => insnOffset(mutated, l, index, 2));
  }
  const mutated = replaceUnit(p, index, replaceInsn(unit, zx, replacement));
  return result('drop-zero-extension', `unit ${index}: ${unit.text}, zero-extension ${what}`, mutated, 'bad-index-register', (l) => insnOffset(mutated, l, index, unit.roles.access as number));
}

/** A memory access based on an ordinary register (or an absolute address). */
function badBase(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, (u) => u.kind === 'mem', () => unitOfKind('mem-sandboxed', choice), choice);
  const unit = p.units[index] as Unit;
  const a = unit.roles.access as number;
  const access = unit.insns[a] as InsnSpec;
  const mem = access.rm as Mem;
  const bases: readonly Mem['base'][] = [...ORDINARY_REGISTERS, 'none'];
  const base = choose(bases, rehash(choice, 21));
  const mutated = replaceUnit(p, index, replaceInsn(unit, a, { ...access, rm: { ...mem, base } }));
  return result('bad-base', `unit ${index}: ${unit.text}, base ${typeof base === 'number' ? regName(base) : base}`, mutated, 'bad-base-register', (l) => insnOffset(mutated, l, index, a));
}

/** Instructions (not jumps, not raw byte patterns) that a prefix can be added to. */
function prefixable(u: Unit): number[] {
  if (u.kind === 'jump' || u.kind === 'call' || u.kind === 'string' || u.kind === 'nacljmp' || u.kind === 'naclcall') return [];
  return u.insns.map((s, j) => (s.raw === undefined ? j : -1)).filter((j) => j >= 0);
}

function addPrefix(program: Program, choice: number, name: 'segment-prefix' | 'addr-size-prefix'): Mutation {
  const { program: p, index } = findOrInsert(program, (u) => prefixable(u).length > 0, () => unitOfKind('alu', choice), choice);
  const unit = p.units[index] as Unit;
  const j = choose(prefixable(unit), rehash(choice, 22));
  const insn = unit.insns[j] as InsnSpec;
  const prefix = name === 'addr-size-prefix' ? 0x67 : choose([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65], rehash(choice, 23));
  const mutated = replaceUnit(p, index, replaceInsn(unit, j, { ...insn, prefixes: [prefix, ...(insn.prefixes ?? [])] }));
  return result(name, `unit ${index}: ${unit.text}, prefix ${prefix.toString(16)} on instruction ${j}`, mutated, 'forbidden-prefix', (l) => insnOffset(mutated, l, index, j), { alsoAllowed: FATAL_FOLLOW_ON });
}

export const FORBIDDEN_INSTRUCTIONS: readonly (readonly [string, readonly number[]])[] = [
  ['ret', [0xc3]],
  ['ret $8', [0xc2, 0x08, 0x00]],
  ['lret', [0xcb]],
  ['iretq', [0x48, 0xcf]],
  ['syscall', [0x0f, 0x05]],
  ['sysenter', [0x0f, 0x34]],
  ['int $0x80', [0xcd, 0x80]],
  ['int3', [0xcc]],
  ['in (%dx),%al', [0xec]],
  ['out %al,(%dx)', [0xee]],
  ['cli', [0xfa]],
  ['rdmsr', [0x0f, 0x32]],
  ['jmp *(%rax)', [0xff, 0x20]],
  ['call *0x8(%r15)', [0x41, 0xff, 0x57, 0x08]],
  ['mov %ds,%eax', [0x8c, 0xd8]],
  ['bt %eax,(%r15)', [0x41, 0x0f, 0xa3, 0x07]],
  ['leave', [0xc9]],
  ['movabs 0x1000,%eax', [0xa1, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]],
  ['pushfq', [0x9c]],
  ['rdrand %eax', [0x0f, 0xc7, 0xf0]],
  ['shlx %eax,%ebx,%ecx (BMI2, unknown to NaCl)', [0xc4, 0xe2, 0x79, 0xf7, 0xcb]],
];

function forbiddenInstruction(program: Program, choice: number): Mutation {
  const [text, bytes] = choose(FORBIDDEN_INSTRUCTIONS, rehash(choice, 24));
  const at = choice % (program.units.length + 1);
  const mutated = insertUnit(program, at, makeUnit('invalid', text, [raw(bytes)]));
  return result('forbidden-instruction', `inserted ${text} as unit ${at}`, mutated, 'forbidden-instruction', (l) => l.offsets[at] as number, { alsoAllowed: FATAL_FOLLOW_ON });
}

/** Extensions the CPU has that NaCl decodes but refuses (not fatal: validation goes on). */
export const UNSUPPORTED_EXTENSIONS: readonly (readonly [string, readonly number[]])[] = [
  ['aesenc %xmm1,%xmm0', [0x66, 0x0f, 0x38, 0xdc, 0xc1]],
  ['aeskeygenassist $1,%xmm1,%xmm0', [0x66, 0x0f, 0x3a, 0xdf, 0xc1, 0x01]],
  ['pclmulqdq $1,%xmm1,%xmm0', [0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x01]],
  ['andn %eax,%ebx,%ecx (BMI1)', [0xc4, 0xe2, 0x60, 0xf2, 0xc8]],
  ['vcvtph2ps %xmm1,%xmm0 (F16C)', [0xc4, 0xe2, 0x79, 0x13, 0xc1]],
  ['fxsave (%r15)', [0x41, 0x0f, 0xae, 0x07]],
];

function unsupportedExtension(program: Program, choice: number): Mutation {
  const [text, bytes] = choose(UNSUPPORTED_EXTENSIONS, rehash(choice, 28));
  const at = choice % (program.units.length + 1);
  const mutated = insertUnit(program, at, makeUnit('invalid', text, [raw(bytes)]));
  return result('unsupported-extension', `inserted ${text} as unit ${at}`, mutated, 'unsupported-extension', (l) => l.offsets[at] as number);
}

/** A string instruction with one of its sandboxing instructions replaced by nops. */
function dropStringSandbox(program: Program, choice: number): Mutation {
  const { program: p, index } = findOrInsert(program, (u) => u.kind === 'string', () => unitOfKind('string', choice), choice);
  const unit = p.units[index] as Unit;
  const s = unit.roles.string as number;
  const j = rehash(choice, 25) % s;
  const mutated = replaceUnit(p, index, replaceInsn(unit, j, raw(nopBytes(insnLength(unit, j)))));
  return result('drop-string-sandbox', `unit ${index}: ${unit.text}, instruction ${j} replaced by nops`, mutated, 'unsandboxed-string-or-indirect', (l) => insnOffset(mutated, l, index, s), { alsoAllowed: FATAL_FOLLOW_ON });
}

/** Applies mutation `name` to `program`; `choice` picks the unit and the variant. */
export function mutate(program: Program, name: MutationName, choice: number): Mutation {
  const c = choice >>> 0;
  switch (name) {
    case 'drop-mask': return dropMask(program, c);
    case 'change-mask': return changeMask(program, c);
    case 'nacl-register-mismatch': return naclRegisterMismatch(program, c);
    case 'cross-bundle': return crossBundle(program, c);
    case 'split-superinstruction': return splitSuperinstruction(program, c);
    case 'write-r15': return writeR15(program, c);
    case 'write-rsp': return writeStackRegister(program, c, RSP);
    case 'write-rbp': return writeStackRegister(program, c, RBP);
    case 'drop-rsp-rebase': return dropRebase(program, c, RSP);
    case 'drop-rbp-rebase': return dropRebase(program, c, RBP);
    case 'rebase-without-write': return rebaseWithoutWrite(program, c);
    case 'jump-into-superinstruction': return jumpIntoSuperinstruction(program, c);
    case 'jump-mid-instruction': return jumpMidInstruction(program, c);
    case 'jump-out-of-range': return jumpOutOfRange(program, c);
    case 'drop-zero-extension': return dropZeroExtension(program, c);
    case 'bad-base': return badBase(program, c);
    case 'segment-prefix': return addPrefix(program, c, 'segment-prefix');
    case 'addr-size-prefix': return addPrefix(program, c, 'addr-size-prefix');
    case 'forbidden-instruction': return forbiddenInstruction(program, c);
    case 'unsupported-extension': return unsupportedExtension(program, c);
    case 'drop-string-sandbox': return dropStringSandbox(program, c);
  }
}
