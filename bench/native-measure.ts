/**
 * Measurements the toolchain benchmarks share (bench/toolchain.bench.ts,
 * bench/sqlite.bench.ts): an object's .text and its nop padding, a native
 * child's CPU time, this process's CPU time, medians.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

/** Bytes of .text and, of those, bytes of nop instructions (objdump's nop, nopw, xchg %ax,%ax, cs/data16 prefixed nops). */
export function textSize(object: string): { text: number; padding: number } {
  let text = 0;
  for (const line of execFileSync('size', ['-A', object], { encoding: 'utf8' }).split('\n')) {
    const m = /^(\.text\S*)\s+(\d+)/.exec(line);
    if (m) text += Number(m[2]);
  }
  let padding = 0;
  for (const line of execFileSync('objdump', ['-d', '-w', object], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n')) {
    const m = /^\s*[0-9a-f]+:\s+((?:[0-9a-f]{2} )+)\s*(.*)$/.exec(line);
    if (m && /^(?:(?:cs|ds|data16)\s+)*(nop\w*|xchg\s+%ax,%ax)\b/.test(m[2] as string)) padding += (m[1] as string).trim().split(' ').length;
  }
  return { text, padding };
}

/** CPU milliseconds (user + system) and wall time of a native child run as `PROGRAM ARGS < INPUT > OUTPUT`, from bash's `time`, and its stdout. */
export function nativeRun(program: string, args: readonly string[], input: string | null, output: string): { cpu: number; wall: number; stdout: string } {
  const t = performance.now();
  const redirect = input === null ? '' : ' <"$INPUT"';
  const r = spawnSync('bash', ['-c', `TIMEFORMAT="%3U %3S"; time "$0" "$@"${redirect} >"$OUTPUT"`, program, ...args], { encoding: 'utf8', env: { ...process.env, INPUT: input ?? '', OUTPUT: output } });
  const wall = performance.now() - t;
  const [user, system] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (r.status !== 0 || user === undefined || system === undefined) throw new Error(`${program} failed: ${r.stderr}`);
  return { cpu: (user + system) * 1000, wall, stdout: readFileSync(output, 'utf8') };
}

/** This process's CPU time so far, in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
