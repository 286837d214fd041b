/**
 * A pipe between two sessions of a job that may run on different worker
 * threads: a ring buffer in a SharedArrayBuffer, waited on with
 * Atomics.wait, whose two ends are SequentialStreams the runtime opens as
 * channels (src/runtime/channels/stream.ts).
 *
 * Where: src/jobs. The executor creates one RingPipe per PipePlan, sends
 * its SharedArrayBuffer to the threads of both nodes (or keeps it, in one
 * thread), and each side wraps it with the end it needs. The executor can
 * also close either end from outside (a node that never started, a thread
 * that died), so the peer is never left waiting (spec/serving.md,
 * "Executing jobs").
 *
 * Layout: a control block of Int32 slots, then `capacity` bytes of data.
 *   WRITTEN, READ   bytes moved so far, modulo 2^32 (their difference is the
 *                   fill; capacity < 2^31 keeps it exact);
 *   WRITER_CLOSED, READER_CLOSED   1 once that end has closed;
 *   DATA_EVENTS     bumped after every write and the writer's close: the
 *                   reader waits on it;
 *   ROOM_EVENTS     bumped after every read and the reader's close: the
 *                   writer waits on it.
 * Each side reads the event counter before it looks at the state and waits
 * only while the counter still has that value, so a wake-up between the
 * look and the wait is never lost. One reader and one writer per pipe.
 */
import { BROKEN_PIPE, DEADLINE_PASSED, type SequentialStream } from '../runtime/channels/index.js';

const WRITTEN = 0;
const READ = 1;
const WRITER_CLOSED = 2;
const READER_CLOSED = 3;
const DATA_EVENTS = 4;
const ROOM_EVENTS = 5;
const CONTROL_SLOTS = 8;
const CONTROL_BYTES = CONTROL_SLOTS * 4;

/** Default ring size: small enough that a fast writer is held back early, big enough for a few traps' worth. */
export const DEFAULT_PIPE_CAPACITY = 256 * 1024;
const MAX_CAPACITY = 2 ** 30;

/** The shared state of one pipe; plain data that crosses threads (postMessage shares the buffer). */
export interface RingPipeState {
  readonly buffer: SharedArrayBuffer;
}

/** `capacity`: a power of two (the 32-bit counters then wrap onto the same ring offsets), 1 .. 2^30. */
export function createRingPipe(capacity = DEFAULT_PIPE_CAPACITY): RingPipeState {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) throw new RangeError(`a pipe's capacity is a power of two from 1 to ${MAX_CAPACITY} bytes, not ${capacity}`);
  return { buffer: new SharedArrayBuffer(CONTROL_BYTES + capacity) };
}

class RingView {
  readonly control: Int32Array;
  readonly data: Uint8Array;
  readonly capacity: number;

  constructor(state: RingPipeState) {
    this.control = new Int32Array(state.buffer, 0, CONTROL_SLOTS);
    this.data = new Uint8Array(state.buffer, CONTROL_BYTES);
    this.capacity = this.data.length;
  }

  fill(): number {
    return (Atomics.load(this.control, WRITTEN) - Atomics.load(this.control, READ)) >>> 0;
  }

  bump(slot: number): void {
    Atomics.add(this.control, slot, 1);
    Atomics.notify(this.control, slot);
  }

  /** Waits until `slot` moves from `seen` or `deadline` (Date.now() ms) passes; false when it passed. */
  waitFor(slot: number, seen: number, deadline: number): boolean {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(this.control, slot, seen, left);
    return true;
  }

  closeWriter(): void {
    if (Atomics.exchange(this.control, WRITER_CLOSED, 1) === 0) this.bump(DATA_EVENTS);
  }

  closeReader(): void {
    if (Atomics.exchange(this.control, READER_CLOSED, 1) === 0) this.bump(ROOM_EVENTS);
  }
}

/** The reading end. */
export class RingPipeReader implements SequentialStream {
  readonly direction = 'read';
  /** A read gave up at the deadline. */
  timedOut = false;
  private readonly ring: RingView;

  constructor(state: RingPipeState) {
    this.ring = new RingView(state);
  }

  read(dest: Uint8Array, deadline: number): number {
    const { control, data, capacity } = this.ring;
    if (dest.length === 0) return 0;
    for (;;) {
      const seen = Atomics.load(control, DATA_EVENTS);
      const fill = this.ring.fill();
      if (fill > 0) {
        const n = Math.min(fill, dest.length);
        const start = Atomics.load(control, READ) >>> 0;
        const at = start % capacity;
        const first = Math.min(n, capacity - at);
        dest.set(data.subarray(at, at + first));
        if (first < n) dest.set(data.subarray(0, n - first), first);
        Atomics.store(control, READ, (start + n) | 0);
        this.ring.bump(ROOM_EVENTS);
        return n;
      }
      if (Atomics.load(control, WRITER_CLOSED) === 1) {
        /* the writer may have written its last bytes and closed after the fill was read: they come first */
        if (this.ring.fill() > 0) continue;
        return 0;
      }
      if (!this.ring.waitFor(DATA_EVENTS, seen, deadline)) {
        this.timedOut = true;
        return DEADLINE_PASSED;
      }
    }
  }

  write(): number {
    return BROKEN_PIPE; /* never called: the channel of a reading end is read-only */
  }

  close(): void {
    this.ring.closeReader();
  }
}

/** The writing end. */
export class RingPipeWriter implements SequentialStream {
  readonly direction = 'write';
  /** A write gave up at the deadline. */
  timedOut = false;
  private readonly ring: RingView;

  constructor(state: RingPipeState) {
    this.ring = new RingView(state);
  }

  read(): number {
    return 0; /* never called: the channel of a writing end is write-only */
  }

  write(src: Uint8Array, deadline: number): number {
    const { control, data, capacity } = this.ring;
    let done = 0;
    while (done < src.length) {
      const seen = Atomics.load(control, ROOM_EVENTS);
      if (Atomics.load(control, READER_CLOSED) === 1) return done > 0 ? done : BROKEN_PIPE;
      const room = capacity - this.ring.fill();
      if (room > 0) {
        const n = Math.min(room, src.length - done);
        const start = Atomics.load(control, WRITTEN) >>> 0;
        const at = start % capacity;
        const first = Math.min(n, capacity - at);
        data.set(src.subarray(done, done + first), at);
        if (first < n) data.set(src.subarray(done + first, done + n), 0);
        Atomics.store(control, WRITTEN, (start + n) | 0);
        this.ring.bump(DATA_EVENTS);
        done += n;
        continue;
      }
      if (!this.ring.waitFor(ROOM_EVENTS, seen, deadline)) {
        this.timedOut = true;
        return done > 0 ? done : DEADLINE_PASSED;
      }
    }
    return done;
  }

  close(): void {
    this.ring.closeWriter();
  }
}

/** Closes the writing end from outside (its node never started or its thread died): the reader sees the end of data. */
export function closeRingWriter(state: RingPipeState): void {
  new RingView(state).closeWriter();
}

/** Closes the reading end from outside: the writer gets a broken pipe. */
export function closeRingReader(state: RingPipeState): void {
  new RingView(state).closeReader();
}

/** What an event loop that serves one end of a ring waits for: data (or the writer's close), or room (or the reader's close). */
export type RingEvent = 'data' | 'room';

/** `Atomics.waitAsync` (ES2024; Node 16+), which the ES2022 library this project compiles against does not declare. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

/**
 * One end of a ring served by an event loop, which must never block
 * (src/cluster/net-pipe.ts): reads and writes that do not wait (deadline
 * 0), the closed flags, and a promise that settles when the other side
 * moves.
 */
export class RingPort {
  private readonly ring: RingView;

  constructor(state: RingPipeState) {
    this.ring = new RingView(state);
  }

  /** The event counter to pass to `changed` afterwards; read it before looking at the ring, so no wake-up is lost. */
  events(which: RingEvent): number {
    return Atomics.load(this.ring.control, which === 'data' ? DATA_EVENTS : ROOM_EVENTS);
  }

  /** Settles when the counter moves from `seen`, or after `timeoutMs` (true when it moved or had already). */
  async changed(which: RingEvent, seen: number, timeoutMs: number): Promise<boolean> {
    const waited = waitAsync(this.ring.control, which === 'data' ? DATA_EVENTS : ROOM_EVENTS, seen, timeoutMs);
    return (await waited.value) !== 'timed-out';
  }

  get writerClosed(): boolean {
    return Atomics.load(this.ring.control, WRITER_CLOSED) === 1;
  }

  get readerClosed(): boolean {
    return Atomics.load(this.ring.control, READER_CLOSED) === 1;
  }

  /** Bytes waiting in the ring. */
  get fill(): number {
    return this.ring.fill();
  }
}
