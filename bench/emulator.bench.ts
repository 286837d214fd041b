/**
 * Emulator benchmark: `npm run bench` (or `npx tsx bench/emulator.bench.ts`).
 *
 * (1) compute: three workloads, each as a nexe (bench/programs/*.S, built
 *     here into a temporary directory with clang's integrated assembler and
 *     GNU ld by the recipe of examples/Makefile) and as plain C
 *     (bench/programs/*.c, `gcc -O2 -static` for this host, with the .S
 *     file's `.set` constants as -D options):
 *       sieve  byte stores with growing strides over 4 MiB
 *       crc32  byte-wise table CRC-32 over 1 MiB, 64 times: loads in a chain
 *       fib    recursive fib(35): calls and masked returns
 *     Timed: the nexe through runSession on the native and the Unicorn
 *     engines, the host binary, and the host binary under qemu-x86_64
 *     (qemu-user), each the median of RUNS after one run that checks that
 *     all four print the same line (a mismatch aborts the benchmark).
 *     Ratios unicorn/native, qemu/native and unicorn/qemu (target: unicorn
 *     within 3x of qemu-user).
 * (2) traps/s under Unicorn: examples/devnull.nexe (1e6 one-byte TrapWrites
 *     to /dev/null), next to the native engine in the same run.
 *
 * What is missing (an engine, clang/ld, gcc, qemu-x86_64) is reported as
 * skipped with the reason. The Unicorn engine is loaded dynamically from
 * src/emulator/unicorn.(ts|js) when it exists. Knob: ZEROVM_BENCH_RUNS
 * (default 5, minimum 3).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeEngine } from '../src/engines/native.js';
import type { Engine } from '../src/runtime/engine.js';
import { runSession } from '../src/runtime/session.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: bench/ from tsx, dist-bench/bench/ when compiled. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'zerovm-abi.inc')))!;
const PROGRAMS = join(ROOT, 'bench', 'programs');
const RUNS = Math.max(3, Number(process.env.ZEROVM_BENCH_RUNS ?? 5) || 5);
const TRAPS = 1_000_000;
const QEMU_TARGET = 3;
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-emulator-bench-'));

interface Tool {
  readonly path: string | null;
  readonly missing: string;
}

function command(...names: string[]): string | null {
  for (const name of names) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  return null;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

// ---- engines -----------------------------------------------------------------------

interface EngineSlot {
  readonly name: string;
  readonly engine: Engine | null;
  readonly reason: string | null;
  readonly detail?: string;
}

async function unicornSlot(): Promise<EngineSlot> {
  const skipped = (reason: string): EngineSlot => ({ name: 'unicorn', engine: null, reason });
  /* src/emulator beside bench/, or dist-bench/src/emulator beside dist-bench/bench/ */
  const module = join(HERE, '..', 'src', 'emulator');
  if (!existsSync(join(module, 'unicorn.js')) && !existsSync(join(module, 'unicorn.ts'))) return skipped('src/emulator/unicorn.ts does not exist yet');
  try {
    const loaded = (await import(new URL('../src/emulator/unicorn.js', import.meta.url).href)) as {
      unicornEngine?: Engine;
      unicornRepairs?: () => unknown;
    };
    const engine = loaded.unicornEngine;
    if (engine === undefined) return skipped('src/emulator/unicorn.ts exports no unicornEngine');
    const reason = engine.unavailableReason();
    if (reason !== null) return skipped(reason);
    /* which of its libunicorn repairs are on matters for the numbers (fast guest stores above all) */
    const repairs = typeof loaded.unicornRepairs === 'function' ? JSON.stringify(loaded.unicornRepairs()) : 'unknown';
    return { name: 'unicorn', engine, reason: null, detail: `repairs ${repairs}` };
  } catch (error) {
    return skipped(`the Unicorn engine failed to load: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const nativeReason = nativeEngine.unavailableReason();
const native: EngineSlot = { name: 'native', engine: nativeReason === null ? nativeEngine : null, reason: nativeReason };
const unicorn = await unicornSlot();

// ---- building ----------------------------------------------------------------------

const clang: Tool = { path: command('clang-14', 'clang'), missing: 'clang (>= 14) is not installed' };
const ld: Tool = { path: command('ld'), missing: 'GNU ld is not installed' };
const gcc: Tool = { path: command('gcc'), missing: 'gcc is not installed' };
const qemu: Tool =
  process.arch === 'x64'
    ? { path: command('qemu-x86_64'), missing: 'qemu-x86_64 is not installed (Debian: qemu-user)' }
    : { path: null, missing: `qemu-x86_64 runs the host binary, and this host is ${process.arch}, not x86-64` };

/** The `.set NAME, value` constants of a benchmark program, as gcc -D options. */
function constants(source: string): string[] {
  return [...readFileSync(source, 'utf8').matchAll(/^\s*\.set\s+(\w+),\s*(.+?)\s*(?:#.*)?$/gm)].map(([, name, value]) => `-D${name}=(${value})`);
}

/** The nexe from bench/programs/NAME.S, by the recipe of examples/Makefile. */
function buildNexe(name: string): string {
  const object = join(tmp, `${name}.o`);
  const nexe = join(tmp, `${name}.nexe`);
  execFileSync(clang.path!, ['-c', '-target', 'x86_64-linux-gnu', '-I', PROGRAMS, '-I', join(ROOT, 'examples'), '-o', object, join(PROGRAMS, `${name}.S`)]);
  const script = join(ROOT, 'examples', 'nexe.ld');
  execFileSync(ld.path!, ['-static', '-nostdlib', '--build-id=none', '-z', 'noexecstack', '-z', 'max-page-size=0x1000', '-T', script, '-o', nexe, object]);
  /* EI_OSABI 123 (NaCl), EI_ABIVERSION 7 */
  const bytes = readFileSync(nexe);
  bytes[7] = 123;
  bytes[8] = 7;
  writeFileSync(nexe, bytes);
  return nexe;
}

function buildHost(name: string): string {
  const binary = join(tmp, `${name}-host`);
  execFileSync(gcc.path!, ['-O2', '-static', ...constants(join(PROGRAMS, `${name}.S`)), '-o', binary, join(PROGRAMS, `${name}.c`)]);
  return binary;
}

// ---- running -----------------------------------------------------------------------

function manifest(nexe: string, stdout: string): string {
  const path = `${stdout}.manifest`;
  writeFileSync(
    path,
    [
      'Version = 20130611',
      `Program = ${nexe}`,
      'Timeout = 600',
      'Memory = 67108864, 0',
      'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
      `Channel = ${stdout}, /dev/stdout, 0, 0, 0, 0, 10000000, 10000000`,
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  return path;
}

/** Runs a nexe on an engine; returns what it printed. */
function session(engine: Engine, manifestPath: string, stdout: string): string {
  const result = runSession({ manifestPath, engine });
  if (result.exitCode !== 0 || result.exitState !== 'ok' || result.userReturnCode !== 0) {
    throw new Error(`${manifestPath} on ${engine.name}: ${result.exitState} (exit ${result.exitCode}, user code ${result.userReturnCode})`);
  }
  return stdout === '/dev/null' ? '' : readFileSync(stdout, 'utf8');
}

function spawn(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${[file, ...args].join(' ')} exited ${r.status ?? r.signal}`);
  return r.stdout;
}

/** Median ms of RUNS calls of `once` (the caller has already run it once, to check its output). */
function time(once: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = nowMs();
    once();
    times.push(nowMs() - start);
  }
  return median(times);
}

// ---- measurements ------------------------------------------------------------------

type Cell = { readonly ms: number } | { readonly skipped: string };

interface ComputeRow {
  readonly workload: string;
  readonly output: string;
  readonly native: Cell;
  readonly unicorn: Cell;
  readonly host: Cell;
  readonly qemu: Cell;
}

function engineCell(slot: EngineSlot, nexe: string, name: string, outputs: Map<string, string>): (() => Cell) | Cell {
  if (slot.engine === null) return { skipped: slot.reason! };
  const engine = slot.engine;
  const stdout = join(tmp, `${name}.${slot.name}.out`);
  const path = manifest(nexe, stdout);
  outputs.set(`${slot.name} engine`, session(engine, path, stdout));
  return () => ({ ms: time(() => void session(engine, path, stdout)) });
}

function toolCell(tool: Tool, label: string, run: () => string, outputs: Map<string, string>, missing: Tool[] = []): (() => Cell) | Cell {
  const absent = [tool, ...missing].find((t) => t.path === null);
  if (absent !== undefined) return { skipped: absent.missing };
  outputs.set(label, run());
  return () => ({ ms: time(() => void run()) });
}

function compute(name: string, what: string): ComputeRow {
  const nexe = buildNexe(name);
  const host = gcc.path === null ? null : buildHost(name);
  const outputs = new Map<string, string>();
  const cells = {
    native: engineCell(native, nexe, name, outputs),
    unicorn: engineCell(unicorn, nexe, name, outputs),
    host: toolCell(gcc, 'host binary', () => spawn(host!, []), outputs),
    qemu: toolCell(qemu, 'qemu-x86_64', () => spawn(qemu.path!, [host!]), outputs, [gcc]),
  };
  /* every available way of running it must print the same line before anything is timed */
  const distinct = new Set(outputs.values());
  if (distinct.size > 1) {
    throw new Error(`${name}: the outputs differ: ${[...outputs].map(([who, out]) => `${who} ${JSON.stringify(out)}`).join(', ')}`);
  }
  const measure = (cell: (() => Cell) | Cell): Cell => (typeof cell === 'function' ? cell() : cell);
  return {
    workload: `${name} (${what})`,
    output: [...distinct][0]?.trim() ?? '',
    native: measure(cells.native),
    unicorn: measure(cells.unicorn),
    host: measure(cells.host),
    qemu: measure(cells.qemu),
  };
}

function ms(cell: Cell): string {
  return 'ms' in cell ? `${cell.ms.toFixed(0)} ms` : 'skipped';
}

function ratio(a: Cell, b: Cell): number | null {
  return 'ms' in a && 'ms' in b ? a.ms / b.ms : null;
}

function formatRatio(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)}x`;
}

function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(' | ')
      .trimEnd();
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
}

function traps(): string[][] {
  const devnull = join(ROOT, 'examples', 'devnull.nexe');
  return [native, unicorn].map((slot) => {
    if (slot.engine === null) return [`trap round trips/s, ${slot.name} (devnull, 1e6 writes)`, `skipped: ${slot.reason}`];
    const engine = slot.engine;
    const path = manifest(devnull, '/dev/null');
    session(engine, path, '/dev/null');
    const each = time(() => void session(engine, path, '/dev/null'));
    const rate = (TRAPS * 1000) / each;
    return [`trap round trips/s, ${slot.name} (devnull, 1e6 writes)`, `${(rate / 1000).toFixed(0)} k/s (${((each * 1000) / TRAPS).toFixed(2)} us each)`];
  });
}

/** Why no nexe can be built here (e.g. a GNU ld that cannot link x86-64 on another host), or null. */
function buildProblem(): string | null {
  try {
    buildNexe('fib');
    return null;
  } catch (error) {
    return `building a nexe failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function main(): void {
  console.log(`\nemulator benchmark: node ${process.version}, median of ${RUNS} runs each`);
  for (const slot of [native, unicorn]) {
    if (slot.reason !== null) console.log(`  ${slot.name} engine SKIPPED: ${slot.reason}`);
    else if (slot.detail !== undefined) console.log(`  ${slot.name} engine: ${slot.detail}`);
  }
  for (const tool of [gcc, qemu]) if (tool.path === null) console.log(`  SKIPPED: ${tool.missing}`);
  const missing = [clang, ld].find((t) => t.path === null);
  const unbuildable = missing !== undefined ? `${missing.missing} (the nexes are built from bench/programs/*.S)` : buildProblem();
  if (unbuildable !== null) {
    console.log(`  compute workloads SKIPPED: ${unbuildable}`);
  } else {
    const rows = [compute('sieve', 'stores'), compute('crc32', 'loads'), compute('fib', 'calls')];
    console.log('');
    printTable(
      ['workload', 'result', 'native', 'unicorn', 'host', 'qemu-user', 'unicorn/native', 'qemu/native', 'unicorn/qemu'],
      rows.map((row) => {
        const uq = ratio(row.unicorn, row.qemu);
        return [
          row.workload,
          row.output,
          ms(row.native),
          ms(row.unicorn),
          ms(row.host),
          ms(row.qemu),
          formatRatio(ratio(row.unicorn, row.native)),
          formatRatio(ratio(row.qemu, row.native)),
          uq === null ? '-' : `${formatRatio(uq)} (<= ${QEMU_TARGET}x ${uq <= QEMU_TARGET ? 'MET' : 'MISSED'})`,
        ];
      }),
    );
  }
  console.log('');
  printTable(['measurement', 'value'], traps());
}

main();
