/**
 * The public API of the executable specification: decode an instruction,
 * validate a code region or a program, produce an annotated listing.
 *
 * Pipeline position: the entry point other parts of the project (loader,
 * engines, toolchain, conformance suite) and users import.
 */
import { DecodedInstruction, DecodeStatus, DECODE_STATUS_MESSAGES, decode } from './decoder.js';
import { FORMS } from './forms.js';
import { ALL_FEATURES, type CpuFeature } from './features.js';
import { formatInstruction, mnemonicOf } from './format.js';
import { operandsOf, writtenRegisters, type Operand, type RegisterRef } from './operands.js';
import { denyReasonOf } from './forms.js';
import type { DenyReason } from './opcodes/grammar.js';

export { validate, padToBundles, BUNDLE_SIZE } from './validate.js';
export type { ValidateOptions, ValidationError, ValidationResult, ValidationPolicy } from './validate.js';
export { POLICIES, POLICY_PROPERTIES, isValidationPolicy } from './policies.js';
export type { PolicyProperties, RegionModel, StringSandboxing } from './policies.js';
export { validateNexe } from './validate-nexe.js';
export type { NexeValidation, NexeValidationOutcome } from './validate-nexe.js';
export { disassemble, renderListing } from './disasm.js';
export type { Listing, ListingLine } from './disasm.js';
export { RULES, RULE_IDS } from './rules.js';
export type { RuleId, RuleInfo } from './rules.js';
export { CPU_FEATURES, ALL_FEATURES, parseFeatureList } from './features.js';
export type { CpuFeature } from './features.js';
export type { Operand, RegisterRef } from './operands.js';

/** One decoded instruction, as a plain value. */
export type Instruction =
  | {
      readonly ok: true;
      readonly offset: number;
      readonly length: number;
      readonly bytes: Uint8Array;
      readonly mnemonic: string;
      /** Intel syntax, e.g. `mov ebx, dword ptr [r15+rax*1]`. */
      readonly text: string;
      readonly operands: readonly Operand[];
      /** Registers written through operands (flags not included). */
      readonly writes: readonly RegisterRef[];
      readonly feature: CpuFeature;
      /** Why the sandbox never accepts this form on its own under the `nacl` policy, or null (other policies: `FORMS.policy`). */
      readonly denied: DenyReason | null;
      /** The opcode table row that matched: its source file and line, e.g. `legacy.ts:21`. */
      readonly form: string;
    }
  | { readonly ok: false; readonly offset: number; readonly reason: string };

/**
 * Decodes the instruction at `offset` of `code` (64-bit mode). `base` is the
 * address of `code[0]`, used for branch targets in `text`. Never throws.
 */
export function decodeInstruction(code: Uint8Array, offset = 0, base = 0): Instruction {
  const insn = decode(code, offset, code.length, new DecodedInstruction());
  if (insn.status !== DecodeStatus.Ok) return { ok: false, offset, reason: DECODE_STATUS_MESSAGES[insn.status] };
  const spec = FORMS.forms[insn.form];
  return {
    ok: true,
    offset,
    length: insn.length,
    bytes: code.slice(offset, offset + insn.length),
    mnemonic: mnemonicOf(insn),
    text: formatInstruction(insn, base),
    operands: operandsOf(insn),
    writes: writtenRegisters(insn),
    feature: (ALL_FEATURES[FORMS.feature[insn.form] as number] ?? '-') as CpuFeature,
    denied: denyReasonOf(FORMS.deny[insn.form] as number),
    form: spec ? `${spec.file}:${spec.line}` : '?',
  };
}
