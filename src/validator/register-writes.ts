/**
 * The general registers an instruction writes, as the sandbox rules see
 * them.
 *
 * Pipeline position: decoder -> here -> the validator's register rules
 * (`validate.ts`, checkRegisterWrites) and ZeroVM's string sandboxing
 * (`superinstructions.ts`). Reads the compiled operand codes directly
 * (no allocation): this is on the validator's hot path.
 */
import { PrefixBit, type DecodedInstruction } from './decoder.js';
import { FORMS, MAX_WRITES, OperandSize, OperandType, operandSize, operandType } from './forms.js';
import { Gpr } from './registers.js';

/** How a register is written: its low byte, as a zero-extending 32-bit value, or otherwise (16 or 64 bits). */
export const enum WriteKind {
  Bits8 = 1,
  Restricted = 2, // 32-bit write
  Unrestricted = 3, // 16- or 64-bit write
}

const WRITE_COUNT = FORMS.writeCount;
const WRITES = FORMS.writes;

/**
 * The general registers an instruction writes through operands that the
 * sandbox tracks (explicit register operands and the accumulator), as
 * `register | kind << 8`, in operand order. Implicit fixed registers (the
 * rDX:rAX of mul, cpuid's outputs) cannot be %rsp, %rbp or %r15 and are not
 * tracked, as in NaCl.
 */
export function trackedWrites(insn: DecodedInstruction, out: Int32Array): number {
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

const scratch = new Int32Array(MAX_WRITES);

/** Whether `insn` writes any part of general register `reg` through a tracked operand (`trackedWrites`). */
export function writesRegister(insn: DecodedInstruction, reg: number): boolean {
  const count = WRITE_COUNT[insn.form] === 0 ? 0 : trackedWrites(insn, scratch);
  for (let i = 0; i < count; i++) if (((scratch[i] as number) & 0xff) === reg) return true;
  return false;
}
