/**
 * The engine contract: how the runtime drives something that executes
 * validated untrusted code.
 *
 * Pipeline position: runtime (session, trap dispatch) -> this interface ->
 * engines (`src/engines/native.ts` over the addon in `native/`, and the
 * Unicorn emulator in `src/emulator/`). Nothing outside the engines imports
 * an addon or Unicorn directly (style note 9: wasmtime's strategies); lint
 * enforces it (no-restricted-imports in eslint.config.js).
 *
 * Addresses are sandbox addresses (offsets from %r15, 0 .. 2^32). An engine
 * owns the 4 GiB sandbox and its guard regions; the runtime decides the
 * layout (spec/runtime.md, the memory map) and the protections, reads and
 * writes guest memory through `view()` (which aliases guest memory: no
 * copies on the trap path), and turns stops into trap results, faults and
 * timeouts into exit states.
 */
import type { CpuFeature } from '../validator/features.js';
import type { PageProtections } from './protection-map.js';

export type { PageProtections } from './protection-map.js';

/**
 * Bytes of guest memory the host may only read: a Uint8Array without its
 * writing members (an index is read-only, `subarray` stays read-only). A
 * Uint8Array is one; the reverse needs `writableView`.
 */
export type ReadonlyBytes = Omit<Uint8Array, number | 'set' | 'fill' | 'copyWithin' | 'reverse' | 'sort' | 'subarray'> & {
  readonly [index: number]: number;
  subarray(begin?: number, end?: number): ReadonlyBytes;
};

/** Protection bits of a sandbox region. */
export const enum Protection {
  None = 0,
  Read = 1,
  Write = 2,
  Execute = 4,
}

export interface Region {
  /** Sandbox address, 4 KiB aligned (the layout uses 64 KiB boundaries; TrapJail 4 KiB pages). */
  readonly address: number;
  /** Bytes, a multiple of 4 KiB. */
  readonly size: number;
  readonly protection: Protection;
}

/** Why `run` returned. */
export type Stop =
  /** The program called the trampoline's slot 0; `args` is %edi (the argument block's sandbox address). */
  | { readonly kind: 'trap'; readonly args: number; readonly returnAddress: number }
  /** A signal (SIGSEGV 11, SIGBUS 7, SIGILL 4, SIGFPE 8, SIGTRAP 5) in untrusted code at sandbox address `pc`. */
  | { readonly kind: 'fault'; readonly signal: number; readonly pc: number }
  /** The time budget ran out while untrusted code was running. */
  | { readonly kind: 'timeout' };

/**
 * The untrusted state at a trap stop that a later session resumes from
 * (warm starts: spec/runtime.md "Daemon mode"): the callee-saved
 * registers, %rsp, the return address and MXCSR, taken at the base in
 * the first word. Opaque to the runtime; only a session of the engine that
 * made it loads it, with the addresses into the old sandbox moved to its own.
 */
export interface TrapContext {
  readonly engine: Engine['name'];
  readonly words: Readonly<BigUint64Array>;
}

/**
 * A snapshot's memory held by an engine that can map it copy-on-write
 * (Engine.createMemoryImage): requests then neither copy it nor change it.
 * Opaque to the runtime.
 */
export interface MemoryImage {
  readonly engine: Engine['name'];
}

export interface EngineSession {
  /** Host address of sandbox address 0 (the value of %r15), as a bigint. */
  readonly base: bigint;
  /**
   * The protection of every page as this engine applied it: the one record
   * of it (the session's trap view reads it, spec/runtime.md "The trap's
   * view of memory"). Changed only by `protect`.
   */
  readonly protections: PageProtections;
  /**
   * A read-only view of guest memory [address, address + length), aliasing
   * it; throws RangeError unless every page is readable or executable.
   */
  view(address: number, length: number): ReadonlyBytes;
  /**
   * A writable view of guest memory [address, address + length), aliasing
   * it; throws RangeError unless every page is writable (a write into a
   * page the program may only read would crash the process: the host
   * memory behind it is read-only).
   */
  writableView(address: number, length: number): Uint8Array;
  /** Changes the protection of whole 4 KiB pages. */
  protect(address: number, size: number, protection: Protection): void;
  /**
   * Enters untrusted code at `entry` with the initial register state of the
   * ABI (rsp = rbp = base + 2^32 - 56, rdi, rcx, flags 0x246, ...) and runs
   * until a stop or until `budgetMs` milliseconds have passed.
   */
  start(entry: number, budgetMs: number): Stop;
  /** Returns `result` in %eax from the last trap and runs on (same budget rule). */
  resume(result: number, budgetMs: number): Stop;
  /** Right after a trap stop: the state to resume from later, in another session. */
  saveTrapContext(): TrapContext;
  /**
   * Instead of `start`, in a session whose regions are mapped and which has
   * not run: takes a context saved by a session of the same engine, as if
   * this session had stopped at that trap; `resume` then returns from it.
   */
  loadTrapContext(context: TrapContext): void;
  /**
   * Optional (engines with createMemoryImage): before the session runs,
   * maps [address, address + size) of `image` over its sandbox,
   * copy-on-write, with `protection`; the trampoline is not mappable.
   */
  mapImage?(image: MemoryImage, address: number, size: number, protection: Protection): void;
  /**
   * Optional: one byte per 4 KiB page of [address, address + size), 0 for
   * a page the host never gave the session (it reads as zeros, or as the
   * memory image mapped there), 1 for any other; null when the engine
   * cannot tell. Warm starts (snapshot.ts) then read only the pages that
   * may hold data instead of the whole sandbox.
   */
  populatedPages?(address: number, size: number): Uint8Array | null;
  /** Releases the sandbox; the session is unusable afterwards. */
  dispose(): void;
}

export interface Engine {
  readonly name: 'native' | 'unicorn';
  /**
   * The CPU features this engine runs exactly as the hardware does, when
   * that is not all of them: the session validates the program (and every
   * TrapJail block) against this set, so code the engine would run
   * differently is refused before it runs. Absent: every feature.
   */
  readonly features?: readonly CpuFeature[];
  /** Null when this engine can run here, else a message saying why not and what to install. */
  unavailableReason(): string | null;
  /**
   * Optional: a memory image holding `runs` at their sandbox addresses (the
   * rest zeros) that sessions of this engine can map (mapImage). Absent:
   * warm starts copy the snapshot into each session.
   */
  createMemoryImage?(runs: readonly { readonly address: number; readonly bytes: Uint8Array }[]): MemoryImage;
  /**
   * Reserves a sandbox and maps `regions` (everything else is
   * inaccessible). `options.willMap`: a memory image the session will map
   * (mapImage); an engine that keeps sandboxes between sessions may give
   * it one that holds that image already (spec/runtime.md "Reservation").
   * Only a hint: the session is the same either way.
   */
  createSession(regions: readonly Region[], options?: CreateSessionOptions): EngineSession;
}

/** Hints for Engine.createSession. */
export interface CreateSessionOptions {
  readonly willMap?: MemoryImage;
}

/** Address of the trampoline's slot 0, the trap. */
export const TRAMPOLINE_TRAP = 0x10000;
/** Sandbox size (defined with the other shared values). */
export { SANDBOX_SIZE } from './definitions.js';
