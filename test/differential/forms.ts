/**
 * Short constructors for `Insn`s by iced form name and operand shape
 * (register, memory, immediate), shared by the instruction families.
 *
 * Pipeline position: family-gpr.ts, family-sse.ts, generator.ts -> here ->
 * x86.ts (Insn) and iced-x86's Instruction factories.
 *
 * The form name is looked up once, when the Insn is made, so a misspelt
 * form fails at generation time with its name.
 */
import { Instruction, type Register } from 'iced-x86';
import { withMemory, type Mem } from './emitter.js';
import { code, insn, KEEPS_FLAGS, type FlagEffect, type Insn } from './x86.js';

export function none(form: string, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => Instruction.create(k), flags, reads);
}

export function r(form: string, a: Register, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => Instruction.createReg(k, a), flags, reads);
}

export function m(form: string, mem: Mem, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createMem(k, o)), flags, reads);
}

export function rr(form: string, a: Register, b: Register, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => Instruction.createRegReg(k, a, b), flags, reads);
}

export function rm(form: string, a: Register, mem: Mem, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createRegMem(k, a, o)), flags, reads);
}

export function mr(form: string, mem: Mem, b: Register, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createMemReg(k, o, b)), flags, reads);
}

export function ri(form: string, a: Register, imm: number, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => Instruction.createRegI32(k, a, imm), flags, reads);
}

export function ri64(form: string, a: Register, imm: bigint): Insn {
  const k = code(form);
  return insn(() => Instruction.createRegU64(k, a, BigInt.asUintN(64, imm)));
}

export function mi(form: string, mem: Mem, imm: number, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createMemI32(k, o, imm)), flags, reads);
}

export function rri(form: string, a: Register, b: Register, imm: number, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => Instruction.createRegRegI32(k, a, b, imm), flags, reads);
}

export function rmi(form: string, a: Register, mem: Mem, imm: number, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createRegMemI32(k, a, o, imm)), flags, reads);
}

export function mri(form: string, mem: Mem, b: Register, imm: number, flags: FlagEffect = KEEPS_FLAGS, reads = 0): Insn {
  const k = code(form);
  return insn(() => withMemory(mem, (o) => Instruction.createMemRegI32(k, o, b, imm)), flags, reads);
}
