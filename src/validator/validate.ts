/**
 * The NaCl x86-64 sandbox validator: decides whether a code region may run.
 *
 * Pipeline position: bytes -> decoder -> here -> verdict. The loader and the
 * runtime's TrapJail call `validate()`; `validateNexe()` (nexe.ts) finds the
 * text segment of a program first.
 *
 * How it works (one pass, bundle after bundle, like NaCl's validator_ragel):
 * - Each 32-byte bundle is decoded from its first byte; an instruction may
 *   not cross the bundle's end. An undecodable or forbidden instruction ends
 *   the bundle (NaCl cannot know where the next instruction would start;
 *   the error is "fatal" for that bundle only).
 * - Each instruction is checked by the rules below; errors are collected,
 *   never thrown.
 * - One register may be "restricted" at a time: the register a 32-bit
 *   operation wrote in the previous instruction of the same bundle (its top
 *   32 bits are zero). A memory operand may use it as index; %esp/%ebp
 *   writes must be rebased with %r15 by the very next instruction.
 * - Valid jump targets are kept in a bitmap (every instruction end, minus
 *   the insides of superinstructions and instructions that rely on the
 *   restricted register); direct jump targets in a second bitmap. After the
 *   pass, every target that is not valid is reported at its jump (found by
 *   a second decoding pass, only when there is such a target).
 *
 * Rule functions have three outcomes, as in NaCl's spec.py: not my pattern,
 * my pattern but violated (an error), or my pattern and fine.
 */
import { DecodedInstruction, DecodeStatus, DECODE_STATUS_MESSAGES, PrefixBit, SEGMENT_PREFIX_MASK, decode } from './decoder.js';
import {
  DENY_SPECIAL, DENY_UNSUPPORTED, FORMS, FormFlag, MAX_WRITES, OperandSize, OperandType, Prefix,
  denyReasonOf, operandSize, operandType,
} from './forms.js';
import { DENY_REASONS, type DenyReason } from './opcodes/grammar.js';
import { ALL_FEATURES, FEATURE_BIT, type CpuFeature } from './features.js';
import { Gpr, REG_NONE, REG_RIP } from './registers.js';
import { RULES, type RuleId } from './rules.js';
import { matchSpecialRegisterInstruction, SpecialKind } from './special.js';
import { mnemonicOf } from './format.js';
import { isWhitelistedNop } from './nops.js';
import { matchSuperinstruction, SuperMatch } from './superinstructions.js';

export const BUNDLE_SIZE = 32;
const BUNDLE_MASK = BUNDLE_SIZE - 1;

/** Which rule set to apply. */
export type ValidationPolicy = 'nacl' | 'deterministic';

export interface ValidateOptions {
  /** Address of the first byte (for messages); must be 32-byte aligned. Default 0. */
  readonly base?: number;
  /** CPU features the code may use. Default: all. */
  readonly features?: Iterable<CpuFeature>;
  /**
   * `nacl` (default): Native Client's rules. `deterministic`: ZeroVM's
   * stricter flavour, which also rejects machine-dependent instructions.
   */
  readonly policy?: ValidationPolicy;
  /** Byte used to pad a region whose size is not a multiple of 32. Default 0xF4 (hlt). */
  readonly padByte?: number;
}

export interface ValidationError {
  readonly rule: RuleId;
  /** Offset from the start of the region. */
  readonly offset: number;
  /** `base + offset`. */
  readonly address: number;
  /** The user's message (the rule's message, made specific when possible). */
  readonly message: string;
  /** NaCl's message for the same problem, or null when NaCl has none. */
  readonly nacl: string | null;
}

export interface ValidationResult {
  readonly valid: boolean;
  readonly errors: readonly ValidationError[];
  /** Bytes validated (after padding to a whole number of bundles). */
  readonly size: number;
  readonly base: number;
  readonly policy: ValidationPolicy;
}

/** A register is "restricted" when its high half is known zero; NONE otherwise. */
const NONE = -1;

const enum WriteKind {
  Bits8 = 1,
  Restricted = 2, // 32-bit write
  Unrestricted = 3, // 16- or 64-bit write
}

/** Collects errors; shared by the rule helpers. */
class Report {
  readonly errors: ValidationError[] = [];
  constructor(readonly base: number) {}
  add(rule: RuleId, offset: number, detail?: string): void {
    const info = RULES[rule];
    this.errors.push({
      rule,
      offset,
      address: this.base + offset,
      message: detail === undefined ? info.message : `${info.message}: ${detail}`,
      nacl: info.nacl,
    });
  }
}

/** One byte per feature (there are more features than bits in an int32). */
function enabledFeatures(features: Iterable<CpuFeature> | undefined): Uint8Array {
  const enabled = new Uint8Array(ALL_FEATURES.length);
  for (const f of features ?? ALL_FEATURES) enabled[FEATURE_BIT[f]] = 1;
  enabled[FEATURE_BIT['-']] = 1;
  return enabled;
}

// Bitmaps are one 32-bit word per bundle: bit i of word b is offset 32*b + i.
function setBit(bits: Uint32Array, i: number): void {
  bits[i >> 5] = (bits[i >> 5] as number) | (1 << (i & 31));
}
function testBit(bits: Uint32Array, i: number): boolean {
  return (((bits[i >> 5] as number) >>> (i & 31)) & 1) !== 0;
}

/** Pads `code` with `padByte` to a whole number of bundles (no copy when already whole). */
export function padToBundles(code: Uint8Array, padByte = 0xf4): Uint8Array {
  if (code.length % BUNDLE_SIZE === 0) return code;
  const padded = new Uint8Array(code.length + BUNDLE_SIZE - (code.length % BUNDLE_SIZE)).fill(padByte);
  padded.set(code);
  return padded;
}

/**
 * Checks the prefixes of a normal (non-special) instruction. Returns a
 * description of what is wrong, or null.
 */
function prefixProblem(insn: DecodedInstruction, flags: number, formPrefix: number): string | null {
  const p = insn.prefixes;
  if (p & PrefixBit.Duplicate) return 'a prefix is repeated';
  if (p & PrefixBit.RexNotLast || insn.rexCount > 1) return 'REX prefix must come last, once, right before the opcode';
  if (p & SEGMENT_PREFIX_MASK) {
    // On conditional jumps 2E/3E are branch hints, which NaCl allows.
    const hintOnly = flags & FormFlag.BranchHint && !(p & PrefixBit.ManySegments) && !(p & SEGMENT_PREFIX_MASK & ~(PrefixBit.SegCS | PrefixBit.SegDS));
    if (!hintOnly) return 'segment override prefixes are not allowed';
  }
  if (p & PrefixBit.AddrSize) return 'address-size prefix 0x67 is not allowed (it truncates addresses to 32 bits)';
  if (insn.vex) return null;
  const opSizeIsPrefix = (p & PrefixBit.OpSize) !== 0 && formPrefix !== Prefix.P66;
  if (opSizeIsPrefix) {
    if (flags & FormFlag.No66) return 'operand-size prefix 0x66 is not allowed on this instruction';
    if (!(flags & FormFlag.SizedBy66)) return 'operand-size prefix 0x66 has no meaning for this instruction';
    if (insn.rex & 8) return 'operand-size prefix 0x66 together with REX.W';
  }
  if (p & PrefixBit.ManyReps) return 'both rep (F3) and repne (F2) prefixes';
  const repIsPrefix = formPrefix !== Prefix.PF2 && formPrefix !== Prefix.PF3;
  if (repIsPrefix) {
    if (p & PrefixBit.Repne && !(flags & FormFlag.RepCc)) return 'repne prefix (F2) is not allowed on this instruction';
    if (p & PrefixBit.Rep && !(flags & (FormFlag.Rep | FormFlag.RepCc))) return 'rep prefix (F3) is not allowed on this instruction';
  }
  return null;
}

/**
 * The general registers an instruction writes through operands that the
 * sandbox tracks (explicit register operands and the accumulator), as
 * `register | kind << 8`, in operand order. Implicit fixed registers (the
 * rDX:rAX of mul, cpuid's outputs) cannot be %rsp, %rbp or %r15 and are not
 * tracked, as in NaCl.
 */
function trackedWrites(insn: DecodedInstruction, out: Int32Array): number {
  const form = insn.form;
  const count = WRITE_COUNT[form] as number;
  let n = 0;
  const hasRex = insn.rex !== 0;
  for (let i = 0; i < count; i++) {
    const code = WRITES[form * MAX_WRITES + i] as number;
    let reg: number;
    switch (operandType(code)) {
      case OperandType.E:
      case OperandType.R:
        if (insn.hasMemory) continue;
        reg = insn.rm;
        break;
      case OperandType.G:
        reg = insn.reg;
        break;
      case OperandType.Z:
        reg = insn.opcodeRegister;
        break;
      case OperandType.B:
        reg = insn.vvvv;
        break;
      default: // the accumulator
        reg = Gpr.RAX;
        break;
    }
    let bits: number;
    switch (operandSize(code)) {
      case OperandSize.B: bits = 8; break;
      case OperandSize.W: bits = 16; break;
      case OperandSize.D: bits = 32; break;
      case OperandSize.Q: bits = 64; break;
      case OperandSize.V: bits = insn.operandBits; break;
      case OperandSize.Z: bits = insn.operandBits === 16 ? 16 : 32; break;
      case OperandSize.Y: bits = (insn.vex ? insn.vexW : insn.rex & 8) ? 64 : 32; break;
      case OperandSize.S: bits = insn.prefixes & PrefixBit.OpSize ? 16 : 64; break;
      default: bits = 64;
    }
    let kind: WriteKind;
    if (bits === 8) {
      // Without REX, registers 4..7 are ah..bh, not spl..dil.
      if (!hasRex && reg >= 4 && reg <= 7) continue;
      kind = WriteKind.Bits8;
    } else kind = bits === 32 ? WriteKind.Restricted : WriteKind.Unrestricted;
    out[n++] = reg | (kind << 8);
  }
  return n;
}

const writes = new Int32Array(MAX_WRITES);
const WRITE_COUNT = FORMS.writeCount;
const WRITES = FORMS.writes;

/** What one validation pass shares between bundles. */
interface PassState {
  readonly code: Uint8Array;
  readonly size: number;
  readonly report: Report;
  readonly features: Uint8Array;
  readonly deterministic: boolean;
  /** One 32-bit word per bundle: bit i = offset 32*bundle + i is a valid jump target. */
  readonly validTargets: Uint32Array;
  readonly jumpTargets: Uint32Array;
  readonly jumpSources: Uint32Array;
  readonly insn: DecodedInstruction;
}

const formFlags = FORMS.flags;
const formDeny = FORMS.deny;
const formFeature = FORMS.feature;
const formPrefix = FORMS.prefix;

/**
 * Validates one bundle. All rule state except the jump bitmaps is local to
 * a bundle (the restricted register does not survive a bundle boundary),
 * which is also why this is its own function: the JIT optimises it as a
 * whole instead of replacing one long-running loop on the stack.
 */
function validateBundle(state: PassState, bundle: number): void {
  const { code, size, report, features, deterministic, jumpTargets, jumpSources, insn } = state;
  const bundleEnd = bundle + BUNDLE_SIZE;
  let restricted = NONE;
  let pos = bundle;
  let fatal = false;
  // Instruction starts of this bundle (for superinstruction look-back) and
  // its valid jump targets, one bit per byte; bundle starts are always
  // valid targets, so an instruction ending on the bundle end sets nothing.
  let starts = 0;
  let targets = 0;
  while (pos < bundleEnd) {
    starts |= 1 << (pos - bundle);
    // Fast path for the one-byte padding instructions (nop, hlt): more than
    // half of all instructions in compiler output. They write nothing, so
    // only the restricted-register rule applies to them.
    const first = code[pos] as number;
    if (first === 0x90 || first === 0xf4) {
      if (restricted === Gpr.RBP) report.add('rbp-not-rebased', pos);
      else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', pos);
      restricted = NONE;
      pos++;
      if (pos < bundleEnd) targets |= 1 << (pos - bundle);
      continue;
    }
    decode(code, pos, size, insn);
    if (insn.status !== DecodeStatus.Ok) {
      const crossing = insn.status === DecodeStatus.Truncated && pos + 15 > bundleEnd && size > bundleEnd;
      report.add(crossing ? 'crosses-bundle' : 'undecodable-instruction', pos, DECODE_STATUS_MESSAGES[insn.status]);
      fatal = true;
      break;
    }
    const end = pos + insn.length;
    if (end > bundleEnd) {
      report.add('crosses-bundle', pos, `${mnemonicOf(insn)} is ${insn.length} bytes long`);
      fatal = true;
      break;
    }

    // --- special %rsp/%rbp instructions (exact byte patterns) ---------------
    // Only REX.W-prefixed encodings can be special (a cheap pre-filter).
    const special = (first & 0xf8) === 0x48 ? matchSpecialRegisterInstruction(code, pos, insn.length) : SpecialKind.None;
    if (special !== SpecialKind.None) {
      if (special === SpecialKind.RspRebase || special === SpecialKind.RbpRebase) {
        const wanted = special === SpecialKind.RspRebase ? Gpr.RSP : Gpr.RBP;
        if (restricted !== wanted) {
          if (restricted === Gpr.RBP) report.add('rbp-not-rebased', pos);
          else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', pos);
          report.add(special === SpecialKind.RspRebase ? 'rsp-rebase-without-write' : 'rbp-rebase-without-write', pos);
        }
        targets &= ~(1 << (pos - bundle));
      } else if (restricted === Gpr.RBP) report.add('rbp-not-rebased', pos);
      else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', pos);
      restricted = NONE;
      pos = end;
      if (pos < bundleEnd) targets |= 1 << (pos - bundle);
      continue;
    }

    const form = insn.form;
    const flags = formFlags[form] as number;
    const denyCode = formDeny[form] as number;

    // --- superinstructions: string instructions, maskmov, nacljmp/naclcall ---
    if (denyCode === DENY_SPECIAL) {
      const match = matchSuperinstruction(code, pos, insn, bundle, starts);
      if (match.kind === SuperMatch.None) {
        report.add('unsandboxed-string-or-indirect', pos, `${mnemonicOf(insn)} needs ${match.needs}`);
        fatal = true;
        break;
      }
      if (match.kind === SuperMatch.RegisterMismatch) {
        report.add('superinstruction-register-mismatch', pos);
      } else {
        // The superinstruction is one unit: nothing may jump into it.
        for (let i = match.start + 1; i <= pos; i++) targets &= ~(1 << (i - bundle));
      }
      if (restricted === Gpr.RBP) report.add('rbp-not-rebased', pos);
      else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', pos);
      restricted = NONE;
      pos = end;
      if (pos < bundleEnd) targets |= 1 << (pos - bundle);
      continue;
    }

    // --- normal instructions ------------------------------------------------------
    const nop = (insn.opcode === 0x90 || insn.opcode === 0x1f) && isWhitelistedNop(code, pos, insn.length);
    if (!nop) {
      const problem = insn.prefixes === 0 && insn.rexCount <= 1 ? null : prefixProblem(insn, flags, formPrefix[form] as number);
      if (problem !== null) {
        report.add('forbidden-prefix', pos, `${problem} (${mnemonicOf(insn)})`);
        fatal = true;
        break;
      }
      if (denyCode === DENY_UNSUPPORTED) {
        report.add('unsupported-extension', pos, mnemonicOf(insn));
      } else if (denyCode !== 0) {
        const deny = denyReasonOf(denyCode) as DenyReason;
        report.add('forbidden-instruction', pos, `${mnemonicOf(insn)} — ${DENY_REASONS[deny]}`);
        fatal = true;
        break;
      }
    }
    const feature = formFeature[form] as number;
    if (features[feature] === 0) {
      report.add('cpu-feature-missing', pos, `${mnemonicOf(insn)} needs ${ALL_FEATURES[feature] ?? '?'}`);
    }
    if (deterministic && flags & FormFlag.NonDeterministic) {
      report.add('nondeterministic-instruction', pos, mnemonicOf(insn));
    }

    // A restricted %rsp/%rbp must be rebased by the very next instruction.
    if (restricted === Gpr.RBP) report.add('rbp-not-rebased', pos);
    else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', pos);

    // Memory operand.
    if (insn.hasMemory && !(flags & FormFlag.NoAddress) && !nop) {
      const b = insn.base;
      if (b === REG_RIP || b === Gpr.R15 || b === Gpr.RSP || b === Gpr.RBP) {
        if (insn.index !== REG_NONE) {
          if (insn.index === restricted) targets &= ~(1 << (pos - bundle));
          else report.add('bad-index-register', pos);
        }
      } else {
        report.add('bad-base-register', pos, b === REG_NONE ? 'absolute address' : undefined);
      }
    }

    // Register writes.
    const count = nop || WRITE_COUNT[form] === 0 ? 0 : trackedWrites(insn, writes);
    const zeroExtends = (flags & FormFlag.ZeroExtends) !== 0;
    let newRestricted = NONE;
    let r15 = false;
    let rbp = false;
    let rsp = false;
    for (let i = 0; i < count; i++) {
      const w = writes[i] as number;
      const reg = w & 0xff;
      const kind = w >> 8;
      if (reg === Gpr.R15) r15 = true;
      if (reg === Gpr.RBP || reg === Gpr.RSP) {
        // A 32-bit write is fine when it zero-extends (it must be rebased next).
        const invalid = kind !== WriteKind.Restricted || !zeroExtends;
        if (invalid) {
          if (reg === Gpr.RBP) rbp = true;
          else rsp = true;
        }
      }
    }
    if (r15) report.add('r15-modified', pos);
    if (rbp) report.add('rbp-modified', pos);
    if (rsp) report.add('rsp-modified', pos);
    if (zeroExtends && count > 0) {
      const first = writes[0] as number;
      if (first >> 8 === WriteKind.Restricted) {
        newRestricted = first & 0xff;
        // With two written operands only the first is tracked; a 32-bit
        // write to %esp/%ebp in the second one can never be rebased.
        if (count > 1) {
          const second = writes[1] as number;
          if (second >> 8 === WriteKind.Restricted) {
            if ((second & 0xff) === Gpr.RSP) report.add('rsp-not-rebased', pos);
            if ((second & 0xff) === Gpr.RBP) report.add('rbp-not-rebased', pos);
          }
        }
      } else if (count > 1) {
        const second = writes[1] as number;
        if (second >> 8 === WriteKind.Restricted) newRestricted = second & 0xff;
      }
      if (newRestricted === Gpr.R15) newRestricted = NONE;
    }
    restricted = newRestricted;

    // Direct jumps and calls.
    if (flags & FormFlag.Relative) {
      const target = insn.target;
      if ((target & BUNDLE_MASK) !== 0) {
        if (target < 0 || target >= size) report.add('direct-jump-out-of-range', pos, `target ${formatAddress(report.base + target)}`);
        else {
          setBit(jumpTargets, target);
          setBit(jumpSources, pos);
        }
      }
    }
    pos = end;
    if (pos < bundleEnd) targets |= 1 << (pos - bundle);
  }
  state.validTargets[bundle >> 5] = targets;
  if (!fatal) {
    if (restricted === Gpr.RBP) report.add('rbp-not-rebased', bundleEnd, 'at the end of the bundle');
    else if (restricted === Gpr.RSP) report.add('rsp-not-rebased', bundleEnd, 'at the end of the bundle');
  }
}

/** Validates a code region. Never throws on any input bytes. */
export function validate(input: Uint8Array, options: ValidateOptions = {}): ValidationResult {
  const base = options.base ?? 0;
  const policy = options.policy ?? 'nacl';
  const report = new Report(base);
  if (base % BUNDLE_SIZE !== 0 || !Number.isSafeInteger(base) || base < 0) {
    report.add('bad-code-region', 0, `base 0x${base.toString(16)} is not 32-byte aligned`);
    return { valid: false, errors: report.errors, size: input.length, base, policy };
  }
  const code = padToBundles(input, options.padByte ?? 0xf4);
  const size = code.length;
  const features = enabledFeatures(options.features);
  const deterministic = policy === 'deterministic';

  const words = (size >> 5) + 1;
  const state: PassState = {
    code,
    size,
    report,
    features,
    deterministic,
    validTargets: new Uint32Array(words),
    jumpTargets: new Uint32Array(words),
    jumpSources: new Uint32Array(words),
    insn: new DecodedInstruction(),
  };
  for (let bundle = 0; bundle < size; bundle += BUNDLE_SIZE) validateBundle(state, bundle);
  const { validTargets, jumpTargets, jumpSources } = state;

  reportBadJumpTargets(code, size, validTargets, jumpTargets, jumpSources, report);
  const errors = report.errors.sort((a, b) => a.offset - b.offset);
  return { valid: errors.length === 0, errors, size, base, policy };
}

function formatAddress(address: number): string {
  return address < 0 ? `-0x${(-address).toString(16)}` : `0x${address.toString(16)}`;
}

/**
 * Reports each direct jump whose in-region, unaligned target is not a valid
 * instruction boundary. Finding the jumps needs a second decoding pass; it
 * runs only when such a target exists, so valid code pays nothing for it.
 */
function reportBadJumpTargets(
  code: Uint8Array,
  size: number,
  validTargets: Uint32Array,
  jumpTargets: Uint32Array,
  jumpSources: Uint32Array,
  report: Report,
): void {
  let any = false;
  for (let i = 0; i < jumpTargets.length; i++) {
    if ((jumpTargets[i] as number) & ~(validTargets[i] as number)) {
      any = true;
      break;
    }
  }
  if (!any) return;
  const insn = new DecodedInstruction();
  for (let bundle = 0; bundle < size; bundle += BUNDLE_SIZE) {
    let pos = bundle;
    while (pos < bundle + BUNDLE_SIZE) {
      decode(code, pos, size, insn);
      if (insn.status !== DecodeStatus.Ok || pos + insn.length > bundle + BUNDLE_SIZE) break;
      if (testBit(jumpSources, pos)) {
        const t = insn.target;
        if ((t & BUNDLE_MASK) !== 0 && t >= 0 && t < size && testBit(jumpTargets, t) && !testBit(validTargets, t)) {
          report.add('bad-jump-target', pos, `target ${formatAddress(t)} is not an instruction boundary`);
        }
      }
      pos += insn.length;
    }
  }
}
