/**
 * The original's command line: `zerovm [-s] [-F] [-t N] [-v N] [-P] [-Q]
 * [-T trace] [-M] MANIFEST`, plus `--engine native|unicorn|auto` (ours;
 * the choice is src/api/engine-choice.ts) and `--unsafe` (ours: `-s` on the
 * native engine needs it, src/api/unvalidated.ts). Runs one session, prints
 * the report and returns the session's exit code.
 *
 * Source of truth: spec/runtime.md "Command lines", as measured on the
 * original ZeroVM 2015: options getopt style; -t, -v, -T and -M take a
 * value (the next word when not attached, even when that word is the
 * manifest); the values of -t and -v are read as manifest numbers, and one
 * that is not a number ends the session with EFAULT 14 "MANIFEST 0:
 * invalid numeric value '...'" and a report; an unknown option or a
 * second manifest prints the help on stdout and exits with EINVAL 22.
 * Report modes: 0 stdout, 1 the log (stdout stays empty; the report goes
 * to stderr with -v 1 or more, where the original wrote it to syslog),
 * 2 fast reports and the report (the original printed nothing: our
 * documented difference), 3 the report prefixed with its length, any other
 * value no report.
 */
import { readFileSync, writeSync } from 'node:fs';
import { startDaemonProcess } from './daemon-process.js';
import { DEFAULT_ENGINE, selectEngine } from '../api/engine-choice.js';
import { describeUnicornEngine } from '../emulator/unicorn.js';
import { parseManifestInteger } from '../runtime/manifest.js';
import { createObserver, TraceFileError, Verbosity, type SessionObserver } from '../runtime/trace.js';
import { accountingTimes, formatReport, frameForJobSocket, ValidatorState, type ReportMode } from '../runtime/report.js';
import { manifestJob, runSession } from '../runtime/session.js';
import { UNSAFE_FLAG, unvalidatedRun } from '../api/unvalidated.js';
import { Errno } from '../runtime/definitions.js';

const { EINVAL, EFAULT } = Errno;

export const SESSION_HELP = `usage: zerovm [-s] [-F] [-t 0..3] [-v 0..3] [-P] [-Q] [-T trace] [--engine native|unicorn|auto] [--unsafe] MANIFEST
  -s  skip validation (validator state 2); refused on the native engine unless --unsafe is given too
  -F  load and validate the program, report, and stop
  -t  report mode: 0 stdout (default), 1 the log (stderr, with -v 1 or more),
      2 as 0 plus an accounting line each second while the program runs,
      3 as 0 prefixed with the report's length
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
  /** -t: 0..3 mean something (see REPORT_MODES); any other number prints no report. */
  readonly reportMode: number;
  readonly engine: string;
  /** -v. */
  readonly verbosity: number;
  /** -T FILE. */
  readonly traceFile?: string;
}

/** A -t or -v value that is not a number: the session ends before it starts, with a report. */
export interface NumberError {
  readonly invalidNumber: string;
  /** The report mode chosen before the bad value. */
  readonly reportMode: number;
}

/** -t and -v values, read as the manifest reads numbers (the original used the same function). */
function optionNumber(value: string): number | { readonly rest: string } {
  const parsed = parseManifestInteger(value);
  if (!parsed.ok) return { rest: parsed.rest };
  return Number(BigInt.asIntN(32, parsed.value));
}

/**
 * Parses the original's options (getopt style: `-t 1`, `-t1`, `-sF`).
 * Returns a usage error message, a bad number, or the parsed line.
 */
export function parseSessionCommandLine(argv: readonly string[]): SessionCommandLine | NumberError | string {
  let manifest: string | undefined;
  let skipValidation = false;
  let unsafe = false;
  let loadOnly = false;
  let preallocate = true;
  let reportMode = 0;
  let engine: string = DEFAULT_ENGINE;
  let verbosity = 0;
  let traceFile: string | undefined;
  const setManifest = (path: string): string | undefined => {
    if (manifest !== undefined) return '2nd manifest encountered';
    manifest = path;
    return undefined;
  };
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
        if ('tvTM'.includes(option)) {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
          if (value === undefined) return `option requires an argument -- '${option}'`;
          if (option === 't' || option === 'v') {
            const n = optionNumber(value);
            if (typeof n !== 'number') return { invalidNumber: n.rest, reportMode };
            if (option === 't') reportMode = n;
            else verbosity = n;
          }
          if (option === 'T') traceFile = value;
          if (option === 'M') {
            const error = setManifest(value);
            if (error !== undefined) return error;
          }
          break;
        }
        return `invalid option -- '${option}'`;
      }
      continue;
    }
    const error = setManifest(arg);
    if (error !== undefined) return error;
  }
  if (manifest === undefined) return 'no manifest given';
  return { manifest, skipValidation, unsafe, loadOnly, preallocate, reportMode, engine, verbosity, ...(traceFile === undefined ? {} : { traceFile }) };
}

/** Prints the final report where its mode sends it (modes other than 0..3: nowhere). */
function emitReport(mode: number, verbosity: number, report: string): void {
  if (mode === 0 || mode === 2) process.stdout.write(report);
  else if (mode === 3) process.stdout.write(frameForJobSocket(report));
  else if (mode === 1 && verbosity >= 1) process.stderr.write(`zerovm: ${report.trimEnd()}\n`);
}

/** The report of a session that ended at its command line (a -t or -v value that is no number). */
function numberErrorReport(error: NumberError): string {
  const mode = error.reportMode === 1 ? 1 : 0;
  const zero = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };
  return formatReport(
    {
      validatorState: ValidatorState.NotValidated,
      daemonState: 0,
      userReturnCode: 0,
      etags: [],
      accounting: { ...accountingTimes(), local: zero, network: zero },
      exitState: `MANIFEST 0: invalid numeric value '${error.invalidNumber}'`,
    },
    mode,
  );
}

/** Kept for callers that imported it from here. */
export { selectEngine };

export async function runSessionCommand(argv: readonly string[]): Promise<number> {
  const line = parseSessionCommandLine(argv);
  if (typeof line === 'string') {
    process.stdout.write(`${line}\n${SESSION_HELP}`);
    return EINVAL;
  }
  if ('invalidNumber' in line) {
    emitReport(line.reportMode, 0, numberErrorReport(line));
    return EFAULT;
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
    reportMode: line.reportMode >= 0 && line.reportMode <= 3 ? (line.reportMode as ReportMode) : 0,
    engine,
    observer,
    /* written at once: a fast report must not wait behind the session */
    writeFastReport: (text) => writeSync(1, text),
  });
  observer?.close();
  emitReport(line.reportMode, line.verbosity, result.report);
  if (result.snapshot !== undefined) {
    /* TrapFork with a Job: this session is over (daemon state 1); a daemon process serves the requests */
    const job = manifestJobOf(line.manifest);
    if (job !== undefined) {
      const error = await startDaemonProcess(result.snapshot, job, line.preallocate);
      if (error !== null) process.stderr.write(`zerovm: the daemon for ${job} did not start: ${error}\n`);
    }
  }
  return result.exitCode;
}

/** The manifest's Job (it was read once already: the session ran from it). */
function manifestJobOf(path: string): string | undefined {
  try {
    return manifestJob(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
