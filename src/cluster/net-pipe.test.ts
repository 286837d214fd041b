/**
 * Pipes between workers without NATS (net-pipe.ts): a listener and a sender
 * in this process on 127.0.0.1, each end of each ring served the way a
 * session would use it, but without blocking (deadline 0, RingPort waits),
 * since a test's thread is an event loop. Every byte arrives in order
 * whatever the write sizes; a reader that closes early gives the writer a
 * broken pipe and both sides a clean ending; a writer whose connection
 * breaks in the middle of a frame gives the reader the end of data and an
 * ending that says the writer was lost; tokens are one-time.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRingPipe, RingPipeReader, RingPipeWriter, RingPort, type RingPipeState } from '../jobs/ring-pipe.js';
import { BROKEN_PIPE } from '../runtime/channels/index.js';
import { PipeListener, sendPipe } from './net-pipe.js';

/** Writes `bytes` into the ring in pieces of `piece`, as a session would, then closes; BROKEN_PIPE when the reader went. */
async function produce(ring: RingPipeState, bytes: Uint8Array, piece: number): Promise<number> {
  const writer = new RingPipeWriter(ring);
  const port = new RingPort(ring);
  let at = 0;
  try {
    while (at < bytes.length) {
      const seen = port.events('room');
      const n = writer.write(bytes.subarray(at, Math.min(bytes.length, at + piece)), 0);
      if (n === BROKEN_PIPE) return BROKEN_PIPE;
      if (n > 0) at += n;
      else await port.changed('room', seen, 200);
    }
    return at;
  } finally {
    writer.close();
  }
}

/** Reads the ring to its end (or `limit` bytes, then closes the reading end). */
async function consume(ring: RingPipeState, limit = Infinity): Promise<Buffer> {
  const reader = new RingPipeReader(ring);
  const port = new RingPort(ring);
  const chunks: Buffer[] = [];
  let total = 0;
  const buffer = new Uint8Array(7919);
  try {
    while (total < limit) {
      const seen = port.events('data');
      const n = reader.read(buffer, 0);
      if (n === 0) break;
      if (n > 0) {
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        total += n;
      } else await port.changed('data', seen, 200);
    }
    return Buffer.concat(chunks);
  } finally {
    reader.close();
  }
}

describe('pipes between workers over TCP', () => {
  it('carries every byte in order, whatever the sizes of the writes', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 255 }), async (size, piece, seed) => {
          const bytes = Buffer.alloc(size);
          for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
          const from = createRingPipe(4096);
          const to = createRingPipe(8192);
          const incoming = listener.expect(to, 'test');
          const sent = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'test');
          const [written, got, sentEnding, gotEnding] = await Promise.all([produce(from, bytes, piece), consume(to), sent, incoming.ended]);
          expect(written).toBe(size);
          expect(got.equals(bytes)).toBe(true);
          expect(sentEnding).toEqual({ clean: true, connected: true, bytes: size });
          expect(gotEnding).toEqual({ clean: true, connected: true, bytes: size });
        }),
        { numRuns: 25 },
      );
    } finally {
      await listener.close();
    }
  });

  it('gives the writer a broken pipe when the reader closes its end early; both endings are clean', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const from = createRingPipe(4096);
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'early');
      const sent = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'early');
      const [written, got, sentEnding, gotEnding] = await Promise.all([produce(from, Buffer.alloc(10 << 20, 7), 1000), consume(to, 5000), sent, incoming.ended]);
      expect(written).toBe(BROKEN_PIPE);
      expect(got.length).toBeGreaterThanOrEqual(5000);
      expect(sentEnding.clean).toBe(true);
      expect(gotEnding.clean).toBe(true);
    } finally {
      await listener.close();
    }
  });

  it('gives the reader the end of data and a lost-writer ending when the connection breaks in the middle of a frame', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'broken');
      const socket = connect({ host: listener.host, port: listener.port });
      await new Promise((r) => socket.once('connect', r));
      const frame = Buffer.alloc(4 + 100, 0x61);
      frame.writeUInt32BE(1000, 0); /* announces 1000 bytes, sends 100 */
      socket.write(Buffer.concat([Buffer.from(`ZVP1${incoming.token}`), frame]));
      const got = consume(to);
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      expect((await got).equals(Buffer.alloc(100, 0x61))).toBe(true);
      const ending = await incoming.ended;
      expect(ending.clean).toBe(false);
      expect(ending.clean === false && ending.why).toMatch(/pipe broken: the writing worker was lost after 100 bytes/);
    } finally {
      await listener.close();
    }
  });

  it('accepts a token once, and refuses connections that do not present one it expects', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'once');
      const from = createRingPipe(4096);
      const first = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'once');
      const again = sendPipe(createRingPipe(4096), { host: listener.host, port: listener.port, token: incoming.token }, 'again');
      const stranger = sendPipe(createRingPipe(4096), { host: listener.host, port: listener.port, token: 'f'.repeat(64) }, 'stranger');
      expect((await again).clean).toBe(false);
      expect((await stranger).clean).toBe(false);
      const [, got] = await Promise.all([produce(from, Buffer.from('only once'), 100), consume(to), first]);
      expect(got.toString()).toBe('only once');
    } finally {
      await listener.close();
    }
  });

  it('a pipe whose writer never connects ends clean and unconnected when the part is over; the reader sees the end of data', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'never');
      incoming.cancel();
      expect(await incoming.ended).toEqual({ clean: true, connected: false, bytes: 0 });
      expect((await consume(to)).length).toBe(0);
    } finally {
      await listener.close();
    }
  });
});
