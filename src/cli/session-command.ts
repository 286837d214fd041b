/**
 * The original's command line: `zerovm [-s] [-F] [-t N] [-v N] [-P] [-Q]
 * [-T trace] MANIFEST`, plus `--engine native|unicorn|auto` (ours; the
 * choice is src/engines/select.ts) and `--unsafe` (ours: `-s` on the native
 * engine needs it, src/cli/unvalidated.ts). Runs one session, prints the
 * report on stdout and returns the session's exit code.
 *
 * Source of truth: zerovm-abi.md §9 and the original's zvm_main.c
 * (ParseCommandLine: getopt, a bad command line prints the help and exits
 * with EINVAL 22; a second manifest is an error).
 * Accepted and ignored (printed as a note on stderr where it matters):
 * -v (verbosity: there is no log), -Q (no platform qualification to skip),
 * -T (traces are not written).
 */
import { writeSync } from 'node:fs';
import { DEFAULT_ENGINE, selectEngine } from '../engines/select.js';
import { describeUnicornEngine } from '../emulator/unicorn.js';
import { createObserver, TraceFileError, Verbosity, type SessionObserver } from '../runtime/trace.js';
import type { ReportMode } from '../runtime/report.js';
import { runSession } from '../runtime/session.js';
import { UNSAFE_FLAG, unvalidatedRun } from './unvalidated.js';

const EINVAL = 22;

export const SESSION_HELP = `usage: zerovm [-s] [-F] [-t 0..2] [-v 0..3] [-P] [-Q] [-T trace] [--engine native|unicorn|auto] [--unsafe] MANIFEST
  -s  skip validation (validator state 2); refused on the native engine unless --unsafe is given too
  -F  load and validate the program, report, and stop
  -t  report mode: 0 stdout (default), 1 one line, fields separated by '; ',
      2 as 0 plus an accounting line each second while the program runs
  -v  log to stderr: 1 stages, 2 channels and memory regions, 3 every trap
  -P  do not preallocate writable channels
  -Q  skip platform qualification (accepted; the engine checks cannot be skipped)
  -T  write one line per trap call (function, arguments, result) to this file
  --engine  native (x86-64 Linux), unicorn (emulation, any host with libunicorn), or
            auto (the default: native where it can run, else unicorn)
  --unsafe  let -s run unvalidated code on the native engine (a warning on stderr)
`;

export interface SessionCommandLine {
  readonly manifest: string;
  readonly skipValidation: boolean;
  /** --unsafe: -s may run on the native engine. */
  readonly unsafe: boolean;
  readonly loadOnly: boolean;
  readonly preallocate: boolean;
  readonly reportMode: ReportMode;
  readonly engine: string;
  /** -v 0..3. */
  readonly verbosity: number;
  /** -T FILE. */
  readonly traceFile?: string;
}

/** Parses the original's options (getopt style: `-t 1`, `-t1`, `-sF`). Returns an error message or the parsed line. */
export function parseSessionCommandLine(argv: readonly string[]): SessionCommandLine | string {
  let manifest: string | undefined;
  let skipValidation = false;
  let unsafe = false;
  let loadOnly = false;
  let preallocate = true;
  let reportMode: ReportMode = 0;
  let engine: string = DEFAULT_ENGINE;
  let verbosity = 0;
  let traceFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--engine')) {
      const value = arg.startsWith('--engine=') ? arg.slice('--engine='.length) : argv[++i];
      if (value === undefined) return 'option --engine needs a value';
      engine = value;
      continue;
    }
    if (arg === UNSAFE_FLAG) {
      unsafe = true;
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const option = arg[j]!;
        if ('sFPQ'.includes(option)) {
          if (option === 's') skipValidation = true;
          if (option === 'F') loadOnly = true;
          if (option === 'P') preallocate = false;
          continue;
        }
        if ('tvT'.includes(option)) {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
          if (value === undefined) return `option -${option} needs a value`;
          if (option === 't') {
            if (!/^[0-2]$/.test(value)) return 'invalid report mode';
            reportMode = Number(value) as ReportMode;
          }
          if (option === 'v') {
            if (!/^[0-3]$/.test(value)) return 'invalid verbosity (0..3)';
            verbosity = Number(value);
          }
          if (option === 'T') traceFile = value;
          break;
        }
        return `invalid option -- '${option}'`;
      }
      continue;
    }
    if (manifest !== undefined) return '2nd manifest encountered';
    manifest = arg;
  }
  if (manifest === undefined) return 'no manifest given';
  return { manifest, skipValidation, unsafe, loadOnly, preallocate, reportMode, engine, verbosity, ...(traceFile === undefined ? {} : { traceFile }) };
}

/** Kept for callers that imported it from here. */
export { selectEngine };

export function runSessionCommand(argv: readonly string[]): number {
  const line = parseSessionCommandLine(argv);
  if (typeof line === 'string') {
    process.stdout.write(`${line}\n${SESSION_HELP}`);
    return EINVAL;
  }
  const engine = selectEngine(line.engine);
  if (typeof engine === 'string') {
    process.stderr.write(`zerovm: ${engine}\n`);
    return EINVAL;
  }
  /* -F never runs the program, so it needs no --unsafe */
  if (line.skipValidation && !line.loadOnly) {
    const verdict = unvalidatedRun(engine, '-s', line.unsafe);
    if (!verdict.allowed) {
      process.stderr.write(`zerovm: ${verdict.message}\n`);
      return EINVAL;
    }
    if (verdict.warning !== null) process.stderr.write(`zerovm: ${verdict.warning}\n`);
  }
  let observer: SessionObserver | null;
  try {
    observer = createObserver({ verbosity: line.verbosity, ...(line.traceFile === undefined ? {} : { traceFile: line.traceFile }) });
  } catch (error) {
    if (!(error instanceof TraceFileError)) throw error;
    process.stderr.write(`zerovm: ${error.message}\n`);
    return EINVAL;
  }
  /* whether libunicorn's internals are repaired changes speed and fault addresses: say so with the stages */
  if (engine.name === 'unicorn') {
    const description = describeUnicornEngine();
    if (description !== null) observer?.log(Verbosity.Stages, `unicorn engine: ${description}`);
  }
  const result = runSession({
    manifestPath: line.manifest,
    skipValidation: line.skipValidation,
    loadOnly: line.loadOnly,
    preallocate: line.preallocate,
    reportMode: line.reportMode,
    engine,
    observer,
    /* written at once: a fast report must not wait behind the session */
    writeFastReport: (text) => writeSync(1, text),
  });
  observer?.close();
  process.stdout.write(result.report);
  return result.exitCode;
}
