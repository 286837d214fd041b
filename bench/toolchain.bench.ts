/**
 * Toolchain benchmark: `npx tsx bench/toolchain.bench.ts` (needs gcc,
 * clang-14, binutils, newlib-source, Lua 5.2's sources and the native
 * engine; not part of `npm run bench`, which must run without them).
 *
 * (1) code size: Lua 5.2's objects built with `zerovm cc -O2 -c` against
 *     the same sources built with the host's `gcc -O2 -c` (x86-64): the sum
 *     of their .text sections, ratio = sandboxed / native. The C library is
 *     left out (the native build links glibc dynamically).
 * (2) run time: a CPU-bound Lua script (recursive fib, string building,
 *     table.sort) through runSession in this process (load + validate +
 *     run) against the natively built interpreter as a child process;
 *     median of 3 each, ratio = sandboxed / native.
 *
 * Targets (the issue): <= 1.5x text, <= 1.25x run time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runNexe, unavailable, zerovmCc } from '../test/toolchain/helpers.js';

const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';
const FLAGS = ['-O2', '-DLUA_COMPAT_ALL'];
const SCRIPT = `
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t = {}
for i = 1, 200000 do t[i] = tostring(i * 3) .. "x" end
table.sort(t)
local s = 0
for i = 1, #t do s = s + #t[i] end
print(fib(30), s)
`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

function textSize(object: string): number {
  const out = execFileSync('size', ['-A', object], { encoding: 'utf8' });
  let total = 0;
  for (const line of out.split('\n')) {
    const m = /^(\.text\S*)\s+(\d+)/.exec(line);
    if (m) total += Number(m[2]);
  }
  return total;
}

const reason = unavailable();
if (reason !== null) {
  console.log(`toolchain benchmark skipped: ${reason}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-cc-'));
  try {
    const sources = readdirSync(LUA_SRC).filter((f) => f.endsWith('.c') && f !== 'luac.c');
    let sandboxed = 0;
    let native = 0;
    for (const f of sources) {
      const src = join(LUA_SRC, f);
      zerovmCc([...FLAGS, '-c', '-o', join(dir, `${f}.zo`), src]);
      execFileSync('gcc', [...FLAGS, '-c', '-o', join(dir, `${f}.no`), src]);
      sandboxed += textSize(join(dir, `${f}.zo`));
      native += textSize(join(dir, `${f}.no`));
    }
    console.log(`lua 5.2 .text: sandboxed ${sandboxed} B, native ${native} B, ratio ${(sandboxed / native).toFixed(3)} (target <= 1.5)`);

    const all = sources.map((f) => join(LUA_SRC, f));
    zerovmCc([...FLAGS, '-o', join(dir, 'lua.nexe'), ...all]);
    execFileSync('gcc', [...FLAGS, '-o', join(dir, 'lua.native'), ...all, '-lm']);
    writeFileSync(join(dir, 'bench.lua'), SCRIPT);
    const image = join(dir, 'image.tar');
    execFileSync('tar', ['cf', image, '-C', dir, 'bench.lua']);
    const nativeTimes: number[] = [];
    const sandboxTimes: number[] = [];
    let expected = '';
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      const want = spawnSync(join(dir, 'lua.native'), [join(dir, 'bench.lua')], { encoding: 'utf8' });
      nativeTimes.push(performance.now() - t);
      expected = want.stdout;
      t = performance.now();
      const got = runNexe(dir, join(dir, 'lua.nexe'), { args: ['bench.lua'], image });
      sandboxTimes.push(performance.now() - t);
      if (got.stdout !== expected) throw new Error(`outputs differ: ${JSON.stringify(got.stdout)} vs ${JSON.stringify(expected)} (${got.exitState})`);
    }
    const n = median(nativeTimes);
    const s = median(sandboxTimes);
    console.log(`lua 5.2 cpu-bound script: sandboxed ${s.toFixed(0)} ms, native ${n.toFixed(0)} ms, ratio ${(s / n).toFixed(3)} (target <= 1.25)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
