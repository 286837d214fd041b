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
 * shared/spec-notes/zerovm-abi.md sections 3 and 4 the rules); they write no
 * guest memory, so the entry frame at the top of the stack (the 56 bytes of
 * section 3) is the runtime's to lay out, the same for every engine. Two
 * points the ABI notes leave open, settled as ZeroVM behaved: MXCSR starts
 * at 0x1F80 and is the program's own across a trap (only x87 is reset), and
 * the return address is sandboxed on resume (low 32 bits, rounded down to a
 * 32-byte bundle), which is also the `returnAddress` a trap stop reports.
 *
 * Choices a reader may question:
 * - The addon is loaded lazily, on the first `unavailableReason()` or
 *   `createSession()`: importing this module never throws, so a checkout
 *   without a C++ toolchain still runs the Unicorn engine.
 * - `start`/`resume` return the stop kind as a number and leave the details
 *   in a shared Uint32Array; the Stop object is built here, in JavaScript,
 *   which is cheaper than building it through Node-API on every trap.
 * - `view()` refuses pages that are inaccessible to the program: the view
 *   aliases guest memory, and touching a PROT_NONE page from JavaScript
 *   would crash the host process rather than throw. Writing through a view
 *   into a page the program may only read or execute crashes it as well:
 *   the runtime maps a region writable, fills it, then protects it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Protection, SANDBOX_SIZE, type Engine, type EngineSession, type Region, type Stop } from '../runtime/engine.js';

/** What to run when the addon is missing. */
export const NATIVE_BUILD_HINT = 'the native engine is not built: run npm run build:native (needs cmake and a C++ compiler)';

const ADDON_PATH = ['native', 'build', 'Release', 'zerovm_native.node'];
const PAGE_SIZE = 0x10000;
const PAGE_COUNT = SANDBOX_SIZE / PAGE_SIZE;
/**
 * Views come from cached 1 MiB windows of guest memory (one external
 * ArrayBuffer each), or from a buffer of their own when they cross a window
 * edge. Not one 4 GiB buffer: V8 counts an ArrayBuffer's length as external
 * memory, and 4 GiB of it forces a full garbage collection per session.
 */
const WINDOW_SIZE = 0x100000;

/** The addon's surface (native/src/addon.cc). */
interface NativeSession {
  base(): bigint;
  /** An external ArrayBuffer over exactly [address, address + length). */
  memory(address: number, length: number): ArrayBuffer;
  protect(address: number, size: number, protection: number): void;
  start(entry: number, budgetMs: number): number;
  resume(result: number, budgetMs: number): number;
  dispose(): void;
}

interface NativeAddon {
  readonly Session: new (stopInfo: Uint32Array) => NativeSession;
  readonly STOP_TRAP: number;
  readonly STOP_FAULT: number;
  readonly STOP_TIMEOUT: number;
  readonly avx: boolean;
}

/** Slots of the stop-details array the addon fills. */
const enum StopSlot {
  Args = 0,
  ReturnAddress = 1,
  Signal = 2,
  Pc = 3,
}

type Loaded = { readonly addon: NativeAddon; readonly reason: null } | { readonly addon: null; readonly reason: string };
let loaded: Loaded | undefined;

/** Finds native/build/Release/zerovm_native.node above this module (src/engines or dist/engines). */
export function findAddon(start = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ...ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function load(): Loaded {
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
    const require = createRequire(import.meta.url);
    loaded = { addon: require(path) as NativeAddon, reason: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    loaded = { addon: null, reason: `the native engine failed to load (${message}): rebuild it with npm run build:native` };
  }
  return loaded;
}

class NativeEngineSession implements EngineSession {
  readonly base: bigint;
  private readonly stopInfo = new Uint32Array(4);
  private readonly native: NativeSession;
  private readonly addon: NativeAddon;
  /** Protection of each 64 KiB page, as last set. */
  private readonly pages = new Uint8Array(PAGE_COUNT);
  /** 1 MiB windows of guest memory handed out so far, by index. */
  private readonly windows = new Map<number, ArrayBuffer>();
  private disposed = false;

  constructor(addon: NativeAddon) {
    this.addon = addon;
    this.native = new addon.Session(this.stopInfo);
    this.base = this.native.base();
  }

  view(address: number, length: number): Uint8Array {
    this.checkLive();
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > SANDBOX_SIZE) {
      throw new RangeError(`view: [${address}, +${length}) is not inside the 4 GiB sandbox`);
    }
    if (length > 0) {
      const last = Math.floor((address + length - 1) / PAGE_SIZE);
      for (let page = Math.floor(address / PAGE_SIZE); page <= last; page++) {
        if ((this.pages[page]! & (Protection.Read | Protection.Execute)) === 0) {
          throw new RangeError(`view: sandbox page 0x${(page * PAGE_SIZE).toString(16)} is not mapped`);
        }
      }
    }
    if (length === 0) return new Uint8Array(0);
    const window = Math.floor(address / WINDOW_SIZE);
    if (Math.floor((address + length - 1) / WINDOW_SIZE) !== window) {
      return new Uint8Array(this.native.memory(address, length));
    }
    let buffer = this.windows.get(window);
    if (buffer === undefined) {
      buffer = this.native.memory(window * WINDOW_SIZE, WINDOW_SIZE);
      this.windows.set(window, buffer);
    }
    return new Uint8Array(buffer, address - window * WINDOW_SIZE, length);
  }

  protect(address: number, size: number, protection: Protection): void {
    this.checkLive();
    if (!Number.isInteger(address) || !Number.isInteger(size) || address % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`protect: address 0x${address.toString(16)} and size 0x${size.toString(16)} must be multiples of 64 KiB`);
    }
    this.native.protect(address, size, protection);
    this.pages.fill(protection, address / PAGE_SIZE, (address + size) / PAGE_SIZE);
  }

  start(entry: number, budgetMs: number): Stop {
    this.checkLive();
    return this.stop(this.native.start(entry, budgetMs));
  }

  resume(result: number, budgetMs: number): Stop {
    this.checkLive();
    return this.stop(this.native.resume(result | 0, budgetMs));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.windows.clear();
    this.native.dispose();
  }

  private stop(kind: number): Stop {
    const info = this.stopInfo;
    if (kind === this.addon.STOP_TRAP) {
      return { kind: 'trap', args: info[StopSlot.Args]!, returnAddress: info[StopSlot.ReturnAddress]! };
    }
    if (kind === this.addon.STOP_FAULT) return { kind: 'fault', signal: info[StopSlot.Signal]!, pc: info[StopSlot.Pc]! };
    return { kind: 'timeout' };
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('the native engine session is disposed');
  }
}

class NativeEngine implements Engine {
  readonly name = 'native' as const;

  unavailableReason(): string | null {
    return load().reason;
  }

  createSession(regions: readonly Region[]): EngineSession {
    const { addon, reason } = load();
    if (addon === null) throw new Error(reason);
    const session = new NativeEngineSession(addon);
    try {
      for (const region of regions) session.protect(region.address, region.size, region.protection);
    } catch (error) {
      session.dispose();
      throw error;
    }
    return session;
  }
}

/** The native engine (one per process; sessions are independent). */
export const nativeEngine: Engine = new NativeEngine();
