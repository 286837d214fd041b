/**
 * The C library for `zerovm cc` programs: newlib 3.3 (Debian's
 * newlib-source, the library ZeroVM's own toolchain shipped) compiled with
 * our driver, plus zrt (toolchain/zrt: crt0, the trap and setjmp/longjmp, the
 * system-call layer over the trap, and the few libgcc helpers gcc calls).
 *
 * Pipeline position: `zerovm cc` (link step) and `npm run build:toolchain`
 * -> here -> driver.ts compileFile for each source -> ar -> a cache
 * directory keyed by a hash of everything that goes into the build, so it
 * is built once per machine and rebuilt when the pass, the flags or the
 * sources change. Nothing here is committed: it is generated.
 *
 * Why not newlib's configure: it targets cross compilers named
 * <target>-gcc, runs many slow configure scripts, and for x86_64 pulls in
 * LP64 assembly (memcpy.S, setjmp.S) that is wrong for the ILP32 sandbox.
 * Instead we compile the portable C of the directories a program needs
 * (stdio, stdlib, string, ctype, time, locale, reent, errno, signal,
 * search, misc; libm's common and math), with a hand-written newlib.h
 * (toolchain/include), and the variants newlib's Makefiles build from one
 * source with different -D flags (listed below).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { archive, compileFile, PACKAGE_ROOT, SANDBOX_CFLAGS, TOOLCHAIN_DIR, ToolchainError, type Tools } from './driver.js';

export const NEWLIB_TARBALL = process.env.ZEROVM_NEWLIB_TARBALL ?? '/usr/src/newlib/newlib-3.3.0.tar.xz';

/** Everything a program link needs. */
export interface Libc {
  readonly dir: string;
  /** -isystem directories, in order. */
  readonly includes: readonly string[];
  readonly startFiles: readonly string[];
  /** libc.a: newlib's C library with zrt (the system calls over the trap) inside. */
  readonly libc: string;
  /** libm.a: newlib's math library. */
  readonly libm: string;
  /**
   * libgcc.a: the helpers gcc's code calls (zrt/libgcc.c), apart from libc.a
   * because `-nolibc` drops the C library but keeps them, as gcc does.
   */
  readonly libgcc: string;
  readonly linkerScript: string;
}

/** The files a build leaves in its directory; part of the cache key, so a new layout is rebuilt. */
const LAYOUT = ['crt0.o', 'libc.a', 'libm.a', 'libgcc.a'] as const;

// syscalls: the POSIX names (write, read, open, lseek, close...) over the _write/_read... of toolchain/zrt.
const LIBC_DIRS = ['stdio', 'stdlib', 'string', 'ctype', 'time', 'locale', 'reent', 'errno', 'signal', 'search', 'misc', 'syscalls'];
const LIBM_DIRS = ['common', 'math'];

/** Sources left out: another implementation is chosen, or they need what a sandbox lacks. */
const EXCLUDED = new Set([
  'stdio/nano-vfprintf.c',
  'stdio/nano-vfprintf_float.c',
  'stdio/nano-vfprintf_i.c',
  'stdio/nano-vfscanf.c',
  'stdio/nano-vfscanf_float.c',
  'stdio/nano-vfscanf_i.c',
  'stdlib/nano-mallocr.c',
  // mallocr.c is built as its DEFINE_* variants below.
  'stdlib/mallocr.c',
  // Built without HAVE_FCNTL it is a stub failing with ENOSYS; zrt defines fcntl() over _fcntl.
  'syscalls/sysfcntl.c',
]);

/** Objects newlib's Makefiles build from one source with extra flags. */
const VARIANTS: readonly { source: string; object: string; flags: readonly string[] }[] = [
  ...['MALLOC', 'FREE', 'REALLOC', 'CALLOC', 'CFREE', 'MEMALIGN', 'VALLOC', 'PVALLOC', 'MALLINFO', 'MALLOC_STATS', 'MALLOC_USABLE_SIZE', 'MALLOPT'].map((d) => ({
    source: 'stdlib/mallocr.c',
    object: `mallocr-${d.toLowerCase()}`,
    flags: ['-DINTERNAL_NEWLIB', `-DDEFINE_${d}`],
  })),
  { source: 'stdio/vfprintf.c', object: 'vfiprintf', flags: ['-DINTEGER_ONLY'] },
  { source: 'stdio/vfprintf.c', object: 'svfprintf', flags: ['-DSTRING_ONLY'] },
  { source: 'stdio/vfprintf.c', object: 'svfiprintf', flags: ['-DINTEGER_ONLY', '-DSTRING_ONLY'] },
  { source: 'stdio/vfwprintf.c', object: 'vfiwprintf', flags: ['-DINTEGER_ONLY'] },
  { source: 'stdio/vfwprintf.c', object: 'svfwprintf', flags: ['-DSTRING_ONLY'] },
  { source: 'stdio/vfwprintf.c', object: 'svfiwprintf', flags: ['-DINTEGER_ONLY', '-DSTRING_ONLY'] },
  { source: 'stdio/vfscanf.c', object: 'vfiscanf', flags: ['-DINTEGER_ONLY'] },
  { source: 'stdio/vfscanf.c', object: 'svfscanf', flags: ['-DSTRING_ONLY'] },
  { source: 'stdio/vfscanf.c', object: 'svfiscanf', flags: ['-DINTEGER_ONLY', '-DSTRING_ONLY'] },
  { source: 'stdio/vfwscanf.c', object: 'vfiwscanf', flags: ['-DINTEGER_ONLY'] },
  { source: 'stdio/vfwscanf.c', object: 'svfwscanf', flags: ['-DSTRING_ONLY'] },
  { source: 'stdio/vfwscanf.c', object: 'svfiwscanf', flags: ['-DINTEGER_ONLY', '-DSTRING_ONLY'] },
  { source: 'time/strftime.c', object: 'wcsftime', flags: ['-DMAKE_WCSFTIME'] },
];

/**
 * Flags newlib is compiled with (its Makefile.shared's, minus the
 * cross-compiler ones). HAVE_FCNTL: fcntl() reaches zrt's _fcntl (without
 * it newlib's fcntl() fails with ENOSYS), fdopen() checks the descriptor's
 * access mode, and stdout is line buffered only when it is a terminal (a
 * char-device channel), not always.
 */
const NEWLIB_CFLAGS = ['-O2', '-fno-builtin', '-D_COMPILING_NEWLIB', '-DHAVE_INIT_FINI_ARRAY', '-DHAVE_FCNTL', '-w'];

function listFiles(dir: string, ext: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort();
}

/** The sandboxing pass's modules (att.ts and sandbox.ts, or their .js). */
const PASS_SOURCE = /^(att|sandbox)\.(ts|js)$/;

/**
 * Where the pass's modules are: beside this one (src/toolchain under tsx,
 * dist/toolchain), or, when this code runs from the command-line bundle
 * (dist/bundle, spec/runtime.md "Process start"), tsc's copies in
 * dist/toolchain, which the same build wrote. Never nowhere: a key
 * without the pass would keep a library the pass no longer makes.
 */
function passSourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(PACKAGE_ROOT, 'dist', 'toolchain')]) {
    if (existsSync(dir) && readdirSync(dir).some((f) => PASS_SOURCE.test(f))) return dir;
  }
  throw new ToolchainError(`the sandboxing pass's sources (att, sandbox) are neither in ${here} nor in dist/toolchain: run \`npm run build\``);
}

/** The cache key: the newlib tarball, our toolchain files, the pass and the flags. */
function buildKey(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(NEWLIB_TARBALL));
  const add = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) add(p);
      else if (/\.(c|S|h|ld)$/.test(entry.name)) {
        hash.update(entry.name);
        hash.update(readFileSync(p));
      }
    }
  };
  add(TOOLCHAIN_DIR);
  // The pass decides every instruction of the library: its source is part of the key.
  const passDir = passSourceDir();
  for (const f of readdirSync(passDir).sort()) {
    if (PASS_SOURCE.test(f)) hash.update(readFileSync(join(passDir, f)));
  }
  hash.update(JSON.stringify([SANDBOX_CFLAGS, NEWLIB_CFLAGS, LIBC_DIRS, LIBM_DIRS, [...EXCLUDED], VARIANTS, LAYOUT]));
  return hash.digest('hex').slice(0, 16);
}

export function cacheRoot(): string {
  return process.env.ZEROVM_TOOLCHAIN_CACHE ?? join(PACKAGE_ROOT, 'node_modules', '.cache', 'zerovm-toolchain');
}

function libcFor(dir: string, newlib: string): Libc {
  return {
    dir,
    includes: [join(TOOLCHAIN_DIR, 'include'), join(newlib, 'libc', 'include')],
    startFiles: [join(dir, 'crt0.o')],
    libc: join(dir, 'libc.a'),
    libm: join(dir, 'libm.a'),
    libgcc: join(dir, 'libgcc.a'),
    linkerScript: join(TOOLCHAIN_DIR, 'nexe.ld'),
  };
}

/** Runs jobs with at most `limit` at a time; collects every failure. */
async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<Error[]> {
  const errors: Error[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await job(item);
      } catch (error) {
        errors.push(error as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  return errors;
}

export interface BuildProgress {
  (message: string): void;
}

/**
 * Returns the built C library, building it first when the cache has no
 * build for the current key (a few minutes on two cores; `log` hears about
 * it). Concurrent callers (parallel test files, make -j) wait for one
 * builder, which holds a lock directory naming its pid; a dead holder's
 * lock is taken over (takeLock).
 */
export async function ensureLibc(tools: Tools, log: BuildProgress = () => {}): Promise<Libc> {
  if (!existsSync(NEWLIB_TARBALL)) {
    throw new ToolchainError(`the C library is built from newlib's sources, expected at ${NEWLIB_TARBALL} (Debian: apt-get install newlib-source; or set ZEROVM_NEWLIB_TARBALL)`);
  }
  const root = cacheRoot();
  const key = buildKey();
  const dir = join(root, key);
  if (existsSync(join(dir, 'complete'))) return libcFor(dir, join(dir, 'newlib'));

  // One builder at a time (test files run in parallel): wait for a live holder of the lock.
  mkdirSync(root, { recursive: true });
  const lock = `${dir}.lock`;
  while (!takeLock(lock)) {
    if (existsSync(join(dir, 'complete'))) return libcFor(dir, join(dir, 'newlib'));
    await new Promise((r) => setTimeout(r, 1000));
  }
  try {
    if (existsSync(join(dir, 'complete'))) return libcFor(dir, join(dir, 'newlib'));
    return await build(tools, root, key, dir, log);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Tries to take the build lock: a directory holding the holder's pid. It
 * appears with its pid already inside (made under a private name, then
 * renamed into place; rename fails onto a non-empty directory), so a lock
 * without a pid, or with a pid no longer running, was left by a builder
 * that died, and is removed.
 */
export function takeLock(lock: string): boolean {
  const mine = `${lock}-${process.pid}`;
  rmSync(mine, { recursive: true, force: true });
  mkdirSync(mine);
  writeFileSync(join(mine, 'pid'), String(process.pid));
  try {
    renameSync(mine, lock);
    return true;
  } catch {
    rmSync(mine, { recursive: true, force: true });
  }
  if (!existsSync(lock)) return false; // just released: try again
  let holder = NaN;
  try {
    holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    // A lock without a pid: left by a builder of an older version that died before writing it.
  }
  if (!Number.isInteger(holder) || !isAlive(holder)) rmSync(lock, { recursive: true, force: true });
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function build(tools: Tools, root: string, key: string, dir: string, log: BuildProgress): Promise<Libc> {
  const started = Date.now();
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log(`zerovm cc: building the C library (newlib 3.3 + zrt) into ${dir}; this happens once`);
  const src = join(work, 'src');
  mkdirSync(src);
  execFileSync('tar', ['xJf', NEWLIB_TARBALL, '-C', src]);
  const top = readdirSync(src)[0];
  if (top === undefined) throw new ToolchainError(`${NEWLIB_TARBALL} is empty`);
  // Keep only newlib/ (headers are needed by every later compile).
  const newlib = join(work, 'newlib');
  renameSync(join(src, top, 'newlib'), newlib);
  rmSync(src, { recursive: true, force: true });

  const finalNewlib = join(dir, 'newlib');
  const libc = libcFor(work, newlib);
  const env = { tools, systemIncludes: libc.includes };
  const objDir = join(work, 'obj');
  mkdirSync(objDir);

  interface Job {
    source: string;
    object: string;
    flags: readonly string[];
    lib: 'c' | 'm' | 'gcc';
  }
  const jobs: Job[] = [];
  for (const d of LIBC_DIRS) {
    for (const f of listFiles(join(newlib, 'libc', d), '.c')) {
      if (EXCLUDED.has(`${d}/${f}`)) continue;
      // `#include <local.h>` in some sources means their own directory.
      jobs.push({ source: join(newlib, 'libc', d, f), object: join(objDir, `c-${d}-${basename(f, '.c')}.o`), flags: [...NEWLIB_CFLAGS, `-I${join(newlib, 'libc', d)}`], lib: 'c' });
    }
  }
  for (const v of VARIANTS) {
    jobs.push({ source: join(newlib, 'libc', v.source), object: join(objDir, `c-${v.object}.o`), flags: [...NEWLIB_CFLAGS, `-I${join(newlib, 'libc', dirname(v.source))}`, ...v.flags], lib: 'c' });
  }
  for (const d of LIBM_DIRS) {
    for (const f of listFiles(join(newlib, 'libm', d), '.c')) {
      jobs.push({ source: join(newlib, 'libm', d, f), object: join(objDir, `m-${d}-${basename(f, '.c')}.o`), flags: [...NEWLIB_CFLAGS, `-I${join(newlib, 'libm', 'common')}`], lib: 'm' });
    }
  }
  const zrtFlags = ['-O2', '-Wall'];
  jobs.push({ source: join(TOOLCHAIN_DIR, 'zrt', 'zrt.c'), object: join(objDir, 'zrt.o'), flags: zrtFlags, lib: 'c' });
  // The trap and setjmp/longjmp: in libc.a, so that -nostartfiles (no crt0.o) keeps them.
  jobs.push({ source: join(TOOLCHAIN_DIR, 'zrt', 'trap.S'), object: join(objDir, 'zrt-trap.o'), flags: [], lib: 'c' });
  jobs.push({ source: join(TOOLCHAIN_DIR, 'zrt', 'libgcc.c'), object: join(objDir, 'zrt-libgcc.o'), flags: [...zrtFlags, '-fno-builtin'], lib: 'gcc' });
  const crt0 = join(work, 'crt0.o');

  let done = 0;
  process.once('exit', () => rmSync(work, { recursive: true, force: true }));
  const errors = await pool(jobs, availableParallelism(), async (job) => {
    await compileFile(env, job.source, job.object, { flags: job.flags });
    done++;
    if (done % 100 === 0) log(`zerovm cc: C library ${done}/${jobs.length} files`);
  });
  await compileFile(env, join(TOOLCHAIN_DIR, 'zrt', 'crt0.S'), crt0, { flags: [] });
  if (errors.length > 0) {
    throw new ToolchainError(`building the C library failed (${errors.length} of ${jobs.length} files):\n${errors.map((e) => e.message).join('\n').slice(0, 8000)}`);
  }
  await archive(tools, join(work, 'libc.a'), jobs.filter((j) => j.lib === 'c').map((j) => j.object));
  await archive(tools, join(work, 'libm.a'), jobs.filter((j) => j.lib === 'm').map((j) => j.object));
  await archive(tools, join(work, 'libgcc.a'), jobs.filter((j) => j.lib === 'gcc').map((j) => j.object));
  rmSync(objDir, { recursive: true, force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  writeFileSync(join(work, 'complete'), `newlib 3.3.0 + zrt, ${jobs.length} files, built in ${seconds} s\n`);
  mkdirSync(root, { recursive: true });
  // Builds for older keys are dead weight (about 10 MB each): keep only this one.
  for (const old of readdirSync(root)) if (old !== key && /^[0-9a-f]{16}$/.test(old)) rmSync(join(root, old), { recursive: true, force: true });
  renameSync(work, dir);
  log(`zerovm cc: C library built in ${seconds} s (${jobs.length} files)`);
  return libcFor(dir, finalNewlib);
}

/** True when a build for the current sources is already cached (tests use it to explain a slow first run). */
export function libcIsCached(): boolean {
  try {
    return existsSync(join(cacheRoot(), buildKey(), 'complete')) && statSync(join(cacheRoot(), buildKey(), 'libc.a')).size > 0;
  } catch {
    return false;
  }
}
