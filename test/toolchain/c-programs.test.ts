/**
 * End to end: the example C programs (examples/c/) built with `zerovm cc`
 * and run in a session print exactly what the same source prints when
 * compiled natively with the host's gcc, and every nexe the build produced
 * passed the validator (the driver refuses to write one that does not; the
 * test checks again with `zerovm validate`).
 *
 * Every run case runs on every engine (test/engine-matrix.ts): under
 * Unicorn the nexes are validated against the emulated CPU's feature set,
 * which gcc's default -mx32 code (x86-64 baseline: SSE2, no POPCNT/AVX)
 * stays within.
 *
 * The first run builds the C library (about a minute on two cores; cached
 * under node_modules/.cache/zerovm-toolchain).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { native, ROOT, runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const skip = warnIfSkipped('C toolchain end-to-end tests');
const engines = engineCases('C toolchain end-to-end tests');
const PROGRAMS = ['hello', 'cat', 'sort', 'wc', 'sieve', 'sha256'] as const;

const TEXT = Array.from({ length: 400 }, (_, i) => `line ${i}: the quick brown fox ${i * 7919 % 1000} jumps\tover ${'z'.repeat(i % 13)}`).join('\n') + '\n';
const NUMBERS = Array.from({ length: 300 }, (_, i) => ((i * 7919) % 1009) / 7 - 50).join(' ');

/** `image`: the native program runs in a directory holding FILES, the nexe with the same files as a tar mounted at '/'. */
const FILES: Record<string, string> = { 'notes.txt': 'first\nsecond\n', 'sub/deeper.txt': TEXT };
const CASES: readonly { program: (typeof PROGRAMS)[number]; args?: string[]; input?: string; env?: Record<string, string>; image?: boolean }[] = [
  { program: 'hello', args: ['one', 'two words', 'ünïcode'], env: { WHO: 'zerovm' } },
  { program: 'hello' },
  { program: 'cat', input: TEXT },
  { program: 'cat', args: ['notes.txt', '-', 'sub/deeper.txt', '/notes.txt'], input: 'from stdin\n', image: true },
  { program: 'cat', args: ['notes.txt', 'missing.txt', 'sub/../notes.txt'], image: true },
  { program: 'sort', input: NUMBERS },
  { program: 'sort', input: '' },
  { program: 'wc', input: TEXT },
  { program: 'sieve', args: ['1000000'] },
  { program: 'sieve', args: ['10'] },
  { program: 'sha256', input: '' },
  { program: 'sha256', input: 'abc' },
  { program: 'sha256', input: TEXT.repeat(20) },
];

describe.skipIf(skip)('C programs: zerovm cc output equals native', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-cc-e2e-'));
    for (const p of PROGRAMS) {
      zerovmCc(['-O2', '-o', join(dir, `${p}.nexe`), join(ROOT, 'examples', 'c', `${p}.c`)]);
      const r = spawnSync('gcc', ['-O2', '-o', join(dir, `${p}.native`), join(ROOT, 'examples', 'c', `${p}.c`)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    for (const [name, text] of Object.entries(FILES)) {
      mkdirSync(dirname(join(dir, 'files', name)), { recursive: true });
      writeFileSync(join(dir, 'files', name), text);
    }
    const tar = spawnSync('tar', ['cf', join(dir, 'files.tar'), '-C', join(dir, 'files'), '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(tar.stderr);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(PROGRAMS)('%s.nexe validates', (p) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'validate', '--deterministic', join(dir, `${p}.nexe`)], { encoding: 'utf8' });
    expect(r.stdout).toContain('VALID');
    expect(r.status).toBe(0);
  });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      for (const c of CASES) {
        it(`${c.program} ${JSON.stringify(c.args ?? [])} (${(c.input ?? '').length} bytes in)`, () => {
          // '/notes.txt' is the image's root for the nexe and the files directory for the host program.
          const hostArgs = (c.args ?? []).map((a) => (c.image && a.startsWith('/') ? join(dir, 'files', a) : a));
          const want = spawnSync(join(dir, `${c.program}.native`), hostArgs, { input: c.input ?? '', encoding: 'utf8', env: { ...c.env }, ...(c.image ? { cwd: join(dir, 'files') } : {}) });
          const got = runNexe(dir, join(dir, `${c.program}.nexe`), { args: c.args ?? [], input: c.input ?? '', env: c.env ?? {}, engine: e.engine, ...(c.image ? { image: join(dir, 'files.tar') } : {}) });
          expect(got.exitState).toBe('ok');
          // argv[0] differs (the nexe's name vs the native path) and hello does not print it.
          expect(got.stdout).toBe(want.stdout);
          expect(got.stderr).toBe(want.stderr);
          expect(got.code).toBe(want.status);
        });
      }
    });
  }

  it('a program that breaks the sandbox rules is not written', () => {
    const src = join(dir, 'bad.S');
    spawnSync('sh', ['-c', `printf '.text\\n.globl main\\nmain:\\n.byte 0x0f, 0x05\\nret\\n' > ${src}`]);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', '-o', join(dir, 'bad.nexe'), src], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does not pass the sandbox validator[\s\S]*0x2[0-9a-f]+: .*\[forbidden-instruction\]/);
    expect(spawnSync('test', ['-e', join(dir, 'bad.nexe')]).status).toBe(1);
  });

  // %rbp is reserved (-ffixed-rbp) and only a frame pointer where a function needs one;
  // functions are bundle-aligned only where a pointer may reach them.
  it('frames (VLA, alloca, -O0) and functions reached through pointers work like gcc', () => {
    const main = join(dir, 'frames.c');
    const other = join(dir, 'frames-other.c');
    writeFileSync(
      main,
      [
        '#include <stdio.h>',
        '#include <stdlib.h>',
        '#include <string.h>',
        '#include <alloca.h>',
        'int twice(int);',
        'int apply(int (*f)(int), int x);',
        'static int inc(int x) { return x + 1; }',
        'static int neg(int x) { return -x; }',
        'static int (*const table[])(int) = { inc, neg, twice };',
        'static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }',
        'static int direct(int x) { return x * 3; }',
        'static int vla(int n) { int v[n]; for (int i = 0; i < n; i++) v[i] = i * i; int s = 0; for (int i = 0; i < n; i++) s += v[i]; return s; }',
        'static int heap(int n) { char *p = alloca(n + 1); memset(p, \'a\' + n % 26, n); p[n] = 0; return (int)strlen(p) + p[0]; }',
        'int main(void) {',
        '  int xs[] = { 5, -3, 9, 0, 2 };',
        '  qsort(xs, 5, sizeof xs[0], cmp);',
        '  for (int i = 0; i < 5; i++) printf("%d %d %d\\n", xs[i], table[i % 3](xs[i]), apply(inc, xs[i]));',
        '  printf("%d %d %d %d\\n", direct(7), vla(1 + xs[4]), heap(100 + xs[0]), apply(twice, 4));',
        '  return 0;',
        '}',
      ].join('\n'),
    );
    writeFileSync(other, 'int twice(int x) { return 2 * x; }\nint apply(int (*f)(int), int x) { return f(x) + f(f(x)); }\n');
    const engine = engines.find((e) => !e.skip);
    const want = spawnSync('sh', ['-c', `gcc -O2 -o ${join(dir, 'frames.native')} ${main} ${other} && ${join(dir, 'frames.native')}`], { encoding: 'utf8' });
    expect(want.status, want.stderr).toBe(0);
    for (const opt of ['-O0', '-O2']) {
      zerovmCc([opt, '-o', join(dir, 'frames.nexe'), main, other]);
      if (engine === undefined) continue; // no engine here: engineCases warned, and CI fails in availabilityTests
      const got = runNexe(dir, join(dir, 'frames.nexe'), { engine: engine.engine });
      expect(got.exitState, opt).toBe('ok');
      expect(got.stdout, opt).toBe(want.stdout);
    }
  });

  it('-c objects, an ar archive and a separate link work like gcc', () => {
    const a = join(dir, 'a.c');
    const b = join(dir, 'b.c');
    spawnSync('sh', ['-c', `printf '#include <stdio.h>\\nint twice(int);\\nint main(void){printf("%%d\\\\n", twice(21));return 0;}\\n' > ${a}; printf 'int twice(int x){return 2*x;}\\n' > ${b}`]);
    zerovmCc(['-O1', '-c', '-o', join(dir, 'b.o'), b]);
    expect(spawnSync('ar', ['rcs', join(dir, 'libtwice.a'), join(dir, 'b.o')]).status).toBe(0);
    zerovmCc(['-o', join(dir, 'ab.nexe'), a, `-L${dir}`, '-ltwice']);
    const engine = engines.find((e) => !e.skip);
    if (engine === undefined) return; // no engine here: engineCases warned, and CI fails in availabilityTests
    expect(runNexe(dir, join(dir, 'ab.nexe'), { engine: engine.engine }).stdout).toBe('42\n');
    expect(native('true', []).status).toBe(0);
  });
});

availabilityTests(engines);
