/**
 * Memory as if the sandbox were at ZeroVM's base (spec/runtime.md
 * "Daemon mode", "The sandbox base"): x86-64 NaCl code stores 64-bit host
 * addresses in sandbox memory (a call pushes its return address, base
 * included; a frame pointer is saved whole), and the native engine's
 * sandbox is at 0x440A00000000 only when that range is free: sessions
 * that run at the same time in one process get other 4 GiB-aligned bases.
 * Sandboxed control flow uses only the low 32 bits of such a word, so the
 * program runs the same at any base, but the bytes differ. The memory etag
 * and a TrapFork snapshot take memory in this canonical form, so neither
 * depends on where the session ran, nor a warm start on which thread's
 * snapshot it came from.
 *
 * Where: src/runtime; session.ts (memory etag) and snapshot.ts (capture).
 *
 * A word is moved when it is 8-byte aligned and its upper half is the
 * base's (every address of the 4 GiB sandbox has it). A value that only
 * looks like such an address (upper half equal by chance) is moved too;
 * at ZeroVM's own base nothing is ever changed.
 */
import type { ReadonlyBytes } from './engine.js';

/** ZeroVM's sandbox base (native/src/sandbox_rules.h kPreferredBase; the Unicorn engine's always). */
export const ZEROVM_BASE = 0x440a00000000n;
const ZEROVM_HIGH = Number(ZEROVM_BASE >> 32n);

/**
 * `bytes` (guest memory from sandbox address `address`, a multiple of 8)
 * of a sandbox at `base`, with every aligned word that holds one of its
 * addresses moved to the same sandbox address at ZEROVM_BASE: a copy, or
 * `bytes` itself when `base` is ZEROVM_BASE.
 */
export function canonicalWords(bytes: ReadonlyBytes, address: number, base: bigint): ReadonlyBytes {
  return base === ZEROVM_BASE ? bytes : canonicalCopy(bytes, address, base);
}

/** As canonicalWords, but always a copy of its own. */
export function canonicalCopy(bytes: ReadonlyBytes, address: number, base: bigint): Uint8Array {
  const copy = Uint8Array.from(bytes);
  if (base === ZEROVM_BASE) return copy;
  if (address % 8 !== 0) throw new RangeError(`canonicalWords: address 0x${address.toString(16)} is not 8-byte aligned`);
  const high = Number(BigInt.asUintN(64, base) >> 32n);
  const words = new Uint32Array(copy.buffer, 0, copy.length >> 2);
  /* little-endian: the upper half of the word at 8k is the 32-bit word at 8k + 4 */
  for (let i = 1; i < words.length; i += 2) if (words[i] === high) words[i] = ZEROVM_HIGH;
  return copy;
}
