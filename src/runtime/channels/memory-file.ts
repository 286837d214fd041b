/**
 * A channel's bytes in memory instead of a host file: what an embedder
 * gives as a buffer (the input) or wants back as one (the output), or what
 * it forwards to a Node stream as the program writes.
 *
 * Where: runtime. A `ChannelSpec` with `memory` set opens as a HostChannel
 * whose backing is 'memory' (host-channel.ts); it then behaves as a
 * regular file would (positions, sizes, limits, the final truncation,
 * accounting), so a program cannot tell the two apart. The caller keeps
 * the MemoryFile and reads `contents()` after the session.
 */

/** Called with each write's bytes (a copy the callee may keep) and where they went. */
export type MemoryWriteListener = (bytes: Uint8Array, position: number) => void;

export class MemoryFile {
  private store: Uint8Array;
  private length: number;

  constructor(
    content: Uint8Array = new Uint8Array(0),
    private readonly onWrite?: MemoryWriteListener,
    /**
     * Keep the bytes written (default). False for a sequential write-only
     * channel forwarded to a stream: it never reads back, and an endless
     * output must not fill this process's memory.
     */
    private readonly retain = true,
  ) {
    /* a copy: the program's writes must not change the embedder's buffer */
    this.store = new Uint8Array(content);
    this.length = content.length;
  }

  /** Bytes held (a file's size). */
  get size(): number {
    return this.length;
  }

  /** Copies up to `dest.length` bytes from `position`; 0 at or past the end (pread), or always when nothing is retained. */
  read(dest: Uint8Array, position: number): number {
    if (!this.retain || position >= this.length) return 0;
    const n = Math.min(dest.length, this.length - position);
    dest.set(this.store.subarray(position, position + n));
    return n;
  }

  /** Writes all of `src` at `position`, growing the bytes (a gap reads as zeros, as a sparse file). */
  write(src: Uint8Array, position: number): number {
    const end = position + src.length;
    if (!this.retain) {
      this.length = Math.max(this.length, end);
      this.onWrite?.(Uint8Array.from(src), position);
      return src.length;
    }
    if (end > this.store.length) {
      const grown = new Uint8Array(Math.max(end, this.store.length * 2, 4096));
      grown.set(this.store.subarray(0, this.length));
      this.store = grown;
    }
    this.store.set(src, position);
    this.length = Math.max(this.length, end);
    this.onWrite?.(Uint8Array.from(src), position);
    return src.length;
  }

  /** Cuts (or extends with zeros) to `size` bytes: the channel's final truncation. */
  truncate(size: number): void {
    if (!this.retain) {
      this.length = size;
      return;
    }
    if (size > this.length) this.write(new Uint8Array(size - this.length), this.length);
    this.length = size;
  }

  /** The bytes as they are now (a copy; empty when nothing is retained). */
  contents(): Buffer {
    if (!this.retain) return Buffer.alloc(0);
    return Buffer.from(this.store.subarray(0, this.length));
  }
}
