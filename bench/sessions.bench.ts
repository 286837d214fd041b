/**
 * Sessions benchmark: `npx tsx bench/sessions.bench.ts` (also in `npm run
 * bench`). hello.nexe through Program.runSync, back to back in one process,
 * on each engine, and on the Unicorn engine twice: reusing its libunicorn
 * engines (the default) and opening one per session
 * (ZEROVM_UNICORN_FRESH_ENGINE=1), which is what reuse saves
 * (native/src/unicorn/emulator.cc, "Reuse"). Each line is a child process
 * of its own, so one mode's memory does not weigh on the next: sessions/s
 * over SESSIONS sessions after WARMUP, and the process's RSS at the end.
 * Knob: ZEROVM_BENCH_SESSIONS (default 2000).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Program } from '../src/api/index.js';
import { nativeEngine } from '../src/engines/native.js';
import { unicornEngine } from '../src/emulator/unicorn.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: bench/ from tsx, dist-bench/bench/ when compiled. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const SESSIONS = Math.max(100, Number(process.env.ZEROVM_BENCH_SESSIONS ?? 2000) || 2000);
const WARMUP = 300;

interface Measured {
  readonly perSecond: number;
  readonly rssMiB: number;
}

/** In the child: runs the sessions and prints what it measured. */
function measure(engine: 'native' | 'unicorn'): void {
  const hello = Program.load(join(ROOT, 'examples', 'hello.nexe'), { engine });
  for (let i = 0; i < WARMUP; i++) hello.runSync({ engine });
  const began = performance.now();
  for (let i = 0; i < SESSIONS; i++) hello.runSync({ engine });
  const ms = performance.now() - began;
  const measured: Measured = { perSecond: (SESSIONS / ms) * 1000, rssMiB: process.memoryUsage.rss() / 1048576 };
  process.stdout.write(JSON.stringify(measured));
}

function child(engine: 'native' | 'unicorn', env: Record<string, string> = {}): Measured | string {
  const run = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', engine], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000,
  });
  if (run.status !== 0) return `failed: ${run.stderr.trim().split('\n').pop() ?? run.status}`;
  return JSON.parse(run.stdout) as Measured;
}

function line(what: string, result: Measured | string): void {
  const text = typeof result === 'string' ? result : `${result.perSecond.toFixed(0).padStart(6)} sessions/s   RSS ${result.rssMiB.toFixed(0)} MiB`;
  console.log(`${what.padEnd(44)} ${text}`);
}

if (process.argv[2] === '--child') {
  measure(process.argv[3] as 'native' | 'unicorn');
} else {
  console.log(`sessions benchmark: hello.nexe, ${SESSIONS} sessions after ${WARMUP}, Program.runSync, one process each\n`);
  const nativeReason = nativeEngine.unavailableReason();
  line('native', nativeReason ?? child('native'));
  const unicornReason = unicornEngine.unavailableReason();
  line('unicorn, engines reused (default)', unicornReason ?? child('unicorn'));
  line('unicorn, an engine per session', unicornReason ?? child('unicorn', { ZEROVM_UNICORN_FRESH_ENGINE: '1' }));
}
