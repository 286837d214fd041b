/**
 * Views of guest memory for an engine whose addon hands out external
 * ArrayBuffers over it: the per-page protection record that makes `view()`
 * refuse inaccessible pages, and the cache of 1 MiB windows.
 *
 * Pipeline position: an engine session (src/emulator/unicorn.ts) -> here ->
 * the addon's `memory(address, length)`. The native engine
 * (src/engines/native.ts) does the same inline; this is that logic with
 * one job.
 *
 * Choices a reader may question (the same as the native engine's):
 * - A view of a page the program cannot read or execute throws: the view
 *   aliases host memory that is PROT_NONE there, and touching it from
 *   JavaScript would crash the process rather than throw.
 * - 1 MiB windows, not one 4 GiB buffer: V8 counts an ArrayBuffer's length
 *   as external memory, and 4 GiB of it forces a full garbage collection per
 *   session. A view crossing a window edge gets a buffer of its own.
 */
import { Protection, SANDBOX_SIZE } from '../runtime/engine.js';

const PAGE_SIZE = 0x10000;
const PAGE_COUNT = SANDBOX_SIZE / PAGE_SIZE;
const WINDOW_SIZE = 0x100000;

export class GuestViews {
  /** Protection of each 64 KiB page, as last set. */
  private readonly pages = new Uint8Array(PAGE_COUNT);
  /** Windows handed out so far, by index. */
  private readonly windows = new Map<number, ArrayBuffer>();

  /** `memory` returns an ArrayBuffer aliasing exactly [address, address + length). */
  constructor(private readonly memory: (address: number, length: number) => ArrayBuffer) {}

  view(address: number, length: number): Uint8Array {
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > SANDBOX_SIZE) {
      throw new RangeError(`view: [${address}, +${length}) is not inside the 4 GiB sandbox`);
    }
    if (length === 0) return new Uint8Array(0);
    const last = Math.floor((address + length - 1) / PAGE_SIZE);
    for (let page = Math.floor(address / PAGE_SIZE); page <= last; page++) {
      if ((this.pages[page]! & (Protection.Read | Protection.Execute)) === 0) {
        throw new RangeError(`view: sandbox page 0x${(page * PAGE_SIZE).toString(16)} is not mapped`);
      }
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

  /** Records a protection the engine has applied (whole 64 KiB pages). */
  protected(address: number, size: number, protection: Protection): void {
    this.pages.fill(protection, address / PAGE_SIZE, (address + size) / PAGE_SIZE);
  }

  /** Forgets the windows (the addon detaches them on dispose). */
  clear(): void {
    this.windows.clear();
  }
}

/** Throws unless `address` and `size` are whole 64 KiB pages. */
export function checkPageRange(address: number, size: number): void {
  if (!Number.isInteger(address) || !Number.isInteger(size) || address % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
    throw new RangeError(`protect: address 0x${address.toString(16)} and size 0x${size.toString(16)} must be multiples of 64 KiB`);
  }
}
