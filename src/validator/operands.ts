/**
 * Operand analysis: turns a `DecodedInstruction` into readable operands and
 * the list of registers it writes.
 *
 * Pipeline position: decoder -> here -> disassembler, public `decodeOne()`
 * API and the differential tests. The validator's hot path does not use
 * this module (it reads the compiled operand codes directly, see
 * `validate.ts`), because this one allocates.
 */
import { DecodedInstruction, PrefixBit } from './decoder.js';
import {
  FORMS, FIXED_REGISTER_NAMES, MAX_OPERANDS, OperandAccess, OperandSize, OperandType,
  operandAccess, operandFixed, operandSize, operandType,
} from './forms.js';
import { REG_NONE, REG_RIP, SEGMENT_REGISTERS, gprName } from './registers.js';

export type RegisterClass = 'gpr' | 'xmm' | 'ymm' | 'mmx' | 'x87' | 'segment' | 'control' | 'debug' | 'ip';
export type AccessKind = 'read' | 'write' | 'readwrite';

export interface RegisterRef {
  /** Lower-case name, e.g. `eax`, `r8b`, `xmm3`, `st1`. */
  readonly name: string;
  readonly class: RegisterClass;
  /** Register number within its class (general registers: 0 = rax ... 15 = r15). */
  readonly number: number;
  /** Width in bits of the part used. */
  readonly bits: number;
}

export type Operand =
  | { readonly kind: 'register'; readonly register: RegisterRef; readonly access: AccessKind; readonly implicit: boolean }
  | {
      readonly kind: 'memory';
      readonly base: RegisterRef | null;
      readonly index: RegisterRef | null;
      readonly scale: number;
      readonly displacement: number;
      readonly segment: string | null;
      /** Size of the memory access in bits (0 when only the address is used). */
      readonly bits: number;
      readonly access: AccessKind;
      /** The address is computed but never accessed (lea, nop, prefetch). */
      readonly addressOnly: boolean;
    }
  | {
      readonly kind: 'immediate';
      /** The value; past 2^53 (a 64-bit movabs immediate) only approximate, see `exact`. */
      readonly value: number;
      readonly bits: number;
      /** Every bit of a 64-bit immediate, as a signed value (present only for those). */
      readonly exact?: bigint;
    }
  | { readonly kind: 'target'; readonly offset: number }
  | { readonly kind: 'constant'; readonly value: number };

const ACCESS: readonly AccessKind[] = ['read', 'write', 'readwrite'];

function gpr(n: number, bits: number, rex: boolean): RegisterRef {
  return { name: gprName(n, bits, rex), class: 'gpr', number: n, bits };
}

function vectorRegister(n: number, wide: boolean): RegisterRef {
  return wide ? { name: `ymm${n}`, class: 'ymm', number: n, bits: 256 } : { name: `xmm${n}`, class: 'xmm', number: n, bits: 128 };
}

/** Width in bits of an operand of size `size` in `insn`. */
export function sizeBits(size: OperandSize, insn: DecodedInstruction): number {
  switch (size) {
    case OperandSize.B: return 8;
    case OperandSize.W: return 16;
    case OperandSize.D: return 32;
    case OperandSize.Q: return 64;
    case OperandSize.T: return 80;
    case OperandSize.DQ: return 128;
    case OperandSize.QQ: return 256;
    case OperandSize.V: return insn.operandBits;
    case OperandSize.Z: return insn.operandBits === 16 ? 16 : 32;
    case OperandSize.Y: return (insn.vex ? insn.vexW : insn.rex & 8) ? 64 : 32;
    // Stack-sized: the decoder applies the rule (64, or 16 with 66 and no REX.W).
    case OperandSize.S: return insn.operandBits;
    case OperandSize.X: return insn.vexL ? 256 : 128;
    default: return 0;
  }
}

function segmentOverride(insn: DecodedInstruction): string | null {
  const p = insn.prefixes;
  if (p & PrefixBit.SegFS) return 'fs';
  if (p & PrefixBit.SegGS) return 'gs';
  if (p & PrefixBit.SegES) return 'es';
  if (p & PrefixBit.SegCS) return 'cs';
  if (p & PrefixBit.SegSS) return 'ss';
  if (p & PrefixBit.SegDS) return 'ds';
  return null;
}

function addressRegister(n: number, insn: DecodedInstruction): RegisterRef | null {
  if (n === REG_NONE) return null;
  const bits = insn.prefixes & PrefixBit.AddrSize ? 32 : 64;
  if (n === REG_RIP) return { name: bits === 32 ? 'eip' : 'rip', class: 'ip', number: 16, bits };
  return gpr(n, bits, true);
}

const FIXED_GPR: Record<string, [number, number]> = {
  AL: [0, 8], CL: [1, 8], DX: [2, 16], AX: [0, 16], EAX: [0, 32], ECX: [1, 32], EDX: [2, 32], EBX: [3, 32],
  RAX: [0, 64], RCX: [1, 64], RDX: [2, 64], RBX: [3, 64],
};

/** The operands of a successfully decoded instruction, in Intel order. */
export function operandsOf(insn: DecodedInstruction): Operand[] {
  if (insn.form < 0) return [];
  const count = FORMS.operandCount[insn.form] as number;
  const result: Operand[] = [];
  const rex = insn.rex !== 0;
  const noAddress = FORMS.forms[insn.form]?.attributes.has('noaddr') ?? false;
  let immIndex = 0;
  for (let i = 0; i < count; i++) {
    const code = FORMS.operands[insn.form * MAX_OPERANDS + i] as number;
    const type = operandType(code);
    const size = operandSize(code);
    const access = ACCESS[operandAccess(code)] as AccessKind;
    const bits = sizeBits(size, insn);
    const memory = (): Operand => ({
      kind: 'memory',
      base: addressRegister(insn.base, insn),
      index: addressRegister(insn.index, insn),
      scale: insn.scale,
      displacement: insn.disp,
      segment: segmentOverride(insn),
      bits,
      access,
      addressOnly: noAddress,
    });
    const register = (r: RegisterRef, implicit = false): Operand => ({ kind: 'register', register: r, access, implicit });
    const wide = size === OperandSize.QQ || (size === OperandSize.X && insn.vexL === 1);
    switch (type) {
      case OperandType.E:
      case OperandType.R:
      case OperandType.M:
        result.push(insn.hasMemory ? memory() : register(gpr(insn.rm, bits, rex)));
        break;
      case OperandType.G:
        result.push(register(gpr(insn.reg, bits, rex)));
        break;
      case OperandType.Z:
        result.push(register(gpr(insn.opcodeRegister, bits, rex)));
        break;
      case OperandType.B:
        result.push(register(gpr(insn.vvvv, bits, true)));
        break;
      case OperandType.W:
      case OperandType.U:
        result.push(insn.hasMemory ? memory() : register(vectorRegister(insn.rm, wide)));
        break;
      case OperandType.V:
        result.push(register(vectorRegister(insn.reg, wide)));
        break;
      case OperandType.H:
        result.push(register(vectorRegister(insn.vvvv, wide)));
        break;
      case OperandType.L:
        result.push(register(vectorRegister((insn.imm >> 4) & 15, wide)));
        immIndex++;
        break;
      case OperandType.Q:
      case OperandType.N:
        result.push(insn.hasMemory ? memory() : register({ name: `mm${insn.rm & 7}`, class: 'mmx', number: insn.rm & 7, bits: 64 }));
        break;
      case OperandType.P:
        result.push(register({ name: `mm${insn.reg & 7}`, class: 'mmx', number: insn.reg & 7, bits: 64 }));
        break;
      case OperandType.T:
        result.push(register({ name: `st${insn.rm & 7}`, class: 'x87', number: insn.rm & 7, bits: 80 }));
        break;
      case OperandType.S:
        result.push(register({ name: SEGMENT_REGISTERS[insn.reg & 7] ?? `seg${insn.reg & 7}`, class: 'segment', number: insn.reg & 7, bits: 16 }));
        break;
      case OperandType.C:
        result.push(register({ name: `cr${insn.reg}`, class: 'control', number: insn.reg, bits: 64 }));
        break;
      case OperandType.D:
        result.push(register({ name: `dr${insn.reg}`, class: 'debug', number: insn.reg, bits: 64 }));
        break;
      case OperandType.I:
        if (immIndex === 0 && insn.immSize === 8) {
          const exact = (BigInt(insn.immHigh) << 32n) | BigInt(insn.immLow);
          result.push({ kind: 'immediate', value: insn.imm, bits, exact });
        } else {
          result.push({ kind: 'immediate', value: immIndex === 0 ? insn.imm : insn.imm2, bits });
        }
        immIndex++;
        break;
      case OperandType.J:
        result.push({ kind: 'target', offset: insn.target });
        immIndex++;
        break;
      case OperandType.O:
        result.push({
          kind: 'memory', base: null, index: null, scale: 1, displacement: insn.imm,
          segment: segmentOverride(insn), bits, access, addressOnly: false,
        });
        immIndex++;
        break;
      case OperandType.X:
      case OperandType.Y: {
        const addrBits = insn.prefixes & PrefixBit.AddrSize ? 32 : 64;
        const n = type === OperandType.X ? 6 : 7;
        result.push({
          kind: 'memory', base: gpr(n, addrBits, true), index: null, scale: 1, displacement: 0,
          segment: type === OperandType.X ? segmentOverride(insn) ?? 'ds' : 'es', bits, access, addressOnly: false,
        });
        break;
      }
      case OperandType.One:
        result.push({ kind: 'constant', value: 1 });
        break;
      case OperandType.Fixed: {
        const name = FIXED_REGISTER_NAMES[operandFixed(code)] ?? '';
        if (name === 'rAX') result.push(register(gpr(0, insn.operandBits, rex)));
        else if (name === 'ST0') result.push(register({ name: 'st0', class: 'x87', number: 0, bits: 80 }, true));
        else if (name === 'XMM0') result.push(register(vectorRegister(0, false), true));
        else if (name === 'FS' || name === 'GS') result.push(register({ name: name.toLowerCase(), class: 'segment', number: name === 'FS' ? 4 : 5, bits: 16 }, true));
        else {
          const [n, b] = FIXED_GPR[name] ?? [0, 0];
          result.push(register(gpr(n, b, rex), true));
        }
        break;
      }
      default:
        break;
    }
  }
  return result;
}

/** Registers the instruction writes through its listed operands (not flags). */
export function writtenRegisters(insn: DecodedInstruction): RegisterRef[] {
  return operandsOf(insn).flatMap((op) => (op.kind === 'register' && op.access !== 'read' ? [op.register] : []));
}

export { OperandAccess };
