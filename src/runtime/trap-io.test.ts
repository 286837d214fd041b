/**
 * TrapRead / TrapWrite: every errno path, in the original's order, over a
 * fake sandbox memory; then the same checks over real channels; then the
 * dispatcher and its argument conversions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HostChannel } from './channels/host-channel.js';
import type { IoLimitsSpec, IoNumbers } from './channels/spec.js';
import {
  dispatchTrap,
  dispatchTrapAt,
  Errno,
  readTrapArgs,
  TRAP_FUNCTIONS,
  TrapArgsFault,
  TrapFunction,
  trapRead,
  trapWrite,
  type GuestMemory,
  type TrapArgs,
  type TrapChannel,
  type TrapHooks,
} from './trap-io.js';

/* ------------------------------------------------------------------------ */
/* A fake sandbox: 1 MiB of 64 KiB pages with their protections             */
/* ------------------------------------------------------------------------ */

const PAGE = 0x10000;
const NONE = 0;
const R = 1;
const RW = 3;

class FakeMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  constructor(private readonly pages: readonly number[]) {
    this.bytes = new Uint8Array(pages.length * PAGE);
  }
  private all(address: number, length: number, bit: number): boolean {
    if (address < 0 || address + length > this.bytes.length) return false;
    for (let page = Math.floor(address / PAGE); page * PAGE < address + length; page++)
      if (((this.pages[page] ?? NONE) & bit) === 0) return false;
    return true;
  }
  isReadable(address: number, length: number): boolean {
    return this.all(address, length, 1);
  }
  isWritable(address: number, length: number): boolean {
    return this.all(address, length, 2);
  }
  view(address: number, length: number): Uint8Array {
    return new Uint8Array(this.bytes.buffer, address, length);
  }
  writableView(address: number, length: number): Uint8Array {
    return new Uint8Array(this.bytes.buffer, address, length);
  }
}

/* NULL page, read-only page ("text"), 6 read/write pages, a hole, 7 read/write pages ("stack") */
const memory = new FakeMemory([NONE, R, RW, RW, RW, RW, RW, RW, NONE, RW, RW, RW, RW, RW, RW, RW]);
const TEXT = 0x10000;
const HEAP = 0x20000;
const HEAP_END = 0x80000;
const HOLE = 0x80000;

/** A channel whose state the test sets; read/write record the call and move `length` bytes. */
class FakeChannel implements TrapChannel {
  type = 0;
  size = 100;
  getpos = 0;
  putpos = 0;
  eof = false;
  quota: IoNumbers = { gets: 10, getSize: 1000, puts: 10, putSize: 1000 };
  counters: IoNumbers = { gets: 0, getSize: 0, puts: 0, putSize: 0 };
  calls: { op: 'read' | 'write'; length: number; offset: number }[] = [];
  read(dest: Uint8Array, offset: number): number {
    dest.fill(0xab);
    this.calls.push({ op: 'read', length: dest.length, offset });
    return dest.length;
  }
  write(src: Uint8Array, offset: number): number {
    this.calls.push({ op: 'write', length: src.length, offset });
    return src.length;
  }
}

type ChannelSetup = Partial<Pick<FakeChannel, 'type' | 'size' | 'getpos' | 'putpos' | 'eof'>> & {
  quota?: Partial<IoNumbers>;
  counters?: Partial<IoNumbers>;
};

function fake(setup: ChannelSetup = {}): FakeChannel {
  const channel = new FakeChannel();
  Object.assign(channel, { ...setup, quota: channel.quota, counters: channel.counters });
  Object.assign(channel.quota, setup.quota ?? {});
  Object.assign(channel.counters, setup.counters ?? {});
  return channel;
}

interface Case {
  readonly name: string;
  readonly channel?: ChannelSetup;
  readonly index?: number;
  readonly buffer?: number;
  readonly size: number;
  readonly offset?: number;
  readonly result: number;
  /** Expected channel call (length, offset), when the request reaches the channel. */
  readonly call?: readonly [number, number];
}

const EINVAL = -Errno.EINVAL;
const EFAULT = -Errno.EFAULT;
const EDQUOT = -Errno.EDQUOT;
const RAND = 1; /* random read, sequential write */
const RAND_WRITE = 2; /* sequential read, random write */

/* One case per line, in the order of the checks (trap-io.ts header). */
const READ_CASES: readonly Case[] = [
  { name: '1. channel index -1', index: -1, size: 10, result: EINVAL },
  { name: '1. channel index = count', index: 1, size: 10, result: EINVAL },
  { name: '1. bad channel wins over negative size', index: 5, size: -1, result: EINVAL },
  { name: '2. buffer in a read-only page', buffer: TEXT, size: 10, result: EINVAL },
  { name: '2. NULL buffer, size 0', buffer: 0, size: 0, result: EINVAL },
  { name: '2. buffer in the hole, negative size', buffer: HOLE, size: -5, result: EINVAL },
  { name: '2. buffer running into the hole', buffer: HEAP_END - 4, size: 5, result: EINVAL },
  { name: '2. buffer ending at the hole', buffer: HEAP_END - 4, size: 4, result: 4, call: [4, 0] },
  { name: '2. buffer at 4 GiB', buffer: 2 ** 32, size: 1, result: EINVAL },
  { name: '4. size 0', size: 0, result: 0 },
  { name: '4. size 0 wins over eof and quota', channel: { eof: true, counters: { gets: 10 } }, size: 0, result: 0 },
  { name: '4. negative size', size: -1, result: EFAULT },
  { name: '3. sequential: offset ignored', channel: { getpos: 7 }, size: 10, offset: -5, result: 10, call: [10, 7] },
  { name: '3. random: negative offset', channel: { type: RAND }, size: 10, offset: -5, result: EINVAL },
  { name: '3. random: size cut to the end', channel: { type: RAND }, size: 10, offset: 95, result: 5, call: [5, 95] },
  { name: '3. random: offset at the end', channel: { type: RAND }, size: 10, offset: 100, result: 0 },
  { name: '3. random: offset past the end', channel: { type: RAND }, size: 10, offset: 101, result: EFAULT },
  { name: '3. random: int32 wrap of size', channel: { type: RAND }, size: 10, offset: 2 ** 32 + 95, result: EINVAL },
  { name: '5. eof', channel: { eof: true }, size: 10, result: 0 },
  { name: '5. eof wins over the gets limit', channel: { eof: true, counters: { gets: 10 } }, size: 10, result: 0 },
  { name: '6. gets limit reached', channel: { counters: { gets: 10 } }, size: 10, result: EDQUOT },
  { name: '6. negative offset wins over gets', channel: { type: RAND, counters: { gets: 10 } }, size: 1, offset: -1, result: EINVAL },
  {
    name: '7. random: offset past size + put budget',
    channel: { type: RAND, quota: { putSize: 0 }, counters: { putSize: 50 } },
    size: 10,
    offset: 60,
    result: EINVAL,
  },
  { name: '8. cut to get_size left', channel: { counters: { getSize: 996 } }, size: 10, result: 4, call: [4, 0] },
  { name: '8. get_size used up', channel: { counters: { getSize: 1000 } }, size: 10, result: EDQUOT },
  { name: '9. read into the stack', buffer: 0x90000, size: 16, result: 16, call: [16, 0] },
];

const WRITE_CASES: readonly Case[] = [
  { name: '1. channel index -1', index: -1, size: 10, result: EINVAL },
  { name: '1. channel index = count', index: 1, size: 10, result: EINVAL },
  { name: '2. buffer in the hole', buffer: HOLE, size: 10, result: EINVAL },
  { name: '2. NULL buffer, size 0', buffer: 0, size: 0, result: EINVAL },
  { name: '2. from a read-only page is fine', buffer: TEXT, size: 10, result: 10, call: [10, 0] },
  { name: '2. buffer at 4 GiB', buffer: 2 ** 32 + HEAP, size: 1, result: EINVAL },
  { name: '4. size 0', size: 0, result: 0 },
  { name: '4. size 0 wins over the puts limit', channel: { counters: { puts: 10 } }, size: 0, result: 0 },
  { name: '4. negative size', size: -1, result: EFAULT },
  { name: '3. sequential: offset ignored', channel: { putpos: 9 }, size: 10, offset: -1, result: 10, call: [10, 9] },
  { name: '4. random: negative offset', channel: { type: RAND_WRITE }, size: 10, offset: -1, result: EINVAL },
  { name: '6. puts limit reached', channel: { counters: { puts: 10 } }, size: 10, result: EDQUOT },
  {
    name: '6. negative offset wins over puts',
    channel: { type: RAND_WRITE, counters: { puts: 10 } },
    size: 10,
    offset: -1,
    result: EINVAL,
  },
  {
    name: '7. write-only: offset at put_size',
    channel: { type: RAND_WRITE, quota: { gets: 0, getSize: 0 } },
    size: 1,
    offset: 1000,
    result: EINVAL,
  },
  {
    name: '7. readable: offset at put_size is checked against size + left',
    channel: { type: RAND_WRITE, size: 100 },
    size: 1,
    offset: 1000,
    result: 1,
    call: [1, 1000],
  },
  { name: '7. offset at size + put_size left', channel: { type: RAND_WRITE, size: 100 }, size: 1, offset: 1100, result: EINVAL },
  { name: '8. cut to put_size left', channel: { counters: { putSize: 997 } }, size: 10, result: 3, call: [3, 0] },
  { name: '8. put_size used up', channel: { counters: { putSize: 1000 } }, size: 10, result: EDQUOT },
];

describe('TrapRead checks, in order', () => {
  for (const c of READ_CASES) {
    it(c.name, () => {
      const channel = fake(c.channel);
      const result = trapRead([channel], memory, c.index ?? 0, c.buffer ?? HEAP, c.size, c.offset ?? 0);
      expect(result).toBe(c.result);
      expect(channel.calls).toEqual(c.call === undefined ? [] : [{ op: 'read', length: c.call[0], offset: c.call[1] }]);
    });
  }

  it('the channel reads straight into sandbox memory', () => {
    memory.bytes.fill(0, HEAP, HEAP + 8);
    expect(trapRead([fake()], memory, 0, HEAP + 2, 4, 0)).toBe(4);
    expect([...memory.bytes.subarray(HEAP, HEAP + 8)]).toEqual([0, 0, 0xab, 0xab, 0xab, 0xab, 0, 0]);
  });
});

describe('TrapWrite checks, in order', () => {
  for (const c of WRITE_CASES) {
    it(c.name, () => {
      const channel = fake(c.channel);
      const result = trapWrite([channel], memory, c.index ?? 0, c.buffer ?? HEAP, c.size, c.offset ?? 0);
      expect(result).toBe(c.result);
      expect(channel.calls).toEqual(c.call === undefined ? [] : [{ op: 'write', length: c.call[0], offset: c.call[1] }]);
    });
  }
});

/* ------------------------------------------------------------------------ */
/* Over real channels                                                        */
/* ------------------------------------------------------------------------ */

describe('TrapRead / TrapWrite over host channels', () => {
  let dir = '';
  const open: HostChannel[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zvm-trap-'));
  });
  afterEach(() => {
    for (const channel of open.splice(0)) channel.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function channel(content: string | null, type: number, limits: IoLimitsSpec): HostChannel {
    const path = join(dir, `f${open.length}`);
    if (content !== null) writeFileSync(path, content);
    const opened = HostChannel.open({ uri: path, alias: '/dev/x', type, etag: false, limits });
    open.push(opened);
    return opened;
  }
  const text = (n: number): string => Buffer.from(memory.bytes.subarray(HEAP, HEAP + n)).toString();

  it('end of input counts against limits: 10 bytes allowed, 10-byte file, next read is -EDQUOT', () => {
    const channels: readonly TrapChannel[] = [channel('0123456789', 0, { gets: 100, getSize: 10, puts: 0, putSize: 0 })];
    expect(trapRead(channels, memory, 0, HEAP, 100, 0)).toBe(10);
    expect(text(10)).toBe('0123456789');
    expect(trapRead(channels, memory, 0, HEAP, 100, 0)).toBe(EDQUOT);
  });

  it('without that limit, the next read finds the end: 0, and 0 again', () => {
    const channels = [channel('0123456789', 0, { gets: 100, getSize: 1000, puts: 0, putSize: 0 })];
    expect(trapRead(channels, memory, 0, HEAP, 100, 0)).toBe(10);
    expect(trapRead(channels, memory, 0, HEAP, 100, 0)).toBe(0);
    expect(trapRead(channels, memory, 0, HEAP, 100, 0)).toBe(0);
    expect(channels[0]?.counters.gets).toBe(1); /* reads at eof are not counted */
  });

  it('the gets limit', () => {
    const channels = [channel('0123456789', 0, { gets: 2, getSize: 1000, puts: 0, putSize: 0 })];
    expect(trapRead(channels, memory, 0, HEAP, 3, 0)).toBe(3);
    expect(trapRead(channels, memory, 0, HEAP, 3, 0)).toBe(3);
    expect(text(3)).toBe('345');
    expect(trapRead(channels, memory, 0, HEAP, 3, 0)).toBe(EDQUOT);
  });

  it('random reads are cut at the end of the channel', () => {
    const channels = [channel('0123456789', 1, { gets: 100, getSize: 1000, puts: 0, putSize: 0 })];
    expect(trapRead(channels, memory, 0, HEAP, 100, 5)).toBe(5);
    expect(text(5)).toBe('56789');
    expect(trapRead(channels, memory, 0, HEAP, 100, 10)).toBe(0);
    expect(trapRead(channels, memory, 0, HEAP, 100, 11)).toBe(EFAULT);
  });

  it('random writes: put_size cuts, then -EDQUOT; the file ends at the last byte', () => {
    const ch = channel(null, 2, { gets: 0, getSize: 0, puts: 10, putSize: 16 });
    memory.bytes.set(Buffer.from('abcdefghij'), HEAP);
    expect(trapWrite([ch], memory, 0, HEAP, 10, 0)).toBe(10);
    expect(trapWrite([ch], memory, 0, HEAP, 10, 10)).toBe(6);
    expect(trapWrite([ch], memory, 0, HEAP, 1, 3)).toBe(EDQUOT);
    ch.close();
    expect(readFileSync(join(dir, 'f0'), 'latin1')).toBe('abcdefghijabcdef');
  });

  it('full random channel: writes past put_size are refused (the original cdr test)', () => {
    const ch = channel(null, 3, { gets: 100, getSize: 100, puts: 100, putSize: 16 });
    expect(trapWrite([ch], memory, 0, HEAP, 0, 17)).toBe(0);
    expect(trapWrite([ch], memory, 0, HEAP, 1, 17)).toBe(EINVAL);
    expect(trapRead([ch], memory, 0, HEAP, 1, 17)).toBe(EFAULT); /* size 0 - 17 < 0 */
    expect(trapWrite([ch], memory, 0, HEAP, 1, 15)).toBe(1);
    expect(ch.size).toBe(16);
  });
});

/* ------------------------------------------------------------------------ */
/* Dispatcher                                                                */
/* ------------------------------------------------------------------------ */

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function hooks(log: string[]): TrapHooks {
  return {
    jail: (buffer, size) => (log.push(`jail ${buffer} ${size}`), 0),
    unjail: (buffer, size) => (log.push(`unjail ${buffer} ${size}`), -Errno.EINVAL),
    exit: (code) => {
      throw new ExitCalled(code);
    },
    fork: () => (log.push('fork'), 7),
  };
}

const args = (fn: bigint | number, a0 = 0n, a1 = 0n, a2 = 0n, a3 = 0n): TrapArgs => [BigInt(fn), 0n, a0, a1, a2, a3];

describe('trap dispatcher', () => {
  it('the function words spell the names in ASCII, little endian', () => {
    const spelled = TRAP_FUNCTIONS.map((row) => Buffer.from([0, 8, 16, 24].map((s) => (row.value >>> s) & 0xff)).toString('latin1'));
    expect(spelled).toEqual(['Read', 'Writ', 'Jail', 'Unjl', 'Exit', 'Fork']);
    expect(TRAP_FUNCTIONS.map((row) => [row.name, row.arity])).toEqual([
      ['TrapRead', 4],
      ['TrapWrite', 4],
      ['TrapJail', 2],
      ['TrapUnjail', 2],
      ['TrapExit', 1],
      ['TrapFork', 0],
    ]);
  });

  it('unknown functions are -EPERM, all 64 bits compared', () => {
    const context = { channels: [], memory, hooks: hooks([]) };
    expect(dispatchTrap(context, args(0x12345678))).toBe(-Errno.EPERM);
    expect(dispatchTrap(context, args((1n << 32n) | BigInt(TrapFunction.Read)))).toBe(-Errno.EPERM);
  });

  it('TrapRead: channel and size are the low 32 bits, signed', () => {
    const channel = fake();
    const context = { channels: [channel], memory, hooks: hooks([]) };
    expect(dispatchTrap(context, args(TrapFunction.Read, 1n << 32n, BigInt(HEAP), 8n, 0n))).toBe(8);
    expect(dispatchTrap(context, args(TrapFunction.Read, 0n, BigInt(HEAP), 0xffffffffn, 0n))).toBe(EFAULT);
    expect(dispatchTrap(context, args(TrapFunction.Read, 0n, BigInt(HEAP), (1n << 32n) | 4n, 0n))).toBe(4);
    expect(dispatchTrap(context, args(TrapFunction.Read, 0n, (1n << 32n) | BigInt(HEAP), 4n, 0n))).toBe(EINVAL);
  });

  it('TrapWrite: the offset is signed 64 bits', () => {
    const channel = fake({ type: RAND_WRITE });
    const context = { channels: [channel], memory, hooks: hooks([]) };
    expect(dispatchTrap(context, args(TrapFunction.Write, 0n, BigInt(HEAP), 4n, 0xffffffffffffffffn))).toBe(EINVAL);
    expect(dispatchTrap(context, args(TrapFunction.Write, 0n, BigInt(HEAP), 4n, 0xffffffffn))).toBe(EINVAL);
    expect(dispatchTrap(context, args(TrapFunction.Write, 0n, BigInt(HEAP), 4n, 12n))).toBe(4);
    expect(channel.calls).toEqual([{ op: 'write', length: 4, offset: 12 }]);
  });

  it('session hooks get the original casts: jail (uint32, int32), exit (int32), fork', () => {
    const log: string[] = [];
    const context = { channels: [], memory, hooks: hooks(log) };
    expect(dispatchTrap(context, args(TrapFunction.Jail, 0x1_0002_0000n, 0xffffffffn))).toBe(0);
    expect(dispatchTrap(context, args(TrapFunction.Unjail, 0x20000n, 0x10000n))).toBe(EINVAL);
    expect(dispatchTrap(context, args(TrapFunction.Fork))).toBe(7);
    expect(log).toEqual(['jail 131072 -1', 'unjail 131072 65536', 'fork']);
    expect(() => dispatchTrap(context, args(TrapFunction.Exit, 0x1_ffff_fffen))).toThrow(new ExitCalled(-2));
  });

  it('readTrapArgs reads six little-endian words, or faults with the address', () => {
    const at = HEAP + 0x100;
    const view = new DataView(memory.bytes.buffer, at, 48);
    [TrapFunction.Write, 0, 2, HEAP, 5, 0].forEach((v, i) => view.setBigUint64(i * 8, BigInt(v), true));
    expect(readTrapArgs(memory, at)).toEqual([BigInt(TrapFunction.Write), 0n, 2n, BigInt(HEAP), 5n, 0n]);
    expect(() => readTrapArgs(memory, HOLE)).toThrow(TrapArgsFault);
    try {
      readTrapArgs(memory, HEAP_END - 8);
    } catch (error) {
      expect(error).toBeInstanceOf(TrapArgsFault);
      expect((error as TrapArgsFault).address).toBe(HEAP_END - 8);
    }
  });
});

describe('dispatchTrapAt (the session hot path, numbers instead of bigints)', () => {
  const at = HEAP + 0x200;
  function run(how: 'bigint' | 'number', words: readonly bigint[]): { result: unknown; calls: unknown; log: string[] } {
    const view = new DataView(memory.bytes.buffer, at, 48);
    words.forEach((w, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, w), true));
    const channel = fake({ type: RAND_WRITE });
    const log: string[] = [];
    const context = { channels: [channel, fake()], memory, hooks: hooks(log) };
    let result: unknown;
    try {
      result = how === 'bigint' ? dispatchTrap(context, readTrapArgs(memory, at)) : dispatchTrapAt(context, at);
    } catch (error) {
      result = error instanceof ExitCalled ? `exit ${error.code}` : String(error);
    }
    return { result, calls: channel.calls, log };
  }

  it('agrees with dispatchTrap(readTrapArgs(...)) on every argument block', () => {
    const fns = [...TRAP_FUNCTIONS.map((r) => BigInt(r.value)), 0n, 0x12345678n, (1n << 32n) | BigInt(TrapFunction.Write)];
    const word = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(0n, 1n, 4n, 8n, 12n, BigInt(HEAP), BigInt(HEAP_END - 4), 0xffffffffn, 1n << 32n, (1n << 64n) - 1n),
    );
    fc.assert(
      fc.property(fc.constantFrom(...fns), word, word, word, word, (fn, a0, a1, a2, a3) => {
        const words = [fn, 0n, a0, a1, a2, a3];
        expect(run('number', words)).toEqual(run('bigint', words));
      }),
      { numRuns: 2000 },
    );
  });

  it('faults with the address when the block is not readable', () => {
    expect(() => dispatchTrapAt({ channels: [], memory, hooks: hooks([]) }, HOLE)).toThrow(TrapArgsFault);
  });
});
