/**
 * The Unicorn engine on an arm64 userland, checked against both engines on
 * this x86-64 host ("It really runs on ARM" in the Unicorn engine's issue).
 *
 * Pipeline position: outside the project's own pipeline; it drives the
 * whole `zerovm` command three times per case: on this host with
 * `--engine native` and with `--engine unicorn`, and with the official arm64
 * Node under qemu-aarch64 running the same dist/ with `--engine unicorn` and
 * the addon cross-built for arm64 (scripts/arm64/setup.sh and build.sh
 * prepare it; `npm run test:arm64` runs everything). The arm64 run must give
 * the same exit status, stderr, report (less the two CPU-time fields, the
 * only machine-dependent ones) and bytes in every output channel as both
 * host runs, with SHA-1 etags on every channel and on the memory, so the
 * whole final memory is compared too. The two comparisons are reported
 * apart: "arm64 = x86-64 Unicorn" is what this file proves (the host does
 * not matter), to the last byte; "arm64 = native" is the engines' sameness,
 * which the host's own differential tests cover in depth, memory etag
 * included (the trampoline's bytes are the same on both engines). Each case
 * also states what it must end with, so engines that were wrong the same way
 * would still fail.
 *
 * The cases: every example program, and short hostile programs (each
 * assembled once with clang-14, disassembly beside the bytes) for each kind
 * of fault and the timeout. They are few on purpose: under qemu every
 * arm64 zerovm start costs seconds of CPU, and a trap round trip about
 * 90 us instead of the host's 0.6 (Unicorn's JIT inside qemu-user's), so
 * devnull's million traps alone take a minute and a half. The cases run two
 * at a time (each arm64 run is one busy process), slowest first; the
 * exhaustive differential tests run on the host.
 *
 * Run by its own vitest config (test/arm64/vitest.config.ts), not by
 * `npm test`. A missing arm64 setup is a failure with the command to run,
 * never a skip: this file exists only to prove the arm64 path.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli.js';
import { buildNexe } from '../nexe-builder.js';

/* Where scripts/arm64/setup.sh and build.sh put them (scripts/arm64/env.sh). */
const OUT = join(ROOT, 'native', 'build-arm64');
const ARM64_NODE = join(OUT, 'node', 'bin', 'node');
const ARM64_BIN = join(OUT, 'stage', 'bin', 'zerovm.js');
/* The host side runs the same snapshot of dist/, with the host's addons. */
const HOST_BIN = join(OUT, 'host-stage', 'bin', 'zerovm.js');
const QEMU = 'qemu-aarch64';
/** devnull's million traps under qemu take minutes; this bounds a hung case. */
const CASE_TIMEOUT_MS = 20 * 60_000;

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-arm64-'));

/** Where and how `zerovm` runs: this host's native or Unicorn engine, or arm64 Unicorn under qemu. */
type Side = 'native' | 'unicorn' | 'arm64';
const SIDES: readonly Side[] = ['native', 'unicorn', 'arm64'];

interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a process to its end, feeding it `input`; never rejects for a non-zero exit. */
function runProcess(command: string, args: readonly string[], input?: Uint8Array): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, timeout: CASE_TIMEOUT_MS });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => reject(new Error(`${command} ${args.join(' ')} did not run: ${error.message}`)));
    child.on('close', (status, signal) =>
      resolve({ status, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }),
    );
    child.stdin.end(input);
  });
}

/** `zerovm ARGS` on one side; `--engine` goes first (after `run` for the run command). */
function zerovm(side: Side, args: readonly string[], input?: Uint8Array): Promise<Run> {
  const engine = side === 'native' ? 'native' : 'unicorn';
  const withEngine = args[0] === 'run' ? ['run', '--engine', engine, ...args.slice(1)] : ['--engine', engine, ...args];
  return side === 'arm64'
    ? runProcess(QEMU, [ARM64_NODE, ARM64_BIN, ...withEngine], input)
    : runProcess(process.execPath, [HOST_BIN, ...withEngine], input);
}

/** The report with the accounting line's CPU seconds (its first two fields) blanked. */
function comparableReport(report: string): string {
  const lines = report.split('\n');
  if (lines.length >= 5) lines[4] = (lines[4] ?? '').replace(/^\d+\.\d\d \d+\.\d\d /, 'S.ss U.uu ');
  return lines.join('\n');
}

interface SessionCase {
  readonly program: string;
  /** Bytes behind /dev/stdin; none reads an empty file. */
  readonly stdin?: Uint8Array;
  /** Initial bytes of /dev/data (channel 3, random read and write). */
  readonly data?: Uint8Array;
  /** Manifest Timeout, seconds. */
  readonly timeout?: number;
  /** What the session must end with. */
  readonly status: number;
  readonly exitState: RegExp;
  readonly stdout?: string | Uint8Array;
  readonly dataAfter?: string;
}

interface SessionResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly report: string;
  /** Output channel contents, hex. */
  readonly channels: Record<string, string>;
}

/** Runs `zerovm MANIFEST` for one case on one side, in a directory of its own. */
async function runSessionCase(name: string, c: SessionCase, side: Side): Promise<SessionResult> {
  const dir = join(tmp, name, side);
  mkdirSync(dir, { recursive: true });
  const stdin = join(dir, 'stdin');
  writeFileSync(stdin, c.stdin ?? new Uint8Array());
  const out = join(dir, 'stdout');
  const err = join(dir, 'stderr');
  const data = join(dir, 'data');
  const lines = [
    'Version = 20130611',
    `Program = ${c.program}`,
    `Timeout = ${c.timeout ?? 600}`,
    'Memory = 33554432, 1',
    `Channel = ${stdin}, /dev/stdin, 0, 1, 10000000, 100000000, 0, 0`,
    `Channel = ${out}, /dev/stdout, 0, 1, 0, 0, 10000000, 100000000`,
    `Channel = ${err}, /dev/stderr, 0, 1, 0, 0, 999, 999`,
  ];
  if (c.data !== undefined) {
    writeFileSync(data, c.data);
    lines.push(`Channel = ${data}, /dev/data, 3, 1, 99, 99, 99, 99`);
  }
  const manifest = join(dir, 'manifest');
  writeFileSync(manifest, `${lines.join('\n')}\n`);
  const r = await zerovm(side, [manifest]);
  const channels: Record<string, string> = {};
  for (const [alias, path] of [['stdout', out], ['stderr', err], ['data', data]] as const) {
    if (existsSync(path)) channels[alias] = readFileSync(path).toString('hex');
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, report: comparableReport(r.stdout), channels };
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

function example(name: string): string {
  return join(ROOT, 'examples', `${name}.nexe`);
}

/** A nexe holding `hex` as its text (test/nexe-builder.ts pads it with hlt). */
function hostile(name: string, hex: string): string {
  const path = join(tmp, `${name}.nexe`);
  writeFileSync(path, buildNexe(hex));
  return path;
}

const catInput = Buffer.alloc(200_000);
for (let i = 0; i < catInput.length; i++) catInput[i] = (i * 7919 + (i >> 9)) & 0xff;
const loopIterations = Number(/\.set ITERATIONS, (\d+)/.exec(readFileSync(join(ROOT, 'examples', 'loop.S'), 'utf8'))?.[1]);
const SIGNAL = (n: number): RegExp => new RegExp(`^Signal ${n} from untrusted code: Halting at 0x[0-9A-F]+$`);

/** Slowest first: the cases run two at a time, so the long ones overlap the rest. */
const SESSION_CASES: Record<string, SessionCase> = {
  devnull: { program: example('devnull'), status: 0, exitState: /^ok$/, stdout: Buffer.alloc(1_000_000, '.') },
  loop: {
    program: example('loop'),
    status: 0,
    exitState: /^ok$/,
    stdout: `${lcg(loopIterations).toString(16).padStart(16, '0')}\n`,
  },
  hello: { program: example('hello'), status: 0, exitState: /^ok$/, stdout: 'hello, world\n' },
  cat: { program: example('cat'), stdin: catInput, status: 0, exitState: /^ok$/, stdout: catInput },
  'cat-empty': { program: example('cat'), status: 0, exitState: /^ok$/, stdout: '' },
  wc: { program: example('wc'), stdin: Buffer.from('one\ntwo two\n\nfour'), status: 0, exitState: /^ok$/, stdout: '3 17\n' },
  jail: { program: example('jail'), status: 0, exitState: /^ok$/, stdout: '42\n' },
  patch: {
    program: example('patch'),
    data: Buffer.from('0123456789abcdefXYZ'),
    status: 0,
    exitState: /^ok$/,
    stdout: '0123ZeroVMabcdef',
    dataAfter: '0123ZeroVMabcdefXYZ',
  },
  /* 0: mov $0x80000000,%eax; 5: cltd; 6: mov $-1,%ecx; b: idiv %ecx; d: hlt */
  'idiv-overflow': { program: hostile('idiv-overflow', 'b80000008099b9fffffffff7f9f4'), status: 4, exitState: SIGNAL(8) },
  /* 0: nop padding to 1b; 1b: call 1b   (recurses until the stack runs out) */
  'stack-overflow': {
    program: hostile('stack-overflow', '662e0f1f840000000000662e0f1f8400000000000f1f8000000000e8fbffffff'),
    status: 4,
    exitState: SIGNAL(11),
  },
  /* 0: mov $0x10000,%eax; 5: movb $0,(%r15,%rax); a: hlt   (a store into the trampoline) */
  'store-trampoline': { program: hostile('store-trampoline', 'b80000010041c6040700f4'), status: 4, exitState: SIGNAL(11) },
  /* 0: mov $0x80000000,%eax; 5: mov (%r15,%rax),%rbx; 9: hlt   (a load from the unmapped middle) */
  'read-gap': { program: hostile('read-gap', 'b800000080498b1c07f4'), status: 4, exitState: SIGNAL(11) },
  /* 0: ud2 */
  ud2: { program: hostile('ud2', '0f0bf4'), status: 4, exitState: SIGNAL(4) },
  /* 0: inc %rax; 3: jmp 0 */
  spin: { program: hostile('spin', '48ffc0ebfb'), timeout: 1, status: 4, exitState: /^session timeout$/ },
};

beforeAll(() => {
  const missing = [ARM64_NODE, ARM64_BIN, HOST_BIN].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(
      `the arm64 userland is not prepared (missing ${missing.join(', ')}): run scripts/arm64/setup.sh and scripts/arm64/build.sh, or npm run test:arm64`,
    );
  }
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the arm64 side is really arm64', () => {
  it('the arm64 Node (20 or later) reports arm64 under qemu-aarch64', async () => {
    const r = await runProcess(QEMU, [ARM64_NODE, '-p', 'process.arch + " " + process.version']);
    expect(r.stderr).toBe('');
    const [arch, version] = r.stdout.trim().split(' ');
    expect(arch).toBe('arm64');
    expect(Number(/^v(\d+)\./.exec(version ?? '')?.[1])).toBeGreaterThanOrEqual(20);
  });

  it('the staged Unicorn addon is an arm64 ELF (e_machine 183)', () => {
    const addon = join(ARM64_BIN, '..', '..', 'native', 'build', 'Release', 'zerovm_unicorn.node');
    expect(existsSync(addon), `${addon} was not cross-built`).toBe(true);
    expect(readFileSync(addon).readUInt16LE(18)).toBe(183);
  });

  it('there the native engine refuses and auto picks Unicorn, so every arm64 result below is Unicorn\'s', async () => {
    const hello = (engine: string): Promise<Run> => runProcess(QEMU, [ARM64_NODE, ARM64_BIN, 'run', '--engine', engine, example('hello')]);
    const [native, auto] = await Promise.all([hello('native'), hello('auto')]);
    expect(native.status).not.toBe(0);
    expect(native.stderr).toMatch(/x86-64/);
    expect(auto.stderr).toBe('');
    expect(auto.stdout).toBe('hello, world\n');
  });
});

describe.concurrent('zerovm MANIFEST on arm64 Unicorn, against x86-64 Unicorn and native', () => {
  for (const [name, c] of Object.entries(SESSION_CASES)) {
    it(
      name,
      async ({ expect }) => {
        const [native, unicorn, arm64] = await Promise.all(SIDES.map((side) => runSessionCase(name, c, side)));
        expect(native?.status, `native: ${native?.stderr ?? ''}`).toBe(c.status);
        const report = native?.report.split('\n') ?? [];
        expect(report[5]).toMatch(c.exitState);
        expect(report[2], 'user return code').toBe('0');
        if (c.stdout !== undefined) expect(native?.channels.stdout).toBe(Buffer.from(c.stdout).toString('hex'));
        if (c.dataAfter !== undefined) expect(native?.channels.data).toBe(Buffer.from(c.dataAfter).toString('hex'));
        expect.soft(arm64, 'arm64 Unicorn = x86-64 Unicorn').toEqual(unicorn);
        expect.soft(arm64, 'arm64 Unicorn = x86-64 native').toEqual(native);
      },
      CASE_TIMEOUT_MS,
    );
  }
});

describe.concurrent('zerovm run on arm64 Unicorn, against x86-64 Unicorn and native', () => {
  const cases: Record<string, { readonly args: readonly string[]; readonly input?: Buffer; readonly stdout: string }> = {
    hello: { args: [example('hello')], stdout: 'hello, world\n' },
    'wc from stdin': { args: [example('wc')], input: Buffer.from('a\nb\nc\n'), stdout: '3 6\n' },
    'cat from stdin, with an extra file channel': {
      args: [`--channel=/dev/data=${join(ROOT, 'examples', 'hello.S')}:ro`, example('cat')],
      input: Buffer.from('through the pipe\n'),
      stdout: 'through the pipe\n',
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, async ({ expect }) => {
      const dir = join(tmp, 'run', name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      const [native, unicorn, arm64] = await Promise.all(
        SIDES.map(async (side) => {
          const report = join(dir, `${side}.report`);
          const r = await zerovm(side, ['run', `--report=${report}`, ...c.args], c.input);
          return { ...r, report: existsSync(report) ? comparableReport(readFileSync(report, 'utf8')) : null };
        }),
      );
      expect(native?.status, native?.stderr).toBe(0);
      expect(native?.stdout).toBe(c.stdout);
      expect.soft(arm64, 'arm64 Unicorn = x86-64 Unicorn').toEqual(unicorn);
      expect.soft(arm64, 'arm64 Unicorn = x86-64 native').toEqual(native);
    });
  }
});
