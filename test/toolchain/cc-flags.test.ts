/**
 * End to end, one family of gcc flags at a time, through `zerovm cc` on the
 * command line (src/toolchain/cc-args.ts decides what each flag means; its
 * unit tests cover every flag): link control, builtins, debug information
 * (addr2line on a nexe names the right lines), refusals, languages and
 * standard input, response files, dependency output and the queries
 * configure scripts ask.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeEngine } from '../../src/engines/native.js';
import { ROOT, runNexe, warnIfSkipped } from './helpers.js';

const skip = warnIfSkipped('zerovm cc flag families');
/** Running is a side check here (freestanding.test.ts runs on every engine); it needs the native engine. */
const runnable = nativeEngine.unavailableReason() === null;

let dir = '';

/** `zerovm cc ARGS` in the test directory; the result, whatever the status. */
function cc(args: readonly string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', ...args], { cwd: dir, encoding: 'utf8', input, timeout: 900_000 });
}

/** `zerovm cc ARGS`, which must succeed; its stdout. */
function ok(args: readonly string[], input?: string): string {
  const r = cc(args, input);
  if (r.status !== 0) throw new Error(`zerovm cc ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

function symbols(file: string): Map<string, bigint> {
  const r = spawnSync('nm', [join(dir, file)], { encoding: 'utf8' });
  const map = new Map<string, bigint>();
  for (const line of r.stdout.split('\n')) {
    const [address, , name] = line.split(' ');
    if (name !== undefined && address !== undefined && address !== '') map.set(name, BigInt(`0x${address}`));
  }
  return map;
}

const HELLO = '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 42); return 0; }\n';
/** A program with its own _start over the C library's _exit (zrt's exit trap, which needs no set-up). */
const OWN_START = '#include <unistd.h>\nvoid _start(void) { _exit(5); }\n';
/** A freestanding program whose result needs a libgcc helper (__popcountdi2: no POPCNT at the baseline ISA); built with -mno-red-zone, as its trap's call pushes below %rsp. */
const POPCOUNT = `#include <stdint.h>
volatile uint64_t value = 0xff00ff00ff00ffull;
void exit_session(int code) {
  uint64_t block[6] = {0x74697845u, 0, (uint32_t)code, 0, 0, 0};
  uint64_t *argument = block, target = 0x10000;
  for (;;) __asm__ volatile("call *%[t]" : [t] "+r"(target), "+D"(argument) : : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "memory", "cc");
}
int main(void) { return __builtin_popcountll(value); }
/* The entry state (%rsp 8 bytes off 16-byte alignment) is what a C function expects after a call. */
void _start(void) { exit_session(main()); }
`;
const DEBUG = `#include <stdio.h>
static int data[100];
int work(int n) {
  int s = 0;
  for (int i = 0; i < n; i++)
    s += data[i % 100] * i;
  return s;
}
int main(int argc, char **argv) {
  (void)argv;
  printf("%d\\n", work(argc * 50));
  return 0;
}
`;

describe.skipIf(skip)('zerovm cc: gcc flag families end to end', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-cc-flags-'));
    writeFileSync(join(dir, 'hello.c'), HELLO);
    writeFileSync(join(dir, 'own-start.c'), OWN_START);
    writeFileSync(join(dir, 'popcount.c'), POPCOUNT);
    writeFileSync(join(dir, 'debug.c'), DEBUG);
    // The C library is built on first use: do it here, under the hook's long timeout.
    ok(['--print-libc']);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('link control', () => {
    it('-nostartfiles really drops crt0: a program with its own _start links only with it', () => {
      const without = cc(['-o', 'own.nexe', 'own-start.c']);
      expect(without.status).toBe(1);
      expect(without.stderr).toMatch(/multiple definition of `_start'/);
      ok(['-nostartfiles', '-o', 'own.nexe', 'own-start.c']);
      // crt0's _start calls main: a program without one links only when crt0 is left out.
      const syms = symbols('own.nexe');
      expect(syms.has('_start')).toBe(true);
      expect(syms.has('main')).toBe(false);
      if (runnable) expect(runNexe(dir, join(dir, 'own.nexe')).code).toBe(5);
    });

    it('-nodefaultlibs keeps crt0 but no library; -lc -lm -lgcc bring them back', () => {
      const r = cc(['-nodefaultlibs', '-o', 'h.nexe', 'hello.c']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/undefined reference to `__zrt_init'/);
      ok(['-nodefaultlibs', '-o', 'h.nexe', 'hello.c', '-lc', '-lm', '-lgcc']);
      if (runnable) expect(runNexe(dir, join(dir, 'h.nexe')).stdout).toBe('hello 42\n');
    });

    it('-nostdlib leaves out libgcc too; -nolibc keeps it; -nostdlib -lgcc links it', () => {
      const r = cc(['-O2', '-mno-red-zone', '-nostdlib', '-o', 'p.nexe', 'popcount.c']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/undefined reference to `__popcountdi2'/);
      for (const flags of [['-nostdlib'], ['-nolibc', '-nostartfiles']]) {
        const extra = flags[0] === '-nostdlib' ? ['-lgcc'] : [];
        ok(['-O2', '-mno-red-zone', ...flags, '-o', 'p.nexe', 'popcount.c', ...extra]);
        const syms = symbols('p.nexe');
        expect(syms.has('__popcountdi2')).toBe(true);
        expect(syms.has('printf')).toBe(false);
        if (runnable) expect(runNexe(dir, join(dir, 'p.nexe')).code).toBe(32);
      }
    });

    it('an entry whose first instruction is a call stays bundle-aligned: links, validates and runs', () => {
      // Before, align_to_end padding landed between the alignment and the label, and the validator refused the entry.
      // (entry realigns the stack for C: the entry state is already 8 bytes off, as after a call.)
      writeFileSync(join(dir, 'call-start.s'), '\t.text\n\t.globl _start\n\t.type _start, @function\n_start:\n\tcall entry\n\thlt\nentry:\n\tandq $-16, %rsp\n\tcall start_c\n\thlt\n');
      writeFileSync(join(dir, 'call-start.c'), POPCOUNT.replace('void _start(void)', 'void start_c(void)'));
      ok(['-O2', '-mno-red-zone', '-nostdlib', '-o', 'call-start.nexe', 'call-start.s', 'call-start.c', '-lgcc']);
      expect((symbols('call-start.nexe').get('_start') as bigint) % 32n).toBe(0n);
      if (runnable) expect(runNexe(dir, join(dir, 'call-start.nexe')).code).toBe(32);
    });

    it('-s strips the symbols, -static changes nothing', () => {
      ok(['-static', '-s', '-o', 's.nexe', 'hello.c']);
      expect(spawnSync('nm', [join(dir, 's.nexe')], { encoding: 'utf8' }).stderr).toMatch(/no symbols/);
      if (runnable) expect(runNexe(dir, join(dir, 's.nexe')).stdout).toBe('hello 42\n');
    });

    it('-e SYM sets the entry point', () => {
      ok(['-nostartfiles', '-e', 'begin', '-o', 'e.nexe', '-x', 'c', '-'], '#include <unistd.h>\nvoid begin(void) { _exit(3); }\n');
      const header = readFileSync(join(dir, 'e.nexe'));
      expect(header.readBigUInt64LE(24)).toBe(symbols('e.nexe').get('begin'));
      if (runnable) expect(runNexe(dir, join(dir, 'e.nexe')).code).toBe(3);
    });

    it('-T uses the given linker script instead of nexe.ld', () => {
      const script = readFileSync(join(ROOT, 'toolchain', 'nexe.ld'), 'utf8');
      writeFileSync(join(dir, 'mine.ld'), `${script}\nscript_marker = 0x1234;\n`);
      ok(['-T', 'mine.ld', '-o', 't.nexe', 'hello.c']);
      expect(symbols('t.nexe').get('script_marker')).toBe(0x1234n);
      ok(['-o', 't.nexe', 'hello.c']);
      expect(symbols('t.nexe').has('script_marker')).toBe(false);
    });

    it('-Wl,... and -Xlinker reach ld', () => {
      ok(['-Wl,--defsym,wl_marker=0x77', '-Xlinker', '--defsym=xl_marker=0x88', '-o', 'w.nexe', 'hello.c']);
      const syms = symbols('w.nexe');
      expect(syms.get('wl_marker')).toBe(0x77n);
      expect(syms.get('xl_marker')).toBe(0x88n);
    });

    it('-u SYM pulls an otherwise unused archive member in', () => {
      writeFileSync(join(dir, 'extra.c'), 'int extra_symbol(void) { return 1; }\n');
      ok(['-c', '-o', 'extra.o', 'extra.c']);
      rmSync(join(dir, 'libextra.a'), { force: true });
      expect(spawnSync('ar', ['rcs', join(dir, 'libextra.a'), join(dir, 'extra.o')]).status).toBe(0);
      ok(['-o', 'u.nexe', 'hello.c', '-L.', '-lextra']);
      expect(symbols('u.nexe').has('extra_symbol')).toBe(false);
      ok(['-u', 'extra_symbol', '-o', 'u.nexe', 'hello.c', '-L.', '-lextra']);
      expect(symbols('u.nexe').has('extra_symbol')).toBe(true);
    });
  });

  describe('builtins', () => {
    it('-fno-builtin and -ffreestanding keep printf a printf call; by default gcc makes it puts', () => {
      const source = '#include <stdio.h>\nvoid f(void) { printf("hi\\n"); }\n';
      writeFileSync(join(dir, 'builtin.c'), source);
      expect(ok(['-O2', '-S', '-o', '-', 'builtin.c'])).toMatch(/\bputs\b/);
      for (const flag of ['-fno-builtin', '-fno-builtin-printf', '-ffreestanding']) {
        const asm = ok(['-O2', flag, '-S', '-o', '-', 'builtin.c']);
        expect(asm).toMatch(/\bprintf\b/);
        expect(asm).not.toMatch(/\bputs\b/);
      }
    });
  });

  describe('headers and the assembler', () => {
    it('-nostdinc leaves no system header directory', () => {
      writeFileSync(join(dir, 'stdio-user.c'), '#include <stdio.h>\nint x;\n');
      expect(ok(['-c', '-o', 'stdio-user.o', 'stdio-user.c'])).toBe('');
      const r = cc(['-nostdinc', '-c', '-o', 'stdio-user.o', 'stdio-user.c']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/no include path in which to search for stdio\.h/);
    });
    it('-Wa, reaches the assembler, which judges its flags', () => {
      ok(['-Wa,--noexecstack', '-c', '-o', 'stdio-user.o', 'stdio-user.c']);
      const r = cc(['-Wa,--no-such-flag', '-c', '-o', 'stdio-user.o', 'stdio-user.c']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/--no-such-flag/);
    });
  });

  describe('debug information', () => {
    const levels = ['-g', '-g1', '-g3', '-ggdb', '-gdwarf-4', '-gdwarf-5'];
    it.each(levels)('%s: addr2line names the line of every instruction of work() and main()', (level) => {
      ok([level, '-O0', '-o', 'debug.nexe', 'debug.c']);
      const syms = symbols('debug.nexe');
      const start = (name: string): bigint => syms.get(name) as bigint;
      const lines = (from: bigint, to: bigint): number[] => {
        const dump = spawnSync('objdump', ['-d', `--start-address=${from}`, `--stop-address=${to}`, join(dir, 'debug.nexe')], { encoding: 'utf8' }).stdout;
        const addresses = [...dump.matchAll(/^\s+([0-9a-f]+):\s+[0-9a-f]{2} /gm)].map((m) => `0x${m[1]}`);
        const r = spawnSync('addr2line', ['-e', join(dir, 'debug.nexe'), ...addresses], { encoding: 'utf8' });
        expect(r.stderr).toBe('');
        return r.stdout
          .trim()
          .split('\n')
          .map((l) => {
            expect(l).toMatch(/debug\.c:\d+( \(discriminator \d+\))?$/);
            return Number(/:(\d+)/.exec(l)?.[1]);
          });
      };
      const work = lines(start('work'), start('main'));
      expect(work[0]).toBe(3);
      expect(Math.min(...work)).toBe(3);
      expect(Math.max(...work)).toBe(8);
      expect(new Set(work)).toEqual(new Set([3, 4, 5, 6, 7, 8]));
      const main = lines(start('main'), start('main') + 0x40n);
      expect(main[0]).toBe(9);
      if (level === '-g3') {
        const macros = spawnSync('readelf', ['--debug-dump=macro', join(dir, 'debug.nexe')], { encoding: 'utf8' }).stdout;
        expect(macros).toMatch(/EOF/);
      }
      if (runnable) expect(runNexe(dir, join(dir, 'debug.nexe')).stdout).toBe('0\n');
    });

    it('-g0 leaves no debug information', () => {
      ok(['-g0', '-o', 'debug0.nexe', 'debug.c']);
      expect(spawnSync('readelf', ['-S', join(dir, 'debug0.nexe')], { encoding: 'utf8' }).stdout).not.toMatch(/debug_line/);
    });

    it('assembly with .file 0 and .loc views (gcc -g -O1 output): addr2line names the lines GNU as would', () => {
      writeFileSync(join(dir, 'leaf.c'), 'int twice(int x) {\n  int y = 2 * x;\n  return y + 1;\n}\nint main(void) {\n  return twice(20);\n}\n');
      const host = spawnSync('gcc', ['-mx32', '-O1', '-g', '-fno-pic', '-fno-asynchronous-unwind-tables', '-S', '-o', 'leaf.s', 'leaf.c'], { cwd: dir, encoding: 'utf8' });
      expect(host.status).toBe(0);
      const asm = readFileSync(join(dir, 'leaf.s'), 'utf8');
      expect(asm).toMatch(/\.file 0 /);
      expect(asm).toMatch(/\.loc 1 1 \d+ view /);
      ok(['-c', '-o', 'leaf.o', 'leaf.s']);
      const table = spawnSync('readelf', ['--debug-dump=decodedline', join(dir, 'leaf.o')], { encoding: 'utf8' }).stdout;
      expect(table).toMatch(/^leaf\.c\s+1\s+0\s/m);
      // Linked, the line table's 8-byte addresses are narrowed to gcc's 4-byte x32 DWARF (debug-line.ts).
      ok(['-g', '-o', 'leaf.nexe', 'leaf.s']);
      // The same assembly through GNU as, for the lines a host toolchain gives.
      const reference = spawnSync('gcc', ['-mx32', '-nostdlib', '-e', 'main', '-o', 'leaf.host', 'leaf.s'], { cwd: dir, encoding: 'utf8' });
      expect(reference.status).toBe(0);
      const linesAt = (file: string): string[] => {
        const syms = symbols(file);
        const at = (name: string, delta: number): string => `0x${((syms.get(name) as bigint) + BigInt(delta)).toString(16)}`;
        const r = spawnSync('addr2line', ['-e', join(dir, file), at('twice', 0), at('twice', 3), at('main', 0)], { encoding: 'utf8' });
        expect(r.stderr).toBe('');
        return r.stdout.trim().split('\n').map((l) => l.replace(/^.*\//, ''));
      };
      const lines = linesAt('leaf.nexe');
      expect(lines).toEqual(linesAt('leaf.host'));
      expect(lines.every((l) => /^leaf\.c:\d+$/.test(l))).toBe(true);
    });

    it('call-frame information (.debug_frame) follows the rewritten code: the CFA returns to %rsp where the frame pointer is restored', () => {
      ok(['-g', '-O0', '-o', 'frames.nexe', 'debug.c']);
      const syms = symbols('frames.nexe');
      const work = syms.get('work') as bigint;
      const main = syms.get('main') as bigint;
      const frames = spawnSync('readelf', ['--debug-dump=frames', join(dir, 'frames.nexe')], { encoding: 'utf8' }).stdout;
      const fde = new RegExp(`FDE cie=\\w+ pc=0*${work.toString(16)}\\.\\.0*([0-9a-f]+)\\n([\\s\\S]*?)\\n\\n`).exec(frames);
      expect(fde, frames).not.toBeNull();
      expect(BigInt(`0x${fde?.[1]}`)).toBeLessThanOrEqual(main);
      const body = fde?.[2] ?? '';
      expect(body).toMatch(/DW_CFA_def_cfa_register: r6 \(rbp\)/);
      const restored = /to 0*([0-9a-f]+)\n\s+DW_CFA_def_cfa: r7 \(rsp\) ofs 8/.exec(body);
      expect(restored, body).not.toBeNull();
      // `popq %rbp` became `popq %r11; movl %r11d, %ebp; addq %r15, %rbp`: the rule changes right after the last of them.
      const dump = spawnSync('objdump', ['-d', `--start-address=${work}`, `--stop-address=${main}`, join(dir, 'frames.nexe')], { encoding: 'utf8' }).stdout;
      const rebase = /^\s+([0-9a-f]+):\s+4c 01 fd\s+add\s+%r15,%rbp$/m.exec(dump);
      expect(rebase, dump).not.toBeNull();
      expect(BigInt(`0x${restored?.[1]}`)).toBe(BigInt(`0x${rebase?.[1]}`) + 3n);
    });
  });

  describe('refused flags', () => {
    it.each([
      ['-flto', /link-time optimisation is not supported/],
      ['-flto=auto', /link-time optimisation is not supported/],
      ['-pthread', /one thread/],
      ['-pie', /static, position-dependent/],
      ['-shared', /static, position-dependent/],
    ])('%s: one line with the reason, exit status 2', (flag, reason) => {
      const r = cc([flag, '-o', 'x.nexe', 'hello.c']);
      expect(r.status).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(/unknown option/);
      expect(existsSync(join(dir, 'x.nexe'))).toBe(false);
    });

    it('-fPIC and -fPIE are ignored: the code stays position-dependent and valid', () => {
      ok(['-fPIC', '-fPIE', '-O2', '-S', '-o', 'pic.s', 'hello.c']);
      expect(readFileSync(join(dir, 'pic.s'), 'utf8')).not.toMatch(/@PLT|@GOTPCREL/);
      ok(['-fPIC', '-o', 'pic.nexe', 'hello.c']);
      if (runnable) expect(runNexe(dir, join(dir, 'pic.nexe')).stdout).toBe('hello 42\n');
    });
  });

  describe('languages and standard input', () => {
    it('-x c - compiles standard input', () => {
      ok(['-x', 'c', '-o', 'stdin.nexe', '-'], HELLO);
      if (runnable) expect(runNexe(dir, join(dir, 'stdin.nexe')).stdout).toBe('hello 42\n');
    });
    it('-x c and -x assembler-with-cpp name the language of files with other names', () => {
      writeFileSync(join(dir, 'hello.txt'), HELLO);
      writeFileSync(join(dir, 'entry.asm'), '#define ENTRY _start\n\t.text\n\t.globl ENTRY\n\t.type ENTRY, @function\nENTRY:\n\tandq $-16, %rsp\n\tcall main\n\thlt\n');
      ok(['-nostartfiles', '-o', 'x.nexe', '-x', 'assembler-with-cpp', 'entry.asm', '-x', 'c', 'hello.txt']);
      expect(symbols('x.nexe').has('_start')).toBe(true);
      expect(symbols('x.nexe').has('main')).toBe(true);
    });
    it('- without -x is refused as gcc refuses it', () => {
      const r = cc(['-c', '-'], HELLO);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/needs -x c/);
    });
  });

  describe('response files', () => {
    it('@file holds flags and quoted paths, and nests', () => {
      mkdirSync(join(dir, 'with space'), { recursive: true });
      writeFileSync(join(dir, 'with space', 'greet.c'), '#include <stdio.h>\nint main(void) { puts(GREETING); return 0; }\n');
      writeFileSync(join(dir, 'inner.rsp'), '-O2 -o greet.nexe\n');
      writeFileSync(join(dir, 'outer.rsp'), '-DGREETING="\\"hi there\\"" @inner.rsp\n"with space/greet.c"\n');
      ok(['@outer.rsp']);
      if (runnable) expect(runNexe(dir, join(dir, 'greet.nexe')).stdout).toBe('hi there\n');
    });
  });

  describe('dependency output', () => {
    beforeAll(() => {
      writeFileSync(join(dir, 'inc.h'), '#define VALUE 7\n');
      writeFileSync(join(dir, 'dep.c'), '#include <stdio.h>\n#include "inc.h"\nint main(void) { printf("%d\\n", VALUE); return 0; }\n');
    });
    it('-M prints a rule with every header, the C library\'s included', () => {
      const rule = ok(['-M', 'dep.c']);
      expect(rule).toMatch(/^dep\.o: dep\.c/);
      expect(rule).toMatch(/inc\.h/);
      expect(rule).toMatch(/stdio\.h/);
    });
    it('-MM leaves the system headers out; -MF and -MT are honoured', () => {
      expect(ok(['-MM', 'dep.c']).replace(/\\\n/g, ' ').split(/\s+/).filter((w) => w !== '')).toEqual(['dep.o:', 'dep.c', 'inc.h']);
      ok(['-MM', '-MF', 'custom.d', '-MT', 'target', 'dep.c']);
      expect(readFileSync(join(dir, 'custom.d'), 'utf8')).toMatch(/^target: dep\.c inc\.h/);
    });
    it('-MD -c writes OBJECT.d naming the object; -MMD with a link writes OUTPUT.d', () => {
      mkdirSync(join(dir, 'obj'), { recursive: true });
      ok(['-MD', '-MP', '-c', '-o', 'obj/dep.o', 'dep.c']);
      const d = readFileSync(join(dir, 'obj', 'dep.d'), 'utf8');
      expect(d).toMatch(/^obj\/dep\.o: dep\.c/);
      expect(d).toMatch(/stdio\.h/);
      expect(d).toMatch(/^inc\.h:$/m);
      ok(['-MMD', '-o', 'dep.nexe', 'dep.c']);
      expect(readFileSync(join(dir, 'dep.d'), 'utf8')).toMatch(/^dep\.nexe: dep\.c inc\.h/);
    });
  });

  describe('queries', () => {
    it('-dumpversion and -dumpfullversion are the code generator\'s (the host gcc\'s)', () => {
      for (const q of ['-dumpversion', '-dumpfullversion']) {
        const gcc = spawnSync('gcc', [q], { encoding: 'utf8' }).stdout;
        expect(gcc).toMatch(/^\d+/);
        expect(ok([q])).toBe(gcc);
      }
    });
    it('-dumpmachine names the target', () => {
      expect(ok(['-dumpmachine'])).toBe('x86_64-zerovm-nacl\n');
    });
    it('-print-file-name and -print-libgcc-file-name name the C library\'s files', () => {
      for (const name of ['libc.a', 'libm.a', 'libgcc.a', 'crt0.o']) {
        const path = ok([`-print-file-name=${name}`]).trim();
        expect(path.endsWith(`/${name}`)).toBe(true);
        expect(existsSync(path)).toBe(true);
      }
      expect(ok(['-print-file-name=libnothing.a'])).toBe('libnothing.a\n');
      expect(ok(['-print-libgcc-file-name']).trim()).toBe(ok(['-print-file-name=libgcc.a']).trim());
    });
    it('-print-prog-name, -print-search-dirs and the multilib questions', () => {
      expect(existsSync(ok(['-print-prog-name=ld']).trim())).toBe(true);
      expect(ok(['-print-prog-name=nothing'])).toBe('nothing\n');
      const dirs = ok(['-print-search-dirs']);
      expect(dirs).toMatch(/^install: /m);
      expect(dirs).toContain(`libraries: =${ok(['--print-libc']).trim()}/`);
      expect(ok(['-print-multi-os-directory'])).toBe('.\n');
      expect(ok(['-print-multi-directory'])).toBe('.\n');
      expect(ok(['-print-multi-lib'])).toBe('.;\n');
    });
    it('-v prints the version and target to stderr and still builds', () => {
      const r = cc(['-v', '-o', 'v.nexe', 'hello.c']);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^zerovm cc .*\nTarget: x86_64-zerovm-nacl\n/);
      expect(existsSync(join(dir, 'v.nexe'))).toBe(true);
    });
  });
});
