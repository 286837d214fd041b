/**
 * Job executor benchmark: `npx tsc -p tsconfig.bench.json && node
 * dist-bench/bench/jobs.bench.js` (or `npx tsx bench/jobs.bench.ts`).
 *
 * (1) hello sessions/s in this thread through the embedding API
 *     (Program.runSync, stdout to a buffer): the baseline;
 * (2) hello jobs/s (one node each) through a WorkerPoolExecutor with 1 and
 *     with 2 workers, 16 jobs in flight, threads warmed first; each on the
 *     native and the Unicorn engine where they can run;
 * (3) pipe throughput: a 32 MiB host file through `cat | wc` (two
 *     sessions, one ring pipe of the default 256 KiB) against the same cat
 *     writing to 'discard' (no pipe), MB/s of the job's wall time.
 * (4) warm starts (spec/serving.md "Warm starts"): a Lua 5.2 script
 *     request (bench/programs/lua-warm.c, built with `zerovm cc` from Lua's
 *     sources when they and the toolchain are here) as one-node jobs
 *     through a 1-worker pool, one at a time: cold (the set-up, then the
 *     script) against `warm: true` (from the thread's snapshot), and the
 *     first warm node (the set-up plus the snapshot), in blocks of 5 cold
 *     then 5 warm jobs. Target (issue 13): >= 10x faster start. Then warm
 *     jobs on a pool of 2 workers, 2 in flight: the set-ups it ran (its
 *     threads share snapshots: one) and the median job.
 * Every figure is the median of RUNS runs of at least MIN_MS each (1, 2) or
 * of RUNS jobs (3), of WARM_JOBS jobs (4). Knobs: ZEROVM_BENCH_RUNS (default
 * 5), ZEROVM_BENCH_MIN_MS (default 1000), ZEROVM_BENCH_WARM_JOBS (default
 * 30), ZEROVM_BENCH_JOBS=warm (only (4)).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Program } from '../src/api/index.js';
import type { EngineName } from '../src/api/engine-choice.js';
import { unicornEngine } from '../src/emulator/unicorn.js';
import { nativeEngine } from '../src/engines/native.js';
import type { JobPlan } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { buildUnavailable, zerovmCc } from '../test/toolchain/helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: bench/ from tsx, dist-bench/bench/ when compiled. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const WC = join(ROOT, 'examples', 'wc.nexe');
const RUNS = Math.max(1, Number(process.env.ZEROVM_BENCH_RUNS ?? 5) || 5);
const MIN_MS = Math.max(1, Number(process.env.ZEROVM_BENCH_MIN_MS ?? 1000) || 1000);
const IN_FLIGHT = 16;
const INPUT_BYTES = 32 * 1024 * 1024;
const WARM_JOBS = Math.max(3, Number(process.env.ZEROVM_BENCH_WARM_JOBS ?? 30) || 30);
const ONLY_WARM = process.env.ZEROVM_BENCH_JOBS === 'warm';
const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const rows: { what: string; value: string }[] = [];
const engines = ([['native', nativeEngine], ['unicorn', unicornEngine]] as const).filter(([, engine]) => engine.unavailableReason() === null).map(([name]) => name as EngineName);

function inProcessRate(engine: EngineName): number {
  const program = Program.load(HELLO, { engine });
  const once = (): void => {
    const outcome = program.runSync({ engine });
    if (outcome.exitState !== 'ok') throw new Error(`hello: ${outcome.exitState}`);
  };
  for (let i = 0; i < 20; i++) once();
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let count = 0;
    const start = performance.now();
    do {
      once();
      count++;
    } while (performance.now() - start < MIN_MS);
    rates.push((count * 1000) / (performance.now() - start));
  }
  return median(rates);
}

async function poolRate(engine: EngineName, workers: number): Promise<number> {
  const pool = new WorkerPoolExecutor({ workers });
  await pool.warm();
  const plan: JobPlan = { nodes: [{ name: 'hello', program: HELLO, engine }] };
  const job = async (): Promise<void> => {
    const result = await pool.run(plan);
    if (result.nodes[0]!.exitState !== 'ok') throw new Error(`hello: ${result.nodes[0]!.exitState} ${result.nodes[0]!.error?.message ?? ''}`);
  };
  await Promise.all(Array.from({ length: 40 }, job));
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let count = 0;
    const start = performance.now();
    const lane = async (): Promise<void> => {
      while (performance.now() - start < MIN_MS) {
        await job();
        count++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    rates.push((count * 1000) / (performance.now() - start));
  }
  await pool.close();
  return median(rates);
}

async function pipeThroughput(engine: EngineName): Promise<{ piped: number; alone: number }> {
  const pool = new WorkerPoolExecutor({ workers: 2 });
  await pool.warm();
  /* a host file (in the page cache after the first run): no copy of the input crosses threads */
  const input = join(mkdtempSync(join(tmpdir(), 'zerovm-jobs-bench-')), 'input');
  writeFileSync(input, Buffer.alloc(INPUT_BYTES, 0x61));
  const piped: JobPlan = {
    nodes: [
      { name: 'cat', program: CAT, engine, stdin: { file: input }, stdout: { pipe: 'p' } },
      { name: 'wc', program: WC, engine, stdin: { pipe: 'p' } },
    ],
    pipes: [{ id: 'p', from: 'cat', to: 'wc' }],
  };
  const alone: JobPlan = { nodes: [{ name: 'cat', program: CAT, engine, stdin: { file: input }, stdout: 'discard' }] };
  const mbPerSecond = async (plan: JobPlan): Promise<number> => {
    const rates: number[] = [];
    for (let run = 0; run <= RUNS; run++) {
      const start = performance.now();
      const result = await pool.run(plan);
      const ms = performance.now() - start;
      if (result.nodes.some((n) => n.exitState !== 'ok')) throw new Error(`pipe job: ${result.nodes.map((n) => n.exitState).join(', ')}`);
      if (run > 0) rates.push(INPUT_BYTES / 1e6 / (ms / 1000)); /* the first run warms up */
    }
    return median(rates);
  };
  const result = { piped: await mbPerSecond(piped), alone: await mbPerSecond(alone) };
  await pool.close();
  rmSync(dirname(input), { recursive: true, force: true });
  return result;
}

/** bench/programs/lua-warm.c built with Lua's sources, or why it cannot be. */
function buildLuaWarm(dir: string): string | { skipped: string } {
  const why = buildUnavailable();
  if (why !== null) return { skipped: why };
  if (!existsSync(LUA_SRC)) return { skipped: `no Lua 5.2 sources at ${LUA_SRC} (Debian: librust-lua52-sys-dev)` };
  const nexe = join(dir, 'lua-warm.nexe');
  const sources = readdirSync(LUA_SRC).filter((f) => f.endsWith('.c') && f !== 'lua.c' && f !== 'luac.c').map((f) => join(LUA_SRC, f));
  zerovmCc(['-O2', '-DLUA_COMPAT_ALL', '-I', LUA_SRC, '-o', nexe, join(ROOT, 'bench', 'programs', 'lua-warm.c'), ...sources, '-lm']);
  return nexe;
}

/** Milliseconds per one-node Lua job, cold and warm, one at a time on one thread. */
async function warmAgainstCold(engine: EngineName, nexe: string): Promise<{ cold: number; warm: number; firstWarm: number; ratio: number }> {
  const pool = new WorkerPoolExecutor({ workers: 1 });
  await pool.warm();
  const script = Buffer.from('print(helpers[7](35), string.rep("ab", 3))');
  const job = async (warm: boolean): Promise<{ ms: number; out: string }> => {
    /* cold answers are checked here too: both must print what the script asks */
    const start = performance.now();
    const result = await pool.run({ nodes: [{ name: 'lua', program: nexe, engine, warm, stdin: { bytes: script } }] });
    const ms = performance.now() - start;
    const node = result.nodes[0]!;
    if (node.exitState !== 'ok' || (warm && node.warm?.fromSnapshot !== true) || Buffer.from(node.outputs['/dev/stdout'] ?? new Uint8Array(0)).toString() !== '42\tababab\n') throw new Error(`lua: ${node.exitState} ${node.error?.message ?? ''} ${node.warm?.reason ?? ''}`);
    return { ms, out: Buffer.from(node.outputs['/dev/stdout'] ?? new Uint8Array(0)).toString() };
  };
  await job(false); /* loads and validates the program */
  const first = await job(true);
  for (let k = 0; k < 5; k++) await job(true);
  const cold: number[] = [];
  const warm: number[] = [];
  const ratios: number[] = [];
  /* blocks of BLOCK cold jobs then BLOCK warm ones (a server's requests follow each other; a warm start right after a cold session pays for the cold one's unmapping): the ratio of each block pair's medians */
  const BLOCK = 5;
  for (let i = 0; i < Math.ceil(WARM_JOBS / BLOCK); i++) {
    const c: number[] = [];
    const w: number[] = [];
    for (let k = 0; k < BLOCK; k++) c.push((await job(false)).ms);
    for (let k = 0; k < BLOCK; k++) {
      const answer = await job(true);
      if (answer.out !== '42\tababab\n') throw new Error(`the warm answer differs from the cold one: ${JSON.stringify(answer.out)}`);
      w.push(answer.ms);
    }
    cold.push(...c);
    warm.push(...w);
    ratios.push(median(c) / median(w));
  }
  await pool.close();
  return { cold: median(cold), warm: median(warm), firstWarm: first.ms, ratio: median(ratios) };
}

/** Warm Lua jobs on a pool of 2 threads, 2 in flight: how many set-ups the pool ran (it shares snapshots among its threads) and the median job. */
async function warmOnTwoThreads(engine: EngineName, nexe: string): Promise<{ setUps: number; jobs: number; ms: number }> {
  const pool = new WorkerPoolExecutor({ workers: 2 });
  await pool.warm();
  const script = Buffer.from('print(helpers[7](35), string.rep("ab", 3))');
  let setUps = 0;
  const times: number[] = [];
  const job = async (): Promise<void> => {
    const start = performance.now();
    const result = await pool.run({ nodes: [{ name: 'lua', program: nexe, engine, warm: true, stdin: { bytes: script } }] });
    times.push(performance.now() - start);
    const node = result.nodes[0]!;
    if (node.exitState !== 'ok' || node.warm?.fromSnapshot !== true) throw new Error(`lua: ${node.exitState} ${node.warm?.reason ?? ''}`);
    if (node.warm.setUp) setUps++;
  };
  await pool.run({ nodes: [{ name: 'lua', program: nexe, engine, stdin: { bytes: script } }] }); /* loads and validates the program */
  await job(); /* the set-up, on one thread (two nodes meeting a new key at once would both set up) */
  const lanes = 2;
  const perLane = Math.ceil(WARM_JOBS / lanes);
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (let k = 0; k < perLane; k++) await job();
  }));
  await pool.close();
  return { setUps, jobs: lanes * perLane + 1, ms: median(times) };
}

for (const engine of ONLY_WARM ? [] : engines) {
  const inProcess = inProcessRate(engine);
  rows.push({ what: `[${engine}] hello sessions/s, in this thread (Program.runSync)`, value: `${inProcess.toFixed(0)} /s` });
  for (const workers of [1, 2]) {
    const rate = await poolRate(engine, workers);
    rows.push({ what: `[${engine}] hello jobs/s, pool of ${workers} worker${workers > 1 ? 's' : ''}, ${IN_FLIGHT} in flight`, value: `${rate.toFixed(0)} /s (${(rate / inProcess).toFixed(2)}x in-thread)` });
  }
  const pipe = await pipeThroughput(engine);
  rows.push({ what: `[${engine}] 32 MiB cat | wc through a 256 KiB pipe`, value: `${pipe.piped.toFixed(0)} MB/s (cat alone to discard: ${pipe.alone.toFixed(0)} MB/s)` });
}

{
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-jobs-bench-lua-'));
  try {
    const lua = buildLuaWarm(dir);
    for (const engine of engines) {
      if (typeof lua !== 'string') {
        rows.push({ what: `[${engine}] Lua script job, warm against cold`, value: `skipped: ${lua.skipped}` });
        continue;
      }
      const r = await warmAgainstCold(engine, lua);
      rows.push({
        what: `[${engine}] Lua script job (lua-warm.c), 1 worker, one at a time`,
        value: `cold ${r.cold.toFixed(2)} ms, warm ${r.warm.toFixed(2)} ms: ${r.ratio.toFixed(1)}x (first warm node, with the set-up: ${r.firstWarm.toFixed(1)} ms)`,
      });
      const two = await warmOnTwoThreads(engine, lua);
      rows.push({ what: `[${engine}] Lua warm jobs, pool of 2 workers, 2 in flight`, value: `${two.setUps} set-up(s) for ${two.jobs} jobs (snapshots shared by the threads), median ${two.ms.toFixed(2)} ms` });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`Job executor (${availableParallelism()} CPUs, median of ${RUNS} runs)`);
const width = Math.max(...rows.map((r) => r.what.length));
for (const row of rows) console.log(`  ${row.what.padEnd(width)}  ${row.value}`);
