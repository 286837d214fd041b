import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseMemberPath, readTar, TarError, writeTar, type TarEntry } from './tar.js';

const hostTar = spawnSync('tar', ['--version'], { encoding: 'utf8' }).status === 0;

const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$/).filter((s) => s !== '..' && s !== '.');
const memberPath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/'));

describe('ustar writer and reader', () => {
  it('round-trips any set of files (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(memberPath, fc.uint8Array({ maxLength: 1500 })), { selector: ([p]) => p, maxLength: 8 }), (files) => {
        const entries: TarEntry[] = files.map(([path, data]) => ({ path, type: 'file', data }));
        const back = readTar(writeTar(entries));
        expect(back.map((e) => [e.path, e.type, Array.from(e.data)])).toEqual(entries.map((e) => [e.path, 'file', Array.from(e.data)]));
      }),
      { numRuns: 200 },
    );
  });

  it('is deterministic and block-aligned, with two zero blocks at the end', () => {
    const entries: TarEntry[] = [{ path: 'a.txt', type: 'file', data: new TextEncoder().encode('hello\n') }];
    const a = writeTar(entries);
    expect(a).toEqual(writeTar(entries));
    expect(a.length).toBe(512 + 512 + 1024);
    expect(a.subarray(1024).every((b) => b === 0)).toBe(true);
  });

  it('stores a long path with the ustar prefix, and refuses one that cannot be split', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const bytes = writeTar([{ path: long, type: 'file', data: new Uint8Array([1]) }]);
    expect(new TextDecoder().decode(bytes.subarray(345, 345 + 120))).toBe('d'.repeat(120));
    expect(readTar(bytes)[0]?.path).toBe(long);
    expect(() => writeTar([{ path: 'x'.repeat(101), type: 'file', data: new Uint8Array(0) }])).toThrow(TarError);
  });

  it('refuses paths that leave the archive, duplicates, and unsupported member types', () => {
    expect(() => normaliseMemberPath('a/../../etc/passwd')).toThrow(/'\.\.'/);
    expect(normaliseMemberPath('./a//b/./c/')).toBe('a/b/c');
    expect(() => writeTar([{ path: 'a', type: 'file', data: new Uint8Array(0) }, { path: './a', type: 'file', data: new Uint8Array(0) }])).toThrow(/twice/);
    const bytes = writeTar([{ path: 'link', type: 'file', data: new Uint8Array(0) }]);
    bytes[156] = 0x32; // symlink; the checksum must be fixed for the reader to reach the type
    bytes.fill(0x20, 148, 156);
    const sum = bytes.subarray(0, 512).reduce((a, b) => a + b, 0);
    bytes.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect(() => readTar(bytes)).toThrow(/type '2' is not supported/);
  });

  it('reports a truncated archive and a bad checksum', () => {
    const bytes = writeTar([{ path: 'a', type: 'file', data: new Uint8Array(600) }]);
    expect(() => readTar(bytes.subarray(0, 700))).toThrow(/run past the end/);
    const bad = bytes.slice();
    bad[0] = 0x62;
    expect(() => readTar(bad)).toThrow(/bad checksum/);
    expect(() => readTar(new Uint8Array(100))).toThrow(/truncated/);
  });

  describe.skipIf(!hostTar)('interoperates with GNU tar', () => {
    it('GNU tar lists and extracts what we write', () => {
      const dir = mkdtempSync(join(tmpdir(), 'zapp-tar-'));
      try {
        const long = `${'p'.repeat(110)}/name.txt`;
        writeFileSync(join(dir, 'a.tar'), writeTar([{ path: 'sub', type: 'directory', data: new Uint8Array(0) }, { path: 'sub/x.txt', type: 'file', data: new TextEncoder().encode('x\n') }, { path: long, type: 'file', data: new TextEncoder().encode('long\n') }]));
        const list = spawnSync('tar', ['tf', join(dir, 'a.tar')], { encoding: 'utf8' });
        expect(list.stdout).toBe(`sub/\nsub/x.txt\n${long}\n`);
        mkdirSync(join(dir, 'out'));
        expect(spawnSync('tar', ['xf', join(dir, 'a.tar'), '-C', join(dir, 'out')]).status).toBe(0);
        expect(readFileSync(join(dir, 'out', long), 'utf8')).toBe('long\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('we read what GNU tar writes (tar cf -C DIR .)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'zapp-tar-'));
      try {
        mkdirSync(join(dir, 'in', 'lib'), { recursive: true });
        writeFileSync(join(dir, 'in', 'lib', 'm.lua'), 'return 1\n');
        expect(spawnSync('tar', ['cf', join(dir, 'b.tar'), '-C', join(dir, 'in'), '.']).status).toBe(0);
        const entries = readTar(readFileSync(join(dir, 'b.tar')));
        expect(entries.map((e) => [e.path, e.type])).toEqual([['lib', 'directory'], ['lib/m.lua', 'file']]);
        expect(new TextDecoder().decode(entries[1]?.data)).toBe('return 1\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
