/**
 * The session memory map (layout.ts), the user manifest (user-manifest.ts)
 * and the entry block (loader.ts), with the numbers measured on the
 * original ZeroVM 2015 (spec/runtime.md, "Memory map", "The user
 * manifest").
 */
import { describe, expect, it } from 'vitest';
import { Protection, type Region } from './engine.js';
import { computeLayout, loadingRegions, MIN_HEAP_SIZE, STACK_START, trapViewOverrides } from './layout.js';
import { entryBlock } from './loader.js';
import { ManifestError } from './manifest.js';
import type { ProgramImage } from './program-image.js';
import { CHANNEL_RECORD_SIZE, placeUserManifest, USER_MANIFEST_POINTER, type UserManifestChannel } from './user-manifest.js';

const RX = Protection.Read | Protection.Execute;
const RW = Protection.Read | Protection.Write;
const R = Protection.Read;
const MiB = 1024 * 1024;

function channel(alias: string, type = 0, manifestSize = 0): UserManifestChannel {
  return { alias, type, limits: { gets: 1n, getSize: 2n, puts: 3n, putSize: 4n }, manifestSize };
}
const STANDARD = [channel('/dev/stdin'), channel('/dev/stdout'), channel('/dev/stderr')];

/** The driver of the conformance suite: text, then data+bss at 0x30000 ending at 0x30080. */
const DRIVER_LIKE: ProgramImage = {
  entry: 0x20000,
  segments: [],
  staticTextEnd: 0x20221,
  textEnd: 0x30000,
  data: { start: 0x30000, end: 0x30080 },
  breakAddress: 0x30080,
};

/** Text, rodata at 0x50000 (a gap after the text), data at 0x60000. */
const GAPPED: ProgramImage = {
  entry: 0x20000,
  segments: [],
  staticTextEnd: 0x20060,
  textEnd: 0x30000,
  rodata: { start: 0x50000, end: 0x5000c },
  data: { start: 0x60000, end: 0x60080 },
  breakAddress: 0x60080,
};

/** The protection of `address` in a region list. */
function at(regions: readonly Region[], address: number): Protection {
  return regions.find((r) => address >= r.address && address < r.address + r.size)?.protection ?? Protection.None;
}

describe('computeLayout', () => {
  it('places every region of a 32 MiB session, and the heap up to roundUp64K(Memory - 16 MiB)', () => {
    const layout = computeLayout(DRIVER_LIKE, 32 * MiB, STANDARD);
    expect(layout.regions).toEqual([
      { address: 0x10000, size: 0x20000, protection: RX },
      { address: 0x30000, size: 0x1000000 - 0x30000, protection: RW },
      { address: 0xfeff0000, size: 0x10000, protection: R },
      { address: STACK_START, size: 0x1000000, protection: RW },
    ]);
    expect(layout.heapPtr).toBe(0x30080);
    expect(layout.heapStart).toBe(0x40000);
    expect(layout.heapSize).toBe(0x1000000 - 0x30080);
    expect(layout.jailable).toEqual({ start: 0x30000, end: 0x1000000 });
    expect(layout.trapView).toEqual(layout.regions);
  });

  it('leaves the pages between the text and rodata writable, and the trap sees them read-only', () => {
    const layout = computeLayout(GAPPED, 32 * MiB, STANDARD);
    expect(at(layout.regions, 0x30000)).toBe(RW);
    expect(at(layout.trapView, 0x30000)).toBe(R);
    expect(at(layout.regions, 0x50000)).toBe(R);
    expect(at(layout.trapView, 0x4ffff)).toBe(R);
    expect(at(layout.regions, 0x60000)).toBe(RW);
    expect(at(layout.trapView, 0x70000)).toBe(RW);
  });

  it('records where the trap\'s view differs from the engine\'s protections: the text-rodata gap alone, else nowhere', () => {
    const gapped = computeLayout(GAPPED, 32 * MiB, STANDARD);
    const overrides = trapViewOverrides(gapped.regions, gapped.trapView);
    expect(overrides.length).toBeGreaterThan(0);
    // Page by page over the first 16 MiB and the top: the trap's protection is the override's where there is one, else the engine's.
    for (let address = 0; address < 2 ** 32; address += address < 16 * MiB ? 0x1000 : 16 * MiB) {
      const override = overrides.find((o) => address >= o.start && address < o.end);
      expect({ address, protection: override?.protection ?? at(gapped.regions, address) }).toEqual({ address, protection: at(gapped.trapView, address) });
      if (override !== undefined) expect(at(gapped.regions, address)).not.toBe(override.protection);
    }
    const driver = computeLayout(DRIVER_LIKE, 32 * MiB, STANDARD);
    expect(trapViewOverrides(driver.regions, driver.trapView)).toEqual([]);
  });

  it('ends the heap at the user manifest page when Memory reaches it (4 GiB): heap_size 0xFEFBFF80', () => {
    const layout = computeLayout(DRIVER_LIKE, 2 ** 32, STANDARD);
    expect(layout.heapSize).toBe(0xfefbff80);
    expect(at(layout.regions, 0xfefeffff)).toBe(RW);
    expect(at(layout.regions, 0xfeff0000)).toBe(R);
  });

  it('a user manifest over 64 KiB takes the pages below its lowest alias from the heap', () => {
    const aliases = Array.from({ length: 17 }, (_, i) => channel(`/dev/${i}${'a'.repeat(3995)}`));
    const layout = computeLayout(DRIVER_LIKE, 2 ** 32, [...STANDARD, ...aliases]);
    expect(layout.userManifest.address).toBeLessThan(0xfeff0000);
    expect(layout.heapSize).toBe(0xfefe0000 - 0x30080);
    expect(at(layout.regions, 0xfefe0000)).toBe(R);
    expect(at(layout.regions, STACK_START)).toBe(RW);
  });

  it('refuses a heap of 8 MiB or less, and a Memory outside 1..4 GiB, with ENOMEM', () => {
    const memory = 16 * MiB + 0x40000 + MIN_HEAP_SIZE; /* heap exactly 8 MiB */
    let error: unknown;
    try {
      computeLayout(DRIVER_LIKE, memory, STANDARD);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).exitCode).toBe(12);
    expect((error as ManifestError).message).toBe('user heap size is too small');
    expect(computeLayout(DRIVER_LIKE, memory + 1, STANDARD).heapSize).toBe(MIN_HEAP_SIZE + 0x10000 + 0x10000 - 0x80);
    expect(() => computeLayout(DRIVER_LIKE, 0, STANDARD)).toThrow(/invalid memory size/);
    expect(() => computeLayout(DRIVER_LIKE, 2 ** 32 + 1, STANDARD)).toThrow(/invalid memory size/);
  });

  it('creates the session with the trampoline read+execute and everything the loader fills writable', () => {
    const regions = loadingRegions(computeLayout(DRIVER_LIKE, 32 * MiB, STANDARD));
    expect(regions[0]).toEqual({ address: 0x10000, size: 0x10000, protection: RX });
    expect(regions.slice(1).every((r) => r.protection === RW)).toBe(true);
    expect(at(regions, 0x20000)).toBe(RW);
  });
});

describe('user manifest and entry block', () => {
  const channels = [channel('/dev/stdin'), { ...channel('/dev/x', 3, 42), limits: { gets: 5n, getSize: 6n, puts: 7n, putSize: -1n } }];

  it('puts the header at 0xFF000000 - 24 - 48n, the records after it, the pointer at 0xFEFFFFFC and the aliases below', () => {
    const placed = placeUserManifest(channels, { heapPtr: 0x30080, heapSize: 0xfcff80 });
    const header = STACK_START - 24 - 2 * CHANNEL_RECORD_SIZE;
    expect(placed.header).toBe(header);
    expect(placed.address).toBe(header - 11 - 7);
    expect(placed.address + placed.bytes.length).toBe(STACK_START);
    const view = new DataView(placed.bytes.buffer);
    const word = (address: number): number => view.getUint32(address - placed.address, true);
    expect([0, 4, 8, 12, 16].map((o) => word(header + o))).toEqual([0x30080, 0xfcff80, 0x1000000, 2, header + 20]);
    expect(word(USER_MANIFEST_POINTER)).toBe(header);
    const second = header + 20 + CHANNEL_RECORD_SIZE - placed.address;
    expect(view.getBigInt64(second, true)).toBe(5n);
    expect(view.getBigInt64(second + 24, true)).toBe(-1n);
    expect(view.getBigInt64(second + 32, true)).toBe(42n);
    expect(view.getUint32(second + 40, true)).toBe(3);
    expect(placed.names).toEqual([header - 11, header - 18]);
    expect(word(header + 20 + 44)).toBe(header - 11);
    const alias = (address: number, length: number): string => Buffer.from(placed.bytes.subarray(address - placed.address, address - placed.address + length)).toString('latin1');
    expect(alias(header - 11, 11)).toBe('/dev/stdin\0');
    expect(alias(header - 18, 7)).toBe('/dev/x\0');
  });

  it('builds the 56-byte entry block: word 4 = 1, word 5 = 0xFFFFFFF0', () => {
    const block = entryBlock();
    const view = new DataView(block.buffer);
    expect(block.length).toBe(56);
    expect(Array.from({ length: 14 }, (_, i) => view.getUint32(i * 4, true))).toEqual([0, 0, 0, 0, 1, 0xfffffff0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
