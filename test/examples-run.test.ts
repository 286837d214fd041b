/**
 * The example programs and hostile programs end to end on every engine
 * (native and Unicorn, test/engine-matrix.ts): through the `zerovm --engine
 * E MANIFEST` command line (bin/zerovm.js) and back to back inside this
 * process through runSession, checking that the host survives every fault
 * and the next session still works; then the same programs on both engines
 * side by side, whose reports must agree to the byte (CPU times aside),
 * fault addresses included. The hostile programs are raw text bytes
 * (assembled once with clang-14, disassembly in the comments) wrapped into a
 * nexe by nexe-builder.ts. An engine that is not built is skipped loudly; a
 * failure under CI=true.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { runSession, type SessionResult } from '../src/runtime/session.js';
import { ROOT, zerovm } from './cli.js';
import { availabilityTests, engineCases } from './engine-matrix.js';
import { buildNexe } from './nexe-builder.js';

const ENGINES = engineCases('example / hostile program runs');
availabilityTests(ENGINES);

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-examples-run-'));
let counter = 0;

interface ManifestOptions {
  readonly stdin?: string;
  readonly timeout?: number;
  /** puts and put bytes limit of stdout. */
  readonly putLimit?: number;
  /** Etags on: of stdout and of memory. */
  readonly etags?: boolean;
  /** More channel lines, after the standard three. */
  readonly channels?: readonly string[];
}

/** A manifest for `program` with stdout in a fresh temp file. */
function manifest(program: string, options: ManifestOptions = {}): { path: string; out: string } {
  const n = counter++;
  const out = join(tmp, `out${n}`);
  const path = join(tmp, `m${n}.manifest`);
  const put = options.putLimit ?? 10_000_000;
  writeFileSync(
    path,
    [
      'Version = 20130611',
      `Program = ${program}`,
      `Timeout = ${options.timeout ?? 30}`,
      `Memory = 33554432, ${options.etags ? 1 : 0}`,
      `Channel = ${options.stdin ?? '/dev/null'}, /dev/stdin, 0, 0, 10000000, 100000000, 0, 0`,
      `Channel = ${out}, /dev/stdout, 0, ${options.etags ? 1 : 0}, 0, 0, ${put}, ${put}`,
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      ...(options.channels ?? []),
      '',
    ].join('\n'),
  );
  return { path, out };
}

function example(name: string): string {
  return join(ROOT, 'examples', name);
}

/** A nexe file holding `hex` as its text. */
function hostile(name: string, hex: string): string {
  const path = join(tmp, `${name}.nexe`);
  writeFileSync(path, buildNexe(hex));
  return path;
}

/** x = x * a + c (mod 2^64) from x = 0, `n` times, by squaring the affine map. */
function lcg(n: number): bigint {
  const mask = (1n << 64n) - 1n;
  let [a, c] = [6364136223846793005n, 1442695040888963407n];
  let [total, offset] = [1n, 0n];
  for (let k = BigInt(n); k > 0n; k >>= 1n) {
    if (k & 1n) [total, offset] = [(a * total) & mask, (a * offset + c) & mask];
    [a, c] = [(a * a) & mask, (a * c + c) & mask];
  }
  return offset;
}

const LOOP_ITERATIONS = Number(/\.set ITERATIONS, (\d+)/.exec(readFileSync(example('loop.S'), 'utf8'))![1]);

/** Report lines: [validator, daemon, user code, etags, accounting, exit state]. */
function reportOf(stdout: string): string[] {
  return stdout.split('\n');
}

/*
 * The argument block on the stack and TrapWrite(1, 0x20000, 16, 0):
 *   sub $48,%esp; add %r15,%rsp; movq $"Writ",(%rsp); movq $0,8(%rsp); movq $1,16(%rsp)
 *   movq $0x20000,24(%rsp); movq $16,32(%rsp); movq $0,40(%rsp); mov %esp,%edi
 *   mov $0x10000,%ebx; (nops) and $-32,%ebx; add %r15,%rbx; call *%rbx   (ends a bundle)
 */
const WRITE_OWN_16_BYTES =
  '83ec304c01fc48c704245772697448c74424080000000048c74424100100000048c74424180000020048c74424201000000048c74424280000000089e70f1f00bb00000100662e0f1f840000000000660f1f84000000000083e3e04c01fbffd3';

const HOSTILE = {
  /* mov $0x20000,%eax; mov %eax,%eax; movb $0,(%r15,%rax); hlt */
  writeText: 'b80000020089c041c6040700f4',
  /* mov %esp,%eax; and $-32,%eax; add %r15,%rax; jmp *%rax   (into the stack) */
  jumpIntoData: '89e083e0e04c01f8ffe0',
  /* mov $0xffffffff,%eax; mov %eax,%eax; mov 0x1000(%r15,%rax),%rbx; hlt */
  beyond4GiB: 'b8ffffffff89c0498b9c0700100000f4',
  /* xor %ecx,%ecx; mov $1,%eax; xor %edx,%edx; div %ecx; hlt */
  divideByZero: '31c9b80100000031d2f7f1f4',
  /* mov $0x10020,%eax; and $-32,%eax; add %r15,%rax; jmp *%rax   (trampoline slot 1: not the trap) */
  trampolineHlt: 'b82000010083e0e04c01f8ffe0',
  /* 1: jmp 1b */
  endless: 'ebfe',
  /* ud2 */
  undefinedOpcode: '0f0b',
  /* 1: push %rax; jmp 1b   (down the stack into the read-only user manifest) */
  stackOverflow: '50ebfd',
  /*
   * The argument block on the stack, then TrapWrite of 1 byte (the text's
   * first) to channel 1 until the result is negative; TrapExit(-result).
   */
  /*
   * TrapWrite(1, 0x20000, 16, 0) (its own first 16 bytes), then a fault
   * (the writeText sequence) or an endless loop: what was written before
   * the session ended must be in the file.
   */
  writeThenCrash: WRITE_OWN_16_BYTES + 'b80000020089c041c6040700f4',
  writeThenHang: WRITE_OWN_16_BYTES + 'ebfe',
  flood:
    '83ec304c01fc48c744240800000000b80000020048894424180f1f800000000048c74424280000000048c704245772697448c744241001000000' +
    '660f1f44000048c74424200100000089e7bb000001000f1f84000000000083e3e04c01fbffd385c079c5f7d8488944241048c7042445786974' +
    '89e7bb00000100660f1f440000662e0f1f840000000000662e0f1f8400000000000f1f400083e3e04c01fbffd3f4',
} as const;

type HostileName = keyof typeof HOSTILE;

/** What each hostile program must end with: exit code and exit state. */
const EXPECTED: Record<HostileName, { exitCode: number; state: RegExp; user?: number }> = {
  writeText: { exitCode: 4, state: /^Signal 11 from untrusted code/ },
  jumpIntoData: { exitCode: 4, state: /^Signal 11 from untrusted code/ },
  beyond4GiB: { exitCode: 4, state: /^Signal 11 from untrusted code/ },
  divideByZero: { exitCode: 4, state: /^Signal 8 from untrusted code/ },
  trampolineHlt: { exitCode: 22, state: /^nacl syscall #1 received$/ },
  endless: { exitCode: 4, state: /^session timeout$/ },
  undefinedOpcode: { exitCode: 4, state: /^Signal 4 from untrusted code/ },
  stackOverflow: { exitCode: 4, state: /^Signal 11 from untrusted code: Halting at 0x440A00020000$/ },
  writeThenCrash: { exitCode: 4, state: /^Signal 11 from untrusted code/ },
  writeThenHang: { exitCode: 4, state: /^session timeout$/ },
  flood: { exitCode: 0, state: /^ok$/, user: 122 /* EDQUOT */ },
};

function hostileManifest(name: HostileName, options: ManifestOptions = {}): { path: string; out: string } {
  const timeout = name === 'endless' || name === 'writeThenHang' ? { timeout: 1 } : {};
  return manifest(hostile(name, HOSTILE[name]), { ...timeout, ...(name === 'flood' ? { putLimit: 10 } : {}), ...options });
}

/**
 * What must be the same on every engine: the whole report but the CPU
 * times, the memory etag included (the trampoline's bytes are the same on
 * both engines: native/src/trampoline.h), plus the bytes the program wrote.
 */
function comparable(result: SessionResult, out: string): { report: string[]; output: string } {
  const report = result.report.split('\n');
  report[4] = report[4]!.replace(/^\d+\.\d\d \d+\.\d\d/, 'T T');
  return { report, output: readFileSync(out).toString('hex') };
}

/*
 * TrapJail's refusals. The program finds the first 64 KiB boundary of its
 * heap through the user manifest (pointer at 0xFEFFFFFC -> heap_ptr), jails
 * 64 KiB there (+OFFSET) and exits with the trap's result:
 *   mov $0xfeffffc,%eax; mov (%r15,%rax),%eax; mov %eax,%eax; mov (%r15,%rax),%eax
 *   add $0xffff,%eax; and $0xffff0000,%eax; add $OFFSET,%eax
 *   sub $48,%esp; add %r15,%rsp; [Jail, 0, %rax, 0x10000, 0, 0] at (%rsp)
 *   mov %esp,%edi; naclcall 0x10000; [Exit, 0, %rax] ; naclcall 0x10000; hlt
 * (assembled with clang-14 from the same macros as examples/zerovm-abi.inc)
 */
function jailProgram(offset: 0 | 1): string {
  return (
    'b8fcfffffe418b040789c0418b040705ffff0000250000ffff83c0' +
    (offset === 0 ? '00' : '01') +
    '0f1f400083ec304c01fc48c704244a61696c48c74424080000000048894424100f1f400048c74424180000010048c74424200000000048c74424280000000089e70f1f00bb00000100662e0f1f840000000000660f1f84000000000083e3e04c01fbffd348c7042445786974488944241089e7bb000001000f1f400083e3e04c01fbffd3f4'
  );
}

for (const { name: engineName, engine, skip } of ENGINES) {
  describe.skipIf(skip)(`${engineName} engine`, () => {
    describe('example programs through zerovm MANIFEST', () => {
      it('cat copies its stdin file to stdout exactly', () => {
        const input = join(tmp, 'cat-in');
        const data = Buffer.alloc(300_000);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 8)) & 0xff;
        writeFileSync(input, data);
        const m = manifest(example('cat.nexe'), { stdin: input });
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const report = reportOf(r.stdout);
        expect(report[5]).toBe('ok');
        expect(report[2]).toBe('0');
        expect(Buffer.compare(readFileSync(m.out), data)).toBe(0);
        /* 65536-byte reads: 5 with data and 1 at the end; 5 writes */
        expect(report[4]).toMatch(/ 6 300000 5 300000 0 0 0 0$/);
      });

      it('cat of an empty input writes nothing', () => {
        const m = manifest(example('cat.nexe'));
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        expect(readFileSync(m.out).length).toBe(0);
      });

      it('devnull makes 1 000 000 one-byte writes (puts = 1000000 in the accounting)', () => {
        const m = manifest(example('devnull.nexe'));
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        const report = reportOf(r.stdout);
        expect(report[5]).toBe('ok');
        expect(report[2]).toBe('0');
        expect(report[4]).toMatch(/ 0 0 1000000 1000000 0 0 0 0$/);
        expect(readFileSync(m.out).length).toBe(1_000_000);
      });

      it('wc counts lines and bytes of stdin', () => {
        const input = join(tmp, 'wc-in');
        writeFileSync(input, 'one\ntwo two\n\nfour');
        const m = manifest(example('wc.nexe'), { stdin: input });
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        expect(reportOf(r.stdout)[5]).toBe('ok');
        expect(readFileSync(m.out, 'utf8')).toBe('3 17\n');
        const empty = manifest(example('wc.nexe'));
        expect(zerovm(['--engine', engineName, empty.path]).status).toBe(0);
        expect(readFileSync(empty.out, 'utf8')).toBe('0 0\n');
      });

      it('jail writes a function into the heap, jails it, calls it and prints its 42', () => {
        const m = manifest(example('jail.nexe'));
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        const report = reportOf(r.stdout);
        expect(report[5]).toBe('ok');
        expect(report[2]).toBe('0');
        expect(readFileSync(m.out, 'utf8')).toBe('42\n');
      });

      it('patch writes at an offset of a random-access channel and reads it back', () => {
        const data = join(tmp, `patch-${engineName}.bin`);
        writeFileSync(data, 'abcdefghijklmnopqrstuvwxyz');
        const m = manifest(example('patch.nexe'), { channels: [`Channel = ${data}, /dev/data, 3, 0, 99, 99, 99, 99`] });
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        const report = reportOf(r.stdout);
        expect(report.slice(2, 6)).toEqual(['0', 'disable', expect.stringMatching(/ 1 16 2 22 0 0 0 0$/), 'ok']);
        expect(readFileSync(m.out, 'utf8')).toBe('abcdZeroVMklmnop');
        expect(readFileSync(data, 'utf8')).toBe('abcdZeroVMklmnopqrstuvwxyz');
      });

      it('loop prints the LCG value after ITERATIONS steps', () => {
        const m = manifest(example('loop.nexe'));
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        expect(reportOf(r.stdout)[5]).toBe('ok');
        expect(readFileSync(m.out, 'utf8')).toBe(`${lcg(LOOP_ITERATIONS).toString(16).padStart(16, '0')}\n`);
      });
    });

    describe('hostile programs through zerovm MANIFEST', () => {
      for (const name of Object.keys(HOSTILE) as HostileName[]) {
        it(`${name}: exit ${EXPECTED[name].exitCode}, ${EXPECTED[name].state.source}`, () => {
          const m = hostileManifest(name);
          const r = zerovm(['--engine', engineName, m.path]);
          const report = reportOf(r.stdout);
          expect(report[0], 'validator state: the text is valid').toBe('0');
          expect(report[5]).toMatch(EXPECTED[name].state);
          expect(r.status).toBe(EXPECTED[name].exitCode);
          expect(report[2]).toBe(String(EXPECTED[name].user ?? 0));
        });
      }

      for (const name of ['writeThenCrash', 'writeThenHang'] as const) {
        it(`${name}: the 16 bytes written before the session ended are in the file`, () => {
          const m = hostileManifest(name);
          const r = zerovm(['--engine', engineName, m.path]);
          expect(reportOf(r.stdout)[5]).toMatch(EXPECTED[name].state);
          expect(readFileSync(m.out).toString('hex')).toBe(WRITE_OWN_16_BYTES.slice(0, 32));
          expect(reportOf(r.stdout)[4]).toMatch(/ 0 0 1 16 0 0 0 0$/);
        });
      }

      it('flood: the first 10 puts are written, then -EDQUOT', () => {
        const m = hostileManifest('flood');
        const r = zerovm(['--engine', engineName, m.path]);
        expect(r.status).toBe(0);
        expect(readFileSync(m.out).length).toBe(10);
        expect(reportOf(r.stdout)[4]).toMatch(/ 0 0 10 10 0 0 0 0$/);
      });
    });

    describe('hostile programs back to back in one process (runSession)', () => {
      it('the host survives each one and the next session works', () => {
        const hello = (): void => {
          const m = manifest(example('hello.nexe'));
          const result = runSession({ manifestPath: m.path, engine });
          expect(result.exitState).toBe('ok');
          expect(readFileSync(m.out, 'utf8')).toBe('hello, world\n');
        };
        hello();
        for (const name of Object.keys(HOSTILE) as HostileName[]) {
          const m = hostileManifest(name);
          const result = runSession({ manifestPath: m.path, engine });
          expect(result.exitState, name).toMatch(EXPECTED[name].state);
          expect(result.exitCode, name).toBe(EXPECTED[name].exitCode);
          expect(result.userReturnCode, name).toBe(EXPECTED[name].user ?? 0);
          hello();
        }
        /* and twice more round, interleaved with cat */
        for (let round = 0; round < 2; round++) {
          for (const name of Object.keys(HOSTILE) as HostileName[]) {
            if (name === 'endless') continue;
            const result = runSession({ manifestPath: hostileManifest(name).path, engine });
            expect(result.exitState, name).toMatch(EXPECTED[name].state);
          }
          const input = join(tmp, `round${round}`);
          writeFileSync(input, `round ${round}\n`);
          const m = manifest(example('cat.nexe'), { stdin: input });
          expect(runSession({ manifestPath: m.path, engine }).exitState).toBe('ok');
          expect(readFileSync(m.out, 'utf8')).toBe(`round ${round}\n`);
        }
      });
    });

    describe('TrapJail refusals', () => {
      it('a block that does not validate is -EPERM (the heap is zero-filled: add %al,(%rax) has a bad base)', () => {
        const m = manifest(hostile('jail-invalid', jailProgram(0)));
        const result = runSession({ manifestPath: m.path, engine });
        expect(result.exitState).toBe('ok');
        expect(result.userReturnCode).toBe(-1);
      });

      it('an address that is not 64 KiB aligned is -EINVAL', () => {
        const m = manifest(hostile('jail-unaligned', jailProgram(1)));
        const result = runSession({ manifestPath: m.path, engine });
        expect(result.exitState).toBe('ok');
        expect(result.userReturnCode).toBe(-22);
      });
    });
  });
}

describe.skipIf(ENGINES.some((c) => c.skip))('the same programs on native and unicorn', () => {
  const run = (engine: Engine, path: string, out: string, skipValidation = false): ReturnType<typeof comparable> =>
    comparable(runSession({ manifestPath: path, engine, skipValidation }), out);
  const both = (make: () => { path: string; out: string }, skipValidation = false): void => {
    const results = ENGINES.map(({ engine }) => {
      const m = make();
      return run(engine, m.path, m.out, skipValidation);
    });
    expect(results[1]).toEqual(results[0]);
  };

  for (const name of Object.keys(HOSTILE) as HostileName[]) {
    it(`${name}: the same report (fault address included) and output`, () => {
      both(() => hostileManifest(name, { etags: true }));
    });
  }

  it('int3 (unvalidated, -s): Signal 5 after the int3 on both', () => {
    both(() => manifest(hostile('int3', '90cc'), { etags: true }), true);
    const m = manifest(hostile('int3', '90cc'));
    expect(runSession({ manifestPath: m.path, engine: ENGINES[1]!.engine, skipValidation: true }).exitState).toBe(
      'Signal 5 from untrusted code: Halting at 0x440A00020002',
    );
  });

  for (const name of ['hello', 'cat', 'wc', 'jail', 'loop']) {
    it(`${name}.nexe: the same report and output`, () => {
      const input = join(tmp, `both-${name}-in`);
      writeFileSync(input, 'one\ntwo two\n\nfour\n'.repeat(1000));
      both(() => manifest(example(`${name}.nexe`), { etags: true, stdin: input }));
    });
  }
});
