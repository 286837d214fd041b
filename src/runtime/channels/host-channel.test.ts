/**
 * HostChannel over real host objects: temp files, /dev/null, /dev/zero,
 * /dev/urandom and named pipes. Expected behaviour: the original's
 * preload.c and channel.c (see host-channel.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeRingReader, createRingPipe, RingPipeReader, RingPipeWriter } from '../../jobs/ring-pipe.js';
import { ChannelDeadlineError, ChannelIoError, ChannelMountError } from './errors.js';
import { HostChannel, READ_CHUNK_SIZE } from './host-channel.js';
import type { ChannelSpec, IoLimitsSpec } from './spec.js';

const RO: IoLimitsSpec = { gets: 100, getSize: 1000, puts: 0, putSize: 0 };
const WO: IoLimitsSpec = { gets: 0, getSize: 0, puts: 100, putSize: 1000 };
const RW: IoLimitsSpec = { gets: 100, getSize: 1000, puts: 100, putSize: 1000 };

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const sha1 = (data: Uint8Array | string): string => createHash('sha1').update(data).digest('hex');

let dir = '';
const opened: HostChannel[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zvm-channel-'));
});
afterEach(() => {
  for (const channel of opened.splice(0)) channel.close();
  rmSync(dir, { recursive: true, force: true });
});

function spec(uri: string, type: number, limits: IoLimitsSpec, etag = false): ChannelSpec {
  return { uri, alias: '/dev/test', type, etag, limits };
}

function open(s: ChannelSpec, preallocate = true): HostChannel {
  const channel = HostChannel.open(s, { preallocate });
  opened.push(channel);
  return channel;
}

function file(name: string, content?: string): string {
  const path = join(dir, name);
  if (content !== undefined) writeFileSync(path, content, 'latin1');
  return path;
}

/** Reads as the trap would call it for a sequential channel. */
function readSeq(channel: HostChannel, size: number): string {
  const dest = new Uint8Array(size);
  const n = channel.read(dest, channel.getpos);
  return text(dest.subarray(0, n));
}

function mountError(run: () => unknown): ChannelMountError {
  try {
    run();
  } catch (error) {
    if (error instanceof ChannelMountError) return error;
    throw error;
  }
  throw new Error('expected a ChannelMountError');
}

describe('regular files, read-only', () => {
  it('sequential: keeps its own position, reads to the end, then reports eof', () => {
    const channel = open(spec(file('in', '0123456789'), 0, RO));
    expect(channel.backing).toBe('regular');
    expect(channel.kind).toBe('sequential-read-only');
    expect(channel.size).toBe(10);
    expect(channel.manifestSize).toBe(0); /* type 0: size not reported */
    expect(readSeq(channel, 4)).toBe('0123');
    expect(channel.getpos).toBe(4);
    expect(channel.eof).toBe(false);
    expect(readSeq(channel, 100)).toBe('456789');
    expect(channel.eof).toBe(true);
    expect(channel.counters).toEqual({ gets: 2, getSize: 10, puts: 0, putSize: 0 });
    /* host calls: 1 for the first read, 2 for the second (data, then the empty read at the end) */
    expect(channel.hostStats).toEqual({ gets: 3, getBytes: 10, puts: 0, putBytes: 0 });
  });

  it('random: reads at the given offset and reports its size', () => {
    const channel = open(spec(file('in', '0123456789'), 1, RO));
    expect(channel.kind).toBe('random-read-only');
    expect(channel.manifestSize).toBe(10);
    const dest = new Uint8Array(3);
    expect(channel.read(dest, 5)).toBe(3);
    expect(text(dest)).toBe('567');
    expect(channel.read(dest.subarray(0, 2), 8)).toBe(2);
    expect(text(dest.subarray(0, 2))).toBe('89');
    expect(channel.eof).toBe(false); /* random channels never set eof */
  });

  it('random: a read that finds no data stops (the file shrank under it)', () => {
    const path = file('in', '0123456789');
    const channel = open(spec(path, 1, RO));
    truncateSync(path, 5);
    const dest = new Uint8Array(7);
    expect(channel.read(dest, 3)).toBe(2);
    expect(text(dest.subarray(0, 2))).toBe('34');
  });

  it('reads larger than a chunk go in 64 KiB host reads', () => {
    const data = Buffer.alloc(READ_CHUNK_SIZE + 100, 7);
    const path = file('big');
    writeFileSync(path, data);
    const channel = open(spec(path, 0, { gets: 10, getSize: 1 << 20, puts: 0, putSize: 0 }));
    const dest = new Uint8Array(data.length);
    expect(channel.read(dest, 0)).toBe(data.length);
    expect(channel.hostStats.gets).toBe(2);
    expect(channel.eof).toBe(false); /* filled exactly: the end is not seen yet */
  });

  it('a missing file is EFAULT "cannot open <path>"', () => {
    const error = mountError(() => open(spec(join(dir, 'missing'), 0, RO)));
    expect(error.errno).toBe(14);
    expect(error.message).toBe(`cannot open ${join(dir, 'missing')}`);
  });

  it('a write-only file that cannot be created: EBADF "cannot preallocate", or with -P its own errno "open error"', () => {
    const path = join(dir, 'none', 'x');
    const error = mountError(() => open(spec(path, 0, WO)));
    expect([error.errno, error.message]).toEqual([9, 'cannot preallocate /dev/test']);
    const unallocated = mountError(() => open(spec(path, 0, WO), false));
    expect([unallocated.errno, unallocated.message]).toEqual([2, `${path} open error`]);
  });
});

describe('regular files, write-only', () => {
  it('preallocates to put_size, writes through at once, truncates to what was written', () => {
    const path = file('out');
    const channel = open(spec(path, 0, WO));
    expect(channel.kind).toBe('sequential-write-only');
    expect(statSync(path).size).toBe(1000);
    expect(channel.write(bytes('hello'), channel.putpos)).toBe(5);
    /* on disk before close: a crash now would keep the data */
    expect(readFileSync(path, 'latin1').slice(0, 5)).toBe('hello');
    channel.close();
    expect(readFileSync(path, 'latin1')).toBe('hello');
  });

  it('size follows the sequential write position', () => {
    const channel = open(spec(file('out'), 0, WO));
    channel.write(bytes('abc'), channel.putpos);
    channel.write(bytes('def'), channel.putpos);
    expect(channel.putpos).toBe(6);
    expect(channel.size).toBe(6);
    expect(channel.counters).toEqual({ gets: 0, getSize: 0, puts: 2, putSize: 6 });
    expect(channel.hostStats).toEqual({ gets: 0, getBytes: 0, puts: 2, putBytes: 6 });
  });

  it('-P: no preallocation', () => {
    const path = file('out');
    open(spec(path, 0, WO), false);
    expect(statSync(path).size).toBe(0);
  });

  it('an existing file is truncated when opened', () => {
    const path = file('out', 'previous content');
    open(spec(path, 0, WO), false);
    expect(statSync(path).size).toBe(0);
  });

  it('random write-only: writes at offsets, size is the highest end', () => {
    const path = file('out');
    const channel = open(spec(path, 2, WO));
    expect(channel.kind).toBe('random-write-only');
    channel.write(bytes('x'), 10);
    channel.write(bytes('ab'), 2);
    expect(channel.size).toBe(11);
    channel.close();
    expect(readFileSync(path, 'latin1')).toBe('\0\0ab\0\0\0\0\0\0x');
  });

  it('preallocation beyond any file size fails with EFBIG', () => {
    const error = mountError(() =>
      open(spec(file('out'), 0, { gets: 0, getSize: 0, puts: 1, putSize: 2n ** 62n })),
    );
    expect(error.errno).toBe(27);
    expect(error.message).toBe('cannot preallocate /dev/test');
  });
});

describe('regular files, read+write', () => {
  it('random read/write on a new file: preallocated, positions shared', () => {
    const path = file('rw');
    const channel = open(spec(path, 3, RW));
    expect(channel.kind).toBe('random-read-write');
    expect(statSync(path).size).toBe(1000);
    expect(channel.size).toBe(0);
    channel.write(bytes('abcdef'), 0);
    const dest = new Uint8Array(3);
    expect(channel.read(dest, 2)).toBe(3);
    expect(text(dest)).toBe('cde');
    expect(channel.putpos).toBe(5); /* a read moves the write position of a random-write channel */
    channel.close();
    expect(readFileSync(path, 'latin1')).toBe('abcdef');
  });

  it('random read/write on an existing file: no preallocation, writes from 0', () => {
    const path = file('rw', '0123456789');
    const channel = open(spec(path, 3, RW));
    expect(statSync(path).size).toBe(10);
    expect(channel.putpos).toBe(0);
    channel.write(bytes('XYZ'), 8);
    expect(channel.size).toBe(11);
    channel.close();
    expect(readFileSync(path, 'latin1')).toBe('01234567XYZ');
  });

  it('appendable: writes start after the last byte, reads are random', () => {
    const path = file('log', 'abc');
    const channel = open(spec(path, 1, RW));
    expect(channel.kind).toBe('appendable');
    expect(channel.putpos).toBe(3);
    channel.write(bytes('def'), channel.putpos);
    const dest = new Uint8Array(6);
    expect(channel.read(dest, 0)).toBe(6);
    expect(text(dest)).toBe('abcdef');
    expect(channel.putpos).toBe(6); /* reads do not move a sequential write position */
    channel.close();
    expect(readFileSync(path, 'latin1')).toBe('abcdef');
  });

  it('appendable on a new file: preallocated, writes from 0', () => {
    const path = file('log');
    const channel = open(spec(path, 1, RW));
    expect(statSync(path).size).toBe(1000);
    expect(channel.putpos).toBe(0);
  });

  it('types 0 and 2 cannot be read+write', () => {
    expect(mountError(() => open(spec(file('a'), 0, RW))).message).toBe(
      'sequential channels cannot have r/w access',
    );
    expect(mountError(() => open(spec(file('b'), 2, RW))).message).toBe(
      'sequential read / random write channels not supported',
    );
    expect(mountError(() => open(spec(file('b'), 2, RW))).errno).toBe(14);
  });
});

describe('refused channels', () => {
  it('all-zero limits: invalid i/o type (EINVAL)', () => {
    const error = mountError(() => open(spec(file('f', 'x'), 0, { gets: 0, getSize: 5, puts: 5, putSize: 0 })));
    expect(error.errno).toBe(22);
    expect(error.message).toBe('/dev/test has invalid i/o type');
  });

  it('type outside 0..3 (EFAULT)', () => {
    const error = mountError(() => open(spec(file('f', 'x'), 4, RO)));
    expect(error.errno).toBe(14);
    expect(error.message).toBe('/dev/test has invalid type 4');
  });

  it('network uris are not supported (EPROTONOSUPPORT)', () => {
    const error = mountError(() => open(spec('tcp:127.0.0.1:5555', 0, RO)));
    expect(error.errno).toBe(93);
    expect(error.message).toContain('not supported');
  });

  it('relative paths (EFAULT)', () => {
    expect(mountError(() => open(spec('relative/file', 0, RO))).message).toBe(
      'only absolute path channels are allowed',
    );
  });

  it('directories (EPROTONOSUPPORT)', () => {
    const error = mountError(() => open(spec(dir, 0, RO)));
    expect(error.errno).toBe(93);
    expect(error.message).toBe('invalid /dev/test source type 0');
  });

  it('character devices cannot be read+write (EINVAL)', () => {
    expect(mountError(() => open(spec('/dev/null', 3, RW))).errno).toBe(22);
  });
});

describe('character devices', () => {
  it('/dev/null read-only: empty, eof at once', () => {
    const channel = open(spec('/dev/null', 0, RO));
    expect(channel.backing).toBe('character');
    expect(channel.size).toBe(0);
    expect(readSeq(channel, 10)).toBe('');
    expect(channel.eof).toBe(true);
    expect(channel.hostStats.gets).toBe(1);
  });

  it('/dev/null write-only: swallows data, no truncation', () => {
    const channel = open(spec('/dev/null', 0, WO));
    expect(channel.write(bytes('hello'), channel.putpos)).toBe(5);
    expect(channel.size).toBe(5);
    channel.close();
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('/dev/zero: fills whole requests, chunk by chunk', () => {
    const channel = open(spec('/dev/zero', 0, { gets: 10, getSize: 1 << 20, puts: 0, putSize: 0 }));
    const dest = new Uint8Array(100_000).fill(1);
    expect(channel.read(dest, channel.getpos)).toBe(100_000);
    expect(dest.every((b) => b === 0)).toBe(true);
    expect(channel.hostStats.gets).toBe(2);
  });

  it('/dev/urandom: etag is the SHA-1 of what was read', () => {
    const channel = open(spec('/dev/urandom', 0, RO, true));
    const dest = new Uint8Array(32);
    expect(channel.read(dest, channel.getpos)).toBe(32);
    expect(channel.etag?.digest()).toBe(sha1(dest));
  });
});

describe('named pipes', () => {
  function mkfifo(name: string): string {
    const path = join(dir, name);
    const result = spawnSync('mkfifo', [path]);
    expect(result.status).toBe(0);
    return path;
  }

  it('read side: waits for the writer, reads until the writer closes', async () => {
    const fifo = mkfifo('in.fifo');
    const writer = spawn('sh', ['-c', `printf hello > '${fifo}'`]);
    const done = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    const channel = open(spec(fifo, 0, RO, true)); /* blocks until the writer opens */
    expect(channel.backing).toBe('fifo');
    expect(readSeq(channel, 100)).toBe('hello');
    expect(channel.eof).toBe(true);
    expect(channel.etag?.digest()).toBe(sha1('hello'));
    expect(await done).toBe(0);
  });

  it('write side: opens without a reader, data reaches the reader unbuffered', () => {
    const fifo = mkfifo('out.fifo');
    const reader = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const channel = open(spec(fifo, 0, WO, true));
      expect(channel.write(bytes('data'), channel.putpos)).toBe(4);
      const got = Buffer.alloc(16);
      const n = readSync(reader, got, 0, 16, null);
      expect(got.subarray(0, n).toString('latin1')).toBe('data');
      expect(channel.etag?.digest()).toBe(sha1('data'));
    } finally {
      closeSync(reader);
    }
  });
});

describe('life cycle', () => {
  it('close is idempotent; I/O after close is a ChannelIoError', () => {
    const channel = open(spec(file('in', 'abc'), 0, RO));
    channel.close();
    channel.close();
    expect(channel.isOpen).toBe(false);
    expect(() => channel.read(new Uint8Array(1), 0)).toThrow(ChannelIoError);
  });

  it('a read-only channel is never truncated', () => {
    const path = file('in', '0123456789');
    const channel = open(spec(path, 0, RO));
    readSeq(channel, 3);
    channel.close();
    expect(statSync(path).size).toBe(10);
  });

  it('etag of a written channel is the SHA-1 of the bytes written', () => {
    const channel = open(spec(file('out'), 2, WO, true));
    channel.write(bytes('second'), 5);
    channel.write(bytes('first'), 0);
    expect(channel.etag?.digest()).toBe(sha1('secondfirst')); /* stream order, not file order */
  });
});

/* A pipe between sessions (stream.ts), here the jobs' ring pipe in one thread. */
describe('streams (pipes between sessions)', () => {
  const pipeSpec = (stream: RingPipeReader | RingPipeWriter, type = 0, etag = false): ChannelSpec => ({ ...spec('stream:/dev/test', type, stream.direction === 'read' ? RO : WO, etag), stream });

  it('moves bytes with pipe semantics: a read takes what is there, 0 only at the end; offsets are ignored', () => {
    const ring = createRingPipe(64);
    const writer = open(pipeSpec(new RingPipeWriter(ring), 0, true));
    const reader = open(pipeSpec(new RingPipeReader(ring), 0, true));
    expect(writer.backing).toBe('stream');
    expect(writer.kind).toBe('sequential-write-only');
    expect(reader.kind).toBe('sequential-read-only');
    expect(writer.write(bytes('hello'), 12345)).toBe(5);
    expect(writer.write(bytes(', world'), 0)).toBe(7);
    /* asks for 100, gets the 12 that are there (fread would wait to fill it) */
    expect(readSeq(reader, 100)).toBe('hello, world');
    writer.close();
    expect(readSeq(reader, 100)).toBe('');
    expect(reader.eof).toBe(true);
    expect(reader.hostStats).toEqual({ gets: 2, getBytes: 12, puts: 0, putBytes: 0 });
    expect(writer.hostStats).toEqual({ gets: 0, getBytes: 0, puts: 2, putBytes: 12 });
    expect(reader.etag?.digest()).toBe(sha1('hello, world'));
    expect(writer.etag?.digest()).toBe(sha1('hello, world'));
  });

  it('a write after the reader has gone is -EPIPE (nothing counted); one that went partly in is a short count', () => {
    const ring = createRingPipe(4);
    const writer = open(pipeSpec(new RingPipeWriter(ring)));
    closeRingReader(ring);
    expect(writer.write(bytes('abc'), 0)).toBe(-32);
    expect(writer.counters.puts).toBe(0);
  });

  it('a wait past the session\'s deadline is ChannelDeadlineError, which the session ends as a timeout', () => {
    const ring = createRingPipe(4);
    const reader = open(pipeSpec(new RingPipeReader(ring)));
    reader.setDeadline(Date.now() + 50);
    expect(() => readSeq(reader, 10)).toThrow(ChannelDeadlineError);
    const writer = open(pipeSpec(new RingPipeWriter(ring)));
    writer.setDeadline(Date.now() + 50);
    expect(writer.write(bytes('abcd'), 0)).toBe(4);
    expect(() => writer.write(bytes('e'), 0)).toThrow(/waited for room to write/);
  });

  it('a pipe end is one-way and sequential: other limits or a random type are EINVAL', () => {
    const ring = createRingPipe(4);
    expect(mountError(() => open({ ...spec('stream:/dev/test', 0, RO), stream: new RingPipeWriter(ring) })).errno).toBe(22);
    expect(mountError(() => open({ ...spec('stream:/dev/test', 1, RO), stream: new RingPipeReader(ring) })).message).toMatch(/a pipe is sequential and read-only/);
    expect(mountError(() => open({ ...spec('stream:/dev/test', 3, RW), stream: new RingPipeReader(ring) })).errno).toBe(22);
  });
});
