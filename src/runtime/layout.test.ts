/**
 * The session memory map (layout.ts) and the bytes the loader writes
 * (loader.ts): user manifest records and the entry block.
 */
import { describe, expect, it } from 'vitest';
import type { NexeImage, NexeSegment } from '../elf/nexe.js';
import { Protection } from './engine.js';
import { computeLayout, loadingRegions, MANIFEST_PTR, MIN_HEAP_SIZE, STACK_REGION_SIZE } from './layout.js';
import { CHANNEL_RECORD_SIZE, entryBlock, serializeUserManifest, userManifestSize } from './loader.js';
import { ManifestError } from './manifest.js';

const RX = Protection.Read | Protection.Execute;
const RW = Protection.Read | Protection.Write;
const MiB = 1024 * 1024;

function segment(kind: NexeSegment['kind'], vaddr: number, memsz: number): NexeSegment {
  const flags = kind === 'text' ? 5 : kind === 'rodata' ? 4 : 6;
  return { kind, vaddr, memsz, filesz: memsz, offset: 0, flags };
}

function image(...segments: NexeSegment[]): NexeImage {
  return { entry: 0x20000, osabi: 123, abiVersion: 7, segments, text: segments[0]! };
}

const HELLO_LIKE = image(segment('text', 0x20000, 0x60), segment('rodata', 0x30000, 13), segment('data', 0x40000, 0x1234));

describe('computeLayout', () => {
  it('places every region of a 32 MiB session', () => {
    const layout = computeLayout(HELLO_LIKE, 32 * MiB, 100);
    expect(layout.regions).toEqual([
      { address: 0x10000, size: 0x10000, protection: RX },
      { address: 0x20000, size: 0x10000, protection: RX },
      { address: 0x30000, size: 0x10000, protection: Protection.Read },
      { address: 0x40000, size: 0x10000, protection: RW },
      { address: 0x50000, size: 16 * MiB - 0x50000, protection: RW },
      { address: MANIFEST_PTR - 0x10000, size: 0x10000, protection: Protection.Read },
      { address: MANIFEST_PTR, size: 0x10000, protection: Protection.Read },
      { address: MANIFEST_PTR + 0x10000, size: STACK_REGION_SIZE - 0x10000, protection: RW },
    ]);
    expect(layout.heapStart).toBe(0x50000);
    expect(layout.heapSize).toBe(16 * MiB - 0x50000);
    expect(layout.stackSize).toBe(STACK_REGION_SIZE - 0x10000);
    expect(MANIFEST_PTR).toBe(0xff000000);
  });

  it('takes the pointer page from the heap when the heap reaches it (4 GiB)', () => {
    const layout = computeLayout(HELLO_LIKE, 2 ** 32, 100);
    expect(layout.heapStart + layout.heapSize).toBe(MANIFEST_PTR - 0x10000);
  });

  it('rounds the manifest up to 64 KiB pages and shrinks the stack', () => {
    const layout = computeLayout(HELLO_LIKE, 32 * MiB, 0x10001);
    expect(layout.manifestSpan).toBe(0x20000);
    expect(layout.stackSize).toBe(STACK_REGION_SIZE - 0x20000);
    expect(layout.stackStart).toBe(MANIFEST_PTR + 0x20000);
  });

  it('refuses a heap of 8 MiB or less with ENOMEM', () => {
    const memory = 16 * MiB + 0x50000 + MIN_HEAP_SIZE; /* heap exactly 8 MiB */
    expect(() => computeLayout(HELLO_LIKE, memory, 100)).toThrow(ManifestError);
    try {
      computeLayout(HELLO_LIKE, memory, 100);
    } catch (error) {
      expect((error as ManifestError).exitCode).toBe(12);
      expect((error as ManifestError).message).toBe('user heap size is too small');
    }
    expect(computeLayout(HELLO_LIKE, memory + 1, 100).heapSize).toBe(MIN_HEAP_SIZE + 0x10000);
    expect(() => computeLayout(HELLO_LIKE, 0, 100)).toThrow(/invalid memory size/);
  });

  it('creates the session with writable pages for everything the loader fills', () => {
    const regions = loadingRegions(computeLayout(HELLO_LIKE, 32 * MiB, 100));
    expect(regions[0]!.protection).toBe(RX);
    expect(regions.slice(1).every((r) => r.protection === RW)).toBe(true);
  });
});

describe('user manifest and entry block', () => {
  const channels = [
    { alias: '/dev/stdin', type: 0, limits: { gets: 1n, getSize: 2n, puts: 0n, putSize: 0n }, manifestSize: 0 },
    { alias: '/dev/x', type: 3, limits: { gets: 5n, getSize: 6n, puts: 7n, putSize: -1n }, manifestSize: 42 },
  ];

  it('writes the header, 48-byte records and names (serializer.c)', () => {
    const bytes = serializeUserManifest(channels, { heapPtr: 0x50000, heapSize: 0x1000000, stackSize: 0xff0000 });
    expect(bytes.length).toBe(userManifestSize(channels));
    expect(bytes.length).toBe(20 + 2 * CHANNEL_RECORD_SIZE + 11 + 7);
    const view = new DataView(bytes.buffer);
    expect([0, 4, 8, 12, 16].map((at) => view.getUint32(at, true))).toEqual([0x50000, 0x1000000, 0xff0000, 2, MANIFEST_PTR + 20]);
    const second = 20 + CHANNEL_RECORD_SIZE;
    expect(view.getBigInt64(second, true)).toBe(5n);
    expect(view.getBigInt64(second + 24, true)).toBe(-1n);
    expect(view.getBigInt64(second + 32, true)).toBe(42n);
    expect(view.getUint32(second + 40, true)).toBe(3);
    const nameAt = view.getUint32(second + 44, true) - MANIFEST_PTR;
    expect(Buffer.from(bytes.subarray(nameAt, nameAt + 7)).toString('latin1')).toBe('/dev/x\0');
    expect(view.getUint32(20 + 44, true)).toBe(MANIFEST_PTR + 20 + 2 * CHANNEL_RECORD_SIZE);
  });

  it('builds the 56-byte entry block: word 4 = 1, word 5 = 0xFFFFFFF0', () => {
    const block = entryBlock();
    const view = new DataView(block.buffer);
    expect(block.length).toBe(56);
    expect(Array.from({ length: 14 }, (_, i) => view.getUint32(i * 4, true))).toEqual([0, 0, 0, 0, 1, 0xfffffff0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
