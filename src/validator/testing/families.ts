/**
 * The generator families of the differential tests, by name.
 *
 * Pipeline position: test support only. The differential test, the
 * exploration script and (for the corpus) the benchmark use these lists.
 *
 * Every family is a function `(seed, count) -> records`: deterministic in
 * its seed, independent of any policy (the same records are judged by each
 * policy's oracle, see `oracles.ts`).
 */
import { classRecords } from './classes.js';
import { corpusRecords } from './corpus.js';
import { regionRecords } from './regions.js';
import { sequenceRecords } from './sequences.js';
import { stringRecords } from './strings.js';
import { sweepRecords } from './sweep.js';
import { tableFormRecords } from './table-forms.js';

export interface GeneratorFamily {
  readonly name: string;
  /** What the family covers, one line. */
  readonly covers: string;
  readonly generate: (seed: number, count: number) => Uint8Array[];
}

export const GENERATOR_FAMILIES: readonly GeneratorFamily[] = [
  {
    name: 'sweep',
    covers: 'single instructions of every opcode map, prefix combination, ModRM/SIB/displacement form, VEX/EVEX/XOP field',
    generate: sweepRecords,
  },
  {
    name: 'forms',
    covers: 'every form of our opcode tables with its free fields (prefixes, REX/VEX bits, L, vvvv, operands, is4) varied',
    generate: tableFormRecords,
  },
  {
    name: 'sequences',
    covers: 'register writes then index use, %rsp/%rbp writes and rebases, nacljmp/naclcall, string superinstructions, jumps into and over them',
    generate: sequenceRecords,
  },
  {
    name: 'strings',
    covers: "string instructions and maskmov sandboxed in ZeroVM's general form (lea into %rsi/%rdi from any base, index, scale, displacement) and its near misses, every prefix set",
    generate: stringRecords,
  },
  {
    name: 'classes',
    covers: 'the instructions NaCl and ZeroVM 2015 judge differently (sahf/lahf, rdtsc, cpuid, crc32 with 66, clflush, VEX, xchg/xadd of %esp/%ebp with itself and a rebase) in context',
    generate: classRecords,
  },
  {
    name: 'regions',
    covers: 'regions of every length: odd lengths, hlt tails around 16 bytes, cuts inside instructions, jumps to the end, the padding and the tail, the empty region',
    generate: regionRecords,
  },
  {
    name: 'corpus',
    covers: 'mutations of compiler output (the benchmark corpus): bytes changed, inserted, deleted, prefixed, jumps retargeted',
    generate: corpusRecords,
  },
];

export function familyRecords(name: string, seed: number, count: number): Uint8Array[] {
  const family = GENERATOR_FAMILIES.find((f) => f.name === name);
  if (family === undefined) throw new Error(`unknown generator family '${name}' (known: ${GENERATOR_FAMILIES.map((f) => f.name).join(', ')})`);
  return family.generate(seed, count);
}
