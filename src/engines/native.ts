/**
 * The native engine: runs validated untrusted code directly on this x86-64
 * Linux host, in a 4 GiB sandbox between 40 GiB guard areas, through the
 * addon built from `native/` (`npm run build:native`).
 *
 * Pipeline position: runtime -> the engine contract (src/runtime/engine.ts)
 * -> here -> native/build/Release/zerovm_native.node (C++ and an assembly
 * context switch; the headers in native/src describe the design). Nothing else loads the
 * addon.
 *
 * What `start` and `resume` set is every register (switch.S has the list,
 * spec/runtime.md "Initial state" and "The register state after a trap"
 * the rules); they write no guest memory, so the entry frame at the top of
 * the stack (its 56 bytes) is the runtime's to lay out, the same for every engine. Two
 * points the ABI notes leave open, settled as ZeroVM behaved: MXCSR starts
 * at 0x1F80 and is the program's own across a trap (only x87 is reset), and
 * the return address is sandboxed on resume (low 32 bits, rounded down to a
 * 32-byte bundle), which is also the `returnAddress` a trap stop reports.
 *
 * Choices a reader may question:
 * - The addon is loaded lazily, on the first `unavailableReason()` or
 *   `createSession()`: importing this module never throws, so a checkout
 *   without a C++ toolchain still runs the Unicorn engine.
 * - Sessions, views and stops are the shared addon-engine.ts classes: the
 *   Unicorn engine's addon has the same surface.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../runtime/engine.js';
import { AddonEngine, findAddonFile, requireAddon, type EngineAddon, type LoadedAddon } from '../addon/addon-engine.js';

/** What to run when the addon is missing. */
export const NATIVE_BUILD_HINT = 'the native engine is not built: run npm run build:native (needs cmake and a C++ compiler)';

/** This thread's reuse of kept sandboxes (spec/runtime.md "Reservation"). */
export interface NativeReuseCounts {
  /** Pages resets restored in place. */
  readonly restored: number;
  /** Copied pages resets dropped instead (not writable, or beyond the limit). */
  readonly droppedCopies: number;
  /** Sessions given a kept sandbox that held the memory image they map. */
  readonly adopted: number;
}

/** The addon's surface (native/src/addon.cc). */
interface NativeAddon extends EngineAddon {
  readonly avx: boolean;
  reuseCounts(): NativeReuseCounts;
  setKeptSandboxes(count: number): void;
}

let loaded: LoadedAddon<NativeAddon> | undefined;

/** Finds native/build/Release/zerovm_native.node above this module (src/engines or dist/engines). */
export function findAddon(start = dirname(fileURLToPath(import.meta.url))): string | null {
  return findAddonFile('zerovm_native.node', start);
}

function load(): LoadedAddon<NativeAddon> {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    loaded = {
      addon: null,
      reason: `the native engine runs only on x86-64 Linux (this host is ${process.platform}/${process.arch}); use the unicorn engine`,
    };
    return loaded;
  }
  const path = findAddon();
  if (path === null) {
    loaded = { addon: null, reason: NATIVE_BUILD_HINT };
    return loaded;
  }
  try {
    loaded = { addon: requireAddon<NativeAddon>(path), reason: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    loaded = { addon: null, reason: `the native engine failed to load (${message}): rebuild it with npm run build:native` };
  }
  return loaded;
}

/** The native engine (one per process; sessions are independent). */
export const nativeEngine: Engine = new AddonEngine('native', load);

/** This thread's reuse counts, or null when the engine is unavailable. */
export function nativeReuseCounts(): NativeReuseCounts | null {
  const { addon } = load();
  return addon === null ? null : addon.reuseCounts();
}

/**
 * How many reset sandboxes each thread keeps for its next sessions
 * (default 4; 1: only the last one, whatever it held; 0: none). Each kept
 * one holds 84 GiB of address space and the pages its last session
 * restored. Applies to every thread of the process; no-op without the
 * engine.
 */
export function setNativeKeptSandboxes(count: number): void {
  load().addon?.setKeptSandboxes(count);
}
