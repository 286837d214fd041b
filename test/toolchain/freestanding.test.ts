/**
 * End to end: a freestanding program (examples/c/freestanding/: its own
 * _start in start.S, its own trap wrapper in inline assembly, its own
 * printf, no C library) built with `zerovm cc -nostdlib -nostartfiles`
 * holds only the user's code, passes the validator, and runs on every
 * engine: it reads stdin, prints through its printf and exits with 7.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ROOT, runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const skip = warnIfSkipped('freestanding C program');
const engines = engineCases('freestanding C program');
const SOURCES = ['start.S', 'freestanding.c'].map((f) => join(ROOT, 'examples', 'c', 'freestanding', f));

/** What the program prints for `input` (its checksum is s = s * 31 + byte, 32 bits). */
function expected(input: string): string {
  const bytes = Buffer.from(input);
  let sum = 0;
  for (const b of bytes) sum = (Math.imul(sum, 31) + b) >>> 0;
  return (
    `freestanding: ${bytes.length} bytes in, checksum ${sum.toString(16).padStart(8, '0')}\n` +
    `[${input}]\n` +
    '-42 -2147483648 4294967295 beef z %    31|007 -1234567890123 fedcba9876543210\n'
  );
}

describe.skipIf(skip)('a freestanding program: own _start, trap wrapper and printf', () => {
  let dir = '';
  let nexe = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-cc-freestanding-'));
    nexe = join(dir, 'freestanding.nexe');
    zerovmCc(['-O2', '-Wall', '-Wextra', '-Werror', '-mno-red-zone', '-ffreestanding', '-nostdlib', '-nostartfiles', '-o', nexe, ...SOURCES]);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('links only the given code: no crt0, no C library', () => {
    const nm = spawnSync('nm', ['--defined-only', nexe], { encoding: 'utf8' });
    expect(nm.status).toBe(0);
    const functions = nm.stdout
      .split('\n')
      .filter((l) => / [Tt] /.test(l))
      .map((l) => l.split(' ')[2])
      .sort();
    expect(functions).toEqual(['_start', 'exit_session', 'main', 'memcpy', 'memset', 'put', 'put_unsigned', 'tiny_printf']);
  });

  it('passes the validator', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'validate', '--deterministic', nexe], { encoding: 'utf8' });
    expect(r.stdout).toContain('VALID');
    expect(r.status).toBe(0);
  });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      for (const input of ['hello\nworld', '']) {
        it(`reads ${JSON.stringify(input)}, prints with its own printf, exits 7`, () => {
          const r = runNexe(dir, nexe, { input, engine: e.engine });
          expect(r.stderr).toBe('');
          expect(r.exitState).toBe('ok');
          expect(r.code).toBe(7);
          expect(r.stdout).toBe(expected(input));
        });
      }
    });
  }
  availabilityTests(engines);
});
