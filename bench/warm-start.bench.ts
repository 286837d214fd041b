/**
 * Warm starts: `npx tsc -p tsconfig.bench.json && node
 * dist-bench/bench/warm-start.bench.js` (needs what `zerovm cc` needs;
 * not part of `npm run bench`).
 *
 * bench/programs/warm.c does about 50 ms of set-up, calls TrapFork, then
 * answers one request. For each engine, in PAIRS interleaved pairs
 * (default 15; ZEROVM_BENCH_PAIRS): a cold session of the program
 * (Program.runSync: a fresh sandbox, the set-up, the request; validation
 * is cached, as a server's would be) against a request started from the
 * snapshot taken at its TrapFork (WarmStart.runSync). Reported: medians
 * and the median per-pair ratio cold / warm. Then the same for Lua 5.2
 * (bench/programs/lua-warm.c over Lua's sources, when they are installed:
 * Debian's librust-lua52-sys-dev, or ZEROVM_LUA52_SRC): it opens its
 * libraries and compiles 2000 small functions, forks, and runs a one-line
 * script per request. Target (issue 13): >= 10x faster start for the Lua
 * request.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Program, type SessionOutcome } from '../src/api/index.js';
import { unicornEngine } from '../src/emulator/unicorn.js';
import { nativeEngine } from '../src/engines/native.js';
import { buildUnavailable, ROOT, zerovmCc } from '../test/toolchain/helpers.js';

const PAIRS = Number(process.env.ZEROVM_BENCH_PAIRS ?? 15);
const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

function timed(run: () => SessionOutcome): { ms: number; outcome: SessionOutcome } {
  const start = performance.now();
  const outcome = run();
  return { ms: performance.now() - start, outcome };
}

/** Cold sessions of `nexe` against requests from its TrapFork snapshot, on each engine. */
function compare(what: string, nexe: string, stdin: Buffer): void {
  for (const engine of [nativeEngine, unicornEngine]) {
    if (engine.unavailableReason() !== null) {
      console.log(`${what}, ${engine.name}: skipped (${engine.unavailableReason()})`);
      continue;
    }
    const program = Program.load(nexe, { engine: engine.name });
    const memory = 64 << 20;
    const setUp = performance.now();
    const warm = program.forkSync({ memory });
    const forkMs = performance.now() - setUp;
    const cold: number[] = [];
    const hot: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const c = timed(() => program.runSync({ stdin, memory }));
      const w = timed(() => warm.runSync({ stdin }));
      if (c.outcome.stdout.toString() !== w.outcome.stdout.toString()) throw new Error(`cold and warm answers differ: ${c.outcome.stdout.toString()} / ${w.outcome.stdout.toString()}`);
      cold.push(c.ms);
      hot.push(w.ms);
      ratios.push(c.ms / w.ms);
    }
    console.log(
      `${what}, ${engine.name}: set-up to TrapFork ${forkMs.toFixed(1)} ms (snapshot ${(warm.size / 1024).toFixed(0)} KiB); ` +
        `cold session ${median(cold).toFixed(2)} ms, warm start ${median(hot).toFixed(2)} ms, cold/warm ${median(ratios).toFixed(1)}x (median of ${PAIRS} pairs)`,
    );
  }
}

const reason = buildUnavailable();
if (reason !== null) {
  console.log(`warm-start bench skipped: ${reason}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-warm-bench-'));
  try {
    const nexe = join(dir, 'warm.nexe');
    zerovmCc(['-O2', '-o', nexe, join(ROOT, 'bench', 'programs', 'warm.c')]);
    compare('set-up of ~50 ms (warm.c)', nexe, Buffer.from('request'));
    if (existsSync(LUA_SRC)) {
      const lua = join(dir, 'lua-warm.nexe');
      const sources = readdirSync(LUA_SRC).filter((f) => f.endsWith('.c') && f !== 'lua.c' && f !== 'luac.c').map((f) => join(LUA_SRC, f));
      zerovmCc(['-O2', '-DLUA_COMPAT_ALL', '-I', LUA_SRC, '-o', lua, join(ROOT, 'bench', 'programs', 'lua-warm.c'), ...sources, '-lm']);
      compare('Lua 5.2 (lua-warm.c)', lua, Buffer.from('print(helpers[7](35), string.rep("ab", 3))'));
    } else {
      console.log(`Lua: skipped (no sources at ${LUA_SRC})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
