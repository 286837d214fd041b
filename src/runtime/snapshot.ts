/**
 * Warm starts: a session stopped at TrapFork, kept as data, and what it
 * takes to start another session from it (spec/runtime.md "Daemon mode").
 *
 * Pipeline position: session.ts takes a snapshot when a forkable session's
 * program calls TrapFork and starts request sessions from one
 * (`runWarmSession`); the daemon (daemon.ts), the embedding API's
 * WarmStart and the CLI hand snapshots around. Nothing here runs code.
 *
 * The original forked its process: the request session was a copy-on-write
 * copy of the daemon. Here a request gets a fresh engine session of the
 * same layout, over which the snapshot's memory is mapped copy-on-write
 * from a memory image (engines with createMemoryImage: both addons) or
 * into which it is copied (an engine without), then the page protections
 * are replayed and the registers loaded (the engine's TrapContext). Only pages
 * that are not all zero are kept: a fresh sandbox is zero already.
 *
 * Choices a reader may question:
 * - A snapshot is plain data (no class instances, no descriptors), so it
 *   survives structured cloning: the CLI hands one to its daemon process.
 * - The memory image is made at the first request and kept beside the
 *   snapshot (a WeakMap), not in it: it holds a descriptor, which neither
 *   structured cloning nor another process could use.
 */
import { canonicalCopy } from './canonical-base.js';
import { Protection, TRAMPOLINE_TRAP, type Engine, type EngineSession, type MemoryImage, type Region, type TrapContext } from './engine.js';
import type { ChannelPositions, HostChannel, IoLimits } from './channels/index.js';
import type { EtagEntry } from './etag.js';
import { sharedLoadingRegions, TRAMPOLINE_END, type Layout } from './layout.js';
import { programImageRuns } from './loader.js';
import type { PreparedProgram } from './session.js';
import type { UserManifestPlacement } from './user-manifest.js';

const PAGE = 0x1000;

/** Bytes of guest memory that were not all zero, at a sandbox address. */
export interface MemoryRun {
  readonly address: number;
  readonly bytes: Uint8Array;
}

/** One channel of the session at the fork: what a request's channel must match, and where it goes on from. */
export interface ChannelAtFork extends ChannelPositions {
  readonly alias: string;
  readonly type: number;
  readonly limits: IoLimits;
}

/** A session stopped at TrapFork (spec/runtime.md "Daemon mode"). */
export interface SessionSnapshot {
  /** The engine that ran it; only that engine loads its context. */
  readonly engine: Engine['name'];
  readonly program: PreparedProgram;
  readonly layout: Layout;
  /** The memory etag was asked for (`/dev/memory`): every request reports it. */
  readonly memoryEtag: boolean;
  /** The engine's page protections at the fork (TrapJail included). */
  readonly enginePages: readonly Region[];
  /** The trap's view of memory at the fork. */
  readonly trapPages: readonly Region[];
  /** The readable memory that was not zero (the trampoline excepted: each engine writes its own). */
  readonly data: readonly MemoryRun[];
  readonly context: TrapContext;
  /** In the program's order. */
  readonly channels: readonly ChannelAtFork[];
  /** The channels' etags at the fork: every request's report lists them first. */
  readonly etags: readonly EtagEntry[];
}

/** Bytes scanned through one view (guest memory windows are 1 MiB). */
const SCAN_CHUNK = 0x100000;

/** Whether the 4 KiB page at `offset` of `words` (a page-aligned view of guest memory) is all zero. */
function pageIsZero(words: Int32Array, offset: number): boolean {
  const end = offset + PAGE / 4;
  for (let i = offset; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/**
 * Which pages of [start, end) may hold data: those the engine says the host
 * gave the session (EngineSession.populatedPages: a page never touched
 * reads as zeros) and those of `mapped` (the runs of the snapshot a
 * restored session's memory image holds, and of the program's memory
 * image a session loaded its program from: untouched, they read as the
 * image). All of them when the engine cannot tell.
 */
function candidatePages(session: EngineSession, start: number, end: number, mapped: readonly Pick<MemoryRun, 'address' | 'bytes'>[]): Uint8Array | null {
  const populated = session.populatedPages?.(start, end - start) ?? null;
  if (populated === null) return null;
  for (const run of [...mapped, ...programImageRuns(session)]) {
    const from = Math.max(start, run.address);
    const to = Math.min(end, run.address + run.bytes.length);
    for (let page = Math.floor((from - start) / PAGE); from < to && start + page * PAGE < to; page++) populated[page] = 1;
  }
  return populated;
}

/**
 * Copies the pages of `pages` the host may read that are not all zero,
 * merged into runs. `mapped`: the runs a restored session's memory was
 * mapped from (a request that forks again), which may be there untouched.
 */
export function captureMemory(session: EngineSession, pages: readonly Region[], mapped: readonly MemoryRun[] = []): MemoryRun[] {
  const runs: MemoryRun[] = [];
  for (const region of pages) {
    if ((region.protection & (Protection.Read | Protection.Execute)) === 0) continue;
    const start = Math.max(region.address, TRAMPOLINE_END);
    const end = region.address + region.size;
    if (start >= end) continue;
    const candidates = candidatePages(session, start, end, mapped);
    let runStart = -1;
    const flush = (at: number): void => {
      if (runStart < 0) return;
      /* as at ZeroVM's base: a snapshot does not depend on where it was taken (canonical-base.ts) */
      runs.push({ address: runStart, bytes: canonicalCopy(session.view(runStart, at - runStart), runStart, session.base) });
      runStart = -1;
    };
    for (let chunk = start; chunk < end; chunk += SCAN_CHUNK) {
      const size = Math.min(SCAN_CHUNK - (chunk % SCAN_CHUNK), end - chunk);
      const first = (chunk - start) / PAGE;
      if (candidates !== null && candidates.subarray(first, first + size / PAGE).indexOf(1) < 0) {
        /* nothing the host ever gave: zeros, and not read (reading would make the host map them) */
        flush(chunk);
        continue;
      }
      const view = session.view(chunk, size);
      /* guest pages are 4 KiB aligned in host memory, so the view is too */
      const words = new Int32Array(view.buffer, view.byteOffset, size / 4);
      for (let page = 0; page < size; page += PAGE) {
        if ((candidates !== null && candidates[first + page / PAGE] === 0) || pageIsZero(words, page / 4)) flush(chunk + page);
        else if (runStart < 0) runStart = chunk + page;
      }
    }
    flush(end);
  }
  return runs;
}

/**
 * Fills a fresh engine session (created with `loadingRegions(layout)`, so
 * every page but the trampoline is writable) with the snapshot's memory
 * (and `manifest`, a request's own user manifest, over the snapshot's),
 * then gives the pages their protections at the fork and loads the
 * registers: the session then stands at the TrapFork trap.
 */
export function restoreSnapshot(session: EngineSession, snapshot: SessionSnapshot, engine: Engine, manifest?: Pick<UserManifestPlacement, 'address' | 'bytes'>): void {
  const image = snapshotMemoryImage(snapshot, engine);
  if (image !== undefined && session.mapImage !== undefined) {
    /* copy-on-write: map the image over every region but the trampoline */
    for (const region of sharedLoadingRegions(snapshot.layout)) {
      if (region.address === TRAMPOLINE_TRAP) continue;
      session.mapImage(image, region.address, region.size, region.protection);
    }
  } else {
    for (const run of snapshot.data) session.writableView(run.address, run.bytes.length).set(run.bytes);
  }
  /* a request's own user manifest, before its pages become read-only again */
  if (manifest !== undefined) session.writableView(manifest.address, manifest.bytes.length).set(manifest.bytes);
  for (const region of snapshot.enginePages) {
    if (region.protection === (Protection.Read | Protection.Write)) continue;
    let { address, size } = region;
    /* the engine owns the trampoline's pages */
    if (address < TRAMPOLINE_END && address + size > TRAMPOLINE_TRAP) {
      size = address + size - TRAMPOLINE_END;
      address = TRAMPOLINE_END;
      if (size <= 0) continue;
    }
    session.protect(address, size, region.protection);
  }
  session.loadTrapContext(snapshot.context);
}

/** Memory images made for snapshots, per engine: made at the first request, dropped with the snapshot. */
const images = new WeakMap<SessionSnapshot, Map<Engine['name'], MemoryImage>>();

/** The snapshot's memory image for `engine`, when the engine maps images (made at the first request). */
export function snapshotMemoryImage(snapshot: SessionSnapshot, engine: Engine): MemoryImage | undefined {
  const create = engine.createMemoryImage;
  if (create === undefined) return undefined;
  let byEngine = images.get(snapshot);
  if (byEngine === undefined) images.set(snapshot, (byEngine = new Map()));
  let image = byEngine.get(engine.name);
  if (image === undefined) byEngine.set(engine.name, (image = create(snapshot.data)));
  return image;
}

/** The channels' state at the fork, in the program's order. */
export function channelsAtFork(channels: readonly HostChannel[]): ChannelAtFork[] {
  return channels.map((c) => ({ alias: c.alias, type: c.type, limits: c.limits, ...c.positions }));
}
