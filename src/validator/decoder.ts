/**
 * The x86-64 instruction decoder (64-bit mode).
 *
 * Pipeline position: bytes -> here -> `DecodedInstruction` -> validator
 * rules (`validate.ts`) and the disassembler (`operands.ts`, `disasm.ts`).
 *
 * Source of truth: the opcode tables in `opcodes/`, compiled by `forms.ts`.
 * This file only knows the shape of an instruction — prefixes, REX, VEX,
 * escape bytes, ModRM/SIB/displacement, immediates — never what an opcode
 * means. It is split by encoding space in the order bytes are consumed:
 * legacy prefixes and REX, then VEX or the 0F/0F38/0F3A/3DNow! escapes,
 * then the form match, then addressing and immediates.
 *
 * Contract: `decode()` never throws, never reads outside [pos, end), and
 * always returns; an instruction that cannot be decoded gets `length` 0 and
 * a `DecodeStatus` saying why. The result object is reused between calls
 * (no allocation per instruction); copy fields out if you keep them.
 */
import {
  FORMS, FormFlag, MAX_OPERANDS, OperandSize, OperandType, Prefix, Space,
  operandSize, operandType,
} from './forms.js';
import { REG_NONE, REG_RIP } from './registers.js';

export const enum DecodeStatus {
  Ok = 0,
  /** The bytes end before the instruction does. */
  Truncated = 1,
  /** No instruction has this encoding (or it is invalid in 64-bit mode). */
  Invalid = 2,
  /** Longer than the architectural limit of 15 bytes. */
  TooLong = 3,
  /** EVEX (AVX-512) or XOP encodings, which this decoder does not model. */
  Unsupported = 4,
  /** LOCK on an instruction or operand that cannot be locked. */
  BadLock = 5,
}

export const DECODE_STATUS_MESSAGES: Record<DecodeStatus, string> = {
  [DecodeStatus.Ok]: 'ok',
  [DecodeStatus.Truncated]: 'instruction is cut off by the end of the code',
  [DecodeStatus.Invalid]: 'not a valid x86-64 instruction',
  [DecodeStatus.TooLong]: 'instruction is longer than 15 bytes',
  [DecodeStatus.Unsupported]: 'EVEX (AVX-512) and XOP encodings are not supported',
  [DecodeStatus.BadLock]: 'lock prefix on an instruction that cannot be locked',
};

/** Bits of `DecodedInstruction.prefixes`. */
export const enum PrefixBit {
  Lock = 1 << 0,
  Rep = 1 << 1, // F3
  Repne = 1 << 2, // F2
  OpSize = 1 << 3, // 66
  AddrSize = 1 << 4, // 67
  SegES = 1 << 5,
  SegCS = 1 << 6,
  SegSS = 1 << 7,
  SegDS = 1 << 8,
  SegFS = 1 << 9,
  SegGS = 1 << 10,
  /** A legacy prefix byte appeared twice. */
  Duplicate = 1 << 11,
  /** A REX prefix was followed by another prefix (the CPU ignores it). */
  RexNotLast = 1 << 12,
  /** More than one segment override. */
  ManySegments = 1 << 13,
  /** Both F2 and F3. */
  ManyReps = 1 << 14,
}
export const SEGMENT_PREFIX_MASK =
  PrefixBit.SegES | PrefixBit.SegCS | PrefixBit.SegSS | PrefixBit.SegDS | PrefixBit.SegFS | PrefixBit.SegGS;

/** One decoded instruction. Fields are plain numbers for speed. */
export class DecodedInstruction {
  /** Offset of the first byte in the buffer. */
  offset = 0;
  /** Length in bytes; 0 when `status` is not Ok. */
  length = 0;
  status: DecodeStatus = DecodeStatus.Ok;
  /** Form id (index into FORMS), or -1. */
  form = -1;
  /** Opcode space and byte (useful even for undecodable instructions). */
  space: Space = Space.Legacy;
  opcode = -1;
  /** PrefixBit set. */
  prefixes = 0;
  /** Number of legacy prefix bytes, REX not included. */
  prefixCount = 0;
  /** Last F2/F3 prefix byte (0 if none): decides the mandatory prefix. */
  lastRep = 0;
  /** REX byte in effect (0 if none). */
  rex = 0;
  /** Number of REX bytes seen. */
  rexCount = 0;
  vex = false;
  vexL = 0;
  vexW = 0;
  /** VEX.vvvv decoded (0..15). */
  vvvv = 0;
  /** Operand size in bits: 16, 32 or 64. */
  operandBits = 32;
  /** ModRM byte or -1; mod/reg/rm with REX extensions applied. */
  modrm = -1;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Memory operand, when `hasMemory`. */
  hasMemory = false;
  base = REG_NONE;
  index = REG_NONE;
  scale = 1;
  disp = 0;
  dispSize = 0;
  /** Immediates in operand order (imm2 for enter/extrq/insertq). */
  imm = 0;
  immSize = 0;
  imm2 = 0;
  imm2Size = 0;
  /** Offset of the first immediate byte. */
  immOffset = 0;
  /** Branch target (offset in the same coordinates as `offset`) for relative forms. */
  target = 0;
  /** Register from the opcode's low bits (+r forms), REX.B applied. */
  opcodeRegister = 0;

  /** Copies every field (the decoder reuses its result object). */
  clone(): DecodedInstruction {
    return Object.assign(new DecodedInstruction(), this);
  }
}

const MAX_LENGTH = 15;

function readSigned(code: Uint8Array, at: number, size: number): number {
  switch (size) {
    case 1: return ((code[at] as number) << 24) >> 24;
    case 2: return (((code[at] as number) | ((code[at + 1] as number) << 8)) << 16) >> 16;
    case 4: return (code[at] as number) | ((code[at + 1] as number) << 8) | ((code[at + 2] as number) << 16) | ((code[at + 3] as number) << 24);
    default: {
      // 8-byte immediates: low 32 bits as unsigned plus high part; exact up to 2^53.
      const lo = ((code[at] as number) | ((code[at + 1] as number) << 8) | ((code[at + 2] as number) << 16) | ((code[at + 3] as number) << 24)) >>> 0;
      const hi = (code[at + 4] as number) | ((code[at + 5] as number) << 8) | ((code[at + 6] as number) << 16) | ((code[at + 7] as number) << 24);
      return hi * 4294967296 + lo;
    }
  }
}

const F = FORMS;

/** Size in bytes of an immediate-like operand, or 0 if the operand has none. */
function immediateBytes(code: number, operandBits: number, addrBits: number): number {
  const type = operandType(code);
  if (type === OperandType.I) {
    switch (operandSize(code)) {
      case OperandSize.B: return 1;
      case OperandSize.W: return 2;
      case OperandSize.D: return 4;
      case OperandSize.Q: return 8;
      case OperandSize.Z: return operandBits === 16 ? 2 : 4;
      case OperandSize.V: return operandBits === 16 ? 2 : operandBits === 64 ? 8 : 4;
      default: return 1;
    }
  }
  if (type === OperandType.J) {
    // In 64-bit mode Intel CPUs ignore 66 on near branches (rel32 stays);
    // iced-x86 decodes the same way by default.
    return operandSize(code) === OperandSize.B ? 1 : 4;
  }
  if (type === OperandType.O) return addrBits === 32 ? 4 : 8;
  if (type === OperandType.L) return 1;
  return 0;
}

/**
 * Decodes the instruction at `pos`, reading no byte at or after `end`.
 * `out` is overwritten and returned.
 */
export function decode(code: Uint8Array, pos: number, end: number, out: DecodedInstruction): DecodedInstruction {
  const limit = Math.min(end, code.length);
  out.offset = pos;
  out.length = 0;
  out.status = DecodeStatus.Ok;
  out.form = -1;
  out.opcode = -1;
  out.space = Space.Legacy;
  out.prefixes = 0;
  out.prefixCount = 0;
  out.lastRep = 0;
  out.rex = 0;
  out.rexCount = 0;
  out.vex = false;
  out.vexL = 0;
  out.vexW = 0;
  out.vvvv = 0;
  out.modrm = -1;
  out.mod = 0;
  out.reg = 0;
  out.rm = 0;
  out.hasMemory = false;
  out.base = REG_NONE;
  out.index = REG_NONE;
  out.scale = 1;
  out.disp = 0;
  out.dispSize = 0;
  out.imm = 0;
  out.immSize = 0;
  out.imm2 = 0;
  out.imm2Size = 0;
  out.immOffset = 0;
  out.target = 0;
  out.opcodeRegister = 0;

  let p = pos;
  const hardEnd = Math.min(limit, pos + MAX_LENGTH);
  let prefixes = 0;

  // ---- legacy prefixes and REX ---------------------------------------------------
  for (;;) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated);
    if (p >= pos + MAX_LENGTH) return fail(out, DecodeStatus.TooLong);
    const b = code[p] as number;
    let bit = 0;
    switch (b) {
      case 0xf0: bit = PrefixBit.Lock; break;
      case 0xf2: bit = PrefixBit.Repne; out.lastRep = b; break;
      case 0xf3: bit = PrefixBit.Rep; out.lastRep = b; break;
      case 0x66: bit = PrefixBit.OpSize; break;
      case 0x67: bit = PrefixBit.AddrSize; break;
      case 0x26: bit = PrefixBit.SegES; break;
      case 0x2e: bit = PrefixBit.SegCS; break;
      case 0x36: bit = PrefixBit.SegSS; break;
      case 0x3e: bit = PrefixBit.SegDS; break;
      case 0x64: bit = PrefixBit.SegFS; break;
      case 0x65: bit = PrefixBit.SegGS; break;
      default: break;
    }
    if (bit !== 0) {
      if (prefixes & bit) prefixes |= PrefixBit.Duplicate;
      if (bit & SEGMENT_PREFIX_MASK && prefixes & SEGMENT_PREFIX_MASK & ~bit) prefixes |= PrefixBit.ManySegments;
      if ((bit === PrefixBit.Rep && prefixes & PrefixBit.Repne) || (bit === PrefixBit.Repne && prefixes & PrefixBit.Rep)) {
        prefixes |= PrefixBit.ManyReps;
      }
      if (out.rex !== 0) {
        // A REX prefix not immediately before the opcode is ignored by the CPU.
        prefixes |= PrefixBit.RexNotLast;
        out.rex = 0;
      }
      prefixes |= bit;
      out.prefixCount++;
      p++;
      continue;
    }
    if ((b & 0xf0) === 0x40) {
      if (out.rex !== 0) prefixes |= PrefixBit.RexNotLast;
      out.rex = b;
      out.rexCount++;
      p++;
      continue;
    }
    break;
  }
  out.prefixes = prefixes;

  const rexW = (out.rex & 8) !== 0;
  let opcode = code[p] as number;
  p++;
  let space: Space = Space.Legacy;

  // ---- VEX / escapes ---------------------------------------------------------------
  if (opcode === 0xc4 || opcode === 0xc5) {
    // In 64-bit mode C4/C5 always start a VEX prefix.
    if (out.rex !== 0 || prefixes & (PrefixBit.Lock | PrefixBit.OpSize | PrefixBit.Rep | PrefixBit.Repne)) {
      return fail(out, DecodeStatus.Invalid);
    }
    const vexBytes = opcode === 0xc4 ? 3 : 2;
    if (p + vexBytes > hardEnd) return fail(out, p + vexBytes > limit ? DecodeStatus.Truncated : DecodeStatus.TooLong);
    let r: number;
    let x = 0;
    let bb = 0;
    let mapSelect = 1;
    let w = 0;
    let second: number;
    const first = code[p] as number;
    if (opcode === 0xc4) {
      second = code[p + 1] as number;
      r = first & 0x80 ? 0 : 1;
      x = first & 0x40 ? 0 : 1;
      bb = first & 0x20 ? 0 : 1;
      mapSelect = first & 0x1f;
      w = second >> 7;
      opcode = code[p + 2] as number;
    } else {
      second = first;
      r = first & 0x80 ? 0 : 1;
      opcode = code[p + 1] as number;
    }
    p += vexBytes;
    if (mapSelect === 1) space = Space.Vex0F;
    else if (mapSelect === 2) space = Space.Vex0F38;
    else if (mapSelect === 3) space = Space.Vex0F3A;
    else return fail(out, DecodeStatus.Invalid);
    out.vex = true;
    out.vexW = w;
    out.vexL = (second >> 2) & 1;
    out.vvvv = (~second >> 3) & 15;
    // Synthesise a REX-like value so the addressing code is shared.
    out.rex = 0x40 | (w << 3) | (r << 2) | (x << 1) | bb;
    const pp = second & 3;
    out.lastRep = pp === 2 ? 0xf3 : pp === 3 ? 0xf2 : 0;
    if (pp === 1) out.prefixes |= PrefixBit.OpSize;
    out.prefixes |= 0; // keep shape
    prefixes = out.prefixes;
  } else if (opcode === 0x62) {
    return fail(out, DecodeStatus.Unsupported); // EVEX; BOUND does not exist in 64-bit mode
  } else if (opcode === 0x8f && p < limit && (((code[p] as number) >> 3) & 7) !== 0) {
    return fail(out, DecodeStatus.Unsupported); // XOP
  } else if (opcode === 0x0f) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated);
    const second = code[p] as number;
    p++;
    if (second === 0x38 || second === 0x3a) {
      if (p >= limit) return fail(out, DecodeStatus.Truncated);
      space = second === 0x38 ? Space.Map0F38 : Space.Map0F3A;
      opcode = code[p] as number;
      p++;
    } else if (second === 0x0f) {
      space = Space.ThreeDNow;
      opcode = 0x0f;
    } else {
      space = Space.Map0F;
      opcode = second;
    }
  }
  out.space = space;
  out.opcode = opcode;
  if (p > pos + MAX_LENGTH) return fail(out, DecodeStatus.TooLong);

  const vex = out.vex;
  const rex = out.rex;
  const opSize = (prefixes & PrefixBit.OpSize) !== 0;
  const addrBits = prefixes & PrefixBit.AddrSize ? 32 : 64;

  // Mandatory prefix candidate: the last of F2/F3, else 66.
  const mandatory = out.lastRep === 0xf3 ? Prefix.PF3 : out.lastRep === 0xf2 ? Prefix.PF2 : opSize ? Prefix.P66 : Prefix.NP;

  // ---- ModRM, SIB, displacement ---------------------------------------------------------
  const key = space === Space.ThreeDNow ? -1 : space * 256 + opcode;
  const hasModrm = space === Space.ThreeDNow ? true : F.keyHasModrm[key] === 1;
  if (space !== Space.ThreeDNow && F.keyHasModrm[key] === -1) return fail(out, p >= limit ? DecodeStatus.Truncated : DecodeStatus.Invalid);

  if (hasModrm) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated);
    const modrm = code[p] as number;
    p++;
    out.modrm = modrm;
    const mod = modrm >> 6;
    out.mod = mod;
    out.reg = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0);
    out.rm = (modrm & 7) | (rex & 1 ? 8 : 0);
    if (mod !== 3) {
      out.hasMemory = true;
      let rmLow = modrm & 7;
      let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
      if (rmLow === 4) {
        if (p >= limit) return fail(out, DecodeStatus.Truncated);
        const sib = code[p] as number;
        p++;
        out.scale = 1 << (sib >> 6);
        const indexNum = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
        out.index = indexNum === 4 ? REG_NONE : indexNum;
        const baseLow = sib & 7;
        if (baseLow === 5 && mod === 0) {
          out.base = REG_NONE;
          dispSize = 4;
        } else {
          out.base = baseLow | (rex & 1 ? 8 : 0);
        }
        rmLow = baseLow;
      } else if (rmLow === 5 && mod === 0) {
        out.base = REG_RIP;
        dispSize = 4;
      } else {
        out.base = out.rm;
      }
      if (dispSize > 0) {
        if (p + dispSize > limit) return fail(out, DecodeStatus.Truncated);
        out.disp = readSigned(code, p, dispSize);
        out.dispSize = dispSize;
        p += dispSize;
      }
    }
  }
  if (p > pos + MAX_LENGTH) return fail(out, DecodeStatus.TooLong);

  // ---- 3DNow! suffix is the opcode ----------------------------------------------------
  let lookupKey = key;
  if (space === Space.ThreeDNow) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated);
    const suffix = code[p] as number;
    p++;
    out.opcode = suffix;
    lookupKey = Space.ThreeDNow * 256 + suffix;
  }

  // ---- form match -----------------------------------------------------------------------
  const start = F.candidateStart[lookupKey] as number;
  const stop = F.candidateStart[lookupKey + 1] as number;
  const modrmByte = out.modrm;
  const isRegForm = hasModrm && out.mod === 3;
  const wBit = vex ? out.vexW : rexW ? 1 : 0;
  let form = -1;
  for (let i = start; i < stop; i++) {
    const id = F.candidates[i] as number;
    const flags = F.flags[id] as number;
    const fp = F.prefix[id] as number;
    if (vex) {
      if (fp !== mandatory && !(fp === Prefix.NP && mandatory === Prefix.NP)) continue;
      const l = F.vexL[id] as number;
      if (l >= 0 && l !== out.vexL) continue;
      if (!(flags & FormFlag.UsesVvvv) && out.vvvv !== 0) continue;
    } else if (fp === Prefix.None) {
      // 66 is operand size; F2/F3 are repeat prefixes, except in 0F38/0F3A
      // where they always select a different instruction.
      if (out.lastRep !== 0 && (space === Space.Map0F38 || space === Space.Map0F3A)) continue;
    } else if (fp === Prefix.NP) {
      if (opSize || out.lastRep !== 0) continue;
    } else if (fp !== mandatory) {
      continue;
    }
    const fw = F.w[id] as number;
    if (fw >= 0 && fw !== wBit) continue;
    const fr = F.modrmReg[id] as number;
    if (fr >= 0 && ((modrmByte >> 3) & 7) !== fr) continue;
    const lit = F.modrmLiteral[id] as number;
    if (lit >= 0 && (modrmByte < lit || modrmByte >= lit + (F.modrmRange[id] as number))) continue;
    if (flags & FormFlag.MemOnly && isRegForm) continue;
    if (flags & FormFlag.RegOnly && hasModrm && !isRegForm) continue;
    if (space === Space.Legacy && opcode === 0x90) {
      // 90 is nop (or pause) unless REX.B turns it into xchg %r8.
      const plain = (rex & 1) === 0;
      if (flags & FormFlag.OpcodeReg ? plain : !plain) continue;
    }
    form = id;
    break;
  }
  if (form < 0) return fail(out, DecodeStatus.Invalid);
  out.form = form;
  const flags = F.flags[form] as number;

  // Operand size.
  if (flags & FormFlag.StackSized) out.operandBits = opSize ? 16 : 64;
  else out.operandBits = wBit && !vex ? 64 : opSize && (F.prefix[form] as number) !== Prefix.P66 ? 16 : 32;
  if (vex) out.operandBits = wBit ? 64 : 32;

  if (flags & FormFlag.OpcodeReg) out.opcodeRegister = (opcode & 7) | (rex & 1 ? 8 : 0);

  // LOCK: only on lockable forms with a memory destination (the CPU raises #UD otherwise).
  if (prefixes & PrefixBit.Lock && (!(flags & FormFlag.Lock) || !out.hasMemory)) {
    return fail(out, DecodeStatus.BadLock);
  }

  // ---- immediates ------------------------------------------------------------------------
  const count = F.operandCount[form] as number;
  const base = form * MAX_OPERANDS;
  let immIndex = 0;
  for (let i = 0; i < count; i++) {
    const code0 = F.operands[base + i] as number;
    const bytes = immediateBytes(code0, out.operandBits, addrBits);
    if (bytes === 0) continue;
    if (p + bytes > limit) return fail(out, DecodeStatus.Truncated);
    if (p + bytes > pos + MAX_LENGTH) return fail(out, DecodeStatus.TooLong);
    const type = operandType(code0);
    const value = type === OperandType.O || type === OperandType.L ? readUnsigned(code, p, bytes) : readSigned(code, p, bytes);
    if (immIndex === 0) {
      out.imm = value;
      out.immSize = bytes;
      out.immOffset = p;
    } else {
      out.imm2 = value;
      out.imm2Size = bytes;
    }
    immIndex++;
    p += bytes;
    if (type === OperandType.J) out.target = p + value;
  }
  // Relative targets are computed after the whole instruction is known.
  if (flags & FormFlag.Relative) out.target = p + out.imm;
  if (p > hardEnd) return fail(out, p > limit ? DecodeStatus.Truncated : DecodeStatus.TooLong);
  out.length = p - pos;
  return out;
}

function readUnsigned(code: Uint8Array, at: number, size: number): number {
  if (size === 8) return readSigned(code, at, 8) >= 0 ? readSigned(code, at, 8) : readSigned(code, at, 8) + 2 ** 64;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (code[at + i] as number);
  return v;
}

function fail(out: DecodedInstruction, status: DecodeStatus): DecodedInstruction {
  out.status = status;
  out.length = 0;
  return out;
}
