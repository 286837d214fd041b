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
 */
import { Protection, SANDBOX_SIZE, type EngineSession } from './engine.js';
import { ENTRY_BLOCK_SIZE, TRAMPOLINE_END, TRAMPOLINE_START, type Layout } from './layout.js';
import type { ProgramImage } from './program-image.js';

const HLT = 0xf4;

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
 * `loadingRegions(layout)`.
 */
export function loadProgram(session: EngineSession, bytes: Uint8Array, image: ProgramImage, layout: Layout): void {
  for (const segment of image.segments) {
    if (segment.filesz === 0) continue;
    session.writableView(segment.vaddr, segment.filesz).set(bytes.subarray(segment.offset, segment.offset + segment.filesz));
  }
  session.writableView(image.staticTextEnd, image.textEnd - image.staticTextEnd).fill(HLT);
  const manifest = layout.userManifest;
  session.writableView(manifest.address, manifest.bytes.length).set(manifest.bytes);
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
