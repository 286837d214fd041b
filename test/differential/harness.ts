/**
 * Runs a generated nexe as a real session (runSession, a manifest on disk,
 * stdout to a file) on one engine, and compares what two runs observed.
 *
 * Pipeline position: generator.ts -> here -> src/runtime/session.ts ->
 * an Engine. The property tests (differential.test.ts) and the regression
 * replays use it.
 *
 * What a run observes, and is compared byte for byte:
 * - stdout: the program's mid-run writes, then its register dump and
 *   scratch memory (generator.ts);
 * - the report, all seven lines, except the accounting line's two CPU
 *   times (process CPU seconds, which differ from run to run on any
 *   engine) — its eight I/O counters are kept;
 * - the etags line (stdout's SHA-1 and the memory etag over every readable
 *   page: text, trampoline, heap, user manifest, stack), which the report
 *   also holds but which is checked on its own for a clearer message;
 * - the process exit code and exit state.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import type { Engine } from '../../src/runtime/engine.js';
import { runSession } from '../../src/runtime/session.js';
import { DUMP, DUMP_FLAGS, DUMP_STOSB, OUTPUT, TEXT } from './emitter.js';

export interface Observation {
  readonly stdout: Buffer;
  /** The report with the accounting line's CPU times replaced by `-`. */
  readonly report: string;
  readonly etags: string;
  readonly exitCode: number;
  readonly exitState: string;
}

/** ZeroVM's sandbox base, which every engine here uses. */
export const PREFERRED_BASE = 0x440a00000000n;
const MEMORY = 32 * 1024 * 1024;

/** The report without what legitimately varies between runs (the CPU times). */
export function maskReport(report: string): string {
  const lines = report.split('\n');
  if (lines.length > 4) lines[4] = lines[4]!.replace(/^\S+ \S+/, '- -');
  return lines.join('\n');
}

let serial = 0;

/** One session of `nexe` on `engine`, files under `dir`. */
export function observe(engine: Engine, nexe: Uint8Array, dir: string): Observation {
  const run = join(dir, `run${process.pid}-${serial++}`);
  mkdirSync(run, { recursive: true });
  try {
    const program = join(run, 'program.nexe');
    const stdout = join(run, 'stdout');
    writeFileSync(program, nexe);
    const manifest = join(run, 'manifest');
    writeFileSync(
      manifest,
      [
        'Version = 20130611',
        `Program = ${program}`,
        'Timeout = 30',
        `Memory = ${MEMORY}, 1`,
        'Channel = /dev/null, /dev/stdin, 0, 0, 1000, 1000000, 0, 0',
        `Channel = ${stdout}, /dev/stdout, 0, 1, 0, 0, 10000, 16777216`,
        'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 10000, 16777216',
        '',
      ].join('\n'),
    );
    const result = runSession({ manifestPath: manifest, engine });
    const report = maskReport(result.report);
    return {
      stdout: readFileSync(stdout),
      report,
      etags: report.split('\n')[3] ?? '',
      exitCode: result.exitCode,
      exitState: result.exitState,
    };
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
}

const REGISTER_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** The final dump's named fields (the last OUTPUT-sized write of stdout), for messages. */
export function describeDump(stdout: Buffer, outputSize: number): Map<string, string> {
  const fields = new Map<string, string>();
  if (stdout.length < outputSize) return fields;
  const dump = stdout.subarray(stdout.length - outputSize);
  const at = (address: number): number => address - OUTPUT;
  REGISTER_NAMES.forEach((name, n) => fields.set(name, dump.readBigUInt64LE(at(DUMP) + 8 * n).toString(16)));
  /* CF PF ZF SF OF setcc bytes, the stosb's byte, then %edi after it (DF): generator.ts dumpFlags */
  fields.set('flags', dump.subarray(at(DUMP_FLAGS), at(DUMP_FLAGS) + 5).toString('hex'));
  fields.set('df', dump.readUInt32LE(at(DUMP_FLAGS) + 8) === DUMP_STOSB + 1 ? 'clear' : `%edi 0x${dump.readUInt32LE(at(DUMP_FLAGS) + 8).toString(16)}`);
  for (let n = 0; n < 16; n++) fields.set(`xmm${n}`, dump.subarray(at(DUMP) + 0x90 + 16 * n, at(DUMP) + 0xa0 + 16 * n).toString('hex'));
  return fields;
}

/** The first difference between two observations, as a sentence, or null when they are identical. */
export function difference(a: Observation, b: Observation, names: readonly [string, string], outputSize: number): string | null {
  const [x, y] = names;
  if (a.exitCode !== b.exitCode || a.exitState !== b.exitState) {
    return `exit: ${x} ${a.exitCode} "${a.exitState}", ${y} ${b.exitCode} "${b.exitState}"`;
  }
  if (!a.stdout.equals(b.stdout)) {
    const da = describeDump(a.stdout, outputSize);
    const db = describeDump(b.stdout, outputSize);
    const fields = [...da.keys()].filter((k) => da.get(k) !== db.get(k)).map((k) => `${k}: ${x} ${da.get(k)} ${y} ${db.get(k)}`);
    let first = 0;
    while (first < Math.min(a.stdout.length, b.stdout.length) && a.stdout[first] === b.stdout[first]) first++;
    return `stdout differs (${a.stdout.length} and ${b.stdout.length} bytes, first at byte ${first})${fields.length ? `; ${fields.join('; ')}` : ''}`;
  }
  if (a.etags !== b.etags) return `etags: ${x} "${a.etags}", ${y} "${b.etags}"`;
  if (a.report !== b.report) return `report:\n${x}:\n${a.report}\n${y}:\n${b.report}`;
  return null;
}

/** A listing of generated text (for failure messages). */
export function listing(text: Uint8Array, origin = TEXT): string {
  const decoder = new Decoder(64, text, DecoderOptions.None);
  decoder.ip = BigInt(origin);
  const formatter = new Formatter(FormatterSyntax.Gas);
  const lines: string[] = [];
  try {
    while (decoder.canDecode) {
      const i = decoder.decode();
      lines.push(`${i.ip.toString(16)}: ${formatter.format(i)}`);
      i.free();
    }
  } finally {
    decoder.free();
    formatter.free();
  }
  return lines.join('\n');
}
