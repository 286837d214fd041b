/**
 * Per-session cost of the native engine in one thread:
 * `npx tsx bench/session-cost.bench.ts`. CPU time (process.cpuUsage, user
 * and system apart) per hello session through Program.runSync, and per
 * warm Lua request through WarmStart.runSync when the Lua sources and the
 * toolchain are here (bench/programs/lua-warm.c). CPU time, not wall
 * time: it holds on a machine other processes share. Knobs:
 * ZEROVM_BENCH_SESSIONS (default 3000), ZEROVM_BENCH_ROUNDS (default 5;
 * the median round is reported), ZEROVM_BENCH_ONLY=hello|warm,
 * ZEROVM_BENCH_LUA_NEXE (a lua-warm.nexe built before).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Program } from '../src/api/index.js';
import { buildUnavailable, zerovmCc } from '../test/toolchain/helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const SESSIONS = Math.max(100, Number(process.env.ZEROVM_BENCH_SESSIONS ?? 3000) || 3000);
const ROUNDS = Math.max(1, Number(process.env.ZEROVM_BENCH_ROUNDS ?? 5) || 5);
const ONLY = process.env.ZEROVM_BENCH_ONLY;
const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';

/** Microseconds of CPU (user, system) per call of `once`, the median of ROUNDS rounds of `count` calls. */
interface PerCall {
  readonly user: number;
  readonly system: number;
  readonly wall: number;
  /** Minor page faults and context switches per call. */
  readonly faults: number;
  readonly switches: number;
}

function cpuPerCall(once: () => void, count: number): PerCall {
  for (let i = 0; i < Math.min(200, count); i++) once();
  const rounds: PerCall[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.resourceUsage();
    const began = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < count; i++) once();
    const used = process.cpuUsage(began);
    const wall = ((performance.now() - t) * 1000) / count;
    const after = process.resourceUsage();
    const switches = after.voluntaryContextSwitches + after.involuntaryContextSwitches - before.voluntaryContextSwitches - before.involuntaryContextSwitches;
    rounds.push({ user: used.user / count, system: used.system / count, wall, faults: (after.minorPageFault - before.minorPageFault) / count, switches: switches / count });
  }
  rounds.sort((a, b) => a.user + a.system - (b.user + b.system));
  return rounds[rounds.length >> 1]!;
}

function line(what: string, m: PerCall): void {
  console.log(`${what}: CPU ${(m.user + m.system).toFixed(1)} us/session (user ${m.user.toFixed(1)}, system ${m.system.toFixed(1)}), wall ${m.wall.toFixed(1)} us, ${m.faults.toFixed(1)} page faults, ${m.switches.toFixed(2)} context switches`);
}

if (ONLY !== 'warm') {
  const hello = Program.load(join(ROOT, 'examples', 'hello.nexe'), { engine: 'native' });
  line('[native] hello, Program.runSync', cpuPerCall(() => {
    const outcome = hello.runSync({ engine: 'native' });
    if (outcome.exitState !== 'ok') throw new Error(`hello: ${outcome.exitState}`);
  }, SESSIONS));
}

if (ONLY !== 'hello') {
  const why = buildUnavailable() ?? (existsSync(LUA_SRC) ? null : `no Lua 5.2 sources at ${LUA_SRC}`);
  if (why !== null) {
    console.log(`[native] warm Lua: skipped: ${why}`);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'zerovm-session-cost-'));
    try {
      /* ZEROVM_BENCH_LUA_NEXE: one built before (building takes a while) */
      let nexe = process.env.ZEROVM_BENCH_LUA_NEXE ?? '';
      if (!existsSync(nexe)) {
        nexe = join(dir, 'lua-warm.nexe');
        const sources = readdirSync(LUA_SRC).filter((f) => f.endsWith('.c') && f !== 'lua.c' && f !== 'luac.c').map((f) => join(LUA_SRC, f));
        zerovmCc(['-O2', '-DLUA_COMPAT_ALL', '-I', LUA_SRC, '-o', nexe, join(ROOT, 'bench', 'programs', 'lua-warm.c'), ...sources, '-lm']);
      }
      const lua = Program.load(nexe, { engine: 'native' });
      const script = Buffer.from('print(helpers[7](35), string.rep("ab", 3))');
      const warm = lua.forkSync({ engine: 'native', stdin: script });
      line('[native] Lua cold, Program.runSync', cpuPerCall(() => {
        const outcome = lua.runSync({ engine: 'native', stdin: script });
        if (outcome.stdout.toString() !== '42\tababab\n') throw new Error(`lua: ${outcome.exitState}`);
      }, Math.max(20, SESSIONS / 20)));
      line('[native] Lua warm, WarmStart.runSync', cpuPerCall(() => {
        const outcome = warm.runSync({ stdin: script });
        if (outcome.stdout.toString() !== '42\tababab\n') throw new Error(`lua warm: ${outcome.exitState} ${outcome.stdout.toString()}`);
      }, Math.max(100, SESSIONS / 3)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
