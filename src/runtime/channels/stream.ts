/**
 * A sequential stream behind a channel: the blocking, one-way endpoint a
 * pipe between two sessions (src/jobs/ring-pipe.ts, across worker threads)
 * or, later, a network stream gives the runtime.
 *
 * Where: runtime. A `ChannelSpec` with `stream` set opens as a HostChannel
 * whose backing is 'stream' (host-channel.ts). The trap stays synchronous:
 * a read or write that must wait blocks the session's thread, up to the
 * session's deadline (which the channel passes in), and then returns
 * DEADLINE_PASSED; the channel throws ChannelDeadlineError, which ends the
 * session as "session timeout".
 *
 * Semantics (spec/serving.md, "Executing jobs"), those of a POSIX pipe:
 *   - read() waits until at least one byte is there or the writer has
 *     closed; it returns what is there (at most `dest.length`), 0 only at
 *     the end of the data (the writer closed and everything was read);
 *   - write() waits while the pipe is full (backpressure) and returns when
 *     every byte is in; when the reader has gone it returns the bytes that
 *     went in before, or BROKEN_PIPE when none did;
 *   - close() ends this side: the reader then sees the end of data, the
 *     writer a broken pipe. Positions do not exist: the channel ignores
 *     the program's offsets, as for any sequential channel.
 */

/** What write() returns when the reader has gone and nothing was written: the trap hands -EPIPE to the program. */
export const BROKEN_PIPE = -32;

/** What read() and write() return when the deadline passed while they waited (ETIMEDOUT, never seen by the program). */
export const DEADLINE_PASSED = -110;

export interface SequentialStream {
  /** Which way bytes go through this endpoint: the channel must be read-only or write-only accordingly. */
  readonly direction: 'read' | 'write';
  /** Waits for data until `deadline` (Date.now() milliseconds); bytes read (>= 1), 0 at the end, or DEADLINE_PASSED. */
  read(dest: Uint8Array, deadline: number): number;
  /**
   * Waits for room until `deadline`; `src.length`, a short count (the
   * reader went, or the deadline passed after some bytes went in),
   * BROKEN_PIPE or DEADLINE_PASSED.
   */
  write(src: Uint8Array, deadline: number): number;
  /** Ends this side (idempotent); the session calls it when the channel closes. */
  close(): void;
}
