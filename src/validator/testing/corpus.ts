/**
 * Mutations of real compiler output for the differential tests: windows of
 * one to four bundles of the benchmark corpus (gcc's cc1 made valid for
 * NaCl, kept beside the checkout and decompressed with `xz` when first
 * needed, never copied into the repository), changed in small ways — a
 * byte replaced or bit flipped, bytes inserted or deleted (shifting the
 * rest of the bundle), a prefix added, a jump displacement set to any
 * value, an instruction swapped in from the opcode sweep.
 *
 * Pipeline position: test support only; `families.ts` lists it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { repositoryRoot } from './oracles.js';
import { recordsFrom, type Prng } from './prng.js';
import { sweepRecord } from './sweep.js';

/** The compressed corpus, beside the checkout (or ZEROVM_BENCH_CORPUS). */
export function corpusPath(): string {
  return process.env.ZEROVM_BENCH_CORPUS ?? resolve(repositoryRoot(), '..', 'shared', 'bench', 'cc1-bundles.bin.xz');
}

let cached: Uint8Array | null = null;

/** The decompressed corpus, or a string saying why it is not available. */
export function loadCorpus(): Uint8Array | string {
  if (cached !== null) return cached;
  const path = corpusPath();
  if (!existsSync(path)) return `${path} not found`;
  try {
    const raw = execFileSync('xz', ['-dc', path], { maxBuffer: 64 << 20 });
    cached = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    return cached;
  } catch (error) {
    return `cannot run xz -dc ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'xz is not installed' : String(error)}`;
  }
}

const PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x64, 0x65, 0x40, 0x41, 0x44, 0x48, 0x49, 0x4c, 0x4d];

function mutateOnce(r: Prng, window: Uint8Array): Uint8Array {
  const at = r.int(window.length);
  const bundleEnd = (Math.floor(at / 32) + 1) * 32;
  const out = window.slice();
  switch (r.weighted([['byte', 4], ['bit', 4], ['insert', 3], ['delete', 3], ['prefix', 2], ['jump', 3], ['splice', 2]] as const)) {
    case 'byte': out[at] = r.byte(); break;
    case 'bit': out[at] = (out[at] as number) ^ (1 << r.int(8)); break;
    case 'insert': {
      // Insert 1-3 bytes, shifting the rest of this bundle (its tail falls off).
      const bytes = r.bytes(1 + r.int(3));
      out.copyWithin(at + bytes.length, at, bundleEnd - bytes.length);
      out.set(bytes.slice(0, bundleEnd - at), at);
      break;
    }
    case 'delete': {
      const n = 1 + r.int(3);
      out.copyWithin(at, Math.min(at + n, bundleEnd), bundleEnd);
      out.fill(r.chance(0.5) ? 0x90 : 0xf4, Math.max(at, bundleEnd - n), bundleEnd);
      break;
    }
    case 'prefix':
      out.copyWithin(at + 1, at, bundleEnd - 1);
      out[at] = r.pick(PREFIXES);
      break;
    case 'jump': {
      // Find a direct jump (EB/E9/7x/0F 8x/E8) near `at` and give it a new displacement.
      for (let i = at; i < Math.min(out.length - 1, at + 32); i++) {
        const b = out[i] as number;
        if (b === 0xeb || (b >= 0x70 && b <= 0x7f)) {
          out[i + 1] = r.chance(0.5) ? r.int(64) - 32 : r.byte();
          break;
        }
        if ((b === 0xe9 || b === 0xe8) && i + 5 <= out.length) {
          const rel = r.chance(0.7) ? r.int(window.length * 2) - window.length : r.int(0x100000) - 0x80000;
          out.set([rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >> 24) & 0xff], i + 1);
          break;
        }
      }
      break;
    }
    case 'splice': {
      const insn = sweepRecord(r);
      const n = Math.min(insn.length, bundleEnd - at, 15);
      out.set(insn.subarray(0, n), at);
      break;
    }
  }
  return out;
}

/** One record: a window of the corpus with one to three mutations. */
export function corpusRecord(r: Prng, corpus: Uint8Array): Uint8Array {
  const bundles = r.weighted([[1, 5], [2, 3], [4, 1]] as const);
  const start = r.int(Math.max(1, corpus.length / 32 - bundles)) * 32;
  let window: Uint8Array = corpus.slice(start, start + bundles * 32);
  const n = r.weighted([[0, 1], [1, 10], [2, 4], [3, 2]] as const);
  for (let i = 0; i < n; i++) window = mutateOnce(r, window);
  return window;
}

/** `count` corpus records; throws when the corpus is not available. */
export function corpusRecords(seed: number, count: number): Uint8Array[] {
  const corpus = loadCorpus();
  if (typeof corpus === 'string') throw new Error(`the benchmark corpus is not available: ${corpus}`);
  return recordsFrom(seed, count, (r) => corpusRecord(r, corpus));
}
