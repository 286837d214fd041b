/**
 * Rings served from outside a plan (`{ ring }` inputs and outputs of a
 * NodePlan, what the cluster's pipes between workers use): a node of the
 * pool reads and writes them as pipes while this thread serves the other
 * ends without blocking (RingPort), and a node that cannot start still
 * closes them, so whoever serves the other end is never left waiting.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKEN_PIPE } from '../runtime/channels/index.js';
import { WorkerPoolExecutor } from './pool.js';
import { createRingPipe, RingPipeReader, RingPipeWriter, RingPort, type RingPipeState } from './ring-pipe.js';

const CAT = join(import.meta.dirname, '..', '..', 'examples', 'cat.nexe');

async function produce(ring: RingPipeState, bytes: Uint8Array): Promise<number> {
  const writer = new RingPipeWriter(ring);
  const port = new RingPort(ring);
  let at = 0;
  try {
    while (at < bytes.length) {
      const seen = port.events('room');
      const n = writer.write(bytes.subarray(at), 0);
      if (n === BROKEN_PIPE) return BROKEN_PIPE;
      if (n > 0) at += n;
      else await port.changed('room', seen, 200);
    }
    return at;
  } finally {
    writer.close();
  }
}

async function consume(ring: RingPipeState): Promise<Buffer> {
  const reader = new RingPipeReader(ring);
  const port = new RingPort(ring);
  const chunks: Buffer[] = [];
  const buffer = new Uint8Array(65536);
  for (;;) {
    const seen = port.events('data');
    const n = reader.read(buffer, 0);
    if (n === 0) return Buffer.concat(chunks);
    if (n > 0) chunks.push(Buffer.from(buffer.subarray(0, n)));
    else await port.changed('data', seen, 200);
  }
}

describe('rings served from outside the plan', () => {
  const pool = new WorkerPoolExecutor({ workers: 1 });
  afterAll(() => pool.close());

  it('a node reads and writes them as pipes', async () => {
    const input = createRingPipe(4096);
    const output = createRingPipe(4096);
    const bytes = Buffer.alloc(3 << 20);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) & 0xff;
    const [result, written, got] = await Promise.all([pool.run({ nodes: [{ name: 'cat', program: CAT, stdin: { ring: input }, stdout: { ring: output } }] }), produce(input, bytes), consume(output)]);
    expect(result.nodes[0]!.exitState).toBe('ok');
    expect(written).toBe(bytes.length);
    expect(got.equals(bytes)).toBe(true);
  });

  it('a node that cannot start closes them: the writer outside gets a broken pipe, the reader the end of data', async () => {
    const input = createRingPipe(4096);
    const output = createRingPipe(4096);
    const [result, written, got] = await Promise.all([pool.run({ nodes: [{ name: 'missing', program: '/nonexistent/program.nexe', stdin: { ring: input }, stdout: { ring: output } }] }), produce(input, Buffer.alloc(1 << 20)), consume(output)]);
    expect(result.nodes[0]!.ok).toBe(false);
    expect(written).toBe(BROKEN_PIPE);
    expect(got.length).toBe(0);
  });
});
