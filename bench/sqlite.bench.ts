/**
 * SQLite benchmark: `npx tsc -p tsconfig.bench.json && node
 * dist-bench/bench/sqlite.bench.js` (part of `npm run bench`; skipped with a
 * message without gcc, clang-14, newlib-source, the native engine or the
 * npm registry, which serves SQLite's amalgamation).
 *
 * (1) code size: SQLite's amalgamation compiled by `zerovm cc -O2 -c`
 *     against the host's `gcc -O2 -c` (x86-64), same options
 *     (test/toolchain/sqlite.ts): .text of each object, ratio = sandboxed /
 *     native, nop padding apart (toolchain/README.md "Performance" explains
 *     the floor near 1.6x).
 * (2) run time: one script on an in-memory database, 100 000 INSERT
 *     statements in a transaction, an index, 1 000 indexed lookups, a
 *     group-by over the table and a join, through examples/sqlite/shell.c
 *     built both ways. The session runs through runSession in this process
 *     (load + validate + run); the native twin is a child process. PAIRS
 *     interleaved pairs (default 11; ZEROVM_BENCH_PAIRS); reported: the
 *     median of the per-pair ratios of CPU time (user + system) and of wall
 *     time, and the medians of each side; and the CPU time of the script
 *     alone: each side minus the same program run on `SELECT 1;` in the
 *     same pair (a session's fixed cost: loading and validating 1.7 MB of
 *     code, setting up channels; a process's: exec and dynamic linking).
 *     Twice: with the C library's malloc (newlib's vs glibc's: not the
 *     same code), and with `-heap 64M` (SQLite's own allocator on both
 *     sides, so that both run the same code apart from the C library's
 *     string functions).
 *
 * Target (issue 12): <= 1.25x CPU time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runNexe, unavailable } from '../test/toolchain/helpers.js';
import { buildSqlite, sqliteCacheDir, sqliteVersion } from '../test/toolchain/sqlite.js';
import { cpuMs, median, nativeRun, textSize } from './native-measure.js';

const PAIRS = Number(process.env.ZEROVM_BENCH_PAIRS ?? 11);
const ROWS = 100_000;
const LOOKUPS = 1_000;

function script(): string {
  const lines = ['CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, g INTEGER, s TEXT);', 'CREATE TABLE groups(id INTEGER PRIMARY KEY, name TEXT);', 'BEGIN;'];
  for (let i = 1; i <= ROWS; i++) lines.push(`INSERT INTO t VALUES (${i}, ${(i * 7919) % 100_003}, ${i % 100}, 'row ${i} of the benchmark');`);
  for (let g = 0; g < 100; g++) lines.push(`INSERT INTO groups VALUES (${g}, 'group ${(g * 37) % 100}');`);
  lines.push('COMMIT;', 'CREATE INDEX t_k ON t(k);');
  for (let i = 0; i < LOOKUPS; i++) lines.push(`SELECT id, s FROM t WHERE k = ${(i * 104_729) % 100_003};`);
  lines.push('SELECT g, count(*), sum(k), min(s) FROM t GROUP BY g ORDER BY g;');
  lines.push('SELECT groups.name, count(*), avg(t.k) FROM t JOIN groups ON groups.id = t.g WHERE t.k % 3 = 0 GROUP BY groups.name ORDER BY 2 DESC, 1 LIMIT 10;');
  return lines.join('\n') + '\n';
}

const reason = unavailable();
if (reason !== null) {
  console.log(`sqlite benchmark skipped: ${reason}`);
} else {
  let ready = true;
  try {
    sqliteVersion();
  } catch (error) {
    ready = false;
    console.log(`sqlite benchmark skipped: SQLite's sources could not be fetched into ${sqliteCacheDir()}: ${(error as Error).message}`);
  }
  if (ready) {
    const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-sqlite-'));
    try {
      const nexe = buildSqlite('shell', 'nexe');
      const host = buildSqlite('shell', 'native');
      if (nexe.seconds !== null) console.log(`sqlite ${sqliteVersion()}: shell built with zerovm cc in ${nexe.seconds.toFixed(1)} s`);
      const sandboxed = textSize(nexe.object);
      const native = textSize(host.object);
      console.log(
        `sqlite ${sqliteVersion()} .text: sandboxed ${sandboxed.text} B (${sandboxed.padding} B padding), native ${native.text} B (${native.padding} B padding), ratio ${(sandboxed.text / native.text).toFixed(3)}; without padding on either side ${((sandboxed.text - sandboxed.padding) / (native.text - native.padding)).toFixed(3)}`,
      );

      const input = join(dir, 'bench.sql');
      const text = script();
      writeFileSync(input, text);
      const empty = join(dir, 'empty.sql');
      writeFileSync(empty, 'SELECT 1;\n');
      for (const args of [[], ['-heap', '64M']]) {
        const label = args.length === 0 ? 'malloc' : `${args.join(' ')}`;
        const sandboxRun = (sql: string) => {
          const t = performance.now();
          const c = cpuMs();
          const got = runNexe(dir, nexe.path, { input: sql, args });
          const cpu = cpuMs() - c;
          return { cpu, wall: performance.now() - t, got };
        };
        const series = () => ({ sandboxed: [] as number[], native: [] as number[], ratio: [] as number[] });
        const cpu = series();
        const wall = series();
        const marginal = series();
        for (let i = 0; i < PAIRS; i++) {
          const want = nativeRun(host.path, args, input, join(dir, 'bench.out'));
          const got = sandboxRun(text);
          if (got.got.stdout !== want.stdout || got.got.exitState !== 'ok') throw new Error(`outputs differ (${got.got.exitState}): ${got.got.stderr}`);
          // The fixed cost of a session (the nexe loaded and validated, the manifest and channels set up) and of a process, alone.
          const nativeEmpty = nativeRun(host.path, args, empty, join(dir, 'empty.out'));
          const sandboxEmpty = sandboxRun('SELECT 1;\n');
          cpu.sandboxed.push(got.cpu);
          cpu.native.push(want.cpu);
          cpu.ratio.push(got.cpu / want.cpu);
          wall.sandboxed.push(got.wall);
          wall.native.push(want.wall);
          wall.ratio.push(got.wall / want.wall);
          marginal.sandboxed.push(got.cpu - sandboxEmpty.cpu);
          marginal.native.push(want.cpu - nativeEmpty.cpu);
          marginal.ratio.push((got.cpu - sandboxEmpty.cpu) / (want.cpu - nativeEmpty.cpu));
        }
        for (const [name, m] of [['cpu', cpu], ['cpu, the script alone (minus an empty session / process)', marginal], ['wall', wall]] as const) {
          console.log(
            `sqlite script (${ROWS} inserts, index, ${LOOKUPS} lookups, group-by, join; ${label}), ${name} time (${PAIRS} interleaved pairs): sandboxed median ${median(m.sandboxed).toFixed(0)} ms, native median ${median(m.native).toFixed(0)} ms, median pair ratio ${median(m.ratio).toFixed(3)} (pair ratios ${Math.min(...m.ratio).toFixed(3)}..${Math.max(...m.ratio).toFixed(3)}; target <= 1.25)`,
          );
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
