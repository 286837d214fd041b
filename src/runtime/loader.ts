/**
 * The loader: fills a fresh engine session with the program and the data
 * the program finds at entry, then applies the final protections.
 *
 * Pipeline position: session -> computeLayout -> engine.createSession(
 * loadingRegions) -> here -> engine.start.
 *
 * Source of truth: spec/runtime.md "Initial state" and "Memory map", as
 * measured on the original ZeroVM 2015:
 * - the user manifest (user-manifest.ts) below the stack;
 * - the 56 bytes at the top of the stack: zero, but 32-bit word 4 = 1 and
 *   word 5 = 0xFFFFFFF0 (the remains of NaCl's argc/argv/envp/auxv block);
 * - segments are copied in program header order, then the text's hlt fill.
 *
 * A program loaded a second time (a server's, an embedder's) is not copied
 * again: on an engine that has memory images (Engine.createMemoryImage),
 * its segments and hlt fill become one image, made once, which each later
 * session maps copy-on-write over [0x20000, end of the program's bytes).
 * The pages read the same as copied ones (zeros where no segment is), and
 * the sandbox pays neither the copy nor a fault and a zeroed page for each
 * of them (the text's 64 KiB-aligned hlt fill alone is 16 pages).
 * Likewise a user manifest written a second time for the same program
 * (a server's requests of one kind have the same one) becomes an image
 * mapped read-only over its pages: the sandbox then need not make them
 * writable for the copy and read-only again, which on the native engine's
 * reused sandbox (spec/runtime.md "Engines") were the only protection
 * changes such a session made.
 */
import { Protection, SANDBOX_SIZE, type Engine, type EngineSession, type MemoryImage, type Region } from './engine.js';
import { ENTRY_BLOCK_SIZE, TRAMPOLINE_END, TRAMPOLINE_START, type Layout } from './layout.js';
import { TEXT_START, type ProgramImage } from './program-image.js';

const HLT = 0xf4;
const PAGE_SIZE = 0x1000;

/** A program's segments and hlt fill as an engine's memory image, and the end of what it holds (page-aligned). */
interface ProgramMemoryImage {
  readonly engine: Engine['name'];
  readonly bytes: Uint8Array;
  readonly image: MemoryImage;
  readonly end: number;
  /** What the image holds, at sandbox addresses. */
  readonly runs: readonly { readonly address: number; readonly bytes: Uint8Array }[];
}

/**
 * The runs each session got from a program memory image. A page of such a
 * mapping that the session never touched reads as the image, yet the host
 * has not given it to the process: a warm start's snapshot must look at
 * it all the same (snapshot.ts, captureMemory).
 */
const mappedRuns = new WeakMap<EngineSession, ProgramMemoryImage['runs']>();

/** The memory image runs mapped into `session` by loadProgram: the program's and the user manifest's (none when it copied them). */
export function programImageRuns(session: EngineSession): ProgramMemoryImage['runs'] {
  return mappedRuns.get(session) ?? [];
}

/** Programs loaded once (the second load makes the memory image: a program run once is only copied). */
const loadedOnce = new WeakSet<ProgramImage>();
const memoryImages = new WeakMap<ProgramImage, ProgramMemoryImage | 'none'>();

/** The memory image loadProgram will map for this program on `engine`, when it made one already (no side effect). */
export function knownProgramMemoryImage(engine: Pick<Engine, 'name'>, bytes: Uint8Array, image: ProgramImage): MemoryImage | undefined {
  const known = memoryImages.get(image);
  return known !== undefined && known !== 'none' && known.engine === engine.name && known.bytes === bytes ? known.image : undefined;
}

/** The program's memory image on `engine`, when it has been loaded before and the engine makes images. */
function programMemoryImage(engine: Pick<Engine, 'name' | 'createMemoryImage'>, bytes: Uint8Array, image: ProgramImage, layout: Layout): ProgramMemoryImage | undefined {
  const known = memoryImages.get(image);
  if (known === 'none') return undefined;
  if (known !== undefined && known.engine === engine.name && known.bytes === bytes) return known;
  if (!loadedOnce.has(image)) {
    loadedOnce.add(image);
    return undefined;
  }
  const create = engine.createMemoryImage;
  if (create === undefined) return undefined;
  const segments = image.segments.filter((segment) => segment.filesz > 0);
  const end = Math.ceil(Math.max(image.textEnd, ...segments.map((s) => s.vaddr + s.filesz)) / PAGE_SIZE) * PAGE_SIZE;
  /* [0x20000, end) must be what the session made writable for loading (below the heap) */
  if (segments.some((s) => s.vaddr < TEXT_START) || end > layout.heapStart) {
    memoryImages.set(image, 'none');
    return undefined;
  }
  const runs = segments.map((segment) => ({ address: segment.vaddr, bytes: bytes.subarray(segment.offset, segment.offset + segment.filesz) }));
  runs.push({ address: image.staticTextEnd, bytes: new Uint8Array(image.textEnd - image.staticTextEnd).fill(HLT) });
  const made: ProgramMemoryImage = { engine: engine.name, bytes, image: create.call(engine, runs), end, runs };
  memoryImages.set(image, made);
  return made;
}

/** User manifests per program image: null when seen once, then the image of it (a few per program, the oldest dropped). */
const manifestImages = new WeakMap<ProgramMemoryImage, Map<string, MemoryImage | null>>();
const MANIFEST_IMAGES_PER_PROGRAM = 8;

/**
 * The user manifest as a memory image to map over `region` (its read-only
 * pages), when this program's sessions have written the same one before
 * on `engine`; undefined the first time.
 */
function manifestMemoryImage(program: ProgramMemoryImage, engine: Pick<Engine, 'name' | 'createMemoryImage'>, manifest: Layout['userManifest'], region: Region): MemoryImage | undefined {
  const create = engine.createMemoryImage;
  if (create === undefined) return undefined;
  let known = manifestImages.get(program);
  if (known === undefined) manifestImages.set(program, (known = new Map()));
  const { bytes } = manifest;
  const key = `${region.address}+${region.size}@${manifest.address}:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')}`;
  const image = known.get(key);
  if (image !== undefined && image !== null) return image;
  if (image === undefined) {
    if (known.size >= MANIFEST_IMAGES_PER_PROGRAM) known.delete(known.keys().next().value!);
    known.set(key, null);
    return undefined;
  }
  const made = create.call(engine, [{ address: manifest.address, bytes }]);
  known.set(key, made);
  return made;
}

/** The 56-byte block at the top of the stack. */
export function entryBlock(): Uint8Array {
  const block = new Uint8Array(ENTRY_BLOCK_SIZE);
  const view = new DataView(block.buffer);
  view.setUint32(16, 1, true);
  view.setUint32(20, 0xfffffff0, true);
  return block;
}

/**
 * Copies the program's segments in header order, fills the text's tail
 * with hlt, writes the user manifest and the entry block, then applies the
 * final protections. The session must have been created with
 * `loadingRegions(layout)` on `engine` (which may map the program's memory
 * image instead of copying it).
 */
export function loadProgram(session: EngineSession, bytes: Uint8Array, image: ProgramImage, layout: Layout, engine?: Pick<Engine, 'name' | 'createMemoryImage'>): void {
  const mapped = engine !== undefined && session.mapImage !== undefined ? programMemoryImage(engine, bytes, image, layout) : undefined;
  if (mapped !== undefined) {
    session.mapImage!(mapped.image, TEXT_START, mapped.end - TEXT_START, Protection.Read | Protection.Write);
    mappedRuns.set(session, mapped.runs);
  } else {
    for (const segment of image.segments) {
      if (segment.filesz === 0) continue;
      session.writableView(segment.vaddr, segment.filesz).set(bytes.subarray(segment.offset, segment.offset + segment.filesz));
    }
    session.writableView(image.staticTextEnd, image.textEnd - image.staticTextEnd).fill(HLT);
  }
  const manifest = layout.userManifest;
  const manifestRegion = layout.regions.find((r) => r.protection === Protection.Read && r.address <= manifest.address && manifest.address + manifest.bytes.length <= r.address + r.size);
  const manifestImage = mapped !== undefined && manifestRegion !== undefined ? manifestMemoryImage(mapped, engine!, manifest, manifestRegion) : undefined;
  if (manifestImage !== undefined) {
    session.mapImage!(manifestImage, manifestRegion!.address, manifestRegion!.size, Protection.Read);
    /* its pages, untouched, read as the image too: a snapshot must see them (programImageRuns) */
    mappedRuns.set(session, [...(mappedRuns.get(session) ?? []), { address: manifest.address, bytes: manifest.bytes }]);
  } else {
    session.writableView(manifest.address, manifest.bytes.length).set(manifest.bytes);
  }
  session.writableView(SANDBOX_SIZE - ENTRY_BLOCK_SIZE, ENTRY_BLOCK_SIZE).set(entryBlock());
  for (const region of layout.regions) {
    if (region.protection === (Protection.Read | Protection.Write)) continue;
    if (region.address === TRAMPOLINE_START) {
      /* the engine owns the trampoline page */
      if (region.size > TRAMPOLINE_END - TRAMPOLINE_START) session.protect(TRAMPOLINE_END, region.address + region.size - TRAMPOLINE_END, region.protection);
    } else {
      session.protect(region.address, region.size, region.protection);
    }
  }
}
