/**
 * Toolchain benchmark: `npx tsc -p tsconfig.bench.json && node
 * dist-bench/bench/toolchain.bench.js` (needs gcc, clang-14, binutils,
 * newlib-source, Lua 5.2's sources and the native engine; not part of
 * `npm run bench`, which must run without them).
 *
 * (1) code size: Lua 5.2's objects built with `zerovm cc -O2 -c` against
 *     the same sources built with the host's `gcc -O2 -c` (x86-64): the sum
 *     of their .text sections, ratio = sandboxed / native. The C library is
 *     left out (the native build links glibc dynamically). The padding
 *     (nop bytes, counted with objdump) is shown apart: it is most of the
 *     growth, and most of it is the padding that makes every call end a
 *     bundle.
 * (2) run time: a CPU-bound Lua script (recursive fib, string building,
 *     table.sort) through runSession in this process (load + validate +
 *     run) against the natively built interpreter as a child process, in
 *     PAIRS interleaved pairs (default 15; ZEROVM_BENCH_PAIRS), so that both
 *     halves of a pair see the same machine: shared machines drift by
 *     +-20 % from one second to the next. Reported: the median of the
 *     per-pair ratios of wall time and of CPU time (user + system: the
 *     session's from process.cpuUsage, the native child's from bash's
 *     `time`), with the medians of each side.
 *
 * Targets (the issue): <= 1.5x text, <= 1.25x run time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runNexe, unavailable, zerovmCc } from '../test/toolchain/helpers.js';
import { cpuMs, median, nativeRun, textSize } from './native-measure.js';

const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';
const FLAGS = ['-O2', '-DLUA_COMPAT_ALL'];
const PAIRS = Number(process.env.ZEROVM_BENCH_PAIRS ?? 15);
const SCRIPT = `
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t = {}
for i = 1, 200000 do t[i] = tostring(i * 3) .. "x" end
table.sort(t)
local s = 0
for i = 1, #t do s = s + #t[i] end
print(fib(30), s)
`;

const reason = unavailable();
if (reason !== null) {
  console.log(`toolchain benchmark skipped: ${reason}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-cc-'));
  try {
    const sources = readdirSync(LUA_SRC).filter((f) => f.endsWith('.c') && f !== 'luac.c');
    const sandboxed = { text: 0, padding: 0 };
    const native = { text: 0, padding: 0 };
    for (const f of sources) {
      const src = join(LUA_SRC, f);
      zerovmCc([...FLAGS, '-c', '-o', join(dir, `${f}.zo`), src]);
      execFileSync('gcc', [...FLAGS, '-c', '-o', join(dir, `${f}.no`), src]);
      for (const [sum, object] of [[sandboxed, `${f}.zo`], [native, `${f}.no`]] as const) {
        const s = textSize(join(dir, object));
        sum.text += s.text;
        sum.padding += s.padding;
      }
    }
    console.log(`lua 5.2 .text: sandboxed ${sandboxed.text} B (${sandboxed.padding} B padding), native ${native.text} B (${native.padding} B padding), ratio ${(sandboxed.text / native.text).toFixed(3)} (target <= 1.5); without padding on either side ${((sandboxed.text - sandboxed.padding) / (native.text - native.padding)).toFixed(3)}`);

    const all = sources.map((f) => join(LUA_SRC, f));
    zerovmCc([...FLAGS, '-o', join(dir, 'lua.nexe'), ...all]);
    execFileSync('gcc', [...FLAGS, '-o', join(dir, 'lua.native'), ...all, '-lm']);
    writeFileSync(join(dir, 'bench.lua'), SCRIPT);
    const image = join(dir, 'image.tar');
    execFileSync('tar', ['cf', image, '-C', dir, 'bench.lua']);
    const wall = { sandboxed: [] as number[], native: [] as number[], ratio: [] as number[] };
    const cpu = { sandboxed: [] as number[], native: [] as number[], ratio: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      const want = nativeRun(join(dir, 'lua.native'), [join(dir, 'bench.lua')], null, join(dir, 'bench.lua.out'));
      const t = performance.now();
      const c = cpuMs();
      const got = runNexe(dir, join(dir, 'lua.nexe'), { args: ['bench.lua'], image });
      const sandboxCpu = cpuMs() - c;
      const sandboxWall = performance.now() - t;
      if (got.stdout !== want.stdout) throw new Error(`outputs differ: ${JSON.stringify(got.stdout)} vs ${JSON.stringify(want.stdout)} (${got.exitState})`);
      wall.sandboxed.push(sandboxWall);
      wall.native.push(want.wall);
      wall.ratio.push(sandboxWall / want.wall);
      cpu.sandboxed.push(sandboxCpu);
      cpu.native.push(want.cpu);
      cpu.ratio.push(sandboxCpu / want.cpu);
    }
    for (const [name, m] of [['wall', wall], ['cpu', cpu]] as const) {
      console.log(
        `lua 5.2 cpu-bound script, ${name} time (${PAIRS} interleaved pairs): sandboxed median ${median(m.sandboxed).toFixed(0)} ms, native median ${median(m.native).toFixed(0)} ms, median pair ratio ${median(m.ratio).toFixed(3)} (pair ratios ${Math.min(...m.ratio).toFixed(3)}..${Math.max(...m.ratio).toFixed(3)}; target <= 1.25)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
