/**
 * What the two engines built on an addon share: the addon's session surface,
 * finding and loading the addon file, guest-memory views, and the session
 * and engine classes that turn the addon's numbers into the Engine contract
 * (src/runtime/engine.ts).
 *
 * Pipeline position: src/engines/native.ts and src/emulator/unicorn.ts
 * each load their own addon (native/src/addon.cc,
 * native/src/unicorn/addon.cc; both export the Session class of
 * native/src/session_wrap.h) and hand
 * it to AddonEngine; the runtime sees only the Engine.
 *
 * Choices a reader may question:
 * - `start`/`resume` return the stop kind as a number and leave the details
 *   in a shared Uint32Array; the Stop object is built here, in JavaScript,
 *   which is cheaper than building it through Node-API on every trap.
 * - A view of a page the program cannot read or execute throws: the view
 *   aliases host memory that is PROT_NONE there, and touching it from
 *   JavaScript would crash the process rather than throw. Writing into a
 *   page the program may only read or execute would crash it as well, so
 *   `view` is typed read-only and `writableView` throws unless every page
 *   is writable: the runtime maps a region writable, fills it, then
 *   protects it.
 * - The protection record here is the only one: the session's trap view
 *   reads it (EngineSession.protections) instead of keeping its own copy
 *   that a TrapJail could update in one place and not the other. The
 *   engine owns it because it changes only when the engine has applied a
 *   protection; a record the session owned would be told about changes the
 *   engine might have refused.
 * - Views come from cached 1 MiB windows of guest memory (one external
 *   ArrayBuffer each), or from a buffer of their own when they cross a
 *   window edge. Not one 4 GiB buffer: V8 counts an ArrayBuffer's length as
 *   external memory, and 4 GiB of it forces a full garbage collection per
 *   session.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Protection, SANDBOX_SIZE, type CreateSessionOptions, type Engine, type EngineSession, type MemoryImage, type ReadonlyBytes, type Region, type Stop, type TrapContext } from '../runtime/engine.js';
import { ProtectionMap, type PageProtections } from '../runtime/protection-map.js';
import type { CpuFeature } from '../validator/features.js';

/** The granule of protections: a host page (TrapJail acts on 4 KiB pages). */
const PAGE_SIZE = 0x1000;
const WINDOW_SIZE = 0x100000;

/** Views of guest memory: the per-page protection record and the 1 MiB windows. */
class GuestViews {
  /** The protections applied so far. */
  readonly protections = new ProtectionMap();
  /** Windows handed out so far, by index. */
  private readonly windows = new Map<number, ArrayBuffer>();

  /** `memory` returns an ArrayBuffer aliasing exactly [address, address + length). */
  constructor(private readonly memory: (address: number, length: number) => ArrayBuffer) {}

  /** A view of [address, address + length), every page of which must have a bit of `need`. */
  view(address: number, length: number, need: Protection): Uint8Array {
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > SANDBOX_SIZE) {
      throw new RangeError(`view: [${address}, +${length}) is not inside the 4 GiB sandbox`);
    }
    if (length === 0) return new Uint8Array(0);
    const lacking = this.protections.firstLacking(address, length, need);
    if (lacking >= 0) {
      throw new RangeError(`view: sandbox address 0x${lacking.toString(16)} is not ${need === Protection.Write ? 'writable' : 'mapped'}`);
    }
    const window = Math.floor(address / WINDOW_SIZE);
    if (Math.floor((address + length - 1) / WINDOW_SIZE) !== window) {
      return new Uint8Array(this.memory(address, length));
    }
    let buffer = this.windows.get(window);
    if (buffer === undefined) {
      buffer = this.memory(window * WINDOW_SIZE, WINDOW_SIZE);
      this.windows.set(window, buffer);
    }
    return new Uint8Array(buffer, address - window * WINDOW_SIZE, length);
  }

  /** Records a protection the engine has applied (whole 4 KiB pages). */
  protected(address: number, size: number, protection: Protection): void {
    this.protections.set(address, address + size, protection);
  }

  /** Forgets the windows (the addon detaches them on dispose). */
  clear(): void {
    this.windows.clear();
  }
}

/** Throws unless `address` and `size` are whole 4 KiB pages. */
function checkPageRange(address: number, size: number): void {
  if (!Number.isInteger(address) || !Number.isInteger(size) || address % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
    throw new RangeError(`protect: address 0x${address.toString(16)} and size 0x${size.toString(16)} must be multiples of 4 KiB`);
  }
}

/** One sandbox as the addon exposes it (the same in both addons). */
export interface AddonSession {
  /** Host address of sandbox address 0 (%r15). */
  base(): bigint;
  /** An external ArrayBuffer over exactly [address, address + length). */
  memory(address: number, length: number): ArrayBuffer;
  protect(address: number, size: number, protection: number): void;
  start(entry: number, budgetMs: number): number;
  resume(result: number, budgetMs: number): number;
  /** After a trap stop: the trap context words (native/src/sandbox_rules.h). */
  saveTrapContext(): BigUint64Array;
  loadTrapContext(words: BigUint64Array): void;
  /**
   * Before the program first runs, applies the protections asked for over
   * [address, address + length) (the native engine defers them, so those
   * its reused sandbox already has cost no system call): host code touches
   * guest memory only after it. Absent where protections apply at once.
   */
  sync?(address: number, length: number): void;
  /** A range of a memory image (createMemoryImage) over the sandbox, copy-on-write; throws where the engine cannot. */
  mapImage(image: unknown, address: number, size: number, protection: number): void;
  /** One byte per page: 1 where the host has (or swapped out) the page, 0 where it never gave one; null without /proc/self/pagemap. */
  populated(address: number, size: number): Uint8Array | null;
  dispose(): void;
}

/** What both addons export. */
export interface EngineAddon {
  readonly Session: new (stopInfo: Uint32Array, willMap?: unknown) => AddonSession;
  readonly STOP_TRAP: number;
  readonly STOP_FAULT: number;
  readonly STOP_TIMEOUT: number;
  /** The native addon's memory images (an External each); absent in the Unicorn addon. */
  readonly createMemoryImage?: (addresses: number[], chunks: Uint8Array[]) => unknown;
}

/** A memory image of an addon, with the addon's handle. */
interface AddonMemoryImage extends MemoryImage {
  readonly handle: unknown;
}

/** An addon, or why there is none. */
export type LoadedAddon<A> = { readonly addon: A; readonly reason: null } | { readonly addon: null; readonly reason: string };

/** Finds native/build/Release/`fileName` at or above `start` (src/engines, dist/engines, ...). */
export function findAddonFile(fileName: string, start: string): string | null {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', fileName);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/** Loads an addon file (Node-API modules load through require). */
export function requireAddon<A>(path: string): A {
  return createRequire(import.meta.url)(path) as A;
}

/** Slots of the stop-details array the addons fill. */
const enum StopSlot {
  Args = 0,
  ReturnAddress = 1,
  Signal = 2,
  Pc = 3,
}

class AddonEngineSession implements EngineSession {
  readonly base: bigint;
  private readonly stopInfo = new Uint32Array(4);
  private readonly handle: AddonSession;
  private readonly views: GuestViews;
  private disposed = false;
  /** Before start or loadTrapContext: the addon may have deferred protections (AddonSession.sync). */
  private loading = true;

  constructor(
    private readonly engineName: Engine['name'],
    private readonly addon: EngineAddon,
    willMap?: MemoryImage,
  ) {
    /* an image of another engine is no hint here (mapImage refuses it) */
    const hint = willMap !== undefined && willMap.engine === engineName && 'handle' in willMap ? (willMap as AddonMemoryImage).handle : undefined;
    this.handle = hint === undefined ? new addon.Session(this.stopInfo) : new addon.Session(this.stopInfo, hint);
    this.base = this.handle.base();
    this.views = new GuestViews((address, length) => this.handle.memory(address, length));
  }

  get protections(): PageProtections {
    return this.views.protections;
  }

  view(address: number, length: number): ReadonlyBytes {
    this.checkLive();
    const view = this.views.view(address, length, Protection.Read | Protection.Execute);
    if (this.loading && length > 0) this.handle.sync?.(address, length);
    return view;
  }

  writableView(address: number, length: number): Uint8Array {
    this.checkLive();
    const view = this.views.view(address, length, Protection.Write);
    if (this.loading && length > 0) this.handle.sync?.(address, length);
    return view;
  }

  protect(address: number, size: number, protection: Protection): void {
    this.checkLive();
    checkPageRange(address, size);
    this.handle.protect(address, size, protection);
    this.views.protected(address, size, protection);
  }

  start(entry: number, budgetMs: number): Stop {
    this.checkLive();
    const kind = this.handle.start(entry, budgetMs);
    this.loading = false;
    return this.stop(kind);
  }

  resume(result: number, budgetMs: number): Stop {
    this.checkLive();
    return this.stop(this.handle.resume(result | 0, budgetMs));
  }

  saveTrapContext(): TrapContext {
    this.checkLive();
    return { engine: this.engineName, words: this.handle.saveTrapContext() };
  }

  loadTrapContext(context: TrapContext): void {
    this.checkLive();
    if (context.engine !== this.engineName) {
      throw new Error(`loadTrapContext: the context comes from the ${context.engine} engine, not the ${this.engineName} engine`);
    }
    this.handle.loadTrapContext(new BigUint64Array(context.words));
    this.loading = false;
  }

  mapImage(image: MemoryImage, address: number, size: number, protection: Protection): void {
    this.checkLive();
    if (image.engine !== this.engineName || !('handle' in image)) throw new Error(`mapImage: the image belongs to the ${image.engine} engine, not the ${this.engineName} engine`);
    checkPageRange(address, size);
    this.handle.mapImage((image as AddonMemoryImage).handle, address, size, protection);
    this.views.protected(address, size, protection);
  }

  populatedPages(address: number, size: number): Uint8Array | null {
    this.checkLive();
    checkPageRange(address, size);
    return this.handle.populated(address, size);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.views.clear();
    this.handle.dispose();
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
    if (this.disposed) throw new Error(`the ${this.engineName} engine session is disposed`);
  }
}

/** An engine over an addon that `load` finds (lazily, on first use: importing never throws). */
export class AddonEngine<A extends EngineAddon> implements Engine {
  constructor(
    readonly name: 'native' | 'unicorn',
    private readonly load: () => LoadedAddon<A>,
    readonly features?: readonly CpuFeature[],
  ) {}

  unavailableReason(): string | null {
    return this.load().reason;
  }

  get createMemoryImage(): Engine['createMemoryImage'] {
    const loaded = this.load();
    const create = loaded.addon?.createMemoryImage;
    if (create === undefined) return undefined;
    return (runs) => {
      const image: AddonMemoryImage = { engine: this.name, handle: create(runs.map((r) => r.address), runs.map((r) => r.bytes)) };
      return image;
    };
  }

  createSession(regions: readonly Region[], options: CreateSessionOptions = {}): EngineSession {
    const loaded = this.load();
    if (loaded.reason !== null) throw new Error(loaded.reason);
    const session = new AddonEngineSession(this.name, loaded.addon, options.willMap);
    try {
      /*
       * Natively, adjacent regions of one protection in one call: a
       * session's loading regions are mostly one writable run, one mprotect
       * instead of five. Unicorn's protect works page by page and maps a
       * region of its own per call, which later protections then split.
       */
      const merge = this.name === 'native';
      for (let i = 0; i < regions.length; ) {
        const { address, protection } = regions[i]!;
        let end = address + regions[i]!.size;
        for (i++; merge && i < regions.length && regions[i]!.address === end && regions[i]!.protection === protection; i++) end += regions[i]!.size;
        session.protect(address, end - address, protection);
      }
    } catch (error) {
      session.dispose();
      throw error;
    }
    return session;
  }
}
