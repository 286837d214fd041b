/**
 * The memory map of one session: which sandbox pages the program may read,
 * write or execute, where the heap and the user manifest are, and the
 * trap's view of memory (which buffers TrapRead and TrapWrite accept).
 *
 * Pipeline position: session -> program-image.ts (segments, break) ->
 * here (with the manifest's Memory and the channel aliases) ->
 * engine.createSession(loadingRegions) and loader.ts.
 *
 * Source of truth: spec/runtime.md "Memory map", as measured on the
 * original ZeroVM 2015:
 * - the engine's protections are set in this order, a later one winning:
 *   [0x10000, roundUp64K(break)) R+W (what the loader wrote into), the
 *   trampoline and text [0x10000, textEnd) R+X, rodata R up to the data
 *   (or the break) rounded up, data R+W up to the rounded break, the stack
 *   [0xFF000000, 4 GiB) R+W, the heap [roundUp64K(break), roundUp64K(Memory
 *   - 16 MiB)) R+W, and the user manifest's pages, from the 64 KiB page of
 *   its lowest byte up to 0xFF000000, R. Pages between the text and rodata
 *   therefore stay R+W, as they did in the original;
 * - the heap must exceed 8 MiB (ENOMEM "user heap size is too small");
 * - the trap's view is the original's memory map: an address belongs to
 *   the first of trampoline+text, rodata, heap (from the rodata's end or
 *   the text's end), hole, user manifest, stack whose end lies above it,
 *   and gets that entry's protection. It differs from the engine's
 *   protections only between the text and rodata (R there, R+W for the
 *   program).
 */
import { ManifestError } from './manifest.js';
import { Protection, SANDBOX_SIZE, TRAMPOLINE_TRAP, type Region } from './engine.js';
import { STACK_START, type ProgramImage } from './program-image.js';
import { ProtectionMap } from './protection-map.js';
import { placeUserManifest, type UserManifestChannel, type UserManifestPlacement } from './user-manifest.js';

export const PAGE_64K = 0x10000;
export const TRAMPOLINE_START = TRAMPOLINE_TRAP;
export const TRAMPOLINE_END = 0x20000;
/** The stack: the top 16 MiB, always (the original's STACK_SIZE). */
export const STACK_SIZE = 0x1000000;
/** The original refused a heap of this size or less. */
export const MIN_HEAP_SIZE = 8 * 1024 * 1024;
export { STACK_START };
/** Bytes at the top of the stack the program finds at entry. */
export const ENTRY_BLOCK_SIZE = 56;

export const roundUp64K = (n: number): number => Math.ceil(n / PAGE_64K) * PAGE_64K;
export const roundDown64K = (n: number): number => Math.floor(n / PAGE_64K) * PAGE_64K;

export interface Layout {
  /** The engine's final protections, in address order, covering every accessible page. */
  readonly regions: readonly Region[];
  /** The trap's view of memory, in address order (spec/runtime.md, "The trap's view of memory"). */
  readonly trapView: readonly Region[];
  /** The break (user manifest heap_ptr). */
  readonly heapPtr: number;
  /** user manifest heap_size: up to the heap's end or the user manifest's first page, whichever is lower. */
  readonly heapSize: number;
  /** First heap page (the 64 KiB-rounded break). */
  readonly heapStart: number;
  /** End of the heap pages. */
  readonly heapEnd: number;
  /** Where TrapJail and TrapUnjail may act: from the data segment (else the heap) to the heap's end in the trap's view. */
  readonly jailable: { readonly start: number; readonly end: number };
  /** The user manifest's bytes and where they go. */
  readonly userManifest: UserManifestPlacement;
}

const RX = Protection.Read | Protection.Execute;
const RW = Protection.Read | Protection.Write;

/**
 * Computes the layout. Throws ManifestError ('invalid-memory-size',
 * 'heap-too-small', exit code ENOMEM 12) as the original did after it had
 * opened the channels.
 */
export function computeLayout(image: ProgramImage, memory: number, channels: readonly UserManifestChannel[]): Layout {
  if (!(memory > 0 && memory <= SANDBOX_SIZE)) {
    throw new ManifestError('invalid-memory-size', 'invalid memory size', `Memory is ${memory}; it must be 1..4294967296 bytes`);
  }
  const heapStart = roundUp64K(image.breakAddress);
  const heapEnd = roundUp64K(memory - STACK_SIZE);
  if (heapEnd - heapStart <= MIN_HEAP_SIZE) {
    throw new ManifestError('heap-too-small', 'user heap size is too small',
      `Memory = ${memory} leaves ${Math.max(heapEnd - heapStart, 0)} bytes of heap after the program and the 16 MiB stack; the heap must exceed ${MIN_HEAP_SIZE} bytes`);
  }
  /* the heap size depends on where the manifest ends, and the manifest holds the heap size */
  const probe = placeUserManifest(channels, { heapPtr: 0, heapSize: 0 });
  const manifestPage = roundDown64K(probe.address);
  const heapLimit = Math.min(heapEnd, manifestPage);
  const userManifest = placeUserManifest(channels, { heapPtr: image.breakAddress, heapSize: heapLimit - image.breakAddress });

  const pages = new ProtectionMap();
  pages.set(TRAMPOLINE_START, heapStart, RW);
  pages.set(TRAMPOLINE_START, image.textEnd, RX);
  const rodataEnd = roundUp64K(image.data?.start ?? image.breakAddress);
  if (image.rodata !== undefined) pages.set(image.rodata.start, rodataEnd, Protection.Read);
  if (image.data !== undefined) pages.set(image.data.start, heapStart, RW);
  pages.set(STACK_START, SANDBOX_SIZE, RW);
  pages.set(heapStart, heapEnd, RW);
  pages.set(manifestPage, STACK_START, Protection.Read);

  /* the trap's view: each entry covers from the previous entry's end to its own */
  const view = new ProtectionMap();
  let from = TRAMPOLINE_START;
  const entry = (end: number, protection: Protection): void => {
    if (end > from) {
      view.set(from, end, protection);
      from = end;
    }
  };
  entry(image.textEnd, RX);
  if (image.rodata !== undefined) entry(rodataEnd, Protection.Read);
  entry(heapLimit, RW);
  entry(manifestPage, Protection.None);
  entry(STACK_START, Protection.Read);
  entry(SANDBOX_SIZE, RW);

  return {
    regions: pages.ranges(),
    trapView: view.ranges(),
    heapPtr: image.breakAddress,
    heapSize: heapLimit - image.breakAddress,
    heapStart,
    heapEnd,
    jailable: { start: image.data?.start ?? heapStart, end: heapLimit },
    userManifest,
  };
}

/**
 * Where the trap's view (`trapView`) differs from the engine's protections
 * (`regions`): [start, end) ranges in address order with the trap's
 * protection there. Everywhere else the trap reads the engine's own record
 * (session.ts, TrapView).
 */
export function trapViewOverrides(
  regions: readonly Region[],
  trapView: readonly Region[],
): Array<{ readonly start: number; readonly end: number; readonly protection: Protection }> {
  const engine = new ProtectionMap();
  for (const r of regions) engine.set(r.address, r.address + r.size, r.protection);
  const trap = new ProtectionMap();
  for (const r of trapView) trap.set(r.address, r.address + r.size, r.protection);
  const bounds = new Set<number>([0, SANDBOX_SIZE]);
  for (const r of [...regions, ...trapView]) bounds.add(r.address).add(r.address + r.size);
  const points = [...bounds].filter((b) => b >= 0 && b <= SANDBOX_SIZE).sort((a, b) => a - b);
  const overrides: Array<{ start: number; end: number; protection: Protection }> = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i]!;
    const end = points[i + 1]!;
    const protection = trap.at(start);
    if (protection === engine.at(start)) continue;
    const last = overrides[overrides.length - 1];
    if (last !== undefined && last.end === start && last.protection === protection) last.end = end;
    else overrides.push({ start, end, protection });
  }
  return overrides;
}

/**
 * The regions to create the engine session with: like `layout.regions`,
 * but writable, except the trampoline and text, which the engine fills
 * (trampoline) and the loader fills before the final protections.
 */
export function loadingRegions(layout: Layout): Region[] {
  return makeLoadingRegions(layout);
}

/** loadingRegions of layouts kept by snapshots: every request from one snapshot creates its session with the same regions. */
const keptLoadingRegions = new WeakMap<Layout, readonly Region[]>();

/** loadingRegions(layout), made once per layout object (for a layout that does not change: a snapshot's); never change the result. */
export function sharedLoadingRegions(layout: Layout): readonly Region[] {
  let regions = keptLoadingRegions.get(layout);
  if (regions === undefined) keptLoadingRegions.set(layout, (regions = Object.freeze(makeLoadingRegions(layout).map((r) => Object.freeze(r)))));
  return regions;
}

function makeLoadingRegions(layout: Layout): Region[] {
  const regions: Region[] = [];
  for (const r of layout.regions) {
    if (r.address < TRAMPOLINE_END && r.address + r.size > TRAMPOLINE_START) {
      regions.push({ address: TRAMPOLINE_START, size: TRAMPOLINE_END - TRAMPOLINE_START, protection: RX });
      if (r.address + r.size > TRAMPOLINE_END) regions.push({ address: TRAMPOLINE_END, size: r.address + r.size - TRAMPOLINE_END, protection: RW });
    } else {
      regions.push({ address: r.address, size: r.size, protection: RW });
    }
  }
  return regions;
}
