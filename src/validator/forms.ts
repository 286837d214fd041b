/**
 * The opcode tables compiled, once, into lookup arrays for the decoder.
 *
 * Pipeline position: opcodes/*.ts (text) -> grammar.ts (FormSpec[]) -> here
 * -> decoder.ts. Nothing here is generated into the repository: the tables
 * are compiled when this module is first imported (tens of milliseconds),
 * or by `npm run build` for the command-line bundle (forms-precompiled.ts,
 * forms-snapshot.ts), so the text tables stay the single source of truth.
 *
 * Layout: every form gets a small integer id (its index in `FORMS`). For
 * each (opcode space, opcode byte) the ids of the candidate forms are stored
 * contiguously in `CANDIDATES`, found through `CANDIDATE_START`. Per form,
 * typed arrays hold what the hot path needs (flags, operand codes), so the
 * decoder and validator never touch the FormSpec objects while scanning.
 * The flags and deny reasons that table attributes give are compiled once
 * per validation policy (`FORMS.policy`, see policies.ts): the decoder
 * reads only the structural flags, the same under every policy.
 */
import { allFormSpecs } from './opcodes/index.js';
import type { FormSpec, OperandSpec, DenyReason } from './opcodes/grammar.js';
import { attributesUnder, DENY_REASONS } from './opcodes/grammar.js';
import { FEATURE_BIT, isCpuFeature } from './features.js';
import { POLICIES, type ValidationPolicy } from './policies.js';
import { PRECOMPILED_FORMS } from './forms-precompiled.js';
import { deserializeCompiledForms } from './forms-snapshot.js';

/** Opcode spaces: the first index of the candidate lookup. */
export const enum Space {
  Legacy = 0,
  Map0F = 1,
  Map0F38 = 2,
  Map0F3A = 3,
  ThreeDNow = 4,
  Vex0F = 5,
  Vex0F38 = 6,
  Vex0F3A = 7,
}
export const SPACE_COUNT = 8;

/** Per-form flag bits (`FORM_FLAGS`). */
export const enum FormFlag {
  Lock = 1 << 0,
  Rep = 1 << 1,
  RepCc = 1 << 2,
  ZeroExtends = 1 << 3,
  NoAddress = 1 << 4,
  No66 = 1 << 5,
  NonDeterministic = 1 << 6,
  /** Some operand's size depends on the operand-size prefix (v, z sizes). */
  SizedBy66 = 1 << 7,
  /** The r/m operand must be memory. */
  MemOnly = 1 << 8,
  /** The r/m operand must be a register. */
  RegOnly = 1 << 9,
  /** The opcode's low 3 bits select a register. */
  OpcodeReg = 1 << 10,
  /** Has a ModRM byte. */
  Modrm = 1 << 11,
  /** Uses VEX.vvvv (H or B operand); otherwise vvvv must be 1111. */
  UsesVvvv = 1 << 12,
  /** Operand size follows the stack rule: 64-bit, or 16 with 66. */
  StackSized = 1 << 13,
  /** A relative branch operand (J). */
  Relative = 1 << 14,
  /** 2E/3E are branch hints, not segment overrides. */
  BranchHint = 1 << 15,
  /** No REX prefix allowed (`norex`). */
  NoRex = 1 << 16,
  /** VEX.LIG form that NaCl accepts only with VEX.L = 1 (`L1`). */
  VexL1 = 1 << 17,
  /** VEX.vvvv unused but any value decodes (`anyvvvv`). */
  AnyVvvv = 1 << 18,
  /** One operand is an xmm/ymm register or a general register in ModRM.reg (REX/VEX.R selects it). */
  RegFieldIsRegister = 1 << 19,
  /** ModRM.rm names an xmm/ymm or general register in the register form (REX/VEX.B selects it). */
  RmFieldIsRegister = 1 << 20,
  /** An is4 operand (L): the register is in imm8[7:4]. */
  Is4 = 1 << 21,
}

/** Mandatory prefix codes (`FORM_PREFIX`). */
export const enum Prefix {
  None = 0,
  NP = 1,
  P66 = 2,
  PF2 = 3,
  PF3 = 4,
}

/** Operand type codes (low 5 bits of an operand code). */
export const enum OperandType {
  None = 0,
  E, G, M, R, W, V, U, H, Q, P, N, B, L, Z, I, J, O, S, C, D, X, Y, T,
  Fixed,
  One,
}

/** Operand size codes (bits 5..9 of an operand code). */
export const enum OperandSize {
  None = 0,
  B, W, D, Q, T, DQ, QQ, V, Z, Y, S, X,
}

/** Access codes (bits 10..11 of an operand code). */
export const enum OperandAccess {
  Read = 0,
  Write = 1,
  ReadWrite = 2,
}

/** Fixed registers that operands may name (bits 12.. of an operand code). */
export const FIXED_REGISTER_NAMES = [
  '', 'AL', 'CL', 'DX', 'AX', 'EAX', 'ECX', 'EDX', 'EBX', 'RAX', 'RCX', 'RDX', 'RBX', 'ST0', 'XMM0', 'rAX', 'FS', 'GS',
] as const;

export const MAX_OPERANDS = 5;
export const MAX_WRITES = 3;

const TYPE_LETTERS = 'EGMRWVUHQPNBLZIJOSCDXYT';
const SIZE_CODES: Record<string, OperandSize> = {
  '': OperandSize.None, b: OperandSize.B, w: OperandSize.W, d: OperandSize.D, q: OperandSize.Q,
  t: OperandSize.T, dq: OperandSize.DQ, qq: OperandSize.QQ, v: OperandSize.V, z: OperandSize.Z,
  y: OperandSize.Y, s: OperandSize.S, x: OperandSize.X,
};

export function operandType(code: number): OperandType {
  return code & 31;
}
export function operandSize(code: number): OperandSize {
  return (code >> 5) & 31;
}
export function operandAccess(code: number): OperandAccess {
  return (code >> 10) & 3;
}
export function operandFixed(code: number): number {
  return code >> 12;
}

/** Is this operand a written general register that the sandbox tracks? */
function isTrackedWrite(code: number): boolean {
  if (operandAccess(code) === OperandAccess.Read) return false;
  switch (operandType(code)) {
    case OperandType.E:
    case OperandType.R:
    case OperandType.G:
    case OperandType.Z:
    case OperandType.B:
      return true;
    case OperandType.Fixed:
      return FIXED_REGISTER_NAMES[operandFixed(code)] === 'rAX';
    default:
      return false;
  }
}

function encodeOperand(spec: OperandSpec): number {
  let type: OperandType;
  let size = OperandSize.None;
  let fixed = 0;
  if (spec.kind === 'one') type = OperandType.One;
  else if (spec.kind === 'fixed') {
    type = OperandType.Fixed;
    fixed = FIXED_REGISTER_NAMES.indexOf(spec.size as (typeof FIXED_REGISTER_NAMES)[number]);
    if (spec.size === 'rAX') size = OperandSize.V;
  } else {
    type = (TYPE_LETTERS.indexOf(spec.kind) + 1) as OperandType;
    size = SIZE_CODES[spec.size] ?? OperandSize.None;
  }
  const access = spec.access === 'w' ? OperandAccess.Write : spec.access === 'rw' ? OperandAccess.ReadWrite : OperandAccess.Read;
  return type | (size << 5) | (access << 10) | (fixed << 12);
}

const DENY_KEYS = Object.keys(DENY_REASONS) as DenyReason[];

function spaceOf(form: FormSpec): Space {
  if (form.vex) {
    return form.map === '0F' ? Space.Vex0F : form.map === '0F38' ? Space.Vex0F38 : Space.Vex0F3A;
  }
  switch (form.map) {
    case 'legacy': return Space.Legacy;
    case '0F': return Space.Map0F;
    case '0F38': return Space.Map0F38;
    case '0F3A': return Space.Map0F3A;
    case '3DNow': return Space.ThreeDNow;
  }
}

function prefixCode(form: FormSpec): Prefix {
  switch (form.prefix) {
    case 'none': return Prefix.None;
    case 'NP': return Prefix.NP;
    case '66': return Prefix.P66;
    case 'F2': return Prefix.PF2;
    case 'F3': return Prefix.PF3;
  }
}

function flagsOf(form: FormSpec, a: ReadonlySet<string>): number {
  let flags = 0;
  if (a.has('lock')) flags |= FormFlag.Lock;
  if (a.has('rep')) flags |= FormFlag.Rep;
  if (a.has('repcc')) flags |= FormFlag.RepCc;
  if (a.has('zx')) flags |= FormFlag.ZeroExtends;
  if (a.has('noaddr')) flags |= FormFlag.NoAddress;
  if (a.has('no66')) flags |= FormFlag.No66;
  if (a.has('nondet')) flags |= FormFlag.NonDeterministic;
  if (a.has('hint')) flags |= FormFlag.BranchHint;
  if (a.has('norex')) flags |= FormFlag.NoRex;
  if (a.has('size66')) flags |= FormFlag.SizedBy66;
  if (a.has('L1')) flags |= FormFlag.VexL1;
  if (a.has('anyvvvv')) flags |= FormFlag.AnyVvvv;
  if (form.opcodeReg) flags |= FormFlag.OpcodeReg;
  if (form.hasModrm) flags |= FormFlag.Modrm;
  for (const op of form.operands) {
    if (op.size === 'v' || op.size === 'z' || op.size === 'rAX') flags |= FormFlag.SizedBy66;
    if (op.size === 's') flags |= FormFlag.StackSized | FormFlag.SizedBy66;
    if (op.kind === 'M') flags |= FormFlag.MemOnly;
    if (op.kind === 'R' || op.kind === 'U' || op.kind === 'N' || op.kind === 'T') flags |= FormFlag.RegOnly;
    if (op.kind === 'H' || op.kind === 'B') flags |= FormFlag.UsesVvvv;
    if (op.kind === 'J') flags |= FormFlag.Relative;
    if ('GVC'.includes(op.kind)) flags |= FormFlag.RegFieldIsRegister;
    if ('ERWU'.includes(op.kind)) flags |= FormFlag.RmFieldIsRegister;
    if (op.kind === 'L') flags |= FormFlag.Is4;
  }
  if (form.modrmLiteral >= 0) flags |= FormFlag.RegOnly;
  return flags;
}

function specificity(form: FormSpec): number {
  // Exact-prefix and literal-ModRM forms are tried before general ones.
  let score = 0;
  if (form.prefix !== 'none') score += 4;
  if (form.modrmLiteral >= 0) score += 2;
  if (form.w >= 0) score += 1;
  return -score;
}

/**
 * Immediate-like fields that follow ModRM, precomputed per form so the
 * decoder does not walk the operand list (`FORMS.immediates`, two per form).
 */
export const enum ImmKind {
  None = 0,
  Byte = 1,
  Word = 2,
  Dword = 3,
  Qword = 4,
  /** 16 with operand size 16, else 32. */
  Z = 5,
  /** 16/32/64 with the operand size. */
  V = 6,
  /** moffs: 8 bytes, 4 with 0x67. */
  Moffs = 7,
  RelByte = 8,
  /** rel32 (66 is ignored on near branches in 64-bit mode). */
  RelDword = 9,
  /** is4 register byte. */
  RegisterByte = 10,
}

function immKindOf(code: number): ImmKind {
  const type = operandType(code);
  const size = operandSize(code);
  switch (type) {
    case OperandType.I:
      switch (size) {
        case OperandSize.W: return ImmKind.Word;
        case OperandSize.D: return ImmKind.Dword;
        case OperandSize.Q: return ImmKind.Qword;
        case OperandSize.Z: return ImmKind.Z;
        case OperandSize.V: return ImmKind.V;
        default: return ImmKind.Byte;
      }
    case OperandType.J: return size === OperandSize.B ? ImmKind.RelByte : ImmKind.RelDword;
    case OperandType.O: return ImmKind.Moffs;
    case OperandType.L: return ImmKind.RegisterByte;
    default: return ImmKind.None;
  }
}

/** What the validator's rules read that may depend on the policy. */
export interface PolicyForms {
  /** FormFlag bits under this policy (the structural ones are the same for all). */
  readonly flags: Uint32Array;
  /** 0 = allowed, else 1 + index into DENY_KEYS. */
  readonly deny: Uint8Array;
}

/** Compiled tables. */
export interface CompiledForms {
  readonly forms: readonly FormSpec[];
  /** FormFlag bits under the `nacl` policy; the decoder reads only the structural ones. */
  readonly flags: Uint32Array;
  /** Flags and deny reasons per policy (`policies.ts`). */
  readonly policy: Readonly<Record<ValidationPolicy, PolicyForms>>;
  readonly prefix: Uint8Array;
  readonly modrmReg: Int8Array;
  readonly modrmLiteral: Int16Array;
  readonly modrmRange: Uint8Array;
  readonly w: Int8Array;
  readonly vexL: Int8Array;
  readonly suffix: Int16Array;
  readonly operandCount: Uint8Array;
  /** MAX_OPERANDS codes per form. */
  readonly operands: Int32Array;
  readonly feature: Uint8Array;
  /** 0 = allowed, else 1 + index into DENY_KEYS (under the `nacl` policy). */
  readonly deny: Uint8Array;
  /** Two ImmKind values per form, in encoding order. */
  readonly immediates: Uint8Array;
  /**
   * Operand codes of the general registers a form writes that the sandbox
   * tracks (E/R/G/Z/B and the accumulator rAX), MAX_WRITES per form, with
   * their count in `writeCount` — precomputed for the validator's hot path.
   */
  readonly writes: Int32Array;
  readonly writeCount: Uint8Array;
  readonly candidateStart: Int32Array;
  readonly candidates: Uint16Array;
  /** Per (space, opcode): 1 if the forms there have a ModRM byte, 0 if not, -1 if no form. */
  readonly keyHasModrm: Int8Array;
}

/** The `deny` code of forms allowed only inside superinstructions. */
export const DENY_SPECIAL = DENY_KEYS.indexOf('special') + 1;
/** The `deny` code of disallowed extensions (non-fatal, see rules.ts). */
export const DENY_UNSUPPORTED = DENY_KEYS.indexOf('unsupported') + 1;

export function denyReasonOf(code: number): DenyReason | null {
  return code === 0 ? null : (DENY_KEYS[code - 1] ?? null);
}

function compile(forms: FormSpec[]): CompiledForms {
  const n = forms.length;
  const prefix = new Uint8Array(n);
  const modrmReg = new Int8Array(n);
  const modrmLiteral = new Int16Array(n);
  const modrmRange = new Uint8Array(n);
  const w = new Int8Array(n);
  const vexL = new Int8Array(n);
  const suffix = new Int16Array(n);
  const operandCount = new Uint8Array(n);
  const operands = new Int32Array(n * MAX_OPERANDS);
  const feature = new Uint8Array(n);
  const policy = Object.fromEntries(POLICIES.map((p) => [p, { flags: new Uint32Array(n), deny: new Uint8Array(n) }])) as Record<ValidationPolicy, PolicyForms>;
  const immediates = new Uint8Array(n * 2);
  const writes = new Int32Array(n * MAX_WRITES);
  const writeCount = new Uint8Array(n);
  const buckets: number[][] = Array.from({ length: SPACE_COUNT * 256 }, () => []);
  const keyHasModrm = new Int8Array(SPACE_COUNT * 256).fill(-1);

  forms.forEach((form, id) => {
    for (const p of POLICIES) {
      const { attributes, deny } = attributesUnder(form, p);
      policy[p].flags[id] = flagsOf(form, attributes);
      policy[p].deny[id] = deny === null ? 0 : DENY_KEYS.indexOf(deny) + 1;
    }
    prefix[id] = prefixCode(form);
    modrmReg[id] = form.modrmReg;
    modrmLiteral[id] = form.modrmLiteral;
    modrmRange[id] = form.modrmRange;
    w[id] = form.w;
    vexL[id] = form.vexL;
    suffix[id] = form.suffix;
    if (form.operands.length > MAX_OPERANDS) throw new Error(`${form.table}:${form.line}: too many operands`);
    operandCount[id] = form.operands.length;
    let immSlot = 0;
    form.operands.forEach((op, i) => {
      const code = encodeOperand(op);
      operands[id * MAX_OPERANDS + i] = code;
      const kind = immKindOf(code);
      if (kind !== ImmKind.None) {
        if (immSlot > 1) throw new Error(`${form.table}:${form.line}: more than two immediates`);
        immediates[id * 2 + immSlot++] = kind;
      }
      if (isTrackedWrite(code)) {
        const w = writeCount[id] as number;
        if (w >= MAX_WRITES) throw new Error(`${form.table}:${form.line}: more than ${MAX_WRITES} written general registers`);
        writes[id * MAX_WRITES + w] = code;
        writeCount[id] = w + 1;
      }
    });
    if (!isCpuFeature(form.feature)) throw new Error(`${form.table}:${form.line}: unknown CPU feature ${form.feature}`);
    feature[id] = FEATURE_BIT[form.feature];

    const space = spaceOf(form);
    const opcodes = space === Space.ThreeDNow ? [form.suffix] : form.opcodeReg ? [0, 1, 2, 3, 4, 5, 6, 7].map((r) => form.opcode + r) : [form.opcode];
    for (const opcode of opcodes) {
      const key = space * 256 + opcode;
      buckets[key]?.push(id);
      const has = form.hasModrm ? 1 : 0;
      const previous = keyHasModrm[key];
      if (previous !== undefined && previous >= 0 && previous !== has) {
        throw new Error(`${form.table}:${form.line}: forms of opcode ${opcode.toString(16)} disagree on having a ModRM byte`);
      }
      keyHasModrm[key] = has;
    }
  });

  const candidateStart = new Int32Array(SPACE_COUNT * 256 + 1);
  const list: number[] = [];
  buckets.forEach((bucket, key) => {
    candidateStart[key] = list.length;
    const sorted = bucket
      .map((id, order) => ({ id, order }))
      .sort((a, b) => specificity(forms[a.id] as FormSpec) - specificity(forms[b.id] as FormSpec) || a.order - b.order);
    for (const { id } of sorted) list.push(id);
  });
  candidateStart[SPACE_COUNT * 256] = list.length;
  if (n > 0xffff) throw new Error('too many forms for Uint16 candidate ids');

  return {
    forms, flags: policy.nacl.flags, deny: policy.nacl.deny, policy, prefix, modrmReg, modrmLiteral, modrmRange, w, vexL, suffix,
    operandCount, operands, feature, immediates, writes, writeCount,
    candidateStart, candidates: Uint16Array.from(list), keyHasModrm,
  };
}

/**
 * The compiled tables: built on first import, or, in the command-line
 * bundle, taken from the same build's precompiled copy
 * (`forms-precompiled.ts`).
 */
export const FORMS: CompiledForms = PRECOMPILED_FORMS === null ? compileForms() : deserializeCompiledForms(PRECOMPILED_FORMS, allFormSpecs);

/** Compiles the text tables (what the build precompiles, and what tests compare the precompiled copy with). */
export function compileForms(): CompiledForms {
  return compile(allFormSpecs());
}
