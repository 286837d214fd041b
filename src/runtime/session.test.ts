/**
 * Whole sessions (session.ts) on the example programs with the native
 * engine: the report, exit codes, channel output and the failure paths in
 * the original's order. Skipped loudly when the addon is not built (a
 * failure under CI=true); the failures before the engine is needed run
 * everywhere.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeEngine } from '../engines/native.js';
import { runSession } from './session.js';

const ROOT = join(import.meta.dirname, '..', '..');
const unavailable = nativeEngine.unavailableReason();
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (unavailable !== null && !ci) console.warn(`\n*** session tests with the native engine SKIPPED: ${unavailable} ***\n`);

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-session-'));
let counter = 0;

function manifest(options: { program?: string; memory?: string; extra?: string } = {}): { path: string; out: string } {
  const n = counter++;
  const out = join(tmp, `out${n}`);
  const text = [
    'Version = 20130611',
    `Program = ${options.program ?? join(ROOT, 'examples', 'hello.nexe')}`,
    'Timeout = 10',
    `Memory = ${options.memory ?? '33554432, 0'}`,
    'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
    `Channel = ${out}, /dev/stdout, 0, 1, 0, 0, 999, 999`,
    'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
    options.extra ?? '',
  ].join('\n');
  const path = join(tmp, `manifest${n}`);
  writeFileSync(path, text);
  return { path, out };
}

const lines = (report: string): string[] => report.split('\n');

describe('session failures before the program runs', () => {
  it('a manifest error exits 14 with MANIFEST n: ...', () => {
    const path = join(tmp, 'bad');
    writeFileSync(path, 'Version = 20130611\nProgram = /x\nTimeout = 1\nMemory = 1, 7\n');
    const r = runSession({ manifestPath: path, engine: nativeEngine });
    expect(r.exitCode).toBe(14);
    expect(r.exitState).toBe('MANIFEST 4: invalid memory etag token');
    expect(lines(r.report)[5]).toBe('MANIFEST 4: invalid memory etag token');
  });

  it('a missing manifest exits 2', () => {
    const r = runSession({ manifestPath: join(tmp, 'nope'), engine: nativeEngine });
    expect(r.exitCode).toBe(2);
    expect(r.exitState).toBe('manifest open error');
  });

  it('a missing program exits 2', () => {
    const r = runSession({ manifestPath: manifest({ program: join(tmp, 'missing.nexe') }).path, engine: nativeEngine });
    expect(r.exitCode).toBe(2);
    expect(r.exitState).toBe('program open error');
  });

  it('a program shorter than an ELF header exits 5, one without the ELF magic 8; validator state 2', () => {
    const bogus = join(tmp, 'bogus.nexe');
    writeFileSync(bogus, 'not an elf');
    const short = runSession({ manifestPath: manifest({ program: bogus }).path, engine: nativeEngine });
    expect([short.exitCode, short.validatorState]).toEqual([5, 2]);
    const headerOnly = Buffer.alloc(100);
    headerOnly.writeUInt16LE(56, 54); /* e_phentsize: the magic is checked after the header table */
    writeFileSync(bogus, headerOnly);
    const r = runSession({ manifestPath: manifest({ program: bogus }).path, engine: nativeEngine });
    expect([r.exitCode, r.exitState, r.validatorState]).toEqual([8, 'bad elf magic', 2]);
  });

  it('unsafe.nexe fails validation: validator state 1, exit 8, channels never opened but their etags listed', () => {
    const m = manifest({ program: join(ROOT, 'examples', 'unsafe.nexe') });
    const r = runSession({ manifestPath: m.path, engine: nativeEngine });
    expect(r.exitCode).toBe(8);
    expect(lines(r.report).slice(0, 4)).toEqual(['1', '0', '0', '/dev/stdout da39a3ee5e6b4b0d3255bfef95601890afd80709']);
    expect(r.exitState).toBe('validation failed');
  });

  it('checks memory after the channels: too small a heap exits 12', () => {
    const r = runSession({ manifestPath: manifest({ memory: '16777216, 0' }).path, engine: nativeEngine });
    expect(r.exitCode).toBe(12);
    expect(r.exitState).toBe('user heap size is too small');
  });
});

describe.skipIf(unavailable !== null && !ci)('sessions on the native engine', () => {
  it('hello writes "hello, world\\n" and the report says ok', () => {
    const m = manifest();
    const r = runSession({ manifestPath: m.path, engine: nativeEngine });
    expect(readFileSync(m.out, 'utf8')).toBe('hello, world\n');
    expect(r.exitCode).toBe(0);
    expect(r.userReturnCode).toBe(0);
    const report = lines(r.report);
    /* SHA-1 of "hello, world\n" */
    expect(report.slice(0, 4)).toEqual(['0', '0', '0', '/dev/stdout cd50d19784897085a8d0e3e413f8612b097c03f1']);
    expect(report[4]).toMatch(/^\d+\.\d\d \d+\.\d\d 0 0 1 13 0 0 0 0$/);
    expect(report[5]).toBe('ok');
    expect(report.length).toBe(8);
  });

  it('the memory etag is the same on every run', () => {
    const a = runSession({ manifestPath: manifest({ memory: '33554432, 1' }).path, engine: nativeEngine });
    const b = runSession({ manifestPath: manifest({ memory: '33554432, 1' }).path, engine: nativeEngine });
    expect(lines(a.report)[3]).toMatch(/ \/dev\/memory [0-9a-f]{40}$/);
    expect(lines(a.report)[3]).toBe(lines(b.report)[3]);
  });

  it('-F loads and stops: ok, nothing written', () => {
    const m = manifest();
    const r = runSession({ manifestPath: m.path, engine: nativeEngine, loadOnly: true });
    expect(r.exitCode).toBe(0);
    expect(r.exitState).toBe('ok');
    expect(readFileSync(m.out, 'utf8')).toBe('');
  });

  it('-s runs unsafe.nexe unvalidated: validator state 2, a signal from untrusted code', () => {
    const r = runSession({ manifestPath: manifest({ program: join(ROOT, 'examples', 'unsafe.nexe') }).path, engine: nativeEngine, skipValidation: true });
    expect(lines(r.report)[0]).toBe('2');
    expect(r.exitState).toMatch(/^Signal \d+ from untrusted code: Halting at 0x[0-9A-F]{12,}$/);
    expect(r.exitCode).toBe(4);
  });
});
