/**
 * ChannelSet: opening order, the program's channel order, refusals, clean-up
 * after a failure, totals, etags, and the host's own stdin/stdout/stderr
 * (in a child process, whose standard streams are pipes).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChannelSet, compareAliases, MAX_CHANNELS, programOrder } from './channel-set.js';
import { ChannelMountError } from './errors.js';
import { STANDARD_ALIASES, type ChannelSpec, type IoLimitsSpec } from './spec.js';

const RO: IoLimitsSpec = { gets: 100, getSize: 1000, puts: 0, putSize: 0 };
const WO: IoLimitsSpec = { gets: 0, getSize: 0, puts: 100, putSize: 1000 };

let dir = '';
let sets: ChannelSet[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zvm-channels-'));
});
afterEach(() => {
  for (const set of sets) set.closeAll();
  sets = [];
  rmSync(dir, { recursive: true, force: true });
});

function ch(uri: string, alias: string, limits: IoLimitsSpec, etag = false): ChannelSpec {
  return { uri, alias, type: 0, etag, limits };
}

const standard = (): ChannelSpec[] => [
  ch('/dev/null', '/dev/stdin', RO),
  ch('/dev/null', '/dev/stdout', WO),
  ch('/dev/null', '/dev/stderr', WO),
];

function openSet(specs: ChannelSpec[]): ChannelSet {
  const set = ChannelSet.open(specs);
  sets.push(set);
  return set;
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

describe('ChannelSet', () => {
  it('puts stdin, stdout, stderr first and sorts the others by alias, byte order (strcmp)', () => {
    const set = openSet([
      ch('/dev/null', '/dev/b', RO),
      ch('/dev/null', '/dev/stderr', WO),
      ch('/dev/null', '/dev/a', RO),
      ch('/dev/null', '/dev/stdout', WO),
      ch('/dev/null', '/dev/stdin', RO),
    ]);
    expect(set.channels.map((c) => c.alias)).toEqual([
      '/dev/stdin',
      '/dev/stdout',
      '/dev/stderr',
      '/dev/a',
      '/dev/b',
    ]);
    expect(set.count).toBe(5);
    expect(set.at(3)?.alias).toBe('/dev/a');
    expect(set.at(5)).toBeUndefined();
  });

  it('sorts as C strcmp does, not as a locale would: capitals first, digit by digit, UTF-8 bytes', () => {
    const aliases = ['/dev/b', '/dev/B', '/dev/a10', '/dev/a9', '/dev/é', '/dev/z', '/dev/_x', '/dev/\u{1F600}', '/dev/\uFFFD'];
    expect(programOrder(aliases.map((alias) => ({ alias })).concat(STANDARD_ALIASES.map((alias) => ({ alias })))).map((c) => c.alias)).toEqual([
      ...STANDARD_ALIASES, '/dev/B', '/dev/_x', '/dev/a10', '/dev/a9', '/dev/b', '/dev/z', '/dev/é', '/dev/\uFFFD', '/dev/\u{1F600}',
    ]);
    expect(compareAliases('/dev/\uFFFD', '/dev/\u{1F600}')).toBeLessThan(0);
  });

  it('compares any two aliases as strcmp compares their UTF-8 bytes (also across surrogate pairs and U+E000..U+FFFF)', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('/dev/\uE000', '/dev/\uFFFD', '/dev/\u{10000}', '/dev/\u{1F600}', '/dev/a', ''));
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(compareAliases(a, b)).toBe(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a duplicate alias and closes what it already opened', () => {
    const out = join(dir, 'out');
    const error = mountError(() =>
      ChannelSet.open([...standard(), ch(out, '/dev/out', WO), ch('/dev/null', '/dev/out', RO)]),
    );
    expect(error.errno).toBe(14);
    expect(error.message).toBe('/dev/out is already allocated');
    /* the preallocated file was closed with its final truncation */
    expect(statSync(out).size).toBe(0);
  });

  it('refuses a manifest without the three standard channels, once every channel is open and ordered', () => {
    const error = mountError(() => ChannelSet.open([...standard().slice(0, 2), ch('/dev/null', '/dev/x', RO)]));
    expect(error.errno).toBe(14);
    expect(error.message).toBe('missing standard channels in manifest');
    expect(error.afterOrdering).toBe(true);
    expect(mountError(() => ChannelSet.open([...standard().slice(1), ch('/dev/null', '/dev/a', RO)])).message).toBe(
      'missing standard channels in manifest',
    );
  });

  it('refuses fewer than three channels before opening any, and a bad type when its turn comes', () => {
    const error = mountError(() => ChannelSet.open(standard().slice(1)));
    expect([error.errno, error.message, error.afterOrdering]).toEqual([14, 'not enough channels: 2', false]);
    const typed = mountError(() => ChannelSet.open([...standard(), { ...ch('/dev/null', '/dev/x', RO), type: 4 }, ch('/dev/null', '/dev/x', RO)]));
    expect([typed.errno, typed.message]).toEqual([14, '/dev/x has invalid type 4']);
  });

  it(`refuses more than ${MAX_CHANNELS} channels before opening any`, () => {
    const specs = Array.from({ length: MAX_CHANNELS + 1 }, (_, i) => ch('/nonexistent/x', `/dev/c${i}`, RO));
    const error = mountError(() => ChannelSet.open(specs));
    expect(error.errno).toBe(23);
    expect(error.message).toBe('channels number reached maximum');
  });

  it('a failing channel closes the channels opened before it', () => {
    const out = join(dir, 'out');
    const error = mountError(() =>
      ChannelSet.open([ch(out, '/dev/stdout', WO), ch(join(dir, 'missing'), '/dev/stdin', RO), ch('/dev/null', '/dev/stderr', WO)]),
    );
    expect(error.errno).toBe(14);
    expect(statSync(out).size).toBe(0);
  });

  it('sums host I/O for the accounting line and lists etags in channel order', () => {
    const input = join(dir, 'in');
    writeFileSync(input, 'abcdef');
    const set = openSet([
      ch(input, '/dev/input', RO, true),
      ch('/dev/null', '/dev/stdin', RO),
      ch('/dev/null', '/dev/stdout', WO, true),
      ch('/dev/null', '/dev/stderr', WO),
    ]);
    const [, stdout, , data] = set.channels;
    if (stdout === undefined || data === undefined) throw new Error('missing channels');
    data.read(new Uint8Array(10), data.getpos); /* 6 bytes, then the end: 2 host reads */
    stdout.write(new TextEncoder().encode('hi'), stdout.putpos);
    expect(set.ioTotals()).toEqual({
      local: { gets: 2, getBytes: 6, puts: 1, putBytes: 2 },
      network: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 },
    });
    const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');
    expect(set.etags()).toEqual([
      { alias: '/dev/stdout', digest: sha1('hi') },
      { alias: '/dev/input', digest: sha1('abcdef') },
    ]);
  });
});

describe("the host's standard streams", () => {
  const channelsModule = fileURLToPath(new URL('./index.ts', import.meta.url));
  const script = `
    const { ChannelSet } = await import(${JSON.stringify(channelsModule)});
    const spec = (alias, limits) => ({ uri: alias, alias, type: 0, etag: false, limits });
    const RO = { gets: 10, getSize: 100, puts: 0, putSize: 0 };
    const WO = { gets: 0, getSize: 0, puts: 10, putSize: 100 };
    let set;
    try {
      set = ChannelSet.open([spec('/dev/stdin', RO), spec('/dev/stdout', WO), spec('/dev/stderr', WO)]);
    } catch (error) {
      process.stderr.write(error.errno + ' ' + error.message);
      process.exit(3);
    }
    const [stdin, stdout, stderr] = set.channels;
    const buf = new Uint8Array(100);
    const n = stdin.read(buf, stdin.getpos);
    const enc = new TextEncoder();
    stdout.write(enc.encode('out:' + new TextDecoder().decode(buf.subarray(0, n)) + ';'), stdout.putpos);
    stderr.write(enc.encode(set.channels.map((c) => c.backing).join(',')), stderr.putpos);
    set.closeAll();
  `;
  const node = `'${process.execPath}' --import tsx --input-type=module -e "$SCRIPT"`;

  it('/dev/stdin, /dev/stdout, /dev/stderr open whatever the process has: shell pipes are FIFOs', () => {
    const child = spawnSync('sh', ['-c', `printf 'from the host' | ${node} 2>&1 | cat`], {
      env: { ...process.env, SCRIPT: script },
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('out:from the host;fifo,fifo,fifo');
  });

  it('sockets (what Node gives a child for "pipe" stdio) work as streams on the inherited descriptors', () => {
    const child = spawnSync('sh', ['-c', node], {
      env: { ...process.env, SCRIPT: script },
      input: 'x',
      encoding: 'utf8',
    });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('out:x;');
    expect(child.stderr).toBe('socket,socket,socket');
  });
});
