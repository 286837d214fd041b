/**
 * The ring pipe between threads: bytes arrive whole and in order whatever
 * the sizes of writes, reads and ring; a reader waits for data and sees the
 * end when the writer closes; a writer waits for room and sees a broken
 * pipe when the reader has gone; both give up at their deadline.
 */
import fc from 'fast-check';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BROKEN_PIPE, DEADLINE_PASSED } from '../runtime/channels/index.js';
import { closeRingReader, closeRingWriter, createRingPipe, RingPipeReader, RingPipeWriter, type RingPipeState } from './ring-pipe.js';
import { startThread } from './thread.js';

/** Writes `chunks` from another thread; resolves with what each write returned. */
async function writeFromThread(state: RingPipeState, chunks: Uint8Array[], deadlineMs = 20_000): Promise<number[]> {
  const worker = startThread(new URL('./testing/ring-writer.js', import.meta.url), { workerData: { state, chunks, deadlineMs } });
  const [returns] = (await once(worker, 'message')) as [number[]];
  await worker.terminate();
  return returns;
}

/** Reads to the end with reads of the given sizes (cycled). */
function readAll(reader: RingPipeReader, sizes: readonly number[], deadline: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; ; i++) {
    const dest = new Uint8Array(sizes[i % sizes.length]!);
    const n = reader.read(dest, deadline);
    if (n === 0) return Buffer.concat(parts);
    if (n < 0) throw new Error(`read returned ${n}`);
    parts.push(Buffer.from(dest.subarray(0, n)));
  }
}

describe('ring pipe', () => {
  it('carries every byte in order from a writer thread, whatever the chunk, read and ring sizes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 5000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 12 }),
        async (chunks, sizes, log2) => {
          const state = createRingPipe(2 ** log2);
          const writing = writeFromThread(state, chunks);
          const got = readAll(new RingPipeReader(state), sizes, Date.now() + 20_000);
          expect(await writing).toEqual(chunks.map((c) => c.length));
          expect(got.equals(Buffer.concat(chunks))).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('wraps its 32-bit counters: positions past 2^32 bytes land where they should', () => {
    const state = createRingPipe(8);
    const control = new Int32Array(state.buffer, 0, 8);
    /* as if 2^32 - 3 bytes had gone through */
    control[0] = -3;
    control[1] = -3;
    const writer = new RingPipeWriter(state);
    const reader = new RingPipeReader(state);
    const deadline = Date.now() + 1000;
    expect(writer.write(Uint8Array.from([1, 2, 3, 4, 5, 6]), deadline)).toBe(6);
    const dest = new Uint8Array(8);
    expect(reader.read(dest, deadline)).toBe(6);
    expect([...dest.subarray(0, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('gives a reader the end of data once the writer has closed and everything was read', () => {
    const state = createRingPipe(16);
    const writer = new RingPipeWriter(state);
    const reader = new RingPipeReader(state);
    const deadline = Date.now() + 1000;
    writer.write(Buffer.from('abc'), deadline);
    writer.close();
    const dest = new Uint8Array(2);
    expect(reader.read(dest, deadline)).toBe(2);
    expect(reader.read(dest, deadline)).toBe(1);
    expect(reader.read(dest, deadline)).toBe(0);
    expect(reader.read(dest, deadline)).toBe(0);
  });

  it('gives a writer a broken pipe once the reader has gone; one waiting for room gets what went in', async () => {
    const state = createRingPipe(4);
    closeRingReader(state);
    expect(new RingPipeWriter(state).write(Buffer.from('abcdef'), Date.now() + 5000)).toBe(BROKEN_PIPE);
    const other = createRingPipe(4);
    const writing = writeFromThread(other, [Buffer.from('abcdef'), Buffer.from('g')], 10_000);
    /* until the ring is full (the thread takes a moment to start) */
    const written = new Int32Array(other.buffer, 0, 1);
    while (Atomics.load(written, 0) < 4) await new Promise((resolveLater) => setTimeout(resolveLater, 20));
    await new Promise((resolveLater) => setTimeout(resolveLater, 100));
    closeRingReader(other);
    /* 4 bytes filled the ring, then the writer waited until the reader went */
    expect(await writing).toEqual([4, BROKEN_PIPE]);
  });

  it('stops waiting at the deadline, saying so', () => {
    const state = createRingPipe(4);
    const reader = new RingPipeReader(state);
    const started = Date.now();
    expect(reader.read(new Uint8Array(4), started + 150)).toBe(DEADLINE_PASSED);
    expect(reader.timedOut).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(149);
    const writer = new RingPipeWriter(state);
    expect(writer.write(Buffer.from('abcd'), Date.now() + 100)).toBe(4);
    expect(writer.write(Buffer.from('e'), Date.now() + 100)).toBe(DEADLINE_PASSED);
    expect(writer.timedOut).toBe(true);
    closeRingWriter(state);
  });

  it('wakes a waiting reader on another thread\'s write and on its close', async () => {
    const state = createRingPipe(1024);
    const writing = writeFromThread(state, [Buffer.from('late')], 5000);
    const reader = new RingPipeReader(state);
    const dest = new Uint8Array(16);
    const n = reader.read(dest, Date.now() + 10_000);
    expect(Buffer.from(dest.subarray(0, n)).toString()).toBe('late'.slice(0, n));
    await writing;
    expect(readAll(reader, [16], Date.now() + 1000).toString()).toBe('late'.slice(n));
  });

  it('refuses capacities that are not powers of two', () => {
    expect(() => createRingPipe(0)).toThrow(RangeError);
    expect(() => createRingPipe(3000)).toThrow(/power of two/);
    expect(() => createRingPipe(2 ** 31)).toThrow(/power of two/);
  });
});
