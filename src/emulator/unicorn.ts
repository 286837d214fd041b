/**
 * The Unicorn emulation engine: runs validated untrusted code on any host
 * with libunicorn 2 (Debian's libunicorn-dev, Homebrew's unicorn), through
 * the addon built from `native/src/unicorn` (`npm run build:native`), with
 * the same observable behaviour as the native engine.
 *
 * Pipeline position: runtime -> the engine contract (src/runtime/engine.ts)
 * -> here -> native/build/Release/zerovm_unicorn.node -> libunicorn. Nothing
 * else loads the addon.
 *
 * What is the same as on the native engine (native/src/unicorn/emulator.cc
 * has the details): the sandbox base (0x440A00000000, so %r15 and every
 * address a program computes), the memory map and protections region by
 * region, the register state on entry and after every trap, the sandboxed
 * return address, the stop a program ends with (trap, fault signal and
 * address, timeout). What the engine cannot run the same way is kept out by
 * validation: `features` lists the CPU features Unicorn 2.0.1 executes
 * exactly as hardware does (see UNICORN_FEATURES), and the session validates
 * programs and TrapJail blocks against it.
 *
 * Choices a reader may question:
 * - The addon is loaded lazily, on the first `unavailableReason()` or
 *   `createSession()`: importing this module never throws, so a checkout
 *   without libunicorn still runs the native engine.
 * - `base` is the guest address of sandbox 0 (what %r15 holds), not a host
 *   address: the host memory behind it is wherever mmap put it.
 * - The addon repairs two things inside libunicorn 2.0.1 at start-up (fast
 *   guest stores, precise fault addresses; native/src/unicorn/qemu_hooks.h)
 *   and warns once on stderr if it cannot; `unicornRepairs()` says which
 *   are on, `describeUnicornEngine()` the line `-v` prints. The
 *   interposers that make them are built for libunicorn 2.0.1 alone.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddonEngine, findAddonFile, requireAddon, type EngineAddon, type LoadedAddon } from '../addon/addon-engine.js';
import type { Engine } from '../runtime/engine.js';
import type { CpuFeature } from '../validator/features.js';

/** What to install and run when the addon is missing. */
export const UNICORN_BUILD_HINT =
  'the unicorn engine is not built: install libunicorn 2 (apt-get install libunicorn-dev pkg-config, or brew install unicorn pkg-config), then run npm run build:native';

/**
 * The CPU features Unicorn 2.0.1 (QEMU 5.0 TCG) runs exactly as hardware
 * does, checked instruction by instruction against this x86-64 host (an
 * instruction of each feature run natively and emulated from the same
 * state, registers, flags and memory compared). Left out, so the validator
 * refuses them for a Unicorn session:
 * - AVX, AVX2, F16C, FMA, FMA4, TBM: not implemented by QEMU 5.0; worse,
 *   some VEX forms run silently as their legacy SSE form (vaddps with three
 *   operands adds into the wrong register).
 * - POPCNT, MOVBE, CLMUL: #UD, the emulated CPU lacks them (Unicorn 2.0.1
 *   gives every CPU model the same fixed feature set).
 * - BMI2: pdep and pext have their operands swapped (fixed in QEMU 7).
 * - CX8, CX16: cmpxchg8b/16b compute the flags other than ZF from a stale
 *   flags state.
 * - SSE4A: extrq and insertq give wrong results.
 * - 3DNOW, E3DNOW: cannot be checked against hardware here (current CPUs lack
 *   them) and their reciprocal approximations are implementation-defined.
 * - XSAVE: never valid anyway.
 * Kept although not all of it is exact (spec/runtime.md, Engines): x87
 * (fsin, fcos, fsincos, fptan, fpatan, f2xm1, fyl2x, fyl2xp1, fprem, fprem1
 * are computed in double precision; stack overflow and underflow raise no
 * stack fault) and SSE (unmasked SIMD exceptions raise no #XM; rcpps,
 * rsqrtps, rcpss, rsqrtss approximations differ, as they do between Intel
 * and AMD hardware). Refusing x87 or SSE would refuse most programs.
 * Kept, though the session's policy refuses their instructions on every
 * engine anyway (an original validator refuses them): LAHF (lahf, sahf),
 * FXSR (fxsave, fxrstor), CLFLUSH, TSC (rdtsc). They stay listed because
 * Unicorn runs them exactly; the engine's tests check that unvalidated.
 */
export const UNICORN_FEATURES: readonly CpuFeature[] = Object.freeze([
  '-', 'x87', 'CMOV', 'LAHF', 'MMX', 'EMMX', 'PREFETCHW', 'SSE', 'SSE2', 'SSE3', 'SSSE3', 'SSE41', 'SSE42',
  'LZCNT', 'AES', 'BMI1', 'FXSR', 'CLFLUSH', 'TSC',
] as const);

/** What the addon's start-up check found. */
export interface UnicornRepairs {
  /**
   * The libunicorn interposers are built in and in effect: the addon was
   * built for libunicorn 2.0.1 (native/CMakeLists.txt builds them for that
   * version alone), the loaded library is 2.0.1 too, and the self-test saw
   * them called. Both repairs need them.
   */
  readonly interposers: boolean;
  /** Guest stores stay on QEMU's fast path (the notdirty workaround). */
  readonly fastStores: boolean;
  /** Faults report the faulting instruction, not the start of its block. */
  readonly preciseFaults: boolean;
  /** Why not, when either is off. */
  readonly detail: string;
}

/**
 * Warm requests that kept the translated blocks of an earlier request of
 * the same snapshot, on this thread (native/src/unicorn/emulator.cc,
 * "Translated blocks kept"; spec/runtime.md "The Unicorn engine").
 */
export interface UnicornBlockReuse {
  /** Warm states an engine instance kept for the next request (the first request of each). */
  readonly kept: number;
  /** Requests that started from a kept state, with its translated blocks. */
  readonly adopted: number;
}

/** The addon's surface (native/src/unicorn/addon.cc): the shared one, plus its start-up check. */
interface UnicornAddon extends EngineAddon {
  /** The loaded libunicorn's major.minor.patch. */
  readonly version: string;
  repairs(): UnicornRepairs;
  blockReuse(): UnicornBlockReuse;
}

let loaded: LoadedAddon<UnicornAddon> | undefined;

/** Finds native/build/Release/zerovm_unicorn.node above this module (src/emulator or dist/emulator). */
export function findUnicornAddon(start = dirname(fileURLToPath(import.meta.url))): string | null {
  return findAddonFile('zerovm_unicorn.node', start);
}

function load(): LoadedAddon<UnicornAddon> {
  if (loaded !== undefined) return loaded;
  const path = findUnicornAddon();
  if (path === null) {
    loaded = { addon: null, reason: UNICORN_BUILD_HINT };
    return loaded;
  }
  try {
    loaded = { addon: requireAddon<UnicornAddon>(path), reason: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const missingLibrary = /libunicorn/.test(message);
    loaded = {
      addon: null,
      reason: missingLibrary
        ? `the unicorn engine cannot find libunicorn (${message}): install it (apt-get install libunicorn2, or brew install unicorn), or rebuild with npm run build:native`
        : `the unicorn engine failed to load (${message}): rebuild it with npm run build:native`,
    };
  }
  return loaded;
}

/** What the addon's start-up check found, or null when the engine is unavailable. */
export function unicornRepairs(): UnicornRepairs | null {
  const { addon } = load();
  return addon === null ? null : addon.repairs();
}

/** This thread's counts of warm requests that kept translated blocks, or null when the engine is unavailable. */
export function unicornBlockReuse(): UnicornBlockReuse | null {
  const { addon } = load();
  return addon === null ? null : addon.blockReuse();
}

/**
 * One line on the engine for `-v`: the loaded libunicorn and whether the
 * interposers are active, e.g. "libunicorn 2.0.1, interposers active (fast
 * stores, precise fault addresses)"; null when the engine is unavailable.
 */
export function describeUnicornEngine(): string | null {
  const { addon } = load();
  if (addon === null) return null;
  const repairs = addon.repairs();
  const on = [repairs.fastStores ? 'fast stores' : '', repairs.preciseFaults ? 'precise fault addresses' : ''].filter((r) => r !== '');
  const state = repairs.interposers ? `interposers active (${on.length > 0 ? on.join(', ') : 'no repair on'})` : 'interposers off';
  return `libunicorn ${addon.version}, ${state}${repairs.detail === '' ? '' : `: ${repairs.detail}`}`;
}

/** The Unicorn engine (one per process; sessions are independent). */
export const unicornEngine: Engine = new AddonEngine('unicorn', load, UNICORN_FEATURES);
