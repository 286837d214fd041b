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
  FORMS, FormFlag, ImmKind, MAX_OPERANDS, OperandAccess, OperandType, Prefix, Space, operandAccess, operandType,
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
  /**
   * A 64-bit immediate (movabs) as its two 32-bit halves, high signed and
   * low unsigned: `imm` is a double and loses bits past 2^53. Only valid
   * when immSize is 8.
   */
  immHigh = 0;
  immLow = 0;
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

/** A little-endian signed 8/16/32-bit value (always an int32: keeps the JIT on integer paths). */
function readInt(code: Uint8Array, at: number, size: number): number {
  if (size === 1) return ((code[at] as number) << 24) >> 24;
  if (size === 2) return (((code[at] as number) | ((code[at + 1] as number) << 8)) << 16) >> 16;
  return (code[at] as number) | ((code[at + 1] as number) << 8) | ((code[at + 2] as number) << 16) | ((code[at + 3] as number) << 24);
}

/** A little-endian signed 64-bit value as a double (exact up to 2^53). Rare: movabs. */
function readInt64(code: Uint8Array, at: number): number {
  const lo = readInt(code, at, 4) >>> 0;
  return readInt(code, at + 4, 4) * 4294967296 + lo;
}

function readSigned(code: Uint8Array, at: number, size: number): number {
  return size === 8 ? readInt64(code, at) : readInt(code, at, size);
}

const F = FORMS;
// Hot-path tables as module constants (one load instead of two per use).
const KEY_HAS_MODRM = F.keyHasModrm;
const FORM_FLAGS = F.flags;
const FORM_PREFIX = F.prefix;
const FORM_IMMEDIATES = F.immediates;

/**
 * Per form: which ModRM.reg operand names a segment, control or debug
 * register (bits of SPECIAL_*). Not every reg value names one that exists:
 * only es..gs (and cs is read-only), cr0 cr2 cr3 cr4 cr8, dr0..dr7; the CPU
 * raises #UD for the others, so the decoder rejects them.
 */
const SPECIAL_SEG_READ = 1;
const SPECIAL_SEG_WRITE = 2;
const SPECIAL_CONTROL = 4;
const SPECIAL_DEBUG = 8;
const SPECIAL_REGISTERS = (() => {
  const t = new Uint8Array(F.operandCount.length);
  for (let id = 0; id < t.length; id++) {
    const count = F.operandCount[id] as number;
    let bits = 0;
    for (let i = 0; i < count; i++) {
      const code = F.operands[id * MAX_OPERANDS + i] as number;
      const type = operandType(code);
      if (type === OperandType.S) bits |= operandAccess(code) === OperandAccess.Read ? SPECIAL_SEG_READ : SPECIAL_SEG_WRITE;
      else if (type === OperandType.C) bits |= SPECIAL_CONTROL;
      else if (type === OperandType.D) bits |= SPECIAL_DEBUG;
    }
    t[id] = bits;
  }
  return t;
})();

/** Whether ModRM.reg (REX.R applied) names a register that exists for the `SPECIAL_*` kinds in `special`. */
function specialRegisterExists(special: number, reg: number): boolean {
  const seg = reg & 7; // REX.R is ignored for segment registers
  if (special & (SPECIAL_SEG_READ | SPECIAL_SEG_WRITE) && (seg > 5 || (special & SPECIAL_SEG_WRITE && seg === 1))) return false;
  if (special & SPECIAL_CONTROL && reg !== 0 && reg !== 2 && reg !== 3 && reg !== 4 && reg !== 8) return false;
  if (special & SPECIAL_DEBUG && reg > 7) return false;
  return true;
}

/** PrefixBit of each legacy prefix byte, REX_MARK for 40..4F, 0 otherwise. */
const REX_MARK = 0x8000;
const PREFIX_TABLE = (() => {
  const t = new Uint16Array(256);
  t[0xf0] = PrefixBit.Lock;
  t[0xf2] = PrefixBit.Repne;
  t[0xf3] = PrefixBit.Rep;
  t[0x66] = PrefixBit.OpSize;
  t[0x67] = PrefixBit.AddrSize;
  t[0x26] = PrefixBit.SegES;
  t[0x2e] = PrefixBit.SegCS;
  t[0x36] = PrefixBit.SegSS;
  t[0x3e] = PrefixBit.SegDS;
  t[0x64] = PrefixBit.SegFS;
  t[0x65] = PrefixBit.SegGS;
  for (let b = 0x40; b <= 0x4f; b++) t[b] = REX_MARK;
  return t;
})();

/**
 * Memoised form lookup for the legacy, 0F, 0F38, 0F3A and 3DNow! spaces:
 * for each opcode key, 4 prefix classes (none / 66 / F2 last / F3 last) x
 * REX.W x ModRM.reg x register-or-memory form -> form id, or NO_FORM.
 * Filled lazily, one key at a time, by running `matchForm` on every
 * combination; keys whose choice depends on anything else (a literal ModRM
 * byte, REX.B for 90) are marked SLOW and always use `matchForm`.
 */
const SLOTS_PER_KEY = 4 * 2 * 16;
const NOT_COMPUTED = -3;
const NO_FORM = -1;
const FAST_FORM = new Int16Array(Space.Vex0F * 256 * SLOTS_PER_KEY).fill(NOT_COMPUTED);
const FAST_KEY_STATE = new Int8Array(Space.Vex0F * 256); // 0 unknown, 1 fast, 2 slow

function computeFastKey(key: number): void {
  const start = F.candidateStart[key] as number;
  const stop = F.candidateStart[key + 1] as number;
  let slow = key === 0x90;
  for (let i = start; i < stop && !slow; i++) if ((F.modrmLiteral[F.candidates[i] as number] as number) >= 0) slow = true;
  FAST_KEY_STATE[key] = slow ? 2 : 1;
  if (slow) return;
  const space = (key >> 8) as Space;
  const opcode = key & 0xff;
  const hasModrm = space === Space.ThreeDNow || F.keyHasModrm[key] === 1;
  const reps = [0, 0, 0xf2, 0xf3];
  for (let pfx = 0; pfx < 4; pfx++) {
    for (let w = 0; w < 2; w++) {
      for (let reg = 0; reg < 8; reg++) {
        for (let isReg = 0; isReg < 2; isReg++) {
          const modrm = hasModrm ? (isReg ? 0xc0 : 0) | (reg << 3) : -1;
          const form = matchForm(key, space, opcode, false, 0, 0, pfx === 1, reps[pfx] as number, w << 3, w, modrm, hasModrm);
          FAST_FORM[key * SLOTS_PER_KEY + ((pfx * 2 + w) * 16 + reg * 2 + isReg)] = form < 0 ? NO_FORM : form;
        }
      }
    }
  }
}

/**
 * The same memo for VEX keys: pp (4) x W x L x (vvvv unused or used) x
 * ModRM.reg x register-or-memory form.
 */
const VEX_SLOTS_PER_KEY = 4 * 2 * 2 * 2 * 16;
const FAST_VEX_FORM = new Int16Array(3 * 256 * VEX_SLOTS_PER_KEY);
const FAST_VEX_STATE = new Int8Array(3 * 256); // 0 unknown, 1 fast, 2 slow

function computeFastVexKey(key: number): void {
  const index = key - Space.Vex0F * 256;
  const start = F.candidateStart[key] as number;
  const stop = F.candidateStart[key + 1] as number;
  let slow = false;
  for (let i = start; i < stop && !slow; i++) if ((F.modrmLiteral[F.candidates[i] as number] as number) >= 0) slow = true;
  FAST_VEX_STATE[index] = slow ? 2 : 1;
  if (slow) return;
  const space = (key >> 8) as Space;
  const opcode = key & 0xff;
  const hasModrm = F.keyHasModrm[key] === 1;
  const reps = [0, 0, 0xf3, 0xf2];
  for (let pp = 0; pp < 4; pp++) {
    for (let w = 0; w < 2; w++) {
      for (let l = 0; l < 2; l++) {
        for (let v = 0; v < 2; v++) {
          for (let reg = 0; reg < 8; reg++) {
            for (let isReg = 0; isReg < 2; isReg++) {
              const modrm = hasModrm ? (isReg ? 0xc0 : 0) | (reg << 3) : -1;
              const form = matchForm(key, space, opcode, true, l, v, pp === 1, reps[pp] as number, 0x40 | (w << 3), w, modrm, hasModrm);
              FAST_VEX_FORM[index * VEX_SLOTS_PER_KEY + ((((pp * 2 + w) * 2 + l) * 2 + v) * 16 + reg * 2 + isReg)] = form < 0 ? NO_FORM : form;
            }
          }
        }
      }
    }
  }
}

/** Byte size of an immediate of `kind`. */
function immediateBytes(kind: number, operandBits: number, addr32: boolean): number {
  switch (kind) {
    case ImmKind.Byte:
    case ImmKind.RelByte:
    case ImmKind.RegisterByte:
      return 1;
    case ImmKind.Word: return 2;
    case ImmKind.Dword:
    case ImmKind.RelDword:
      return 4;
    case ImmKind.Qword: return 8;
    case ImmKind.Z: return operandBits === 16 ? 2 : 4;
    case ImmKind.V: return operandBits === 16 ? 2 : operandBits === 64 ? 8 : 4;
    case ImmKind.Moffs: return addr32 ? 4 : 8;
    default: return 0;
  }
}

/**
 * Decodes the instruction at `pos`, reading no byte at or after `end`.
 * `out` is overwritten and returned. Fields that only make sense with
 * another field set (memory fields with `hasMemory`, VEX fields with `vex`,
 * immediates with their sizes) are only meaningful in that case.
 */
export function decode(code: Uint8Array, pos: number, end: number, out: DecodedInstruction): DecodedInstruction {
  const limit = end < code.length ? end : code.length;
  out.offset = pos;
  out.length = 0;
  out.form = -1;
  out.opcode = -1;
  out.space = Space.Legacy;
  out.vex = false;
  out.vexL = 0;
  out.vexW = 0;
  out.vvvv = 0;
  out.modrm = -1;
  out.hasMemory = false;
  // Set only once the whole address (SIB and displacement) is read, so that
  // a failed decode tells whether it got that far.
  out.index = REG_NONE;
  out.immSize = 0;
  out.imm2Size = 0;

  let p = pos;
  let prefixes = 0;
  let prefixCount = 0;
  let lastRep = 0;
  let rex = 0;
  let rexCount = 0;

  // ---- legacy prefixes and REX ---------------------------------------------------
  for (;;) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    if (p - pos >= MAX_LENGTH) return fail(out, DecodeStatus.TooLong, prefixes, rex, rexCount, lastRep);
    const b = code[p] as number;
    const bit = PREFIX_TABLE[b] as number;
    if (bit === 0) break;
    p++;
    if (bit === REX_MARK) {
      if (rex !== 0) prefixes |= PrefixBit.RexNotLast;
      rex = b;
      rexCount++;
      continue;
    }
    if (prefixes & bit) prefixes |= PrefixBit.Duplicate;
    if (bit & SEGMENT_PREFIX_MASK && prefixes & SEGMENT_PREFIX_MASK & ~bit) prefixes |= PrefixBit.ManySegments;
    if (bit === PrefixBit.Rep || bit === PrefixBit.Repne) {
      if (prefixes & (PrefixBit.Rep | PrefixBit.Repne) & ~bit) prefixes |= PrefixBit.ManyReps;
      lastRep = b;
    }
    if (rex !== 0) {
      // A REX prefix not immediately before the opcode is ignored by the CPU.
      prefixes |= PrefixBit.RexNotLast;
      rex = 0;
    }
    prefixes |= bit;
    prefixCount++;
  }

  let opcode = code[p] as number;
  p++;
  let space: Space = Space.Legacy;
  let vex = false;
  let vexL = 0;
  let vexW = 0;
  let vvvv = 0;

  // ---- VEX / escapes ---------------------------------------------------------------
  if (opcode === 0x0f) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    const second = code[p] as number;
    p++;
    if (second === 0x38 || second === 0x3a) {
      if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
      space = second === 0x38 ? Space.Map0F38 : Space.Map0F3A;
      opcode = code[p] as number;
      p++;
    } else if (second === 0x0f) {
      space = Space.ThreeDNow;
    } else {
      space = Space.Map0F;
      opcode = second;
    }
  } else if (opcode === 0xc4 || opcode === 0xc5) {
    // In 64-bit mode C4/C5 always start a VEX prefix.
    if (rex !== 0 || prefixes & (PrefixBit.Lock | PrefixBit.OpSize | PrefixBit.Rep | PrefixBit.Repne)) {
      return fail(out, DecodeStatus.Invalid, prefixes, rex, rexCount, lastRep);
    }
    const vexBytes = opcode === 0xc4 ? 3 : 2;
    if (p + vexBytes > limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    const first = code[p] as number;
    let second: number;
    let mapSelect = 1;
    let x = 0;
    let bb = 0;
    if (opcode === 0xc4) {
      second = code[p + 1] as number;
      x = first & 0x40 ? 0 : 1;
      bb = first & 0x20 ? 0 : 1;
      mapSelect = first & 0x1f;
      vexW = second >> 7;
      opcode = code[p + 2] as number;
    } else {
      second = first;
      opcode = code[p + 1] as number;
    }
    p += vexBytes;
    if (mapSelect === 1) space = Space.Vex0F;
    else if (mapSelect === 2) space = Space.Vex0F38;
    else if (mapSelect === 3) space = Space.Vex0F3A;
    else return fail(out, DecodeStatus.Invalid, prefixes, rex, rexCount, lastRep);
    vex = true;
    vexL = (second >> 2) & 1;
    vvvv = (~second >> 3) & 15;
    // A REX-like value so the addressing code is shared.
    rex = 0x40 | (vexW << 3) | (first & 0x80 ? 0 : 4) | (x << 1) | bb;
    const pp = second & 3;
    lastRep = pp === 2 ? 0xf3 : pp === 3 ? 0xf2 : 0;
    if (pp === 1) prefixes |= PrefixBit.OpSize;
  } else if (opcode === 0x62) {
    return fail(out, DecodeStatus.Unsupported, prefixes, rex, rexCount, lastRep); // EVEX (BOUND does not exist in 64-bit mode)
  } else if (opcode === 0x8f && p < limit && (((code[p] as number) >> 3) & 7) !== 0) {
    return fail(out, DecodeStatus.Unsupported, prefixes, rex, rexCount, lastRep); // XOP
  }
  out.space = space;
  out.opcode = opcode;
  out.prefixes = prefixes;
  out.prefixCount = prefixCount;
  out.lastRep = lastRep;
  out.rex = rex;
  out.rexCount = rexCount;
  if (vex) {
    out.vex = true;
    out.vexL = vexL;
    out.vexW = vexW;
    out.vvvv = vvvv;
  }
  if (p - pos > MAX_LENGTH) return fail(out, DecodeStatus.TooLong, prefixes, rex, rexCount, lastRep);

  const opSize = (prefixes & PrefixBit.OpSize) !== 0;
  const addr32 = (prefixes & PrefixBit.AddrSize) !== 0;

  // ---- ModRM, SIB, displacement ---------------------------------------------------------
  const key = space * 256 + opcode;
  let hasModrm: boolean;
  if (space === Space.ThreeDNow) hasModrm = true;
  else {
    const h = KEY_HAS_MODRM[key] as number;
    if (h < 0) return fail(out, DecodeStatus.Invalid, prefixes, rex, rexCount, lastRep);
    hasModrm = h === 1;
  }
  let modrm = -1;
  let mod = 0;
  if (hasModrm) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    modrm = code[p] as number;
    p++;
    out.modrm = modrm;
    mod = modrm >> 6;
    out.mod = mod;
    out.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
    const rm = (modrm & 7) | ((rex & 1) << 3);
    out.rm = rm;
    if (mod !== 3) {
      out.hasMemory = true;
      let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
      let base = rm;
      let index = REG_NONE;
      let scale = 1;
      const rmLow = modrm & 7;
      if (rmLow === 4) {
        if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
        const sib = code[p] as number;
        p++;
        scale = 1 << (sib >> 6);
        const indexNum = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (indexNum !== 4) index = indexNum;
        const baseLow = sib & 7;
        if (baseLow === 5 && mod === 0) {
          base = REG_NONE;
          dispSize = 4;
        } else {
          base = baseLow | ((rex & 1) << 3);
        }
      } else if (rmLow === 5 && mod === 0) {
        base = REG_RIP;
        dispSize = 4;
      }
      out.base = base;
      out.scale = scale;
      out.dispSize = dispSize;
      if (dispSize > 0) {
        if (p + dispSize > limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
        out.disp = readInt(code, p, dispSize);
        p += dispSize;
      } else {
        out.disp = 0;
      }
      // Last: a failed decode has an index only when the whole address was read.
      out.index = index;
    }
  }

  // ---- 3DNow! suffix is the opcode ----------------------------------------------------
  let lookupKey = key;
  if (space === Space.ThreeDNow) {
    if (p >= limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    const suffix = code[p] as number;
    p++;
    out.opcode = suffix;
    lookupKey = Space.ThreeDNow * 256 + suffix;
  }

  // ---- form match -----------------------------------------------------------------------
  const wBit = (rex & 8) >> 3;
  let form: number;
  if (vex) {
    const index = lookupKey - Space.Vex0F * 256;
    let state = FAST_VEX_STATE[index] as number;
    if (state === 0) {
      computeFastVexKey(lookupKey);
      state = FAST_VEX_STATE[index] as number;
    }
    if (state === 1) {
      const pp = lastRep === 0xf3 ? 2 : lastRep === 0xf2 ? 3 : opSize ? 1 : 0;
      const slot = (((pp * 2 + wBit) * 2 + vexL) * 2 + (vvvv === 0 ? 0 : 1)) * 16 + (hasModrm ? ((modrm >> 2) & 14) | (mod === 3 ? 1 : 0) : 0);
      form = FAST_VEX_FORM[index * VEX_SLOTS_PER_KEY + slot] as number;
    } else {
      form = matchForm(lookupKey, space, opcode, vex, vexL, vvvv, opSize, lastRep, rex, wBit, modrm, hasModrm);
    }
  } else {
    let state = FAST_KEY_STATE[lookupKey] as number;
    if (state === 0) {
      computeFastKey(lookupKey);
      state = FAST_KEY_STATE[lookupKey] as number;
    }
    if (state === 1) {
      const pfx = lastRep === 0xf3 ? 3 : lastRep === 0xf2 ? 2 : opSize ? 1 : 0;
      const slot = (pfx * 2 + wBit) * 16 + (hasModrm ? ((modrm >> 2) & 14) | (mod === 3 ? 1 : 0) : 0);
      form = FAST_FORM[lookupKey * SLOTS_PER_KEY + slot] as number;
    } else {
      form = matchForm(lookupKey, space, opcode, vex, vexL, vvvv, opSize, lastRep, rex, wBit, modrm, hasModrm);
    }
  }
  if (form < 0) return fail(out, DecodeStatus.Invalid, prefixes, rex, rexCount, lastRep);
  out.form = form;
  const flags = FORM_FLAGS[form] as number;

  // Operand size.
  let operandBits: number;
  if (vex) operandBits = wBit ? 64 : 32;
  // Stack operations are 64-bit; 66 makes them 16-bit unless REX.W is also present.
  else if (flags & FormFlag.StackSized) operandBits = opSize && !wBit ? 16 : 64;
  else operandBits = wBit ? 64 : opSize && (FORM_PREFIX[form] as number) !== Prefix.P66 ? 16 : 32;
  out.operandBits = operandBits;

  if (flags & FormFlag.OpcodeReg) out.opcodeRegister = (opcode & 7) | ((rex & 1) << 3);

  const special = SPECIAL_REGISTERS[form] as number;
  if (special !== 0 && !specialRegisterExists(special, out.reg)) return fail(out, DecodeStatus.Invalid, prefixes, rex, rexCount, lastRep);

  // LOCK: only on lockable forms with a memory destination (the CPU raises #UD otherwise).
  if (prefixes & PrefixBit.Lock && (!(flags & FormFlag.Lock) || mod === 3 || !hasModrm)) {
    return fail(out, DecodeStatus.BadLock, prefixes, rex, rexCount, lastRep);
  }

  // ---- immediates ------------------------------------------------------------------------
  const kind1 = FORM_IMMEDIATES[form * 2] as number;
  if (kind1 !== ImmKind.None) {
    const bytes = immediateBytes(kind1, operandBits, addr32);
    if (p + bytes > limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
    out.immOffset = p;
    out.imm = kind1 === ImmKind.Moffs || kind1 === ImmKind.RegisterByte ? readUnsigned(code, p, bytes) : readSigned(code, p, bytes);
    out.immSize = bytes;
    if (bytes === 8) {
      out.immHigh = readInt(code, p + 4, 4);
      out.immLow = readInt(code, p, 4) >>> 0;
    }
    p += bytes;
    const kind2 = FORM_IMMEDIATES[form * 2 + 1] as number;
    if (kind2 !== ImmKind.None) {
      const bytes2 = immediateBytes(kind2, operandBits, addr32);
      if (p + bytes2 > limit) return fail(out, DecodeStatus.Truncated, prefixes, rex, rexCount, lastRep);
      out.imm2 = readSigned(code, p, bytes2);
      out.imm2Size = bytes2;
      p += bytes2;
    }
    // Relative targets count from the end of the instruction.
    if (kind1 === ImmKind.RelByte || kind1 === ImmKind.RelDword) out.target = p + out.imm;
  }
  if (p - pos > MAX_LENGTH) return fail(out, DecodeStatus.TooLong, prefixes, rex, rexCount, lastRep);
  out.status = DecodeStatus.Ok;
  out.length = p - pos;
  return out;
}

/** Finds the form for `key` among its candidates, or -1. */
function matchForm(
  key: number, space: Space, opcode: number, vex: boolean, vexL: number, vvvv: number,
  opSize: boolean, lastRep: number, rex: number, wBit: number, modrm: number, hasModrm: boolean,
): number {
  // Mandatory prefix candidate: the last of F2/F3, else 66.
  const mandatory = lastRep === 0xf3 ? Prefix.PF3 : lastRep === 0xf2 ? Prefix.PF2 : opSize ? Prefix.P66 : Prefix.NP;
  const isRegForm = hasModrm && modrm >> 6 === 3;
  const start = F.candidateStart[key] as number;
  const stop = F.candidateStart[key + 1] as number;
  for (let i = start; i < stop; i++) {
    const id = F.candidates[i] as number;
    const flags = F.flags[id] as number;
    const fp = F.prefix[id] as number;
    if (vex) {
      if (fp !== mandatory) continue;
      const l = F.vexL[id] as number;
      if (l >= 0 && l !== vexL) continue;
      // An unused VEX.vvvv must be 1111 (else #UD), except on the few forms
      // whose NaCl definition ignores it (`anyvvvv`).
      if (!(flags & (FormFlag.UsesVvvv | FormFlag.AnyVvvv)) && vvvv !== 0) continue;
    } else if (fp === Prefix.None) {
      // 66 is operand size; F2/F3 are repeat prefixes, except in 0F38/0F3A
      // where they always select a different instruction.
      if (lastRep !== 0 && (space === Space.Map0F38 || space === Space.Map0F3A)) continue;
    } else if (fp === Prefix.NP) {
      if (opSize || lastRep !== 0) continue;
    } else if (fp !== mandatory) {
      continue;
    }
    const fw = F.w[id] as number;
    if (fw >= 0 && fw !== wBit) continue;
    const fr = F.modrmReg[id] as number;
    if (fr >= 0 && ((modrm >> 3) & 7) !== fr) continue;
    const lit = F.modrmLiteral[id] as number;
    if (lit >= 0 && (modrm < lit || modrm >= lit + (F.modrmRange[id] as number))) continue;
    if (flags & FormFlag.MemOnly && isRegForm) continue;
    if (flags & FormFlag.RegOnly && hasModrm && !isRegForm) continue;
    if (space === Space.Legacy && opcode === 0x90 && fp !== Prefix.PF3) {
      // 90 is nop unless REX.B turns it into xchg %r8; F3 90 is pause even with REX.B.
      const plain = (rex & 1) === 0;
      if (flags & FormFlag.OpcodeReg ? plain : !plain) continue;
    }
    return id;
  }
  return -1;
}

function readUnsigned(code: Uint8Array, at: number, size: number): number {
  if (size === 8) {
    const v = readInt64(code, at);
    return v >= 0 ? v : v + 2 ** 64;
  }
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (code[at + i] as number);
  return v;
}

function fail(out: DecodedInstruction, status: DecodeStatus, prefixes: number, rex: number, rexCount: number, lastRep: number): DecodedInstruction {
  out.status = status;
  out.length = 0;
  out.prefixes = prefixes;
  out.rex = rex;
  out.rexCount = rexCount;
  out.lastRep = lastRep;
  return out;
}
