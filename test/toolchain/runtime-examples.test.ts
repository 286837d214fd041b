/**
 * End to end: the C twins of the runtime's hand-written examples
 * (examples/c/devnull.c, loop.c, jail.c, patch.c against examples/*.S),
 * built with `zerovm cc` and run in sessions on every engine, do what the
 * assembly versions do: a million one-byte writes, the LCG value, a jailed
 * function's 42 (through zerovm.h's zvm_jail), a positional write and
 * read-back on a random-access file channel. loop is also compared with
 * the assembly nexe's own output, and with the same source built natively.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ROOT, runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const skip = warnIfSkipped('C twins of the runtime examples');
const engines = engineCases('C twins of the runtime examples');
const PROGRAMS = ['devnull', 'loop', 'jail', 'patch'] as const;

/** The LCG of examples/loop.S, as 16 hex digits. */
function lcg(steps: number): string {
  let x = 0n;
  for (let i = 0; i < steps; i++) x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn;
  return `${x.toString(16).padStart(16, '0')}\n`;
}

describe.skipIf(skip)('C twins of the runtime examples', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-cc-twins-'));
    for (const p of PROGRAMS) zerovmCc(['-O2', '-Wall', '-Werror', '-o', join(dir, `${p}.nexe`), join(ROOT, 'examples', 'c', `${p}.c`)]);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loop.c built natively prints the same LCG value', () => {
    const r = spawnSync('sh', ['-c', `gcc -O2 -o ${join(dir, 'loop.native')} ${join(ROOT, 'examples', 'c', 'loop.c')} && ${join(dir, 'loop.native')} 123457`], { encoding: 'utf8' });
    expect(r.stdout).toBe(lcg(123457));
  });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      it('devnull writes 1 000 000 bytes one write() at a time', () => {
        const r = runNexe(dir, join(dir, 'devnull.nexe'), { engine: e.engine });
        expect(r.exitState).toBe('ok');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('.'.repeat(1_000_000));
      });

      it('loop prints the LCG value after N steps, as loop.S does', () => {
        for (const steps of [0, 1, 1000, 250_000]) {
          const r = runNexe(dir, join(dir, 'loop.nexe'), { args: [String(steps)], engine: e.engine });
          expect(r.exitState).toBe('ok');
          expect(r.stdout).toBe(lcg(steps));
        }
      });

      it('jail writes a function into a heap block, jails it, calls it and prints its 42', () => {
        const r = runNexe(dir, join(dir, 'jail.nexe'), { engine: e.engine });
        expect(r.stderr).toBe('');
        expect(r.exitState).toBe('ok');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('42\n');
      });

      it('patch writes at an offset of a random-access channel and reads it back', () => {
        const data = join(dir, `patch-${e.name}.bin`);
        writeFileSync(data, 'abcdefghijklmnopqrstuvwxyz');
        const r = runNexe(dir, join(dir, 'patch.nexe'), { engine: e.engine, channels: [{ path: data, alias: '/dev/data', type: 3 }] });
        expect(r.exitState).toBe('ok');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('abcdZeroVMklmnop');
        expect(readFileSync(data, 'utf8')).toBe('abcdZeroVMklmnopqrstuvwxyz');
      });

      it('patch without its channel exits 1 instead of crashing', () => {
        const r = runNexe(dir, join(dir, 'patch.nexe'), { engine: e.engine });
        expect(r.exitState).toBe('ok');
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
      });
    });
  }
});

availabilityTests(engines);
