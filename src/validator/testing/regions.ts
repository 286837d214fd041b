/**
 * Code regions of every length: what ZeroVM 2015's region model is about
 * (spec/validator.md, "Bundles"). Valid instructions laid out in bundles,
 * then a tail — nothing, a run of hlt of any length around the 16 bytes
 * ZeroVM trims after, nops, padding to whole bundles — sometimes cut at any
 * byte (inside an instruction too), with direct jumps to the places that
 * matter: the region's end and the bytes around it, the padding, the hlt
 * tail (aligned or not), the start of the trimmed part, instruction starts.
 * Also the empty region and regions of hlt alone.
 *
 * Pipeline position: test support only; `families.ts` lists it. The
 * records are given to zvm-validate as they are and to ncval padded with
 * hlt to whole bundles (oracles.ts), as each policy reads a region.
 */
import { le } from './encode.js';
import { Prng, recordsFrom } from './prng.js';

/** Valid instructions that are not jumps. */
const PIECES: readonly (readonly number[])[] = [
  [0x90], [0xf4], [0x89, 0xc0], [0x41, 0x8b, 0x07], [0x48, 0x89, 0xe5], [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0xb8, 0xf4, 0xf4, 0xf4, 0xf4], [0x89, 0xc0, 0x49, 0x8b, 0x04, 0x07], [0x66, 0x90], [0x83, 0xe0, 0xe0, 0x4c, 0x01, 0xf8, 0xff, 0xe0],
];

const BUNDLE = 32;

/** Where ZeroVM's hlt trimming starts for `bytes` (validate.ts, haltTrimmedLength; repeated here independently). */
function trimStart(bytes: readonly number[]): number {
  let last = bytes.length - 1;
  while (last > 0 && bytes[last] === 0xf4) last--;
  if (bytes.length - 1 - last <= 16) return bytes.length;
  return Math.min(Math.ceil((last + 17) / BUNDLE) * BUNDLE, bytes.length);
}

function regionRecord(r: Prng): Uint8Array {
  const special = r.int(40);
  if (special === 0) return new Uint8Array(0);
  if (special === 1) return new Uint8Array(1 + r.int(100)).fill(0xf4);
  const bytes: number[] = [];
  const jumps: { at: number; size: number }[] = [];
  const starts: number[] = [0];
  const place = (piece: readonly number[]): void => {
    // Like an assembler: no instruction crosses a bundle end.
    const room = BUNDLE - (bytes.length % BUNDLE);
    if (piece.length > room) for (let i = 0; i < room; i++) bytes.push(r.chance(0.5) ? 0x90 : 0xf4);
    starts.push(bytes.length);
    bytes.push(...piece);
  };
  const count = 1 + r.int(12);
  for (let i = 0; i < count; i++) {
    if (jumps.length < 3 && r.chance(0.35)) {
      const opcode = r.weighted([[[0xe9], 4], [[0xe8], 1], [[0x0f, 0x80 | r.int(16)], 2]] as const);
      place([...opcode, 0, 0, 0, 0]);
      jumps.push({ at: bytes.length - opcode.length - 4, size: opcode.length + 4 });
    } else {
      place(r.pick(PIECES));
    }
  }
  // The tail.
  switch (r.weighted([['none', 2], ['halts', 6], ['nops', 1], ['bundle', 2]] as const)) {
    case 'halts': {
      const n = r.weighted([[r.int(16), 2], [14 + r.int(6), 3], [r.int(70), 3]] as const);
      for (let i = 0; i < n; i++) bytes.push(0xf4);
      break;
    }
    case 'nops': for (let i = r.int(40); i > 0; i--) bytes.push(0x90); break;
    case 'bundle': {
      const fill = r.chance(0.7) ? 0xf4 : 0x90;
      while (bytes.length === 0 || bytes.length % BUNDLE !== 0) bytes.push(fill);
      if (r.chance(0.3)) for (let i = 0; i < BUNDLE; i++) bytes.push(fill);
      break;
    }
    case 'none': break;
  }
  // Sometimes cut it anywhere (inside an instruction, or a jump's displacement).
  if (r.chance(0.15) && bytes.length > 1) bytes.length = 1 + r.int(bytes.length - 1);
  const length = bytes.length;
  const trimmed = trimStart(bytes);
  for (const jump of jumps) {
    if (jump.at + jump.size > length) continue;
    const target = r.weighted([
      [length, 3], [length - 1, 1], [length + 1, 1], [Math.ceil(length / BUNDLE) * BUNDLE, 2], [Math.ceil(length / BUNDLE) * BUNDLE + 1 + r.int(31), 1],
      [trimmed, 2], [trimmed + 1, 1], [trimmed - 1, 1], [trimmed + r.int(Math.max(1, length - trimmed + 8)), 3],
      [r.int(length + 40), 2], [r.pick(starts), 2],
    ] as const);
    bytes.splice(jump.at + jump.size - 4, 4, ...le(target - (jump.at + jump.size), 4));
  }
  return Uint8Array.from(bytes.slice(0, length));
}

export function regionRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, regionRecord);
}
