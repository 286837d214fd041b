/**
 * Process start benchmark: `npm run bench` (or `npx tsx bench/startup.bench.ts`
 * after `npm run build`).
 *
 * A `zerovm MANIFEST` process is the unit of the original's command line:
 * this measures the wall time of whole processes, each spawned and waited
 * for in turn, in interleaved rounds so that the machine's load falls on
 * every command alike:
 *   - node -e 0: the floor, Node starting and exiting;
 *   - node bin/zerovm.js hello.manifest: examples/hello.nexe as a session
 *     (every channel on /dev/null, the report on stdout to /dev/null);
 *   - node bin/zerovm.js run examples/hello.nexe: the same program the
 *     `run` way (its output to /dev/null);
 *   - node bin/zerovm.js --version: the command line loaded, nothing run;
 *   - the original ZeroVM 2015 on the same manifest, when it runs here
 *     (the prebuilt reference beside the checkout; skipped otherwise).
 * Each row: the median over the rounds and its ratio to node -e 0's
 * median. Target (spec/runtime.md, "Process start"): zerovm MANIFEST
 * <= 1.5x node -e 0. Knob: ZEROVM_BENCH_ROUNDS (default 21, minimum 5).
 * Runs what `npm run build` made (bin/zerovm.js -> dist/bundle/).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: bench/ from tsx, dist-bench/bench/ when compiled. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const ROUNDS = Math.max(5, Number(process.env.ZEROVM_BENCH_ROUNDS ?? 21) || 21);
const TARGET_RATIO = 1.5;
const BIN = join(ROOT, 'bin', 'zerovm.js');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const ORIGINAL = join(ROOT, '..', 'shared', 'reference', 'zerovm-2015', 'bin', 'zerovm');

interface Command {
  readonly what: string;
  readonly file: string;
  readonly args: readonly string[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Wall time of one whole process, in ms; throws when it fails. */
function spawnMs(command: Command): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(command.file, command.args, { stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${command.what} exited ${r.status ?? r.signal}`);
  return ms;
}

function helloManifest(dir: string): string {
  const path = join(dir, 'hello.manifest');
  writeFileSync(
    path,
    [
      'Version = 20130611',
      `Program = ${HELLO}`,
      'Timeout = 10',
      'Memory = 33554432, 0',
      'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
      'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 999, 999',
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  return path;
}

/** Null when the original runs the manifest here, else why not. */
function originalUnavailable(manifest: string): string | null {
  if (!existsSync(ORIGINAL)) return `the original ZeroVM 2015 is not beside the checkout (${ORIGINAL})`;
  const r = spawnSync(ORIGINAL, [manifest], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? null : `the original ZeroVM 2015 does not run here (exit ${r.status ?? r.signal})`;
}

function main(): void {
  if (!existsSync(join(ROOT, 'dist', 'bundle', 'zerovm.cjs'))) {
    console.log('startup benchmark SKIPPED: the command line is not built (npm run build)');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-startup-bench-'));
  try {
    const manifest = helloManifest(tmp);
    const node = (what: string, args: readonly string[]): Command => ({ what, file: process.execPath, args });
    const commands: Command[] = [
      node('node -e 0', ['-e', '0']),
      node('zerovm MANIFEST (hello)', [BIN, manifest]),
      node('zerovm run examples/hello.nexe', [BIN, 'run', HELLO]),
      node('zerovm --version', [BIN, '--version']),
    ];
    const skipped = originalUnavailable(manifest);
    if (skipped === null) commands.push({ what: 'original zerovm MANIFEST (hello)', file: ORIGINAL, args: [manifest] });
    /* a first round unmeasured: the files in the page cache, as for every later process */
    for (const command of commands) spawnMs(command);
    const times = commands.map((): number[] => []);
    for (let round = 0; round < ROUNDS; round++) commands.forEach((command, i) => times[i]!.push(spawnMs(command)));
    const medians = times.map(median);
    const floor = medians[0]!;
    console.log(`startup benchmark: node ${process.version}, ${ROUNDS} interleaved rounds, median wall time of each process\n`);
    const width = Math.max(...commands.map((c) => c.what.length));
    commands.forEach((command, i) => {
      const ms = medians[i]!;
      const ratio = ms / floor;
      const target = command.what.startsWith('zerovm MANIFEST') ? `  target <= ${TARGET_RATIO}x ${ratio <= TARGET_RATIO ? 'MET' : 'MISSED'}` : '';
      console.log(`${command.what.padEnd(width)}  ${ms.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}x node -e 0${target}`);
    });
    if (skipped !== null) console.log(`original zerovm: SKIPPED (${skipped})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main();
