/**
 * Property tests of the validator (vitest + fast-check).
 *
 * (a) Every program from the generator (testing/generator.ts) validates,
 *     under both policies and at any aligned base; its instructions decode
 *     with the boundaries the generator encoded (our decoder and iced-x86);
 *     concatenations of valid programs are valid; generateValidRegion()
 *     output is valid.
 * (b) Every single mutation (testing/mutations.ts) is rejected, with the
 *     expected rule at the expected offset and no unrelated error (only the
 *     follow-on errors the mutation declares), at any aligned base.
 * (c) Arbitrary bytes (uniform, and soups of prefix/escape/REX/VEX bytes,
 *     and valid programs with junk spliced in): validate() terminates,
 *     never throws, reports sorted offsets within [0, size] with known rule
 *     ids, is deterministic, ignores explicit padding, and validates
 *     bundles independently (jump-target errors aside).
 * (d) A semantic oracle built on iced-x86's instruction info, independent
 *     of the opcode tables: every instruction the validator reports no error
 *     at is locally safe (no write to %r15 or a segment register, no bad
 *     %rsp/%rbp write, memory accessed only through sandboxed addresses, no
 *     ret/syscall/int/far or unmasked indirect branch, same length as iced).
 * Plus the shrunk counterexamples found so far, as explicit cases.
 *
 * Runs per property: ZEROVM_PROPERTY_RUNS (default 500, about 10 s for the
 * file on 2 cores; mutations run half as many, random-bytes properties 5x,
 * the oracle's single instructions 10x). Set ZEROVM_PROPERTY_SEED to replay a failure
 * (fast-check prints the seed and the shrunk counterexample, with the
 * program's bytes hex-dumped).
 */
import fc from 'fast-check';
import {
  Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt,
} from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { decode, DecodedInstruction, DecodeStatus } from './decoder.js';
import { ALL_FEATURES, type CpuFeature } from './features.js';
import { FORMS, FormFlag } from './forms.js';
import { allFormSpecs } from './opcodes/index.js';
import type { FormSpec } from './opcodes/grammar.js';
import { RULES } from './rules.js';
import { padToBundles, validate, type ValidationError, type ValidationPolicy, type ValidationResult } from './validate.js';
import { POLICIES } from './policies.js';
import { describeProgram, generateValidRegion, insnLength, layout, le, programArbitrary, withoutVex, WordRand, type Program, type Rand } from './testing/generator.js';
import { MUTATION_NAMES, mutate, type Mutation } from './testing/mutations.js';
import { classRecord } from './testing/classes.js';
import { Prng } from './testing/prng.js';
import { stringRecord } from './testing/strings.js';

const RUNS = Math.max(1, Number(process.env.ZEROVM_PROPERTY_RUNS ?? 500) || 500);
const SEED = process.env.ZEROVM_PROPERTY_SEED === undefined ? undefined : Number(process.env.ZEROVM_PROPERTY_SEED);
const params = (numRuns: number): fc.Parameters<unknown> => (SEED === undefined ? { numRuns } : { numRuns, seed: SEED });

function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 32) {
    const row = Array.from(bytes.subarray(i, i + 32), (b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`  ${i.toString(16).padStart(4, '0')}: ${row}`);
  }
  return lines.join('\n');
}

function formatErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `  0x${e.offset.toString(16)} ${e.rule}: ${e.message}`).join('\n');
}

/** Throws with the whole story unless `program` validates. */
function expectValid(program: Program, bytes: Uint8Array, result: ValidationResult, what: string): void {
  if (result.valid && result.errors.length === 0) return;
  throw new Error(`${what} was rejected:\n${formatErrors(result.errors)}\n${describeProgram(program)}\nbytes:\n${hexDump(bytes)}`);
}

/** Throws unless `result` has the mutation's error and nothing unrelated. */
function expectRejected(m: Mutation, result: ValidationResult): void {
  const hit = result.errors.some((e) => e.rule === m.rule && e.offset === m.offset);
  const unrelated = result.errors.filter(
    (e) =>
      !(e.rule === m.rule && e.offset === m.offset) &&
      !m.alsoAllowed.includes(e.rule) &&
      !(m.tolerate !== undefined && e.offset >= m.tolerate[0] && e.offset <= m.tolerate[1]),
  );
  if (!result.valid && hit && unrelated.length === 0) return;
  const why = result.valid ? 'accepted' : !hit ? `no ${m.rule} at 0x${m.offset.toString(16)}` : 'unrelated errors';
  throw new Error(
    `mutation ${m.name} (${m.description}): ${why}\nerrors:\n${formatErrors(result.errors)}\n${describeProgram(m.program, m.layout)}\nbytes:\n${hexDump(m.bytes)}`,
  );
}

const alignedBase = fc.nat({ max: 0x7ffffff }).map((n) => n * 32);

describe('generated programs validate', () => {
  it('every generated program is valid (every policy, any aligned base; without VEX for zerovm and deterministic)', () => {
    fc.assert(
      fc.property(programArbitrary(), alignedBase, (program, base) => {
        const { bytes } = layout(program);
        expectValid(program, bytes, validate(bytes, { base }), 'generated program');
        const zerovm = withoutVex(program);
        const zerovmBytes = layout(zerovm).bytes;
        expectValid(zerovm, zerovmBytes, validate(zerovmBytes, { base, policy: 'zerovm' }), 'generated program without VEX (zerovm policy)');
        expectValid(zerovm, zerovmBytes, validate(zerovmBytes, { base, policy: 'deterministic' }), 'generated program without VEX (deterministic policy)');
      }),
      params(RUNS),
    );
  });

  it('generated instructions decode as encoded: same boundaries for the validator\'s decoder and iced-x86', () => {
    const ours = new DecodedInstruction();
    const iced = new Instruction();
    try {
      fc.assert(
        fc.property(programArbitrary(), (program) => {
          const l = layout(program);
          program.units.forEach((unit, i) => {
            const start = l.offsets[i] as number;
            const unitBytes = l.bytes.subarray(start, start + unit.bytes.length);
            const decoder = new Decoder(64, unitBytes, DecoderOptions.None);
            const icedLengths: number[] = [];
            try {
              while (decoder.canDecode) {
                decoder.decodeOut(iced);
                icedLengths.push(iced.code === Code.INVALID ? -1 : iced.length);
              }
            } finally {
              decoder.free();
            }
            const intended = unit.starts.map((_, j) => insnLength(unit, j));
            const ourLengths = unit.starts.map((s) => {
              decode(l.bytes, start + s, l.size, ours);
              return ours.status === DecodeStatus.Ok ? ours.length : -1;
            });
            if (icedLengths.join() !== intended.join() || ourLengths.join() !== intended.join()) {
              throw new Error(`unit ${i} (${unit.kind}: ${unit.text}) at 0x${start.toString(16)}: encoded lengths ${intended.join()}, iced ${icedLengths.join()}, ours ${ourLengths.join()}\n${describeProgram(program, l)}`);
            }
          });
        }),
        params(Math.ceil(RUNS / 2)),
      );
    } finally {
      iced.free();
    }
  });

  it('a concatenation of valid programs is valid (bundles are independent)', () => {
    fc.assert(
      fc.property(programArbitrary({ maxUnits: 24 }), programArbitrary({ maxUnits: 24 }), (a, b) => {
        const la = layout(a);
        const lb = layout(b);
        const bytes = new Uint8Array(la.size + lb.size);
        bytes.set(la.bytes);
        bytes.set(lb.bytes, la.size);
        const program: Program = { units: [...a.units, ...b.units], pad: a.pad };
        expectValid(program, bytes, validate(bytes), 'concatenation');
      }),
      params(Math.ceil(RUNS / 2)),
    );
  });

  it('generateValidRegion() is valid and deterministic', () => {
    const region = generateValidRegion(300_000, 7);
    expect(region.length).toBe(300_000);
    expect(Buffer.compare(generateValidRegion(300_000, 7), region)).toBe(0);
    const result = validate(region);
    expect(formatErrors(result.errors.slice(0, 10))).toBe('');
    expect(result.valid).toBe(true);
  });
});

describe('each single mutation is rejected with its rule at its offset', () => {
  for (const name of MUTATION_NAMES) {
    it(name, () => {
      fc.assert(
        fc.property(programArbitrary({ maxUnits: 24 }), fc.nat(), alignedBase, (program, choice, base) => {
          const m = mutate(program, name, choice);
          expectRejected(m, validate(m.bytes));
          // Offsets do not depend on where the region is loaded.
          const moved = validate(m.bytes, { base });
          expect(moved.errors.map((e) => [e.rule, e.offset, e.address - base])).toEqual(validate(m.bytes).errors.map((e) => [e.rule, e.offset, e.offset]));
        }),
        params(Math.max(1, Math.ceil(RUNS / 2))),
      );
    });
  }
});

// ---- regression cases ---------------------------------------------------------------------

/**
 * Shrunk counterexamples fast-check found while these properties were
 * written. Each was a wrong expectation of the generator or the mutations,
 * not a validator bug; they stay as explicit cases because each pins down a
 * NaCl behaviour the properties rely on.
 */
describe('regression cases from shrunk counterexamples', () => {
  const hex = (s: string): Uint8Array => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)));
  const errorsOf = (s: string): string[] => validate(hex(s)).errors.map((e) => `${e.offset}:${e.rule}`);

  it('a lone rebase is never a valid jump target, even when it is itself an error (as in NaCl)', () => {
    // jmp .+0 ; lea 0x0(%rbp,%r15,1),%rbp ; nop
    expect(errorsOf('eb 00 4a 8d 6c 3d 00 90')).toEqual(['0:bad-jump-target', '2:rbp-rebase-without-write']);
  });

  it('xchg %r15,%rsp modifies both registers', () => {
    expect(errorsOf('4c 87 fc')).toEqual(['0:r15-modified', '0:rsp-modified']);
  });

  it('prefetch needs no sandboxed address, so a zero-extension before it is not a superinstruction', () => {
    // mov %r10d,%r10d at the end of one bundle; prefetcht0 0x6e(%r15,%r10,1) at the start of the next
    const bytes = new Uint8Array(64).fill(0xf4);
    bytes.set(hex('45 89 d2'), 29);
    bytes.set(hex('43 0f 18 4c 17 6e'), 32);
    expect(validate(bytes).errors).toEqual([]);
    // ...and a jump to the prefetch is fine too: add %r12d,%esi ; prefetcht1 0x5fe7(%rsp,%rsi,1) ; jmp back to it
    expect(errorsOf('44 01 e6 0f 18 94 34 e7 5f 00 00 e9 f3 ff ff ff')).toEqual([]);
  });

  it('long nops used as padding never cross a bundle end (a generator bug: the nop would be rejected)', () => {
    const bytes = new Uint8Array(64).fill(0xf4);
    bytes.set(hex('66 66 2e 0f 1f 84 00 00 00 00 00'), 27); // 11-byte nop at 27: crosses into the next bundle
    expect(validate(bytes).errors.map((e) => `${e.offset}:${e.rule}`)[0]).toBe('27:crosses-bundle');
  });
});

// ---- arbitrary bytes ----------------------------------------------------------------------

/** Bytes that exercise the decoder's prefix, escape, REX and VEX paths. */
const interestingByte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65) },
  { weight: 3, arbitrary: fc.integer({ min: 0x40, max: 0x4f }) },
  { weight: 3, arbitrary: fc.constantFrom(0x0f, 0x38, 0x3a, 0x0f) },
  { weight: 2, arbitrary: fc.constantFrom(0xc4, 0xc5, 0x8f, 0x62) },
  { weight: 2, arbitrary: fc.constantFrom(0xff, 0xe8, 0xe9, 0xeb, 0x83, 0x89, 0x8d, 0x01, 0x4c, 0x49, 0xe0, 0xe4, 0xfc, 0xa4, 0xab) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const byteSoup = fc.array(interestingByte, { maxLength: 256 }).map((a) => Uint8Array.from(a));
const features = fc.subarray([...ALL_FEATURES] as CpuFeature[]);

function checkTotal(bytes: Uint8Array, options: Parameters<typeof validate>[1]): void {
  let result: ValidationResult;
  try {
    result = validate(bytes, options);
  } catch (error) {
    throw new Error(`validate() threw on\n${hexDump(bytes)}\n${String(error)}`);
  }
  const padded = Math.ceil(bytes.length / 32) * 32;
  // Under the exact region model (zerovm, deterministic) a region is its own bytes, not padded.
  const exact = options?.policy === 'zerovm' || options?.policy === 'deterministic';
  expect(result.size).toBe(exact ? bytes.length : padded);
  expect(result.valid).toBe(result.errors.length === 0);
  let previous = 0;
  for (const e of result.errors) {
    if (!(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= padded)) {
      throw new Error(`error offset ${e.offset} outside [0, ${padded}] (${e.rule}) on\n${hexDump(bytes)}`);
    }
    expect(e.address).toBe((options?.base ?? 0) + e.offset);
    expect(Object.hasOwn(RULES, e.rule)).toBe(true);
    expect(e.offset).toBeGreaterThanOrEqual(previous); // sorted
    previous = e.offset;
  }
  // Deterministic, and (when the padding is code, under nacl) padding explicitly changes nothing.
  expect(validate(bytes, options).errors).toEqual(result.errors);
  if (!exact) expect(validate(padToBundles(bytes, options?.padByte ?? 0xf4), options).errors).toEqual(result.errors);
}

/** Errors that only depend on the bundle they are in (jump targets depend on the whole region). */
function localErrors(result: ValidationResult, shift = 0): string[] {
  return result.errors
    .filter((e) => e.rule !== 'bad-jump-target' && e.rule !== 'direct-jump-out-of-range')
    // At the end of a region a cut-off instruction is undecodable; inside one it crosses a bundle.
    .map((e) => `${e.offset + shift}:${e.rule === 'crosses-bundle' ? 'undecodable-instruction' : e.rule}`);
}

// ---- (d) semantic oracle ---------------------------------------------------------------------

const WRITES = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);
const SANDBOX_BASES = new Set([Register.R15, Register.RSP, Register.RBP, Register.RIP]);
const FORBIDDEN_MNEMONICS = new Set([
  Mnemonic.Syscall, Mnemonic.Sysenter, Mnemonic.Sysexit, Mnemonic.Sysret, Mnemonic.Int, Mnemonic.Int1, Mnemonic.Int3, Mnemonic.Into,
  Mnemonic.Iret, Mnemonic.Iretd, Mnemonic.Iretq, Mnemonic.Ret, Mnemonic.Retf, Mnemonic.Wrfsbase, Mnemonic.Wrgsbase, Mnemonic.Xbegin,
  Mnemonic.Lss, Mnemonic.Lfs, Mnemonic.Lgs, Mnemonic.Enter, Mnemonic.Leave, Mnemonic.Jecxz,
]);
/** The exact %rsp/%rbp special instructions NaCl allows (modifications and rebases). */
const STACK_SPECIALS = [
  /^4[8a](89e5|8bec|89ec|8be5)$/, // mov %rsp,%rbp / mov %rbp,%rsp
  /^4883e4[89a-f][0-9a-f]$/, // and $-N,%rsp
];
const REBASES: Record<number, RegExp> = {
  [Register.RSP]: /^(4[ce](01|09)fc|4[9b](03|0b)e7|4a8d243c|4a8d643c00|4a8da43c00000000)$/,
  [Register.RBP]: /^(4[ce]01fd|4[9b]03ef|4a8d6c3d00|4a8dac3d00000000)$/,
};
const LEGACY_PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]);

interface OracleInsn {
  readonly pos: number;
  readonly hex: string;
  readonly code: Code;
  readonly op0: Register;
  readonly op1: Register;
  readonly imm8: number;
  /** Full registers written with a 32-bit destination (zero-extended). */
  readonly written32: ReadonlySet<Register>;
}

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Instructions with no validator error at their offset that iced-x86 says
 * are unsafe. Bundles are decoded like the validator does, and a bundle's
 * walk stops at its first fatal error. `strings` says how a string
 * instruction's %rsi/%rdi must have been sandboxed: by NaCl's exact
 * sequences (`nacl`), or (`zerovm`) by the semantic property ZeroVM's rule
 * is meant to give: the register's last write in the bundle is a 64-bit lea
 * from %r15/%rsp/%rbp/%rip whose index (if any) the instruction before it
 * wrote with a 32-bit destination.
 */
function oracleViolations(code: Uint8Array, result: ValidationResult, factory: InstructionInfoFactory, insn: Instruction, strings: 'nacl' | 'zerovm' = 'nacl'): string[] {
  const errorAt = new Set(result.errors.map((e) => e.offset));
  const fatalAt = new Set(result.errors.filter((e) => RULES[e.rule].fatal).map((e) => e.offset));
  const violations: string[] = [];
  const ours = new DecodedInstruction();
  for (let bundle = 0; bundle < code.length; bundle += 32) {
    const history: OracleInsn[] = [];
    /** %rsi/%rdi when their last write in this bundle was a sandboxing lea (strings = zerovm). */
    const sandboxed = new Set<Register>();
    let pendingRebase: Register | null = null;
    let pos = bundle;
    while (pos < bundle + 32) {
      const hasError = errorAt.has(pos);
      if (pendingRebase !== null) {
        // The previous instruction wrote %esp/%ebp: this one must be the rebase, or the validator must object here.
        const decoder = new Decoder(64, code.subarray(pos, bundle + 32), DecoderOptions.None);
        decoder.decodeOut(insn);
        decoder.free();
        const hex = toHex(code.subarray(pos, pos + insn.length));
        if (!hasError && (insn.code === Code.INVALID || !(REBASES[pendingRebase] as RegExp).test(hex))) violations.push(`0x${pos.toString(16)}: %esp/%ebp written but not rebased by ${hex}`);
        pendingRebase = null;
      }
      if (fatalAt.has(pos)) break;
      const decoder = new Decoder(64, code.subarray(pos, bundle + 32), DecoderOptions.None);
      decoder.ip = BigInt(pos);
      decoder.decodeOut(insn);
      decoder.free();
      if (insn.code === Code.INVALID) {
        // NaCl's definitions of a few VEX forms ignore VEX.vvvv (`anyvvvv`):
        // with vvvv != 1111 the CPU raises #UD, which is safe (it traps).
        decode(code, pos, bundle + 32, ours);
        if (ours.status === DecodeStatus.Ok && ours.vex && ours.vvvv !== 0 && ((FORMS.flags[ours.form] as number) & FormFlag.AnyVvvv) !== 0) {
          history.length = 0;
          pos += ours.length;
          continue;
        }
        if (!hasError) violations.push(`0x${pos.toString(16)}: iced cannot decode (or the instruction crosses the bundle), no error`);
        break;
      }
      const hex = toHex(code.subarray(pos, pos + insn.length));
      const where = `0x${pos.toString(16)} ${hex} (${Mnemonic[insn.mnemonic]})`;
      const info = factory.info(insn);
      const written32 = new Set<Register>();
      const usedRegisters = info.usedRegisters() as { register: Register; access: OpAccess; free(): void }[];
      const usedMemory = info.usedMemory() as { base: Register; index: Register; access: OpAccess; free(): void }[];
      const explicitWrite = (full: Register): Register | null => {
        for (let i = 0; i < insn.opCount; i++) {
          if (insn.opKind(i) === OpKind.Register && RegisterExt.fullRegister(insn.opRegister(i)) === full && WRITES.has(info.opAccess(i))) return insn.opRegister(i);
        }
        return null;
      };
      // Explicit 32-bit register destinations (iced reports the full register in usedRegisters).
      for (let i = 0; i < insn.opCount; i++) {
        const r = insn.opKind(i) === OpKind.Register ? insn.opRegister(i) : Register.None;
        if (r !== Register.None && RegisterExt.isGPR(r) && RegisterExt.size(r) === 4 && WRITES.has(info.opAccess(i))) written32.add(RegisterExt.fullRegister(r));
      }
      if (!hasError) {
        decode(code, pos, code.length, ours);
        if (ours.status !== DecodeStatus.Ok || ours.length !== insn.length) violations.push(`${where}: our length ${ours.length}, iced ${insn.length}`);
        for (const u of usedRegisters) {
          if (!WRITES.has(u.access)) continue;
          const full = RegisterExt.fullRegister(u.register);
          if (full === Register.R15) violations.push(`${where}: writes ${Register[u.register]}`);
          if (RegisterExt.isSegmentRegister(u.register)) violations.push(`${where}: writes segment register ${Register[u.register]}`);
          if (full === Register.RSP || full === Register.RBP) {
            const explicit = explicitWrite(full);
            if (explicit === null) {
              if (full === Register.RBP) violations.push(`${where}: implicitly writes %rbp`);
            } else if (RegisterExt.size(explicit) === 4) {
              pendingRebase = full;
            } else if (!STACK_SPECIALS.some((re) => re.test(hex)) && !(REBASES[full] as RegExp).test(hex)) {
              violations.push(`${where}: writes ${Register[explicit]}`);
            }
          }
        }
        for (const m of usedMemory) {
          if (m.access === OpAccess.NoMemAccess || m.access === OpAccess.None) continue;
          if ((m.base === Register.RSI || m.base === Register.RDI) && strings === 'zerovm') {
            if (!sandboxed.has(m.base)) violations.push(`${where}: ${Register[m.base]} access, but its last write in the bundle is no sandboxing lea`);
            continue;
          }
          if (m.base === Register.RSI || m.base === Register.RDI) {
            // String instructions / maskmov: the sandboxing sequence must come right before.
            const needs = usedMemory.some((x) => x.base === Register.RSI) ? [Register.RSI, Register.RDI] : [Register.RDI];
            const wanted = usedMemory.some((x) => x.base === Register.RDI) ? needs : [Register.RSI];
            const tail = history.slice(-2 * wanted.length).map((h) => h.hex).join(' ');
            const pattern = wanted.map((r) => (r === Register.RSI ? '4[02]?(89|8b)f6 498d3437' : '4[02]?(89|8b)ff 498d3c3f')).join(' ');
            if (!new RegExp(`^${pattern.replace(/4\[02\]\?/g, '(4[02])?')}$`).test(tail)) violations.push(`${where}: %rsi/%rdi access without its sandboxing sequence (before: ${tail})`);
            continue;
          }
          // iced folds %rip-relative addresses into absolute ones (base None).
          const base = m.base === Register.None && m.index === Register.None && insn.isIpRelMemoryOperand ? Register.RIP : m.base;
          if (!SANDBOX_BASES.has(base)) violations.push(`${where}: memory access based on ${Register[m.base]}`);
          if (m.index !== Register.None && !(history.at(-1)?.written32.has(m.index) ?? false)) {
            violations.push(`${where}: index ${Register[m.index]} not zero-extended by the previous instruction`);
          }
        }
        const flow = insn.flowControl;
        if (flow === FlowControl.Return || flow === FlowControl.Interrupt || flow === FlowControl.XbeginXabortXend || FORBIDDEN_MNEMONICS.has(insn.mnemonic)) {
          violations.push(`${where}: forbidden control transfer`);
        }
        if (insn.isJmpFar || insn.isCallFar || insn.isJmpFarIndirect || insn.isCallFarIndirect) violations.push(`${where}: far transfer`);
        if (flow === FlowControl.IndirectBranch || flow === FlowControl.IndirectCall) {
          const reg = insn.opKind(0) === OpKind.Register ? insn.opRegister(0) : Register.None;
          const add = history.at(-1);
          const and = history.at(-2);
          const addOk = add !== undefined && (add.code === Code.Add_rm64_r64 || add.code === Code.Add_r64_rm64) && add.op0 === reg && add.op1 === Register.R15;
          const andOk = and !== undefined && and.code === Code.And_rm32_imm8 && RegisterExt.fullRegister(and.op0) === reg && and.imm8 === -32;
          if (!addOk || !andOk) violations.push(`${where}: indirect branch without and $-32 / add %r15 on its register`);
        }
        if (flow === FlowControl.Call || flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch) {
          for (let i = pos; i < pos + insn.length && LEGACY_PREFIXES.has(code[i] as number); i++) {
            if (code[i] === 0x66 || code[i] === 0x67) violations.push(`${where}: branch with a 0x${(code[i] as number).toString(16)} prefix`);
          }
        }
      }
      // %rsi/%rdi: sandboxed by a 64-bit lea from a sandbox base (index zero-extended just before), unsandboxed by any other write.
      const lea = insn.mnemonic === Mnemonic.Lea && insn.opCount === 2 ? insn.opRegister(0) : Register.None;
      const safeLea = (lea === Register.RSI || lea === Register.RDI) && SANDBOX_BASES.has(insn.memoryBase) &&
        (insn.memoryIndex === Register.None || (history.at(-1)?.written32.has(insn.memoryIndex) ?? false));
      for (const u of usedRegisters) {
        const full = RegisterExt.fullRegister(u.register);
        if (WRITES.has(u.access) && (full === Register.RSI || full === Register.RDI)) sandboxed.delete(full);
      }
      if (safeLea) sandboxed.add(lea);
      for (const u of usedRegisters) u.free();
      for (const m of usedMemory) m.free();
      info.free();
      history.push({
        pos, hex, code: insn.code,
        op0: insn.opCount > 0 && insn.opKind(0) === OpKind.Register ? insn.opRegister(0) : Register.None,
        op1: insn.opCount > 1 && insn.opKind(1) === OpKind.Register ? insn.opRegister(1) : Register.None,
        imm8: insn.opCount > 1 && insn.opKind(1) === OpKind.Immediate8to32 ? insn.immediate8to32 : 0,
        written32,
      });
      pos += insn.length;
    }
    if (pendingRebase !== null && !errorAt.has(bundle + 32)) violations.push(`0x${(bundle + 32).toString(16)}: %esp/%ebp written at the end of a bundle, no error`);
  }
  return violations;
}

/** One interesting instruction: prefixes, REX, escape/VEX, opcode, ModRM biased to r15/rsp/rbp, tail. */
const candidateInstruction = fc
  .tuple(
    fc.subarray([0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64], { maxLength: 2 }),
    fc.option(fc.constantFrom(0x40, 0x41, 0x42, 0x44, 0x45, 0x48, 0x49, 0x4c, 0x4d, 0x4f, 0x43, 0x4b), { freq: 2 }),
    fc.constantFrom<readonly number[]>([], [], [0x0f], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]),
    fc.option(fc.tuple(fc.constantFrom(0xc4, 0xc5), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })), { freq: 4 }),
    fc.integer({ min: 0, max: 255 }),
    fc.oneof(fc.integer({ min: 0xc0, max: 0xff }), fc.constantFrom(0xc7, 0xf8, 0xff, 0xe4, 0xec, 0xe5, 0xfc, 0xc4, 0xc5, 0xef, 0xe7, 0x3f, 0x27, 0x04, 0x07), fc.integer({ min: 0, max: 255 })),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([prefixes, rex, escape, vex, opcode, modrm, tail]) => {
    const head = vex === null ? [...prefixes, ...(rex === null ? [] : [rex]), ...escape] : [...prefixes, vex[0], vex[1], ...(vex[0] === 0xc4 ? [vex[2]] : [])];
    return Uint8Array.from([...head, opcode, modrm, ...tail]);
  });

/**
 * One instruction of a form the tables accept (deny-free), with operands
 * biased to %r15/%rsp/%rbp and to memory operands based on them. The tables
 * only steer the choice; the oracle judges with iced-x86, not the tables.
 */
const ACCEPTED_FORMS: readonly FormSpec[] = allFormSpecs().filter((f) => f.deny === null && f.map !== '3DNow');

function encodeForm(f: FormSpec, r: Rand): Uint8Array {
  const bytes: number[] = [];
  const bit = (oneIn: number): number => (r.int(oneIn) === 0 ? 1 : 0);
  const opsize = f.prefix === 'none' && !f.vex && bit(4) === 1;
  const memOnly = f.operands.some((o) => o.kind === 'M');
  const regOnly = f.operands.some((o) => o.kind === 'R' || o.kind === 'U' || o.kind === 'N');
  const mod = memOnly ? r.int(3) : regOnly || r.int(2) === 0 ? 3 : r.int(3);
  if (f.attributes.has('lock') && mod !== 3 && bit(6)) bytes.push(0xf0);
  if (opsize) bytes.push(0x66);
  if (!f.vex && f.prefix === '66') bytes.push(0x66);
  if (!f.vex && f.prefix === 'F2') bytes.push(0xf2);
  if (!f.vex && f.prefix === 'F3') bytes.push(0xf3);
  const w = f.w === -1 ? r.int(2) : f.w;
  const rr = bit(2);
  const x = bit(3);
  const b = bit(2);
  const usesVvvv = f.operands.some((o) => o.kind === 'H' || o.kind === 'B');
  if (f.vex) {
    const map = f.map === '0F' ? 1 : f.map === '0F38' ? 2 : 3;
    const pp = { none: 0, NP: 0, '66': 1, F3: 2, F2: 3 }[f.prefix];
    const l = f.vexL === -1 ? 0 : f.vexL;
    const v = usesVvvv ? pick16(r) : 0;
    bytes.push(0xc4, (rr ? 0 : 0x80) | (x ? 0 : 0x40) | (b ? 0 : 0x20) | map, (w << 7) | ((~v & 15) << 3) | (l << 2) | pp);
  } else {
    const rex = 0x40 | (w << 3) | (rr << 2) | (x << 1) | b;
    if (rex !== 0x40 || bit(4)) bytes.push(rex);
    if (f.map === '0F') bytes.push(0x0f);
    if (f.map === '0F38') bytes.push(0x0f, 0x38);
    if (f.map === '0F3A') bytes.push(0x0f, 0x3a);
  }
  bytes.push(f.opcode + (f.opcodeReg ? pickLow(r) : 0));
  if (f.hasModrm) {
    if (f.modrmLiteral >= 0) {
      bytes.push(f.modrmLiteral + (f.modrmRange > 1 ? r.int(f.modrmRange) : 0));
    } else {
      const reg = f.modrmReg >= 0 ? f.modrmReg : pickLow(r);
      const rm = pickLow(r);
      bytes.push((mod << 6) | (reg << 3) | rm);
      if (mod !== 3) {
        let base = rm;
        if (rm === 4) {
          base = pickLow(r);
          bytes.push((r.int(4) << 6) | (pickLow(r) << 3) | base);
        }
        if (mod === 1) bytes.push(...le(r.int(256), 1));
        if (mod === 2 || (mod === 0 && base === 5)) bytes.push(...le(r.int(0x10000) - 0x8000, 4));
      }
    }
  }
  for (const o of f.operands) {
    const wide = w === 1;
    if (o.kind === 'I') {
      const n = { b: 1, w: 2, d: 4, q: 8, z: opsize ? 2 : 4, v: opsize ? 2 : wide ? 8 : 4 }[o.size as 'b'] ?? 1;
      for (let i = 0; i < n; i++) bytes.push(r.int(256));
    } else if (o.kind === 'J') {
      for (let i = 0; i < (o.size === 'b' ? 1 : 4); i++) bytes.push(r.int(256));
    } else if (o.kind === 'L') {
      bytes.push(r.int(256));
    } else if (o.kind === 'O') {
      for (let i = 0; i < 8; i++) bytes.push(r.int(256));
    }
  }
  return Uint8Array.from(bytes);
}
/** A register number 0..7 biased to 7 (r15/rdi), 4 (rsp/r12) and 5 (rbp/r13). */
function pickLow(r: Rand): number {
  const k = r.int(12);
  return k < 8 ? k : [7, 7, 4, 5][k - 8] as number;
}
function pick16(r: Rand): number {
  const k = r.int(20);
  return k < 16 ? k : [15, 15, 4, 5][k - 16] as number;
}

const tableSteeredInstruction = fc
  .tuple(fc.nat({ max: ACCEPTED_FORMS.length - 1 }), fc.array(fc.nat(), { minLength: 40, maxLength: 40 }))
  .map(([i, words]) => encodeForm(ACCEPTED_FORMS[i] as FormSpec, new WordRand(words)));

/** What may come right before: zero-extensions (also of the special registers), or nothing. */
const previousInstruction = fc.constantFrom<readonly number[]>(
  [], [0x89, 0xc0], [0x89, 0xdb], [0x45, 0x89, 0xc0], [0x89, 0xf6], [0x89, 0xff], [0x45, 0x89, 0xff], [0x89, 0xc4], [0x89, 0xc5],
  [0x83, 0xe0, 0xe0], [0x41, 0x83, 0xe3, 0xe0],
);

describe('semantic oracle (iced-x86 instruction info): what the validator accepts is locally safe', () => {
  it('the oracle itself flags known-unsafe code when the validator is made to report nothing', () => {
    const factory = new InstructionInfoFactory();
    const insn = new Instruction();
    const silent = (bytes: Uint8Array): ValidationResult => ({ ...validate(bytes), valid: true, errors: [] });
    try {
      for (const unsafe of [
        '49 89 c7', // mov %rax,%r15
        'c3', // ret
        '0f 05', // syscall
        '8b 00', // mov (%rax),%eax
        '41 8b 04 07', // mov (%r15,%rax,1),%eax without zero-extension
        '67 41 8b 07', // mov (%r15d),%eax: addr32 truncates the base
        'ff e0', // jmp *%rax
        '89 c4 90', // mov %eax,%esp not rebased
        '5d', // pop %rbp
        '48 83 c4 08', // add $8,%rsp
        '66 e8 00 00', // call with a 0x66 prefix
        'a4', // movsb without sandboxing
        '8e d8', // mov %eax,%ds
      ]) {
        const bytes = padToBundles(Uint8Array.from(unsafe.split(' ').map((h) => parseInt(h, 16))), 0x90);
        expect(oracleViolations(bytes, silent(bytes), factory, insn), unsafe).not.toEqual([]);
      }
      const safe = padToBundles(Uint8Array.from([0x89, 0xc0, 0x41, 0x8b, 0x04, 0x07, 0x83, 0xe1, 0xe0, 0x4c, 0x01, 0xf9, 0xff, 0xe1]), 0x90);
      expect(oracleViolations(safe, validate(safe), factory, insn)).toEqual([]);
      // ZeroVM's string sandboxing: the semantic rule catches what ZeroVM 2015 let through.
      const zerovm = (hex: string): string[] => {
        const bytes = padToBundles(Uint8Array.from(hex.split(' ').map((h) => parseInt(h, 16))), 0xf4);
        return oracleViolations(bytes, { ...validate(bytes, { policy: 'zerovm' }), valid: true, errors: [] }, factory, insn, 'zerovm');
      };
      expect(zerovm('89 f6 49 8d 34 37 48 89 c6 49 8d 3f a4')).not.toEqual([]); // mov %rax,%rsi between the leas
      expect(zerovm('89 f6 49 8d 34 37 89 f6 49 8d 3c 37 a4')).not.toEqual([]); // mov %esi,%esi truncates %rsi
      expect(zerovm('90 41 8d 3f aa')).not.toEqual([]); // a 32-bit lea
      expect(zerovm('90 49 8d 3e aa')).not.toEqual([]); // %r14 is no sandbox base
      expect(zerovm('89 f6 49 8d 34 37 90 49 8d 3f a4')).toEqual([]);
      expect(zerovm('89 c0 49 8d 7c 87 08 f3 ab')).toEqual([]);
    } finally {
      insn.free();
      factory.free();
    }
  });

  it('single instructions biased to %r15/%rsp/%rbp operands, after an optional zero-extension', () => {
    const factory = new InstructionInfoFactory();
    const insn = new Instruction();
    try {
      fc.assert(
        fc.property(previousInstruction, candidateInstruction, (prev, candidate) => {
          const bytes = padToBundles(Uint8Array.from([...prev, ...candidate, 0x90]), 0x90);
          const result = validate(bytes);
          const violations = oracleViolations(bytes, result, factory, insn);
          if (violations.length > 0) throw new Error(`validator accepted unsafe code:\n${violations.join('\n')}\nerrors:\n${formatErrors(result.errors)}\nbytes:\n${hexDump(bytes)}`);
        }),
        params(RUNS * 10),
      );
    } finally {
      insn.free();
      factory.free();
    }
  });

  it('single instructions of every form the tables accept, operands biased to %r15/%rsp/%rbp', () => {
    const factory = new InstructionInfoFactory();
    const insn = new Instruction();
    try {
      fc.assert(
        fc.property(previousInstruction, tableSteeredInstruction, (prev, candidate) => {
          const bytes = padToBundles(Uint8Array.from([...prev, ...candidate, 0x90]), 0x90);
          const result = validate(bytes);
          const violations = oracleViolations(bytes, result, factory, insn);
          if (violations.length > 0) throw new Error(`validator accepted unsafe code:\n${violations.join('\n')}\nerrors:\n${formatErrors(result.errors)}\nbytes:\n${hexDump(bytes)}`);
        }),
        params(RUNS * 10),
      );
    } finally {
      insn.free();
      factory.free();
    }
  });

  it('generated programs with one random byte changed', () => {
    const factory = new InstructionInfoFactory();
    const insn = new Instruction();
    try {
      fc.assert(
        fc.property(programArbitrary({ maxUnits: 16 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (program, at, value) => {
          const bytes = layout(program).bytes.slice();
          bytes[at % bytes.length] = value;
          const result = validate(bytes);
          const violations = oracleViolations(bytes, result, factory, insn);
          if (violations.length > 0) throw new Error(`validator accepted unsafe code:\n${violations.join('\n')}\nerrors:\n${formatErrors(result.errors)}\nbytes:\n${hexDump(bytes)}`);
        }),
        params(RUNS * 2),
      );
    } finally {
      insn.free();
      factory.free();
    }
  });

  // The zerovm policy (and so deterministic), judged by the same oracle with ZeroVM's string rule as a semantic property.
  const zerovmCases: readonly (readonly [string, fc.Arbitrary<Uint8Array>])[] = [
    ['single instructions after an optional zero-extension', fc.tuple(previousInstruction, candidateInstruction).map(([p, c]) => Uint8Array.from([...p, ...c, 0x90]))],
    ['string and maskmov sandboxing sequences (the strings family)', fc.integer({ min: 0, max: 0x7fffffff }).map((seed) => stringRecord(new Prng(seed)))],
    ['the instruction classes ZeroVM judges differently (the classes family)', fc.integer({ min: 0, max: 0x7fffffff }).map((seed) => classRecord(new Prng(seed)))],
  ];
  for (const [name, arbitrary] of zerovmCases) {
    it(`zerovm policy: ${name}`, () => {
      const factory = new InstructionInfoFactory();
      const insn = new Instruction();
      try {
        fc.assert(
          fc.property(arbitrary, (record) => {
            // The region is exactly the record; the oracle walks it as the validator does, padded with hlt.
            const result = validate(record, { policy: 'zerovm' });
            const bytes = padToBundles(record, 0xf4);
            const violations = oracleViolations(bytes, result, factory, insn, 'zerovm');
            if (violations.length > 0) throw new Error(`validator accepted unsafe code:\n${violations.join('\n')}\nerrors:\n${formatErrors(result.errors)}\nbytes:\n${hexDump(bytes)}`);
          }),
          params(RUNS * 10),
        );
      } finally {
        insn.free();
        factory.free();
      }
    });
  }
});

describe('arbitrary bytes: validate() is total', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), alignedBase, fc.constantFrom<ValidationPolicy>(...POLICIES), (bytes, base, policy) => {
        checkTotal(bytes, { base, policy });
      }),
      params(RUNS * 5),
    );
  });

  it('byte soups of prefixes, escapes, REX and VEX bytes (random CPU features and pad byte)', () => {
    fc.assert(
      fc.property(byteSoup, features, fc.constantFrom(0xf4, 0x90, 0x00, 0xcc), (bytes, feats, padByte) => {
        checkTotal(bytes, { features: feats, padByte });
      }),
      params(RUNS * 5),
    );
  });

  it('bundles are validated independently: errors of A ++ B are those of A and of B (jumps aside)', () => {
    const bundles = byteSoup.map((b) => padToBundles(b, 0x90));
    fc.assert(
      fc.property(bundles, bundles, (a, b) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        const expected = [...localErrors(validate(a)), ...localErrors(validate(b), a.length)];
        expect(localErrors(validate(ab))).toEqual(expected);
      }),
      params(RUNS * 2),
    );
  });

  it('valid programs with random bytes spliced in', () => {
    fc.assert(
      fc.property(programArbitrary({ maxUnits: 24 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }), (program, at, junk) => {
        const { bytes } = layout(program);
        const mutated = bytes.slice();
        mutated.set(junk.subarray(0, Math.max(0, bytes.length - (at % bytes.length))), at % bytes.length);
        checkTotal(mutated, {});
      }),
      params(RUNS * 2),
    );
  });

  it('rejects a misaligned base without throwing', () => {
    const result = validate(new Uint8Array([0x90]), { base: 4 });
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => e.rule)).toEqual(['bad-code-region']);
  });
});
