/**
 * What a session tells about itself while it runs: the `-T FILE` trap trace
 * and the `-v 0..3` log.
 *
 * Pipeline position: the command line (session-command.ts) builds a
 * SessionObserver from its options and hands it to runSession
 * (session.ts), which calls it at each stage and around every trap. The
 * hot trap path does not pay for it when it is off: session.ts reads the
 * argument block a second time only when `wantsTraps` is true.
 *
 * The original ZeroVM logged to syslog at the verbosity `-v` chose and
 * could trace its trap calls into a file given with `-T`; it had no
 * documented line format, so these lines are ours and read like strace:
 *   TrapWrite(1, 0x00020040, 13, 0) = 13
 *   TrapRead(0, 0x00030000, 65536, 0) = -14 (EFAULT)
 *   TrapExit(0)
 * Log lines go to the host's stderr as `zerovm: ...`. With `-v 3` every
 * trap line goes there too, which may interleave with a program whose
 * /dev/stderr is the host's stderr: the user asked for it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Errno, trapFunctionRow, type TrapArgs } from './trap-io.js';

/** Log levels of `-v`: 1 stages, 2 channels and layout, 3 every trap. */
export const enum Verbosity {
  Quiet = 0,
  Stages = 1,
  Details = 2,
  Traps = 3,
}

export interface SessionObserver {
  /** True when trap lines are wanted (a trace file, or `-v 3`). */
  readonly wantsTraps: boolean;
  /** A message of the given level. */
  log(level: Verbosity, message: string): void;
  /** One trap call and its result (undefined when it did not return: TrapExit). */
  trap(args: TrapArgs, result: number | undefined): void;
  /** Flushes and closes what the observer opened. */
  close(): void;
}

/** Errno names by value, for readable trace lines. */
const ERRNO_NAMES = new Map<number, string>(Object.entries(Errno).map(([name, value]) => [value, name]));

/** An argument word as the trap reads it: buffers are addresses, offsets int64, the rest int32. */
function formatArgument(name: string, value: bigint): string {
  if (name === 'buffer') return `0x${value.toString(16).padStart(8, '0')}`;
  if (name === 'offset') return BigInt.asIntN(64, value).toString();
  return BigInt.asIntN(32, value).toString();
}

/** `TrapWrite(1, 0x00020040, 13, 0) = 13`: one trap call as a trace line. */
export function formatTrapLine(args: TrapArgs, result: number | undefined): string {
  const row = trapFunctionRow(args[0]);
  let call: string;
  if (row === undefined) {
    call = `Trap#${args[0].toString()}()`;
  } else {
    const names = row.args === '' ? [] : row.args.split(', ');
    const values = names.map((name, i) => formatArgument(name, args[i + 2]!));
    call = `${row.name}(${values.join(', ')})`;
  }
  if (result === undefined) return call;
  const name = result < 0 ? ERRNO_NAMES.get(-result) : undefined;
  return `${call} = ${result}${name === undefined ? '' : ` (${name})`}`;
}

export interface ObserverOptions {
  /** -v. */
  readonly verbosity?: number;
  /** -T: a file that receives one line per trap call (created or truncated). */
  readonly traceFile?: string;
  /** Where log lines go (the host's stderr unless a test says otherwise). */
  readonly writeLog?: (line: string) => void;
}

/** Thrown when the trace file cannot be created. */
export class TraceFileError extends Error {
  constructor(path: string, cause: string) {
    super(`cannot create the trace file ${path}: ${cause}`);
    this.name = 'TraceFileError';
  }
}

/** An observer for `-v` and `-T`; null when both are off (the session then skips every call). */
export function createObserver(options: ObserverOptions): SessionObserver | null {
  const verbosity = Math.max(0, Math.min(3, options.verbosity ?? 0));
  if (verbosity === 0 && options.traceFile === undefined) return null;
  const writeLog = options.writeLog ?? ((line: string): void => void process.stderr.write(line));
  let fd: number | undefined;
  if (options.traceFile !== undefined) {
    try {
      fd = openSync(options.traceFile, 'w');
    } catch (error) {
      throw new TraceFileError(options.traceFile, error instanceof Error ? error.message : String(error));
    }
  }
  /* Trace lines are buffered and written in blocks: a program may trap a
   * million times, and a write per line would cost as much as the trap. */
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = (): void => {
    if (fd === undefined || pending.length === 0) return;
    writeSync(fd, pending.join(''));
    pending = [];
    pendingLength = 0;
  };
  return {
    wantsTraps: fd !== undefined || verbosity >= Verbosity.Traps,
    log(level, message) {
      if (level <= verbosity) writeLog(`zerovm: ${message}\n`);
    },
    trap(args, result) {
      const line = `${formatTrapLine(args, result)}\n`;
      if (verbosity >= Verbosity.Traps) writeLog(`zerovm: ${line}`);
      if (fd === undefined) return;
      pending.push(line);
      pendingLength += line.length;
      if (pendingLength >= 0x10000) flush();
    },
    close() {
      flush();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
