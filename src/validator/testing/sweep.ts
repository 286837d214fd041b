/**
 * The opcode-space sweep: single instructions drawn from every opcode map
 * (one-byte, 0F, 0F 38, 0F 3A, 3DNow!, VEX2 and VEX3 with every field
 * value, EVEX and XOP prefix bytes), under every legacy prefix combination
 * (repeats, orders, REX before and after other prefixes), with every ModRM,
 * SIB and displacement form and random immediates — for the differential
 * test against the reference validators.
 *
 * Pipeline position: test support only; `families.ts` lists it.
 *
 * Each record is one instruction, placed so that a disagreement about its
 * *length* shows as a verdict or offset difference too: at the start of
 * the bundle, or ending exactly at the bundle end (a longer reading then
 * crosses the bundle), or jumped over by a `jmp` to its end (a different
 * end is then a bad jump target). The length is our decoder's; when it
 * cannot decode the bytes, they are placed as they are. Bytes are chosen
 * with a bias towards what matters to the sandbox (registers 4, 5, 15 in
 * ModRM fields, mod 3, zero displacements) without excluding anything.
 */
import { DecodedInstruction, DecodeStatus, decode } from '../decoder.js';
import { Prng, recordsFrom } from './prng.js';

const LEGACY_PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65];
const COMMON_PREFIXES = [0x66, 0xf2, 0xf3, 0xf0];

/** Legacy prefixes and REX, in an order that is usually, not always, canonical. */
function prefixBytes(r: Prng): number[] {
  const out: number[] = [];
  if (!r.chance(0.45)) {
    const n = r.weighted([[1, 6], [2, 3], [3, 1], [4, 1]] as const);
    for (let i = 0; i < n; i++) out.push(r.chance(0.6) ? r.pick(COMMON_PREFIXES) : r.pick(LEGACY_PREFIXES));
  }
  if (r.chance(0.5)) {
    const rex = 0x40 | r.int(16);
    if (out.length > 0 && r.chance(0.08)) out.splice(r.int(out.length), 0, rex); // REX not last
    else out.push(rex);
    if (r.chance(0.03)) out.push(0x40 | r.int(16)); // two REX
  }
  return out;
}

/** A ModRM byte biased to the sandbox's registers, then SIB and displacement as it implies. */
function modrmBytes(r: Prng): number[] {
  const mod = r.weighted([[3, 4], [0, 3], [1, 2], [2, 1]] as const);
  const field = (): number => (r.chance(0.4) ? r.pick([4, 5, 7, 0]) : r.int(8));
  const reg = field();
  const rm = r.chance(0.15) ? 4 : r.chance(0.1) ? 5 : field();
  const out = [(mod << 6) | (reg << 3) | rm];
  if (mod !== 3 && rm === 4) out.push((r.int(4) << 6) | (field() << 3) | (r.chance(0.2) ? 5 : field()));
  const dispSize = mod === 1 ? 1 : mod === 2 ? 4 : mod === 0 && rm === 5 ? 4 : mod === 0 && rm === 4 && ((out[1] as number) & 7) === 5 ? 4 : 0;
  out.push(...r.bytes(dispSize, 0.5));
  return out;
}

/** Opcode bytes of one map, then ModRM etc. (as if the form had one). */
function opcodeAndOperands(r: Prng): number[] {
  const map = r.weighted([['legacy', 30], ['0F', 25], ['0F38', 8], ['0F3A', 8], ['3DNow', 3], ['vex2', 10], ['vex3', 12], ['evex', 2], ['xop', 2]] as const);
  const operands = (): number[] => modrmBytes(r);
  switch (map) {
    case 'legacy': return [r.byte(), ...operands()];
    case '0F': return [0x0f, r.byte(), ...operands()];
    case '0F38': return [0x0f, 0x38, r.byte(), ...operands()];
    case '0F3A': return [0x0f, 0x3a, r.byte(), ...operands()];
    case '3DNow': return [0x0f, 0x0f, ...operands(), r.byte()];
    case 'vex2': return [0xc5, r.byte(), r.byte(), ...operands()];
    case 'vex3': {
      const mapField = r.chance(0.85) ? 1 + r.int(3) : r.int(32);
      return [0xc4, (r.int(8) << 5) | mapField, r.byte(), r.byte(), ...operands()];
    }
    case 'evex': return [0x62, r.byte(), r.byte(), r.byte(), r.byte(), ...operands()];
    case 'xop': return [0x8f, (r.int(8) << 5) | (r.chance(0.8) ? 8 + r.int(3) : r.int(32)), r.byte(), r.byte(), ...operands()];
  }
}

const scratch = new DecodedInstruction();

/** One sweep record (not padded). */
export function sweepRecord(r: Prng): Uint8Array {
  const candidate = [...prefixBytes(r), ...opcodeAndOperands(r), ...r.bytes(r.int(6), 0.3)];
  const bytes = Uint8Array.from(candidate);
  const padded = new Uint8Array(32).fill(0xf4);
  padded.set(bytes.subarray(0, 32));
  decode(padded, 0, 32, scratch);
  if (scratch.status !== DecodeStatus.Ok) return bytes;
  const length = scratch.length;
  // Keep the rest of the random bytes sometimes: they become the next instruction.
  // (The decoded length may include hlt bytes of the padding, read as an immediate.)
  const insn = r.chance(0.25) && bytes.length > length ? bytes : padded.slice(0, length);
  const placement = r.int(3);
  if (placement === 0 || insn.length > 30) return insn;
  if (placement === 1) {
    // End exactly at the bundle end: a longer reading of the bytes crosses it.
    const out = new Uint8Array(32).fill(0x90);
    out.set(insn.subarray(0, length), 32 - length);
    return out;
  }
  // jmp over the instruction to its end: a different end is a bad jump target.
  const out = new Uint8Array(2 + insn.length);
  out[0] = 0xeb;
  out[1] = length;
  out.set(insn, 2);
  return out;
}

/** `count` sweep records, deterministic in `seed`. */
export function sweepRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, sweepRecord);
}
