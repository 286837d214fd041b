/**
 * Instruction text in Intel syntax (lower case, destination first), the
 * order the opcode tables use.
 *
 * Pipeline position: decoder -> operands.ts -> here -> disassembler/CLI.
 * Intel rather than AT&T syntax because it reads in the same order as the
 * tables and the spec; NaCl's corpus shows objdump's AT&T, which a reader can
 * still match by opcode bytes (the listing always shows them).
 */
import type { DecodedInstruction } from './decoder.js';
import { PrefixBit } from './decoder.js';
import { FORMS } from './forms.js';
import { operandsOf, type Operand } from './operands.js';

const PTR_NAMES: Record<number, string> = {
  8: 'byte ptr ', 16: 'word ptr ', 32: 'dword ptr ', 64: 'qword ptr ', 80: 'tbyte ptr ', 128: 'xmmword ptr ', 256: 'ymmword ptr ',
};

function hex(value: number | bigint): string {
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** The mnemonic for this operand size (tables may list `cbw/cwde/cdqe`). */
export function mnemonicOf(insn: DecodedInstruction): string {
  const form = FORMS.forms[insn.form];
  if (!form) return '(bad)';
  const names = form.mnemonic.split('/');
  if (names.length === 3) return names[insn.operandBits === 16 ? 0 : insn.operandBits === 64 ? 2 : 1] as string;
  if (names.length === 2) return names[insn.prefixes & PrefixBit.OpSize ? 0 : 1] as string;
  return form.mnemonic;
}

function formatOperand(op: Operand, base: number): string {
  switch (op.kind) {
    case 'register':
      return op.register.name;
    case 'immediate':
      return hex(op.exact ?? op.value);
    case 'constant':
      return String(op.value);
    case 'target':
      return hex(base + op.offset);
    case 'memory': {
      const parts: string[] = [];
      if (op.base) parts.push(op.base.name);
      if (op.index) parts.push(`${op.index.name}*${op.scale}`);
      let text = parts.join('+');
      if (op.displacement !== 0 || parts.length === 0) {
        text += text.length === 0 ? hex(op.displacement) : op.displacement < 0 ? hex(op.displacement) : `+${hex(op.displacement)}`;
      }
      const segment = op.segment ? `${op.segment}:` : '';
      const ptr = op.addressOnly ? '' : (PTR_NAMES[op.bits] ?? '');
      return `${ptr}${segment}[${text}]`;
    }
  }
}

/** `rep`/`lock` and friends that are not part of the opcode. */
function prefixText(insn: DecodedInstruction): string {
  const form = FORMS.forms[insn.form];
  const words: string[] = [];
  if (insn.prefixes & PrefixBit.Lock) words.push('lock');
  const mandatoryRep = form?.prefix === 'F2' || form?.prefix === 'F3';
  if (!insn.vex && !mandatoryRep) {
    if (insn.prefixes & PrefixBit.Rep) words.push(form?.attributes.has('repcc') ? 'repe' : 'rep');
    if (insn.prefixes & PrefixBit.Repne) words.push('repne');
  }
  return words.length === 0 ? '' : `${words.join(' ')} `;
}

/** Formats a decoded instruction; `base` turns branch-target offsets into addresses. */
export function formatInstruction(insn: DecodedInstruction, base = 0): string {
  if (insn.form < 0) return '(bad)';
  const operands = operandsOf(insn).filter((op) => !(op.kind === 'register' && op.implicit));
  const text = operands.map((op) => formatOperand(op, base)).join(', ');
  return `${prefixText(insn)}${mnemonicOf(insn)}${text ? ` ${text}` : ''}`;
}
