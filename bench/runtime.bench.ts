/**
 * Runtime benchmark: `npm run bench` (or `npx tsx bench/runtime.bench.ts`).
 *
 * (1) sessions/s: examples/hello.nexe run back to back in this process
 *     through runSession (stdout -> /dev/null); a run repeats sessions for
 *     >= MIN_MS; median of >= 5 runs.
 * (2) process: wall time of `node bin/zerovm.js hello.manifest` against
 *     `node -e 0`, median of 10 each.
 * (3) traps/s: examples/devnull.nexe (1 000 000 one-byte TrapWrites to
 *     /dev/null) through runSession, median of >= 5 sessions; next to it a
 *     bare fs.writeSync loop of 1e6 one-byte writes to /dev/null in this
 *     process.
 * (4) compute: examples/loop.nexe through runSession against the same loop
 *     as a host binary (bench/programs/loop.c, built with clang at bench
 *     time; skipped with a message when clang is missing), median of >= 5
 *     each; ratio = sandbox / host.
 *
 * Targets (the issue): >= 1000 sessions/s, >= 500 000 traps/s, compute
 * ratio <= 1.10. Knobs: ZEROVM_BENCH_RUNS (default 5, minimum 5),
 * ZEROVM_BENCH_MIN_MS (default 1000).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeEngine } from '../src/engines/native.js';
import { runSession } from '../src/runtime/session.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: bench/ from tsx, dist-bench/bench/ when compiled. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const RUNS = Math.max(5, Number(process.env.ZEROVM_BENCH_RUNS ?? 5) || 5);
const MIN_MS = Math.max(1, Number(process.env.ZEROVM_BENCH_MIN_MS ?? 1000) || 1000);
const TRAPS = 1_000_000;
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-bench-'));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A manifest for an example with every channel on /dev/null. */
function manifest(name: string, timeout = 60): string {
  const path = join(tmp, `${name}.manifest`);
  writeFileSync(
    path,
    [
      'Version = 20130611',
      `Program = ${join(ROOT, 'examples', `${name}.nexe`)}`,
      `Timeout = ${timeout}`,
      'Memory = 33554432, 0',
      'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
      'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 10000000, 10000000',
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  return path;
}

function session(manifestPath: string): void {
  const result = runSession({ manifestPath, engine: nativeEngine });
  if (result.exitCode !== 0 || result.exitState !== 'ok') throw new Error(`${manifestPath}: ${result.exitState} (exit ${result.exitCode})`);
}

/** Median ms of one call of `once`, RUNS times after a warm-up. */
function timeEach(once: () => void, runs = RUNS): number {
  once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = nowMs();
    once();
    times.push(nowMs() - start);
  }
  return median(times);
}

interface Row {
  readonly what: string;
  readonly value: string;
  readonly baseline: string;
  readonly target: string;
}
const rows: Row[] = [];

function sessionsPerSecond(): void {
  const hello = manifest('hello');
  for (let i = 0; i < 20; i++) session(hello);
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let count = 0;
    const start = nowMs();
    let elapsed = 0;
    do {
      session(hello);
      count++;
      elapsed = nowMs() - start;
    } while (elapsed < MIN_MS);
    rates.push((count * 1000) / elapsed);
  }
  const rate = median(rates);
  rows.push({
    what: 'hello sessions/s (runSession, one process)',
    value: `${rate.toFixed(0)} /s (${(1000 / rate).toFixed(3)} ms each)`,
    baseline: '',
    target: `>= 1000 /s ${rate >= 1000 ? 'MET' : 'MISSED'}`,
  });
}

function processTime(): void {
  const hello = manifest('hello');
  const spawn = (args: string[]): number => {
    const start = nowMs();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    const ms = nowMs() - start;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    return ms;
  };
  const zerovm = timeEach(() => void spawn([join(ROOT, 'bin', 'zerovm.js'), hello]), 10);
  const bare = timeEach(() => void spawn(['-e', '0']), 10);
  rows.push({
    what: 'process: node bin/zerovm.js hello.manifest',
    value: `${zerovm.toFixed(1)} ms`,
    baseline: `node -e 0: ${bare.toFixed(1)} ms (+${(zerovm - bare).toFixed(1)} ms)`,
    target: '',
  });
}

function trapsPerSecond(): void {
  const devnull = manifest('devnull');
  const ms = timeEach(() => session(devnull));
  const fd = openSync('/dev/null', 'w');
  const byte = Buffer.from('.');
  const hostMs = timeEach(() => {
    for (let i = 0; i < TRAPS; i++) writeSync(fd, byte);
  });
  closeSync(fd);
  const rate = (TRAPS * 1000) / ms;
  rows.push({
    what: 'trap round trips/s (devnull, 1e6 writes)',
    value: `${(rate / 1000).toFixed(0)} k/s (${((ms * 1000) / TRAPS).toFixed(2)} us each)`,
    baseline: `fs.writeSync loop: ${((TRAPS * 1000) / hostMs / 1000).toFixed(0)} k/s (${((hostMs * 1000) / TRAPS).toFixed(2)} us)`,
    target: `>= 500 k/s ${rate >= 500_000 ? 'MET' : 'MISSED'}`,
  });
}

function hasCommand(command: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function compute(): void {
  const loop = manifest('loop');
  const iterations = /\.set ITERATIONS, (\d+)/.exec(readFileSync(join(ROOT, 'examples', 'loop.S'), 'utf8'))?.[1];
  if (iterations === undefined) throw new Error('examples/loop.S: no ITERATIONS');
  const sandboxMs = timeEach(() => session(loop));
  const clang = hasCommand('clang-14') ?? hasCommand('clang');
  if (clang === null) {
    rows.push({ what: 'compute: loop.nexe (600M LCG steps)', value: `${sandboxMs.toFixed(0)} ms`, baseline: 'SKIPPED: clang not installed', target: '' });
    return;
  }
  const binary = join(tmp, 'loop-host');
  execFileSync(clang, ['-O2', `-DITERATIONS=${iterations}`, '-o', binary, join(ROOT, 'bench', 'programs', 'loop.c')]);
  const hostMs = timeEach(() => {
    const r = spawnSync(binary, [], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${binary} exited ${r.status}`);
  });
  const ratio = sandboxMs / hostMs;
  rows.push({
    what: `compute: loop.nexe (${Number(iterations) / 1e6}M LCG steps)`,
    value: `${sandboxMs.toFixed(0)} ms`,
    baseline: `host binary: ${hostMs.toFixed(0)} ms, ratio ${ratio.toFixed(3)}`,
    target: `ratio <= 1.10 ${ratio <= 1.1 ? 'MET' : 'MISSED'}`,
  });
}

function printTable(): void {
  const headers: Row = { what: 'measurement', value: 'sandbox', baseline: 'baseline', target: 'target' };
  const keys = ['what', 'value', 'baseline', 'target'] as const;
  const widths = keys.map((key) => Math.max(...[headers, ...rows].map((row) => row[key].length)));
  const line = (row: Row): string =>
    keys
      .map((key, i) => row[key].padEnd(widths[i]!))
      .join(' | ')
      .trimEnd();
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
}

const unavailable = nativeEngine.unavailableReason();
if (unavailable !== null) {
  console.log(`runtime benchmark SKIPPED: ${unavailable}`);
} else {
  console.log(`runtime benchmark: node ${process.version}, median of ${RUNS} runs (>= ${MIN_MS} ms each for sessions/s)\n`);
  sessionsPerSecond();
  processTime();
  trapsPerSecond();
  compute();
  printTable();
}
