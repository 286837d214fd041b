/**
 * The NaCl x86-64 sandbox validator: decides whether a code region may run.
 *
 * Pipeline position: bytes -> decoder -> here -> verdict. The loader and the
 * runtime's TrapJail call `validate()`; `validateNexe()` (validate-nexe.ts)
 * finds the text segment of a program first.
 *
 * How it works (one pass, bundle after bundle, like NaCl's validator):
 * - Each 32-byte bundle is decoded from its first byte; an instruction may
 *   not cross the bundle's end.
 * - Each instruction goes through the named checks below, in this order;
 *   each reports its own rule ids (rules.ts) and nothing else:
 *     checkDecoding            undecodable-instruction, crosses-bundle
 *     checkSpecialStackInstruction   the byte-exact %rsp/%rbp moves and rebases
 *     checkSuperinstruction    unsandboxed-string-or-indirect, superinstruction-register-mismatch,
 *                              string-rsi-overwritten
 *     checkPrefixes            forbidden-prefix
 *     checkEncoding            noncanonical-encoding (VEX fields, is4)
 *     checkInstruction         forbidden-instruction, unsupported-extension,
 *                              cpu-feature-missing, nondeterministic-instruction
 *     checkPendingRebase       rsp-not-rebased, rbp-not-rebased
 *     checkMemoryOperand       bad-base-register, bad-index-register
 *     checkRegisterWrites      r15-modified, rsp-modified, rbp-modified, and
 *                              the next restricted register
 *     recordDirectJump         direct-jump-out-of-range (bad-jump-target after the pass)
 *   Errors are collected, never thrown. Whether an error stops the bundle is
 *   the rule's `fatal` (RULES): after a fatal error the decoder cannot know
 *   where the next instruction starts, so the rest of the bundle is skipped,
 *   as NaCl does.
 * - Restricted-register bookkeeping: one register may be "restricted" at a
 *   time: the register a zero-extending 32-bit operation wrote in the
 *   previous instruction of the same bundle (its top 32 bits are zero). A
 *   memory operand may use it as index; %esp/%ebp writes must be rebased
 *   with %r15 by the very next instruction.
 * - Valid jump targets are kept in a bitmap (every instruction end, minus
 *   the insides of superinstructions and instructions that rely on the
 *   restricted register); direct jump targets in a second bitmap. After the
 *   pass, every target that is not valid is reported at its jump (found by
 *   a second decoding pass, only when there is such a target).
 * - The policy (policies.ts) selects the table attributes the checks read
 *   (`FORMS.policy[policy]`), whether `nondet` forms are rejected, how
 *   string instructions are sandboxed (NaCl's sequences or ZeroVM's rule,
 *   string-sandboxing.ts), whether `xchg %esp,%esp` is one write, and the
 *   region model: under `bundles` (nacl) a region is padded to whole
 *   bundles and the padding is code; under `exact` (zerovm, deterministic)
 *   an empty region is empty-code-region, an instruction past the region's
 *   end is undecodable, and a jump past it (or into a trimmed hlt tail,
 *   `haltTrimmedLength`) is out of range. spec/validator.md, "Bundles".
 */
import { DecodedInstruction, DecodeStatus, DECODE_STATUS_MESSAGES, PrefixBit, SEGMENT_PREFIX_MASK, decode } from './decoder.js';
import { DENY_SPECIAL, DENY_UNSUPPORTED, FORMS, FormFlag, MAX_WRITES, Prefix, Space, denyReasonOf } from './forms.js';
import { DENY_REASONS, type DenyReason } from './opcodes/grammar.js';
import { ALL_FEATURES, FEATURE_BIT, type CpuFeature } from './features.js';
import { Gpr, REG_NONE, REG_RIP } from './registers.js';
import { RULES, type RuleId } from './rules.js';
import { matchSpecialRegisterInstruction, SpecialKind } from './special.js';
import { mnemonicOf } from './format.js';
import { isWhitelistedNop } from './nops.js';
import { matchSuperinstruction, SuperMatch } from './superinstructions.js';
import { POLICY_PROPERTIES, type StringSandboxing, type ValidationPolicy } from './policies.js';
import { trackedWrites, WriteKind } from './register-writes.js';

export type { ValidationPolicy } from './policies.js';

export const BUNDLE_SIZE = 32;
const BUNDLE_MASK = BUNDLE_SIZE - 1;

export interface ValidateOptions {
  /** Address of the first byte (for messages); must be 32-byte aligned. Default 0. */
  readonly base?: number;
  /** CPU features the code may use. Default: all. */
  readonly features?: Iterable<CpuFeature>;
  /** The rule set (policies.ts): `nacl` (default), `zerovm` or `deterministic`. */
  readonly policy?: ValidationPolicy;
  /**
   * Byte used to pad a region whose size is not a multiple of 32 under the
   * `nacl` policy, where the padding is validated as code. Default 0xF4
   * (hlt). Ignored under `zerovm` and `deterministic`, whose regions are
   * exactly their bytes (spec/validator.md, "Bundles"): no instruction or
   * jump target may lie in the padding there, so its content does not
   * matter to the verdict (it is taken to be hlt).
   */
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
  /** Bytes validated: padded to a whole number of bundles under `nacl`, the region's own length under `zerovm` and `deterministic`. */
  readonly size: number;
  readonly base: number;
  readonly policy: ValidationPolicy;
}

/** A register is "restricted" when its high half is known zero; NONE otherwise. */
const NONE = -1;

/** Collects errors; shared by the checks. */
class Report {
  readonly errors: ValidationError[] = [];
  constructor(readonly base: number) {}
  /** Records an error; returns true when the rule is fatal (the bundle stops). */
  add(rule: RuleId, offset: number, detail?: string): boolean {
    const info = RULES[rule];
    this.errors.push({
      rule,
      offset,
      address: this.base + offset,
      message: detail === undefined ? info.message : `${info.message}: ${detail}`,
      nacl: info.nacl,
    });
    return info.fatal;
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

/** What one validation pass shares between bundles. */
interface PassState {
  readonly code: Uint8Array;
  readonly size: number;
  readonly report: Report;
  readonly features: Uint8Array;
  /** FormFlag bits and deny codes under the policy. */
  readonly flags: Uint32Array;
  readonly deny: Uint8Array;
  readonly rejectsNondeterministic: boolean;
  readonly strings: StringSandboxing;
  readonly selfExchangeIsOneWrite: boolean;
  /** Where the region's own bytes end: no instruction may run past it (`size` under `nacl`, the unpadded length under `zerovm`). */
  readonly regionEnd: number;
  /** Unaligned direct jump targets at or after this offset are outside the region (`size`, or ZeroVM's hlt-trimmed length). */
  readonly jumpLimit: number;
  /** One 32-bit word per bundle: bit i = offset 32*bundle + i is a valid jump target. */
  readonly validTargets: Uint32Array;
  readonly jumpTargets: Uint32Array;
  readonly jumpSources: Uint32Array;
  readonly insn: DecodedInstruction;
}

const formPrefix = FORMS.prefix;
const formFeature = FORMS.feature;
const formW = FORMS.w;
const formVexL = FORMS.vexL;
const WRITE_COUNT = FORMS.writeCount;
const writes = new Int32Array(MAX_WRITES);

/** The check did not report a fatal error: go on with this instruction (or the next). */
const GO_ON = false;
/** The check reported a fatal error: the rest of the bundle is skipped. */
const STOP = true;
/** What checks that return a number (an offset, a register, a kind) return after a fatal error. */
const STOPPED = -2;

// ---- checkDecoding ----------------------------------------------------------------------

/** `checkDecoding` result: decoded, or a fatal error (see below). */
const enum Decoding {
  Ok = 0,
  Failed = 1,
  /**
   * Failed after the memory operand (SIB and displacement) was read, with
   * the restricted register as index: like NaCl, which checks the address
   * as soon as it has read it, the instruction start is then not a valid
   * jump target either.
   */
  FailedRelyingOnRestricted = 2,
}

/** The memory operand is well based and indexed by the restricted register (what makes an instruction start an invalid jump target). */
function reliesOnRestricted(insn: DecodedInstruction, restricted: number): boolean {
  const b = insn.base;
  return insn.index !== REG_NONE && insn.index === restricted && (b === Gpr.R15 || b === Gpr.RSP || b === Gpr.RBP);
}

/**
 * undecodable-instruction, crosses-bundle. Decodes into `state.insn` the
 * bytes up to the bundle end, as NaCl's validator sees them.
 */
function checkDecoding(state: PassState, pos: number, bundleEnd: number, restricted: number): Decoding {
  const { code, size, report, insn } = state;
  decode(code, pos, bundleEnd, insn);
  if (insn.status === DecodeStatus.Ok) {
    if (pos + insn.length <= state.regionEnd) return Decoding.Ok;
    // Only under the exact region model: the padding is not part of the region.
    report.add('undecodable-instruction', pos, `${mnemonicOf(insn)} is cut off by the end of the code region`);
    return Decoding.Failed;
  }
  // Read past the address when the bytes ran out (the instruction crosses
  // the bundle end) or only a 3DNow! suffix byte was unknown.
  const late = reliesOnRestricted(insn, restricted) &&
    (insn.status === DecodeStatus.Truncated || (insn.status === DecodeStatus.Invalid && insn.space === Space.ThreeDNow));
  // Classify with the bytes after the bundle end too: a complete instruction that is too long crosses it.
  decode(code, pos, size, insn);
  if ((insn.status as DecodeStatus) === DecodeStatus.Ok) report.add('crosses-bundle', pos, `${mnemonicOf(insn)} is ${insn.length} bytes long`);
  else {
    const crossing = insn.status === DecodeStatus.Truncated && pos + 15 > bundleEnd && size > bundleEnd;
    report.add(crossing ? 'crosses-bundle' : 'undecodable-instruction', pos, DECODE_STATUS_MESSAGES[insn.status]);
  }
  // Both rules are fatal (asserted below): without a length there is no next instruction.
  return late ? Decoding.FailedRelyingOnRestricted : Decoding.Failed;
}

if (!RULES['undecodable-instruction'].fatal || !RULES['crosses-bundle'].fatal) {
  throw new Error('rules.ts: an instruction that does not decode within its bundle must be a fatal error');
}

// ---- checkPendingRebase ------------------------------------------------------------------

/** rsp-not-rebased, rbp-not-rebased: a restricted %esp/%ebp must be rebased by the instruction at `pos`. */
function checkPendingRebase(report: Report, restricted: number, pos: number, detail?: string): boolean {
  if (restricted === Gpr.RBP) return report.add('rbp-not-rebased', pos, detail);
  if (restricted === Gpr.RSP) return report.add('rsp-not-rebased', pos, detail);
  return GO_ON;
}

// ---- checkSpecialStackInstruction ---------------------------------------------------------

/**
 * rsp-rebase-without-write, rbp-rebase-without-write (and a pending
 * rebase): the byte-exact %rsp/%rbp instructions (special.ts), moves and
 * masks that keep the registers sandboxed, and the rebases that are valid
 * only right after a 32-bit write. Returns the kind (None when not one of
 * them), or STOPPED after a fatal error.
 */
function checkSpecialStackInstruction(report: Report, code: Uint8Array, pos: number, length: number, restricted: number): SpecialKind | typeof STOPPED {
  // Only REX.W-prefixed encodings can be special (a cheap pre-filter).
  if (((code[pos] as number) & 0xf8) !== 0x48) return SpecialKind.None;
  const special = matchSpecialRegisterInstruction(code, pos, length);
  if (special === SpecialKind.RspRebase || special === SpecialKind.RbpRebase) {
    const wanted = special === SpecialKind.RspRebase ? Gpr.RSP : Gpr.RBP;
    if (restricted !== wanted) {
      if (checkPendingRebase(report, restricted, pos)) return STOPPED;
      if (report.add(special === SpecialKind.RspRebase ? 'rsp-rebase-without-write' : 'rbp-rebase-without-write', pos)) return STOPPED;
    }
  } else if (special === SpecialKind.Modification) {
    if (checkPendingRebase(report, restricted, pos)) return STOPPED;
  }
  return special;
}

// ---- checkSuperinstruction -----------------------------------------------------------------

/**
 * unsandboxed-string-or-indirect, superinstruction-register-mismatch,
 * string-rsi-overwritten: a `deny=special` form must end its
 * superinstruction (superinstructions.ts; string-sandboxing.ts under the
 * policy's `zerovm` string sandboxing). Returns where the superinstruction
 * starts (nothing may jump into it after that), or `pos` when there is
 * none, or STOPPED after a fatal error.
 */
function checkSuperinstruction(state: PassState, pos: number, bundle: number, starts: number): number {
  const { code, insn, report } = state;
  const match = matchSuperinstruction(code, pos, insn, bundle, starts, state.strings);
  if (match.kind === SuperMatch.None) return report.add('unsandboxed-string-or-indirect', pos, `${mnemonicOf(insn)} needs ${match.needs}`) ? STOPPED : pos;
  if (match.kind === SuperMatch.RsiOverwritten) return report.add('string-rsi-overwritten', pos, mnemonicOf(insn)) ? STOPPED : pos;
  // With mismatched registers the three are ordinary instructions (NaCl).
  if (match.kind === SuperMatch.RegisterMismatch) return report.add('superinstruction-register-mismatch', pos) ? STOPPED : pos;
  return match.start;
}

// ---- checkPrefixes ---------------------------------------------------------------------------

/** What is wrong with the prefixes of a normal instruction, or null. */
function prefixProblem(insn: DecodedInstruction, flags: number, mandatory: number): string | null {
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
  if (flags & FormFlag.NoRex && insn.rexCount > 0) return 'this instruction takes no REX prefix';
  const opSizeIsPrefix = (p & PrefixBit.OpSize) !== 0 && mandatory !== Prefix.P66;
  if (opSizeIsPrefix) {
    if (flags & FormFlag.No66) return 'operand-size prefix 0x66 is not allowed on this instruction';
    if (!(flags & FormFlag.SizedBy66)) return 'operand-size prefix 0x66 has no meaning for this instruction';
    if (insn.rex & 8) return 'operand-size prefix 0x66 together with REX.W';
  }
  if (p & PrefixBit.ManyReps) return 'both rep (F3) and repne (F2) prefixes';
  const repIsPrefix = mandatory !== Prefix.PF2 && mandatory !== Prefix.PF3;
  if (repIsPrefix) {
    if (p & PrefixBit.Repne && !(flags & FormFlag.RepCc)) return 'repne prefix (F2) is not allowed on this instruction';
    if (p & PrefixBit.Rep && !(flags & (FormFlag.Rep | FormFlag.RepCc))) return 'rep prefix (F3) is not allowed on this instruction';
  }
  return null;
}

/** forbidden-prefix. */
function checkPrefixes(report: Report, insn: DecodedInstruction, flags: number, pos: number): boolean {
  // Fast path: no legacy prefix and at most the one REX most instructions have.
  if (insn.prefixes === 0 && (insn.rexCount === 0 || (insn.rexCount === 1 && !(flags & FormFlag.NoRex)))) return GO_ON;
  const problem = prefixProblem(insn, flags, formPrefix[insn.form] as number);
  return problem === null ? GO_ON : report.add('forbidden-prefix', pos, `${problem} (${mnemonicOf(insn)})`);
}

// ---- checkEncoding -----------------------------------------------------------------------------

/**
 * What is not canonical in a VEX instruction's encoding, or null. NaCl
 * accepts each VEX instruction in one encoding: W and L are 0 where the
 * instruction ignores them (some VEX.LIG forms only with L = 1, `L1`),
 * VEX.R/X/B are 0 where they select nothing (R without a register in
 * ModRM.reg, X without a SIB byte, B without a register in ModRM.rm or a
 * base register), and an is4 byte's low nibble is 0.
 */
function vexProblem(insn: DecodedInstruction, flags: number): string | null {
  const form = insn.form;
  if (formW[form] === -1 && insn.vexW !== 0) return 'VEX.W = 1 where the instruction ignores W';
  if (formVexL[form] === -1 && insn.vexL !== (flags & FormFlag.VexL1 ? 1 : 0)) {
    return flags & FormFlag.VexL1 ? 'VEX.L = 0: this form is accepted with VEX.L = 1 only' : 'VEX.L = 1 where the instruction ignores L';
  }
  const rex = insn.rex;
  const hasModrm = (flags & FormFlag.Modrm) !== 0;
  if (rex & 4 && !(hasModrm && flags & FormFlag.RegFieldIsRegister)) return 'VEX.R set where ModRM.reg names no register';
  const sib = insn.hasMemory && (insn.modrm & 7) === 4;
  if (rex & 2 && !sib) return 'VEX.X set without a SIB byte';
  if (rex & 1) {
    const baseRegister = insn.hasMemory ? insn.base !== REG_RIP && insn.base !== REG_NONE : hasModrm && (flags & FormFlag.RmFieldIsRegister) !== 0;
    if (!baseRegister) return 'VEX.B set where ModRM.rm names no register';
  }
  if (flags & FormFlag.Is4 && (insn.imm & 0x0f) !== 0) return 'the low four bits of the is4 register byte are not 0';
  return null;
}

/** noncanonical-encoding. */
function checkEncoding(report: Report, insn: DecodedInstruction, flags: number, pos: number): boolean {
  if (!insn.vex) return GO_ON;
  const problem = vexProblem(insn, flags);
  return problem === null ? GO_ON : report.add('noncanonical-encoding', pos, `${problem} (${mnemonicOf(insn)})`);
}

// ---- checkInstruction ----------------------------------------------------------------------------

/** forbidden-instruction, unsupported-extension, cpu-feature-missing, nondeterministic-instruction. */
function checkInstruction(state: PassState, flags: number, denyCode: number, pos: number): boolean {
  const { report, insn } = state;
  if (denyCode === DENY_UNSUPPORTED) {
    if (report.add('unsupported-extension', pos, mnemonicOf(insn))) return STOP;
  } else if (denyCode !== 0) {
    const deny = denyReasonOf(denyCode) as DenyReason;
    if (report.add('forbidden-instruction', pos, `${mnemonicOf(insn)} — ${DENY_REASONS[deny]}`)) return STOP;
  }
  const feature = formFeature[insn.form] as number;
  if (state.features[feature] === 0 && report.add('cpu-feature-missing', pos, `${mnemonicOf(insn)} needs ${ALL_FEATURES[feature] ?? '?'}`)) return STOP;
  if (state.rejectsNondeterministic && flags & FormFlag.NonDeterministic && report.add('nondeterministic-instruction', pos, mnemonicOf(insn))) return STOP;
  return GO_ON;
}

// ---- checkMemoryOperand ------------------------------------------------------------------------------

/** How a memory operand went: fine, relying on the restricted register, an error, or a fatal one. */
const enum MemoryUse {
  Fine = 0,
  UsesRestricted = 1,
  Error = 2,
  Stop = 3,
}

/** bad-base-register, bad-index-register. */
function checkMemoryOperand(report: Report, insn: DecodedInstruction, restricted: number, pos: number): MemoryUse {
  const b = insn.base;
  if (b !== REG_RIP && b !== Gpr.R15 && b !== Gpr.RSP && b !== Gpr.RBP) {
    return report.add('bad-base-register', pos, b === REG_NONE ? 'absolute address' : undefined) ? MemoryUse.Stop : MemoryUse.Error;
  }
  if (insn.index === REG_NONE) return MemoryUse.Fine;
  if (insn.index === restricted) return MemoryUse.UsesRestricted;
  return report.add('bad-index-register', pos) ? MemoryUse.Stop : MemoryUse.Error;
}

// ---- checkRegisterWrites ----------------------------------------------------------------------------

/**
 * r15-modified, rsp-modified, rbp-modified, and the rebase that a 32-bit
 * %esp/%ebp write in an instruction's second written operand can never get
 * (rsp-not-rebased, rbp-not-rebased) — unless, under a policy whose
 * `selfExchangeIsOneWrite` is set (ZeroVM), it writes the same register as
 * the first (`xchg %esp,%esp`, `xadd %ebp,%ebp`). Returns the register the
 * instruction leaves restricted (NONE if none), or STOPPED after a fatal
 * error.
 */
function checkRegisterWrites(report: Report, insn: DecodedInstruction, flags: number, pos: number, selfExchangeIsOneWrite: boolean): number {
  const count = WRITE_COUNT[insn.form] === 0 ? 0 : trackedWrites(insn, writes);
  if (count === 0) return NONE;
  const zeroExtends = (flags & FormFlag.ZeroExtends) !== 0;
  let r15 = false;
  let rbp = false;
  let rsp = false;
  for (let i = 0; i < count; i++) {
    const w = writes[i] as number;
    const reg = w & 0xff;
    if (reg === Gpr.R15) r15 = true;
    // A 32-bit write of %esp/%ebp is fine when it zero-extends (it must be rebased next).
    else if ((reg === Gpr.RBP || reg === Gpr.RSP) && (w >> 8 !== WriteKind.Restricted || !zeroExtends)) {
      if (reg === Gpr.RBP) rbp = true;
      else rsp = true;
    }
  }
  if (r15 && report.add('r15-modified', pos)) return STOPPED;
  if (rbp && report.add('rbp-modified', pos)) return STOPPED;
  if (rsp && report.add('rsp-modified', pos)) return STOPPED;
  if (!zeroExtends) return NONE;
  // With two written operands only the first 32-bit one is tracked; a
  // 32-bit write to %esp/%ebp in the second can never be rebased.
  let restricted = NONE;
  for (let i = 0; i < count; i++) {
    const w = writes[i] as number;
    if (w >> 8 !== WriteKind.Restricted) continue;
    if (restricted === NONE) restricted = w & 0xff;
    else if (!(selfExchangeIsOneWrite && (w & 0xff) === restricted) && checkPendingRebase(report, w & 0xff, pos)) return STOPPED;
  }
  // A 32-bit write of %r15d is an error already; like NaCl, the register is
  // still tracked (an index use right after it is not reported twice).
  return restricted;
}

// ---- recordDirectJump -----------------------------------------------------------------------------------

/** direct-jump-out-of-range; remembers in-region unaligned targets for the pass after. */
function recordDirectJump(state: PassState, pos: number): boolean {
  const target = state.insn.target;
  if ((target & BUNDLE_MASK) === 0) return GO_ON;
  if (target < 0 || target >= state.jumpLimit) return state.report.add('direct-jump-out-of-range', pos, `target ${formatAddress(state.report.base + target)}`);
  setBit(state.jumpTargets, target);
  setBit(state.jumpSources, pos);
  return GO_ON;
}

// ---- one bundle -------------------------------------------------------------------------------------------

/**
 * Validates one bundle. All rule state except the jump bitmaps is local to
 * a bundle (the restricted register does not survive a bundle boundary),
 * which is also why this is its own function: the JIT optimises it as a
 * whole instead of replacing one long-running loop on the stack.
 */
function validateBundle(state: PassState, bundle: number): void {
  const { code, report, insn } = state;
  const bundleEnd = bundle + BUNDLE_SIZE;
  let restricted = NONE;
  let pos = bundle;
  let stopped = false;
  // Instruction starts of this bundle (for superinstruction look-back) and
  // its valid jump targets, one bit per byte; bundle starts are always
  // valid targets, so an instruction ending on the bundle end sets nothing.
  let starts = 0;
  let targets = 0;
  while (pos < bundleEnd) {
    starts |= 1 << (pos - bundle);
    // Fast path for the one-byte padding instructions (nop, hlt): more than
    // half of all instructions in compiler output. They write nothing, so
    // only the pending rebase can go wrong.
    const first = code[pos] as number;
    if (first === 0x90 || first === 0xf4) {
      if (checkPendingRebase(report, restricted, pos)) { stopped = true; break; }
      restricted = NONE;
      pos++;
      if (pos < bundleEnd) targets |= 1 << (pos - bundle);
      continue;
    }
    const decoding = checkDecoding(state, pos, bundleEnd, restricted);
    if (decoding !== Decoding.Ok) {
      if (decoding === Decoding.FailedRelyingOnRestricted) targets &= ~(1 << (pos - bundle));
      stopped = true;
      break;
    }
    const end = pos + insn.length;

    const special = checkSpecialStackInstruction(report, code, pos, insn.length, restricted);
    if (special === STOPPED) { stopped = true; break; }
    if (special !== SpecialKind.None) {
      // A rebase completes the instruction before it: never a jump target.
      if (special !== SpecialKind.Modification) targets &= ~(1 << (pos - bundle));
      restricted = NONE;
    } else {
      const form = insn.form;
      const flags = state.flags[form] as number;
      const denyCode = state.deny[form] as number;
      if (denyCode === DENY_SPECIAL) {
        if (checkEncoding(report, insn, flags, pos)) { stopped = true; break; }
        const start = checkSuperinstruction(state, pos, bundle, starts);
        if (start === STOPPED) { stopped = true; break; }
        // The superinstruction is one unit: nothing may jump into it.
        for (let i = start + 1; i <= pos; i++) targets &= ~(1 << (i - bundle));
        if (checkPendingRebase(report, restricted, pos)) { stopped = true; break; }
        restricted = NONE;
      } else {
        const nop = (insn.opcode === 0x90 || insn.opcode === 0x1f) && isWhitelistedNop(code, pos, insn.length);
        if (!nop) {
          if (checkPrefixes(report, insn, flags, pos)) { stopped = true; break; }
          if (checkEncoding(report, insn, flags, pos)) {
            // The is4 byte comes after the address: NaCl has checked the index by then.
            if (flags & FormFlag.Is4 && reliesOnRestricted(insn, restricted)) targets &= ~(1 << (pos - bundle));
            stopped = true;
            break;
          }
        }
        // (Inline pre-test: most instructions are allowed, need a present feature and are deterministic.)
        if ((!nop && denyCode !== 0) || state.features[formFeature[form] as number] === 0 || (flags & FormFlag.NonDeterministic && state.rejectsNondeterministic)) {
          if (checkInstruction(state, flags, nop ? 0 : denyCode, pos)) { stopped = true; break; }
        }
        if (checkPendingRebase(report, restricted, pos)) { stopped = true; break; }
        if (insn.hasMemory && !(flags & FormFlag.NoAddress) && !nop) {
          // An access through the restricted register relies on the
          // instruction before it: never a jump target.
          const use = checkMemoryOperand(report, insn, restricted, pos);
          if (use === MemoryUse.Stop) { stopped = true; break; }
          if (use === MemoryUse.UsesRestricted) targets &= ~(1 << (pos - bundle));
        }
        restricted = nop ? NONE : checkRegisterWrites(report, insn, flags, pos, state.selfExchangeIsOneWrite);
        if (restricted === STOPPED) { stopped = true; break; }
        if (flags & FormFlag.Relative && recordDirectJump(state, pos)) { stopped = true; break; }
      }
    }
    pos = end;
    if (pos < bundleEnd) targets |= 1 << (pos - bundle);
  }
  state.validTargets[bundle >> 5] = targets;
  if (!stopped) checkPendingRebase(report, restricted, bundleEnd, 'at the end of the bundle');
}

/**
 * ZeroVM 2015's hlt trimming (the `exact` region model): when a region
 * ends with more than 16 `hlt` bytes, only its start up to the first whole
 * bundle after 16 of them counts as the region for jump targets. Returns
 * that length (the region's own length when there is nothing to trim).
 * Byte 0 is never part of the trailing run, as in the original.
 */
export function haltTrimmedLength(code: Uint8Array, haltStart = trailingHaltStart(code)): number {
  const length = code.length;
  const last = Math.max(haltStart - 1, 0);
  if (length - 1 - last <= 16) return length;
  const trimmed = Math.ceil((last + 17) / BUNDLE_SIZE) * BUNDLE_SIZE;
  return Math.min(trimmed, length);
}

const HALT = 0xf4;
/** Four hlt bytes read as one Int32Array element (a small integer to V8, unlike the Uint32 value). */
const HALT_WORD = 0xf4f4f4f4 | 0;

/**
 * Where the run of `hlt` that ends `code` starts (`code.length` when the
 * last byte is not one). A program's text is padded with such a sled to
 * its 64 KiB end (spec/runtime.md), so a small program's region is mostly
 * this run: it is scanned four bytes at a time, which matters when a
 * process validates its program before the JIT has warmed up.
 */
export function trailingHaltStart(code: Uint8Array): number {
  let end = code.length;
  /* bytes, up to an end that is 4-byte aligned in the underlying buffer */
  while (end > 0 && (code.byteOffset + end) % 4 !== 0) {
    if (code[end - 1] !== HALT) return end;
    end--;
  }
  const firstWord = Math.ceil(code.byteOffset / 4);
  const wordCount = (code.byteOffset + end) / 4 - firstWord;
  if (wordCount > 0) {
    const words = new Int32Array(code.buffer, firstWord * 4, wordCount);
    let w = wordCount;
    while (w > 0 && words[w - 1] === HALT_WORD) w--;
    end = (firstWord + w) * 4 - code.byteOffset;
  }
  while (end > 0 && code[end - 1] === HALT) end--;
  return end;
}

/** validTargets of a bundle of one-byte instructions: every offset but the bundle start (always valid). */
const ONE_BYTE_TARGETS = 0xfffffffe;

/** Validates a code region. Never throws on any input bytes. */
export function validate(input: Uint8Array, options: ValidateOptions = {}): ValidationResult {
  const base = options.base ?? 0;
  const policy = options.policy ?? 'nacl';
  const properties = POLICY_PROPERTIES[policy];
  const report = new Report(base);
  if (base % BUNDLE_SIZE !== 0 || !Number.isSafeInteger(base) || base < 0) {
    report.add('bad-code-region', 0, `base 0x${base.toString(16)} is not 32-byte aligned`);
    return { valid: false, errors: report.errors, size: input.length, base, policy };
  }
  const exact = properties.regionModel === 'exact';
  if (exact && input.length === 0) {
    report.add('empty-code-region', 0);
    return { valid: false, errors: report.errors, size: 0, base, policy };
  }
  const code = padToBundles(input, exact ? 0xf4 : options.padByte ?? 0xf4);
  const size = code.length;
  const words = (size >> 5) + 1;
  const tables = FORMS.policy[policy];
  /* where the trailing hlt run starts (scanned once: the region model and the loop below both need it) */
  const haltTail = trailingHaltStart(code);
  const state: PassState = {
    code,
    size,
    report,
    features: enabledFeatures(options.features),
    flags: tables.flags,
    deny: tables.deny,
    rejectsNondeterministic: properties.rejectsNondeterministic,
    strings: properties.stringSandboxing,
    selfExchangeIsOneWrite: properties.selfExchangeIsOneWrite,
    regionEnd: exact ? input.length : size,
    jumpLimit: exact ? haltTrimmedLength(input, code === input ? haltTail : trailingHaltStart(input)) : size,
    validTargets: new Uint32Array(words),
    jumpTargets: new Uint32Array(words),
    jumpSources: new Uint32Array(words),
    insn: new DecodedInstruction(),
  };
  /*
   * Bundles in the trailing hlt run are 32 one-byte instructions that write
   * nothing: exactly what validateBundle's one-byte fast path would find
   * (no error, every next byte a valid target), without decoding each.
   */
  for (let bundle = 0; bundle < size; bundle += BUNDLE_SIZE) {
    if (bundle >= haltTail) state.validTargets[bundle >> 5] = ONE_BYTE_TARGETS;
    else validateBundle(state, bundle);
  }
  reportBadJumpTargets(state);
  const errors = report.errors.sort((a, b) => a.offset - b.offset);
  return { valid: errors.length === 0, errors, size: exact ? input.length : size, base, policy };
}

function formatAddress(address: number): string {
  return address < 0 ? `-0x${(-address).toString(16)}` : `0x${address.toString(16)}`;
}

/**
 * bad-jump-target: reports each direct jump whose in-region, unaligned
 * target is not a valid instruction boundary. Finding the jumps needs a
 * second decoding pass; it runs only when such a target exists, so valid
 * code pays nothing for it.
 */
function reportBadJumpTargets(state: PassState): void {
  const { code, size, validTargets, jumpTargets, jumpSources, report } = state;
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
