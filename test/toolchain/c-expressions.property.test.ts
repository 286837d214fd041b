/**
 * Property: a C program made of generated integer and floating-point
 * expressions prints the same values when built with `zerovm cc` (x32,
 * sandboxed, newlib's printf) and with the host's gcc (x86-64, glibc).
 *
 * The expressions avoid undefined behaviour so both builds must agree:
 * arithmetic is unsigned (wraps), divisors are forced odd (never zero),
 * shift counts are masked, signed division works on 32-bit values widened
 * to 64 bits (no INT_MIN / -1), and only fixed-width types are used (long
 * is 32 bits in the sandbox, 64 natively). The inputs are volatile globals,
 * so gcc cannot fold the expressions away at compile time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const skip = warnIfSkipped('C expression property test', true);

/** An expression of type uint64_t, as C text. */
const u64: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b', 'c', 'x', 'y'),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => `${n}ull`),
    fc.integer({ min: 0, max: 40 }).map((n) => `${n}ull`),
    fc.tuple(tie('e'), fc.constantFrom('+', '-', '*', '&', '|', '^'), tie('e')).map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(tie('e'), fc.constantFrom('/', '%'), tie('e')).map(([l, op, r]) => `(${l} ${op} (${r} | 1))`),
    fc.tuple(tie('e'), fc.constantFrom('<<', '>>'), tie('e')).map(([l, op, r]) => `(${l} ${op} (${r} & 63))`),
    fc.tuple(tie('e'), fc.constantFrom('<', '==', '>=', '&&', '||'), tie('e')).map(([l, op, r]) => `(uint64_t)(${l} ${op} ${r})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, t, f]) => `(${c} ? ${t} : ${f})`),
    tie('e').map((e) => `(uint64_t)(uint32_t)${e}`),
    tie('e').map((e) => `(uint64_t)(int64_t)(int32_t)${e}`),
    tie('e').map((e) => `(uint64_t)(uint8_t)${e}`),
    tie('e').map((e) => `(uint64_t)(int16_t)${e}`),
    fc.tuple(tie('e'), tie('e')).map(([l, r]) => `(uint64_t)((int64_t)(int32_t)${l} / ((int64_t)(int32_t)${r} | 1))`),
    fc.tuple(tie('e'), tie('e')).map(([l, r]) => `(uint64_t)((int32_t)${l} % ((int32_t)${r} | 1))`),
    fc.tuple(tie('e'), fc.integer({ min: 0, max: 31 })).map(([e, n]) => `(uint64_t)((int32_t)${e} >> ${n})`),
    tie('e').map((e) => `(uint64_t)__builtin_popcountll(${e})`),
    tie('e').map((e) => `(uint64_t)(${e} == 0 ? 64 : __builtin_clzll(${e}))`),
    tie('e').map((e) => `(uint64_t)(int64_t)(${dbl(e)})`),
  ),
})).e;

/** A double computed from an integer expression, always finite and in range of int32 after scaling. */
function dbl(e: string): string {
  return `((double)(int32_t)${e} / 3.0 + (double)(uint16_t)${e} * 0.125)`;
}

const doubles: fc.Arbitrary<string> = fc.oneof(
  u64.map((e) => dbl(e)),
  fc.tuple(u64, u64).map(([l, r]) => `((double)(int32_t)${l} / ((double)(uint32_t)${r} + 1.0))`),
  u64.map((e) => `sqrt((double)(uint32_t)${e})`),
  u64.map((e) => `floor((double)(int32_t)${e} / 7.0)`),
  fc.tuple(u64, u64).map(([l, r]) => `fmod((double)(int32_t)${l}, (double)(uint16_t)${r} + 0.5)`),
  u64.map((e) => `(double)(float)((double)(int32_t)${e} * 1.1)`),
  u64.map((e) => `(double)${e}`),
);

const program = fc.record({
  inputs: fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  ints: fc.array(u64, { minLength: 40, maxLength: 40 }),
  reals: fc.array(doubles, { minLength: 15, maxLength: 15 }),
});

interface Spec {
  readonly inputs: readonly [bigint, bigint, bigint, bigint, bigint];
  readonly ints: readonly string[];
  readonly reals: readonly string[];
}

function source(p: Spec): string {
  const [a, b, c, x, y] = p.inputs;
  return [
    '#include <stdint.h>',
    '#include <stdio.h>',
    '#include <math.h>',
    `volatile uint32_t va = ${a}u, vb = ${b}u, vc = ${c}u;`,
    `volatile uint64_t vx = ${x}ull, vy = ${y}ull;`,
    'int main(void) {',
    '  uint64_t a = va, b = vb, c = vc, x = vx, y = vy;',
    ...p.ints.map((e, i) => `  printf("i${i} %llu\\n", (unsigned long long)(${e}));`),
    ...p.reals.map((e, i) => `  printf("d${i} %.17g\\n", (double)(${e}));`),
    '  return 0;',
    '}',
    '',
  ].join('\n');
}

describe.skipIf(skip)('generated C expressions: zerovm cc agrees with native gcc', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-cc-prop-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the same values', () => {
    let n = 0;
    fc.assert(
      fc.property(program, fc.constantFrom('-O0', '-O2'), (p, opt) => {
        const src = join(dir, `p${n}.c`);
        const nexe = join(dir, `p${n}.nexe`);
        const exe = join(dir, `p${n++}.native`);
        writeFileSync(src, source(p));
        zerovmCc([opt, '-o', nexe, src]);
        const cc = spawnSync('gcc', [opt, '-o', exe, src, '-lm'], { encoding: 'utf8' });
        if (cc.status !== 0) throw new Error(cc.stderr);
        const want = spawnSync(exe, [], { encoding: 'utf8' });
        const got = runNexe(dir, nexe);
        expect(got.exitState).toBe('ok');
        expect(got.stdout).toBe(want.stdout);
      }),
      { numRuns: 6, endOnFailure: true },
    );
  }, 600_000);
});
