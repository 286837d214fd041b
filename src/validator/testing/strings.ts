/**
 * String instructions and maskmov with sandboxing in ZeroVM 2015's general
 * form (a 64-bit `lea` into %rsi/%rdi from a sandbox base, spec/validator.md
 * "Superinstructions") and every near miss: any destination, base, index,
 * scale and displacement, the instruction before each `lea` (the identity
 * move an index needs, other zero-extensions, anything), what stands
 * between the two `lea`s of movs/cmps (including writes of %rsi), the
 * order of the pieces, and every prefix set on the string instruction.
 *
 * Pipeline position: test support only; `families.ts` lists it. NaCl's
 * validator judges the same records (it accepts only its fixed sequences,
 * which are among them).
 */
import { legacy, type MemoryOperand } from './encode.js';
import { Prng, recordsFrom } from './prng.js';
import { placeWithJump, writeOf } from './sequences.js';

const RSI = 6;
const RDI = 7;

/** The memory operand of a sandboxing lea: mostly a sandbox base, any index, scale and displacement. */
function leaAddress(r: Prng, dest: number): MemoryOperand {
  const base = r.weighted<number | 'rip' | 'none'>([[15, 12], [4, 3], [5, 3], ['rip', 3], ['none', 1], [13, 1], [dest, 1], [r.int(16), 1]]);
  if (base === 'rip') return { base, index: null, scale: 0, disp: r.chance(0.5) ? 0 : r.int(0x100000000) | 0 };
  const index = r.weighted<number | null>([[null, 6], [dest, 4], [r.int(16), 3], [15, 1], [4, 1]]);
  const disp = r.weighted([[0, 5], [1, 2], [2, 2]] as const);
  return {
    base, index, scale: r.int(4) as 0 | 1 | 2 | 3,
    disp: disp === 0 ? 0 : disp === 1 ? r.int(256) - 128 : r.int(0x100000000) | 0,
    dispSize: r.chance(0.15) ? r.pick([0, 1, 4] as const) : undefined,
  };
}

/** `lea ADDR,%rDEST` as ZeroVM wants it (REX.W, no prefix), or a near miss. */
function sandboxingLea(r: Prng, dest: number): { bytes: number[]; index: number | null } {
  const target = r.chance(0.96) ? dest : r.int(16);
  const m = leaAddress(r, target);
  const prefixes = r.chance(0.03) ? [r.pick([0x66, 0x67, 0x2e, 0xf3, 0xf2, 0x3e])] : [];
  const bytes = legacy({ prefixes, w: r.chance(0.96), rexExtra: r.chance(0.05) ? r.pick([1, 2]) : 0, opcode: [0x8d], reg: target, rm: m });
  return { bytes, index: m.base === 'rip' ? null : m.index };
}

/** `mov %eX,%eX` in any of its encodings (89 or 8B, REX bits that do not change it). */
function identityMove(r: Prng, reg: number): number[] {
  return legacy({ rex: r.chance(0.1), rexExtra: r.chance(0.1) ? 2 : 0, opcode: [r.pick([0x89, 0x8b])], reg, rm: reg });
}

/** What comes right before a lea whose index is `index` (null: none). */
function beforeLea(r: Prng, index: number | null): number[] {
  const reg = index === null || index === 4 ? r.int(16) : index;
  switch (r.weighted([['identity', index === null ? 2 : 16], ['other-zx', 2], ['wide', 1], ['other-register', 1], ['filler', 3], ['none', 1]] as const)) {
    case 'identity': return identityMove(r, reg);
    case 'other-zx': return r.pick([
      () => legacy({ opcode: [0x89], reg: r.int(16), rm: reg }), // mov %eY,%eX
      () => legacy({ opcode: [0x31], reg, rm: reg }), // xor %eX,%eX
      () => legacy({ opcode: [0x83], reg: 0, rm: reg, imm: [0] }), // add $0,%eX
      () => legacy({ opcode: [0x8d], reg, rm: { base: reg, index: null, scale: 0, disp: 0 } }), // lea (%rX),%eX
      () => legacy({ prefixes: [0x66], opcode: [0x89], reg, rm: reg }), // mov %X,%X (16-bit)
    ])();
    case 'wide': return legacy({ w: true, opcode: [r.pick([0x89, 0x8b])], reg, rm: reg });
    case 'other-register': return identityMove(r, (reg + 1 + r.int(15)) & 15);
    case 'filler': return filler(r);
    case 'none': return [];
  }
}

/** Any instruction: nops, hlt, ordinary moves, jumps. */
function filler(r: Prng): number[] {
  return r.pick([[0x90], [0xf4], [0x66, 0x90], [0x0f, 0x1f, 0x00], [0x89, 0xc0], [0x48, 0x89, 0xc0], [0x0f, 0xa2], [0x83, 0xe0, 0xe0], [0xeb, 0x00]]);
}

/** What stands between the two leas of movs/cmps when the %rdi lea has no index. */
function between(r: Prng): number[] {
  switch (r.weighted([['filler', 8], ['rsi', 4], ['rdi', 2], ['write', 3], ['lods', 2], ['none', 1]] as const)) {
    case 'filler': return filler(r);
    case 'rsi': return r.pick([
      () => identityMove(r, RSI),
      () => legacy({ w: true, opcode: [0x89], reg: r.int(16), rm: RSI }), // mov %rX,%rsi
      () => legacy({ rex: true, opcode: [0xb6], imm: [1] }), // mov $1,%sil
      () => [0x5e], // pop %rsi
      () => legacy({ w: r.chance(0.5), opcode: [0x83], reg: 0, rm: RSI, imm: [8] }), // add $8,%(e|r)si
      () => legacy({ w: true, opcode: [0x87], reg: RSI, rm: r.int(16) }), // xchg
      () => legacy({ prefixes: [0x66], opcode: [0x89], reg: 0, rm: RSI }), // mov %ax,%si
    ])();
    case 'rdi': return r.chance(0.5) ? identityMove(r, RDI) : legacy({ w: true, opcode: [0x89], reg: r.int(16), rm: RDI });
    case 'write': return writeOf(r, r.int(16), r.pick([8, 16, 32, 64] as const));
    case 'lods': return [r.pick([0xac, 0xad])]; // a lods, sandboxed by the %rsi lea before it
    case 'none': return [];
  }
}

/** A safe (or nearly safe) lea into `dest` with what must come before it. */
function sandbox(r: Prng, dest: number): number[] {
  const lea = sandboxingLea(r, dest);
  return [...beforeLea(r, lea.index), ...lea.bytes];
}

/** The prefix sets ZeroVM and NaCl accept on string instructions, and their near misses. */
const PREFIX_SETS: readonly (readonly number[])[] = [
  [], [], [], [], [], [], [], [], [0xf3], [0xf3], [0xf3], [0xf3], [0xf2], [0xf2], [0xf2], [0x66], [0x66], [0x66], [0x48], [0xf3, 0x48], [0xf2, 0x48], [0x66, 0xf3], [0xf3, 0x66],
  [0x2e], [0x3e], [0x26], [0x64], [0x67], [0xf0], [0xf3, 0xf3], [0x66, 0x66], [0xf2, 0xf3],
];

function stringPrefixes(r: Prng): number[] {
  const set = [...r.pick(PREFIX_SETS)];
  // A REX prefix of any value, usually last; sometimes before a legacy prefix or twice.
  if (r.chance(0.4)) {
    const rex = 0x40 | r.int(16);
    if (set.length > 0 && r.chance(0.1)) set.unshift(rex);
    else set.push(rex);
    if (r.chance(0.05)) set.push(0x40 | r.int(16));
  }
  return set;
}

/** One string or maskmov instruction with its (ZeroVM-style) sandboxing, complete or not. */
export function stringRecord(r: Prng): Uint8Array {
  const kind = r.weighted([['movs-cmps', 5], ['stos-scas', 3], ['lods', 2], ['maskmov', 1]] as const);
  const body: number[] = [];
  let op: number[];
  if (kind === 'maskmov') {
    const rex = r.chance(0.4) ? [0x40 | r.int(16)] : [];
    const extra = r.chance(0.1) ? [r.pick([0xf3, 0xf2, 0x2e, 0x67, 0x66])] : [];
    op = r.chance(0.5) ? [...extra, ...rex, 0x0f, 0xf7, 0xc0 | r.int(64)] : [...extra, 0x66, ...rex, 0x0f, 0xf7, 0xc0 | r.int(64)];
  } else {
    const opcodes = kind === 'movs-cmps' ? [0xa4, 0xa5, 0xa6, 0xa7] : kind === 'stos-scas' ? [0xaa, 0xab, 0xae, 0xaf] : [0xac, 0xad];
    op = [...stringPrefixes(r), r.pick(opcodes)];
  }
  if (kind === 'movs-cmps') {
    const order = r.weighted([['rsi-rdi', 20], ['rdi-rsi', 1], ['rsi-only', 1], ['rdi-only', 1]] as const);
    const rsi = sandboxingLea(r, RSI);
    const rdi = sandboxingLea(r, RDI);
    const first = order === 'rdi-rsi' || order === 'rdi-only' ? rdi : rsi;
    const second = order === 'rdi-rsi' ? rsi : rdi;
    if (order !== 'rdi-only') body.push(...beforeLea(r, first.index), ...first.bytes);
    // The instruction between: the identity move the second lea's index needs, or anything.
    const middle = second.index !== null && r.chance(0.8) ? beforeLea(r, second.index) : between(r);
    if (order !== 'rsi-only') body.push(...middle, ...second.bytes);
  } else {
    body.push(...sandbox(r, kind === 'lods' ? RSI : RDI));
  }
  if (r.chance(0.05)) body.push(...filler(r)); // something between the lea and the instruction
  body.push(...op);
  if (r.chance(0.2)) body.unshift(...filler(r));
  return placeWithJump(r, body, 0.35);
}

export function stringRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, stringRecord);
}
