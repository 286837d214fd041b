/**
 * SQLite for the toolchain's proofs and benchmark: the amalgamation from
 * the npm package better-sqlite3 (its tarball carries deps/sqlite3/, plain
 * files), fetched with `npm pack` into the C library's cache directory
 * (never committed), and the programs of examples/sqlite/ built over it
 * twice: by `zerovm cc` (a nexe) and by the host's gcc (the native twin).
 *
 * Pipeline position: test/toolchain/sqlite*.test.ts, test/examples-sqlite
 * and bench/sqlite.bench.ts -> here -> npm, bin/zerovm.js cc, gcc.
 *
 * Builds are cached by a hash of what goes into them (the amalgamation,
 * the program's sources, the options, and for a nexe the C library's
 * directory, whose name is the hash of the library and the sandboxing
 * pass), so a test run compiles SQLite once per machine and recompiles it
 * when any input changes. A build is written under a temporary name and
 * renamed, so test files building at once never see half a file.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { takeLock } from '../../src/toolchain/libc.js';
import { ROOT } from './helpers.js';

/** The npm package whose tarball carries SQLite's amalgamation (SQLite 3.53.2). */
export const SQLITE_PACKAGE = 'better-sqlite3@12.11.1';

/**
 * SQLite's compile options for a session (toolchain/README.md "SQLite"),
 * the same for the nexe and the native twin, so that both run the same code.
 */
export const SQLITE_OPTIONS: readonly string[] = [
  '-DSQLITE_THREADSAFE=0', // one thread per session: no mutexes
  '-DSQLITE_MAX_MMAP_SIZE=0', // no mmap in a session: pages are read with pread
  '-DSQLITE_OMIT_WAL', // WAL's index is shared memory (mmap of a -shm file)
  '-DSQLITE_OMIT_LOAD_EXTENSION', // no dlopen: a nexe is static
  '-DSQLITE_TEMP_STORE=3', // temporary tables and indexes always in memory: no writable temp directory
  '-DSQLITE_ENABLE_FTS5',
  '-DSQLITE_ENABLE_MEMSYS5', // the shell's -heap: SQLite's own allocator over one block
  '-DSQLITE_ENABLE_LOCKING_STYLE=0', // POSIX locks only; the shell makes "unix-none" (no locks) the default VFS
  '-DHAVE_NANOSLEEP=0', // sqlite3_sleep() through sleep(), which in a session returns at once, saying nothing was slept
];

/**
 * Where the package and the builds live: beside the C library's builds,
 * under the checkout (ROOT), also when the benchmarks run from dist-bench/.
 */
export function sqliteCacheDir(): string {
  return join(process.env.ZEROVM_TOOLCHAIN_CACHE ?? join(ROOT, 'node_modules', '.cache', 'zerovm-toolchain'), 'sqlite');
}

/**
 * The directory holding sqlite3.c and sqlite3.h, fetching the package the
 * first time (`npm pack` from the registry, as npm fetches any dependency).
 * Throws with npm's message when it cannot be fetched.
 */
export function sqliteSources(): string {
  const dir = join(sqliteCacheDir(), SQLITE_PACKAGE.replace('@', '-'));
  const src = join(dir, 'package', 'deps', 'sqlite3');
  if (existsSync(join(src, 'sqlite3.c')) && existsSync(join(src, 'sqlite3.h'))) return src;
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const pack = spawnSync('npm', ['pack', SQLITE_PACKAGE, '--pack-destination', work, '--silent'], { encoding: 'utf8', timeout: 300_000 });
    if (pack.status !== 0) throw new Error(`npm pack ${SQLITE_PACKAGE} failed (${pack.status}): ${pack.stderr || pack.error?.message}`);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (tarball === undefined) throw new Error(`npm pack ${SQLITE_PACKAGE} wrote no tarball`);
    const tar = spawnSync('tar', ['xzf', join(work, tarball), '-C', work, 'package/deps/sqlite3/sqlite3.c', 'package/deps/sqlite3/sqlite3.h'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`unpacking ${tarball}: ${tar.stderr}`);
    rmSync(join(work, tarball));
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another test file fetched it meanwhile: use theirs.
      if (!existsSync(join(src, 'sqlite3.c'))) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return src;
}

/** SQLite's version as sqlite3.h states it ("3.53.2"). */
export function sqliteVersion(): string {
  const m = /#define SQLITE_VERSION\s+"([^"]+)"/.exec(readFileSync(join(sqliteSources(), 'sqlite3.h'), 'utf8'));
  if (!m?.[1]) throw new Error('sqlite3.h names no SQLITE_VERSION');
  return m[1];
}

export type SqliteProgram = 'shell' | 'site';

export interface SqliteBuild {
  readonly path: string;
  /** Seconds the build took, or null when it came from the cache. */
  readonly seconds: number | null;
  /** SQLite's compiled amalgamation (an object file) the program was linked with. */
  readonly object: string;
}

function hashOf(parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(createHash('sha256').update(p).digest());
  return hash.digest('hex').slice(0, 16);
}

function zerovmCcLibc(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', '--print-libc'], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`zerovm cc --print-libc failed (${r.status}):\n${r.stderr}`);
  return r.stdout.trim();
}

function compile(kind: 'nexe' | 'native', args: readonly string[], what: string): void {
  const r =
    kind === 'nexe'
      ? spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', ...args], { encoding: 'utf8', timeout: 1_800_000 })
      : spawnSync('gcc', args, { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) throw new Error(`building ${what} (${kind}) failed (${r.status}):\n${r.stderr || r.error?.message}`);
}

/**
 * Builds OUT with `build(tmp)` unless it exists; the others named
 * PREFIX*SUFFIX are removed (older inputs). Test files run at once: one
 * builds (under the C library's kind of lock), the others wait for it.
 */
function cached(out: string, prefix: string, suffix: string, build: (tmp: string) => void): number | null {
  if (existsSync(out)) return null;
  const dir = join(out, '..');
  mkdirSync(dir, { recursive: true });
  const lock = `${out}.lock`;
  while (!takeLock(lock)) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    if (existsSync(out)) return null;
  }
  try {
    return existsSync(out) ? null : buildInto(out, dir, prefix, suffix, build);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function buildInto(out: string, dir: string, prefix: string, suffix: string, build: (tmp: string) => void): number {
  const tmp = `${out}.tmp-${process.pid}${suffix}`;
  const started = Date.now();
  try {
    build(tmp);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith(suffix) && join(dir, f) !== out && !f.includes('.tmp-') && !f.endsWith('.lock')) rmSync(join(dir, f), { force: true });
  return (Date.now() - started) / 1000;
}

/** SQLite's amalgamation compiled once (`-c`) for a kind: the slow part of every build, shared by the programs. */
function sqliteObject(kind: 'nexe' | 'native'): { path: string; seconds: number | null; compiler: string } {
  const src = sqliteSources();
  const flags = ['-O2', ...SQLITE_OPTIONS, `-I${src}`];
  const compiler = kind === 'nexe' ? zerovmCcLibc() : spawnSync('gcc', ['--version'], { encoding: 'utf8' }).stdout;
  const key = hashOf([readFileSync(join(src, 'sqlite3.c')), JSON.stringify(flags), kind, compiler]);
  const out = join(sqliteCacheDir(), 'builds', `sqlite3-${kind}-${key}.o`);
  const seconds = cached(out, `sqlite3-${kind}-`, '.o', (tmp) => compile(kind, [...flags, '-c', '-o', tmp, join(src, 'sqlite3.c')], 'sqlite3.c'));
  return { path: out, seconds, compiler };
}

/**
 * examples/sqlite/PROGRAM.c with SQLite, built by `zerovm cc -O2` (nexe)
 * or host gcc -O2 (native); cached (see the module header). `seconds`
 * counts SQLite's compilation when it was not cached.
 */
export function buildSqlite(program: SqliteProgram, kind: 'nexe' | 'native'): SqliteBuild {
  const object = sqliteObject(kind);
  const source = join(ROOT, 'examples', 'sqlite', `${program}.c`);
  const flags = ['-O2', '-Wall', `-I${sqliteSources()}`];
  const suffix = kind === 'nexe' ? '.nexe' : '.native';
  // The compiler (for a nexe: the C library's directory) too: a new C library changes the link, not SQLite's object.
  const key = hashOf([readFileSync(object.path), readFileSync(source), JSON.stringify(flags), object.compiler]);
  const out = join(sqliteCacheDir(), 'builds', `${program}-${key}${suffix}`);
  const seconds = cached(out, `${program}-`, suffix, (tmp) => compile(kind, [...flags, '-o', tmp, source, object.path, '-lm'], program));
  return { path: out, seconds: object.seconds === null && seconds === null ? null : (object.seconds ?? 0) + (seconds ?? 0), object: object.path };
}
