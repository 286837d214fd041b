/**
 * Shared set-up for the toolchain's end-to-end tests: is everything there
 * (gcc with -mx32, clang-14, binutils, newlib's sources, the native engine),
 * `zerovm cc` through the real command line, and running a nexe in a
 * session whose channels are files (so a test can add an nvram with a
 * [fstab] image, which `zerovm run` does not write).
 *
 * Missing pieces skip the tests with a loud warning locally and fail them
 * under CI (process.env.CI).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeEngine } from '../../src/engines/native.js';
import { formatManifest, MANIFEST_VERSION, parseChannelUri, type ManifestChannel } from '../../src/runtime/manifest.js';
import { formatNvram, type NvramMount } from '../../src/runtime/nvram.js';
import type { Engine } from '../../src/runtime/engine.js';
import { runSession } from '../../src/runtime/session.js';
import { findTools } from '../../src/toolchain/driver.js';
import { NEWLIB_TARBALL } from '../../src/toolchain/libc.js';

/** The checkout: test/toolchain/ from vitest or tsx, dist-bench/test/toolchain/ when compiled with the benchmarks. */
export const ROOT = [join(import.meta.dirname, '..', '..'), join(import.meta.dirname, '..', '..', '..')].find((d) => existsSync(join(d, 'bin', 'zerovm.js'))) ?? join(import.meta.dirname, '..', '..');
export const ci = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Why nexes cannot be built here, or null. The end-to-end suites check
 * engines per case (test/engine-matrix.ts): `zerovm cc` validates with the
 * project's validator and needs no engine.
 */
export function buildUnavailable(): string | null {
  const tools = findTools();
  if (typeof tools === 'string') return tools;
  if (!existsSync(NEWLIB_TARBALL)) return `newlib's sources are missing (${NEWLIB_TARBALL}; Debian: newlib-source)`;
  return null;
}

/** Why nexes cannot be built and run on the native engine here, or null (bench/toolchain.bench.ts). */
export function unavailable(): string | null {
  const build = buildUnavailable();
  if (build !== null) return build;
  const engine = nativeEngine.unavailableReason();
  return engine === null ? null : `native engine: ${engine}`;
}

/** Warns (locally) and says whether a suite that builds nexes (and, with needsNative, runs them natively) must skip; under CI it never skips. */
export function warnIfSkipped(what: string, needsNative = false): boolean {
  const reason = needsNative ? unavailable() : buildUnavailable();
  if (reason !== null && !ci) console.warn(`\n*** ${what} SKIPPED: ${reason} ***\n`);
  return reason !== null && !ci;
}

/** Runs `zerovm cc ARGS` (bin/zerovm.js, as users do); throws with its stderr on failure. */
export function zerovmCc(args: readonly string[], cwd = ROOT): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', ...args], { cwd, encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`zerovm cc ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

export function native(cmd: string, args: readonly string[], input = ''): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 120_000, env: { ...process.env, TZ: 'UTC' } });
}

const BIG = 2n ** 53n;

function channel(uri: string, alias: string, type: number, read: boolean, write: boolean): ManifestChannel {
  return {
    uri,
    sources: parseChannelUri(uri),
    alias,
    type,
    etag: false,
    limits: { gets: read ? BIG : 0n, getSize: read ? BIG : 0n, puts: write ? BIG : 0n, putSize: write ? BIG : 0n },
  };
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
  readonly exitState: string;
}

/** Runs a nexe (on the native engine unless told) with stdin from `input`, args, env, and optionally a tar image mounted at '/'. */
/** A file channel after the standard ones (and the image), in this order: channel 4 or 5 on. */
export interface ExtraChannel {
  readonly path: string;
  readonly alias: string;
  /** Manifest channel type: 0 sequential, 1 random read, 2 random write, 3 both. */
  readonly type: number;
  /** Whether the limits allow reads and writes (both by default). */
  readonly read?: boolean;
  readonly write?: boolean;
}

export function runNexe(
  dir: string,
  nexe: string,
  options: { args?: readonly string[]; input?: string; env?: Record<string, string>; image?: string; timeSeconds?: number; engine?: Engine; channels?: readonly ExtraChannel[] } = {},
): RunResult {
  const stdin = join(dir, 'stdin');
  const stdout = join(dir, 'stdout');
  const stderr = join(dir, 'stderr');
  const nvram = join(dir, 'nvram');
  writeFileSync(stdin, options.input ?? '');
  writeFileSync(stdout, '');
  writeFileSync(stderr, '');
  const fstab: NvramMount[] = options.image ? [{ channel: '/dev/image', mountpoint: '/', access: 'ro', removable: false }] : [];
  writeFileSync(
    nvram,
    formatNvram({
      args: [nexe.split('/').pop() as string, ...(options.args ?? [])],
      env: options.env ?? {},
      fstab,
      mappings: [
        { channel: '/dev/stdin', mode: 'pipe' },
        { channel: '/dev/stdout', mode: 'pipe' },
        { channel: '/dev/stderr', mode: 'pipe' },
      ],
      ...(options.timeSeconds !== undefined ? { timeSeconds: options.timeSeconds } : {}),
    }),
  );
  const channels = [
    channel(stdin, '/dev/stdin', 0, true, false),
    channel(stdout, '/dev/stdout', 0, false, true),
    channel(stderr, '/dev/stderr', 0, false, true),
    channel(nvram, '/dev/nvram', 3, true, false),
  ];
  if (options.image) channels.push(channel(options.image, '/dev/image', 1, true, false));
  for (const c of options.channels ?? []) channels.push(channel(c.path, c.alias, c.type, c.read ?? true, c.write ?? true));
  const manifestPath = join(dir, 'manifest');
  writeFileSync(manifestPath, formatManifest({ version: MANIFEST_VERSION, program: nexe, timeout: 60, memory: 256 * 1024 * 1024, memoryEtag: false, channels }));
  const result = runSession({ manifestPath, engine: options.engine ?? nativeEngine, preallocate: false });
  return { stdout: readFileSync(stdout, 'utf8'), stderr: readFileSync(stderr, 'utf8'), code: result.userReturnCode, exitState: result.exitState };
}
