/**
 * The instructions on which NaCl's and ZeroVM 2015's validators disagree,
 * one instance per record in ordinary surroundings, with their near
 * misses: sahf/lahf, rdtsc and cpuid, crc32 with 66 (and movbe, its
 * neighbour), clflush with every kind of memory operand, VEX instructions,
 * and `xchg`/`xadd` of %esp or %ebp with itself followed by a rebase
 * (spec/validator.md, "The policies").
 *
 * Pipeline position: test support only; `families.ts` lists it. Both
 * validators judge every record: each class must be accepted by exactly
 * the policies that accept it.
 */
import { legacy, memoryOperand, sandboxRegister, vex } from './encode.js';
import { Prng, recordsFrom } from './prng.js';
import { placeWithJump, stackSpecial } from './sequences.js';

/** REX bytes worth trying on an instruction: none, empty, W, R, X, B, all. */
function someRex(r: Prng): number[] {
  return r.weighted([[[], 6], [[0x40], 2], [[0x48], 2], [[0x41], 1], [[0x44], 1], [[0x42], 1], [[0x4f], 1], [[0x40 | r.int(16)], 2]] as const).slice();
}

/** Legacy prefixes worth trying: mostly none. */
function somePrefixes(r: Prng): number[] {
  return r.weighted([[[], 10], [[0x66], 2], [[0xf3], 1], [[0xf2], 1], [[0x2e], 1], [[0x67], 1], [[0xf0], 1]] as const).slice();
}

/** A memory operand, after the zero-extension of its index half of the time. */
function memory(r: Prng, encode: (m: ReturnType<typeof memoryOperand>) => number[]): number[] {
  const m = memoryOperand(r);
  const extend = m.index !== null && r.chance(0.5) ? legacy({ opcode: [0x89], reg: m.index, rm: m.index }) : [];
  return [...extend, ...encode(m)];
}

function crc32(r: Prng): number[] {
  const legacyPrefixes = r.weighted([[[0x66, 0xf2], 4], [[0xf2, 0x66], 3], [[0xf2], 3], [[0x66], 1], [[0xf3, 0x66], 1]] as const);
  const rex = someRex(r);
  const op = r.chance(0.8) ? 0xf1 : 0xf0;
  if (r.chance(0.6)) return [...legacyPrefixes, ...rex, 0x0f, 0x38, op, 0xc0 | r.int(64)];
  return memory(r, (m) => legacy({ prefixes: legacyPrefixes, w: rex.length > 0 && ((rex[0] as number) & 8) !== 0, opcode: [0x0f, 0x38, op], reg: r.int(16), rm: m }));
}

function clflush(r: Prng): number[] {
  const prefixes = somePrefixes(r);
  const w = r.chance(0.2);
  if (r.chance(0.1)) return legacy({ prefixes, w, opcode: [0x0f, 0xae], reg: 7, rm: r.int(16) }); // mod = 3: sfence's encoding space
  return memory(r, (m) => legacy({ prefixes, w, rexExtra: r.chance(0.1) ? 4 : 0, opcode: [0x0f, 0xae], reg: r.chance(0.85) ? 7 : r.int(8), rm: m }));
}

/** xchg/xadd of %esp or %ebp with itself (or almost), then a rebase or something else. */
function selfExchange(r: Prng): number[] {
  const reg = r.chance(0.85) ? r.pick([4, 5]) : sandboxRegister(r);
  const other = r.chance(0.85) ? reg : sandboxRegister(r);
  const prefixes = r.weighted([[[], 8], [[0x66], 1], [[0xf0], 1]] as const).slice();
  const rex = r.weighted([[false, 6], [true, 2]] as const);
  const op = r.weighted([[[0x87], 4], [[0x0f, 0xc1], 3], [[0x0f, 0xb1], 1], [[0x86], 1], [[0x0f, 0xc0], 1]] as const);
  const exchange = legacy({ prefixes, rex, w: r.chance(0.1), opcode: op, reg: other, rm: reg });
  const next = r.weighted([['rebase', 6], ['special', 2], ['none', 1], ['nop', 1]] as const);
  if (next === 'none') return exchange;
  if (next === 'nop') return [...exchange, 0x90];
  if (next === 'special') return [...exchange, ...stackSpecial(r)];
  const rebases = reg === 5
    ? [[0x4c, 0x01, 0xfd], [0x49, 0x03, 0xef], [0x4a, 0x8d, 0x6c, 0x3d, 0x00], [0x4a, 0x8d, 0xac, 0x3d, 0, 0, 0, 0], [0x4c, 0x09, 0xfd]]
    : [[0x4c, 0x01, 0xfc], [0x49, 0x03, 0xe7], [0x4c, 0x09, 0xfc], [0x49, 0x0b, 0xe7], [0x4a, 0x8d, 0x24, 0x3c], [0x4a, 0x8d, 0x64, 0x3c, 0x00], [0x4a, 0x8d, 0xa4, 0x3c, 0, 0, 0, 0]];
  return [...exchange, ...r.pick(rebases)];
}

function anyVex(r: Prng): number[] {
  const k = r.int(4);
  if (k === 0) return [0xc5, r.pick([0xf8, 0xfc]), 0x77]; // vzeroupper / vzeroall
  const rm = r.chance(0.5) ? r.int(16) : memoryOperand(r);
  return vex({ map: 1 + r.int(3), pp: r.int(4), l: r.int(2), w: r.chance(0.2) ? 1 : 0, v: r.chance(0.5) ? 0 : r.int(16), opcode: r.pick([0x10, 0x11, 0x28, 0x58, 0x59, 0x6f, 0x7e, 0xef, 0x18, 0x00]), reg: r.int(16), rm });
}

/** One instruction of a class on which the two original validators differ. */
function classInstance(r: Prng): number[] {
  switch (r.weighted([['sahf-lahf', 2], ['rdtsc-cpuid', 2], ['crc32', 3], ['movbe', 1], ['clflush', 4], ['vex', 2], ['self-exchange', 4]] as const)) {
    case 'sahf-lahf': return [...somePrefixes(r), ...someRex(r), r.pick([0x9e, 0x9f])];
    case 'rdtsc-cpuid': return [...somePrefixes(r), ...someRex(r), 0x0f, r.pick([0x31, 0xa2, 0x31])];
    case 'crc32': return crc32(r);
    case 'movbe': return memory(r, (m) => legacy({ prefixes: r.chance(0.5) ? [0x66] : [], w: r.chance(0.3), opcode: [0x0f, 0x38, r.pick([0xf0, 0xf1])], reg: r.int(16), rm: m }));
    case 'clflush': return clflush(r);
    case 'vex': return anyVex(r);
    case 'self-exchange': return selfExchange(r);
  }
}

/** What may surround an instance: ordinary valid instructions. */
const SURROUNDINGS: readonly (readonly number[])[] = [[0x90], [0x89, 0xc0], [0x41, 0x8b, 0x07], [0x48, 0x89, 0xe5], [0x0f, 0x1f, 0x00], [0xf4]];

export function classRecord(r: Prng): Uint8Array {
  const body: number[] = [];
  if (r.chance(0.3)) body.push(...r.pick(SURROUNDINGS));
  body.push(...classInstance(r));
  if (r.chance(0.2)) body.push(...classInstance(r));
  if (r.chance(0.3)) body.push(...r.pick(SURROUNDINGS));
  return placeWithJump(r, body);
}

export function classRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, classRecord);
}
