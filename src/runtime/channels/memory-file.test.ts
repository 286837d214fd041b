/**
 * In-memory channels (memory-file.ts): a HostChannel over a MemoryFile
 * behaves as one over a regular file with the same bytes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChannelIoError, ChannelMountError, HostChannel, MemoryFile, type ChannelSpec } from './index.js';

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-memory-file-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ALL = 2n ** 53n;
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

function spec(alias: string, type: number, limits: [bigint, bigint, bigint, bigint], memory?: MemoryFile, uri = `memory:${alias}`): ChannelSpec {
  const [gets, getSize, puts, putSize] = limits;
  return { uri, alias, type, etag: true, limits: { gets, getSize, puts, putSize }, ...(memory === undefined ? {} : { memory }) };
}

/** Runs the same requests on a file channel and a memory channel; returns both channels' observable state. */
function both(type: number, limits: [bigint, bigint, bigint, bigint], initial: string, act: (c: HostChannel) => unknown[]): { file: unknown[]; memory: unknown[]; fileBytes: string; memoryBytes: string } {
  const path = join(tmp, `f-${type}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, initial);
  const onFile = HostChannel.open(spec('/dev/x', type, limits, undefined, path), { preallocate: false });
  const memory = new MemoryFile(enc(initial));
  const inMemory = HostChannel.open(spec('/dev/x', type, limits, memory));
  const state = (c: HostChannel): unknown[] => [...act(c), c.size, c.getpos, c.putpos, c.eof, { ...c.counters }, { ...c.hostStats }, c.etag?.digest(), c.kind];
  const file = state(onFile);
  const mem = state(inMemory);
  onFile.close();
  inMemory.close();
  return { file, memory: mem, fileBytes: readFileSync(path, 'latin1'), memoryBytes: memory.contents().toString('latin1') };
}

describe('a channel in memory behaves as one on a regular file', () => {
  it('sequential reads to the end', () => {
    const r = both(0, [ALL, ALL, 0n, 0n], 'x'.repeat(70000), (c) => {
      const buffer = new Uint8Array(100000);
      return [c.read(buffer, c.getpos), c.read(buffer, c.getpos)];
    });
    expect(r.memory).toEqual(r.file);
    expect(r.memory[0]).toBe(70000);
  });

  it('random reads and writes (type 3), then the final truncation', () => {
    const r = both(3, [ALL, ALL, ALL, ALL], 'hello world', (c) => {
      const buffer = new Uint8Array(5);
      return [c.write(enc('HELLO'), 0), c.read(buffer, 6), Buffer.from(buffer).toString(), c.write(enc('!!'), 20)];
    });
    expect(r.memory).toEqual(r.file);
    expect(r.memoryBytes).toBe(r.fileBytes);
    expect(r.memoryBytes).toBe('HELLO world\0\0\0\0\0\0\0\0\0!!');
  });

  it('appendable (type 1): writes start at the end', () => {
    const r = both(1, [ALL, ALL, ALL, ALL], 'abc', (c) => [c.write(enc('def'), c.putpos)]);
    expect(r.memory).toEqual(r.file);
    expect(r.memoryBytes).toBe('abcdef');
  });

  it('write-only starts empty (O_TRUNC), as a file does', () => {
    const r = both(0, [0n, 0n, ALL, ALL], 'old contents', (c) => [c.write(enc('new'), c.putpos)]);
    expect(r.memory).toEqual(r.file);
    expect(r.memoryBytes).toBe('new');
  });

  it('refuses what a file refuses: read+write sequential channels', () => {
    expect(() => HostChannel.open(spec('/dev/x', 0, [ALL, ALL, ALL, ALL], new MemoryFile()))).toThrow(ChannelMountError);
    expect(() => HostChannel.open(spec('/dev/x', 0, [ALL, ALL, ALL, ALL], new MemoryFile()))).toThrow('sequential channels cannot have r/w access');
  });

  it('a write beyond what memory can hold fails as EFBIG instead of exhausting the process', () => {
    const c = HostChannel.open(spec('/dev/x', 3, [ALL, ALL, ALL, ALL], new MemoryFile()));
    expect(() => c.write(enc('x'), 2 ** 40)).toThrow(ChannelIoError);
  });

  it('a forwarding MemoryFile keeps nothing and hands each write on', () => {
    const seen: string[] = [];
    const memory = new MemoryFile(undefined, (bytes) => seen.push(Buffer.from(bytes).toString()), false);
    const c = HostChannel.open(spec('/dev/x', 0, [0n, 0n, ALL, ALL], memory));
    c.write(enc('one'), c.putpos);
    c.write(enc('two'), c.putpos);
    c.close();
    expect(seen).toEqual(['one', 'two']);
    expect(memory.contents().length).toBe(0);
    expect(c.size).toBe(6);
  });
});
