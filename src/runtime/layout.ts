/**
 * The memory map of one session: where text, rodata, data, heap, the user
 * manifest and the stack go in the 4 GiB sandbox, and with which
 * protection (the engine's Region list).
 *
 * Pipeline position: session -> here (from the NexeImage and the manifest's
 * Memory) -> engine.createSession(regions) and the loader.
 *
 * Source of truth: shared/spec-notes/zerovm-abi.md §1 and the original's
 * src/loader/userspace.c + src/main/config.h (manifest 20130611 era):
 * - [0, 0x10000) NULL guard; [0x10000, 0x20000) trampoline R+X (the engine
 *   writes it);
 * - text from 0x20000, rounded up to 64 KiB, R+X (tail filled with hlt by
 *   the loader); rodata R; data + bss R+W (each rounded out to 64 KiB);
 * - heap R+W from the 64 KiB-rounded end of the last segment; size =
 *   roundup64K(Memory - 16 MiB) - roundup64K(data end), refused (ENOMEM,
 *   "user heap size is too small") unless it exceeds MIN_HEAP_SIZE (8 MiB);
 * - the user manifest at MANIFEST_PTR = 4 GiB - 16 MiB, i.e. the bottom of
 *   the stack region, read-only, roundup64K(its size) bytes; the stack is
 *   the rest of the top 16 MiB (stack_size = 16 MiB - that), R+W;
 * - the deprecated API-1 pointer page [MANIFEST_PTR - 64 KiB, MANIFEST_PTR)
 *   read-only, holding MANIFEST_PTR at 0xFEFFFFFC (PatchForOldAPI); when the
 *   heap reaches that page (no hole), the heap loses its last 64 KiB;
 * - everything else inaccessible.
 */
import { ManifestError } from './manifest.js';
import { Protection, SANDBOX_SIZE, TRAMPOLINE_TRAP, type Region } from './engine.js';
import type { NexeImage } from '../elf/nexe.js';

export const PAGE_64K = 0x10000;
export const TRAMPOLINE_START = TRAMPOLINE_TRAP;
export const TRAMPOLINE_END = 0x20000;
/** The top 16 MiB: stack and user manifest (the original's STACK_SIZE). */
export const STACK_REGION_SIZE = 0x1000000;
/** The original refused a heap of this size or less. */
export const MIN_HEAP_SIZE = 8 * 1024 * 1024;
/** Where the user manifest goes: the bottom of the stack region. */
export const MANIFEST_PTR = SANDBOX_SIZE - STACK_REGION_SIZE;
/** Where the deprecated API-1 pointer to the user manifest is stored. */
export const OLD_MANIFEST_POINTER = 0xfefffffc;
/** Bytes at the top of the stack the program finds at entry. */
export const ENTRY_BLOCK_SIZE = 56;

export const roundUp64K = (n: number): number => Math.ceil(n / PAGE_64K) * PAGE_64K;
export const roundDown64K = (n: number): number => Math.floor(n / PAGE_64K) * PAGE_64K;

export interface Span {
  readonly start: number;
  /** Exclusive; 64 KiB aligned. */
  readonly end: number;
}

export interface SegmentPlacement extends Span {
  readonly kind: 'text' | 'rodata' | 'data';
  readonly protection: Protection;
}

export interface Layout {
  /** Final protections, in address order (what the program runs with). */
  readonly regions: readonly Region[];
  readonly segments: readonly SegmentPlacement[];
  /** Heap start (user manifest heap_ptr). */
  readonly heapStart: number;
  /** Heap bytes (user manifest heap_size). */
  readonly heapSize: number;
  readonly manifestAddress: number;
  /** User manifest bytes rounded up to 64 KiB. */
  readonly manifestSpan: number;
  /** The API-1 pointer page. */
  readonly pointerPage: number;
  /** Usable stack bytes (user manifest stack_size). */
  readonly stackSize: number;
  readonly stackStart: number;
}

const RX = Protection.Read | Protection.Execute;
const RW = Protection.Read | Protection.Write;

/**
 * Computes the layout. `userManifestSize` is the serialized user manifest's
 * size in bytes. Throws ManifestError ('invalid-memory-size',
 * 'heap-too-small', exit code ENOMEM 12) as the original's SetHeap did.
 */
export function computeLayout(image: NexeImage, memory: number, userManifestSize: number): Layout {
  if (!(memory > 0 && memory <= SANDBOX_SIZE)) {
    throw new ManifestError('invalid-memory-size', 'invalid memory size', `Memory is ${memory}; it must be 1..4294967296 bytes`);
  }
  const segments: SegmentPlacement[] = [];
  let previousEnd = TRAMPOLINE_END;
  for (const segment of image.segments) {
    const start = roundDown64K(segment.vaddr);
    const end = roundUp64K(segment.vaddr + segment.memsz);
    if (start < previousEnd) {
      throw new ManifestError('program-malformed', `${segment.kind} segment at 0x${segment.vaddr.toString(16)} shares a 64 KiB page with the previous one`,
        'segments of different kinds must be on separate 64 KiB pages');
    }
    const protection = segment.kind === 'text' ? RX : segment.kind === 'rodata' ? Protection.Read : RW;
    if (end > start) segments.push({ kind: segment.kind, start, end, protection });
    previousEnd = Math.max(previousEnd, end);
  }
  const heapStart = previousEnd;
  let heapSize = roundUp64K(memory - STACK_REGION_SIZE) - heapStart;
  if (heapSize <= MIN_HEAP_SIZE) {
    throw new ManifestError('heap-too-small', 'user heap size is too small',
      `Memory = ${memory} leaves ${Math.max(heapSize, 0)} bytes of heap after the program and the 16 MiB stack; the heap must exceed ${MIN_HEAP_SIZE} bytes`);
  }
  const manifestSpan = roundUp64K(userManifestSize);
  if (manifestSpan >= STACK_REGION_SIZE) {
    throw new ManifestError('too-many-channels', 'channels number reached maximum', 'the user manifest does not fit the stack region');
  }
  const pointerPage = MANIFEST_PTR - PAGE_64K;
  if (heapStart + heapSize > pointerPage) heapSize = pointerPage - heapStart; /* PatchForOldAPI: no hole */

  const regions: Region[] = [{ address: TRAMPOLINE_START, size: TRAMPOLINE_END - TRAMPOLINE_START, protection: RX }];
  for (const s of segments) regions.push({ address: s.start, size: s.end - s.start, protection: s.protection });
  regions.push({ address: heapStart, size: heapSize, protection: RW });
  regions.push({ address: pointerPage, size: PAGE_64K, protection: Protection.Read });
  regions.push({ address: MANIFEST_PTR, size: manifestSpan, protection: Protection.Read });
  regions.push({ address: MANIFEST_PTR + manifestSpan, size: STACK_REGION_SIZE - manifestSpan, protection: RW });
  return {
    regions,
    segments,
    heapStart,
    heapSize,
    manifestAddress: MANIFEST_PTR,
    manifestSpan,
    pointerPage,
    stackSize: STACK_REGION_SIZE - manifestSpan,
    stackStart: MANIFEST_PTR + manifestSpan,
  };
}

/**
 * The regions to create the engine session with: like `layout.regions`,
 * but everything the loader fills (text, rodata, the manifest and pointer
 * pages) writable; the loader then applies the final protections.
 */
export function loadingRegions(layout: Layout): Region[] {
  return layout.regions.map((r) =>
    r.address === TRAMPOLINE_START ? r : { address: r.address, size: r.size, protection: RW },
  );
}
