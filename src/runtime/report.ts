/**
 * The session report: the text zerovm prints when a session ends, and the
 * closed set of exit states it ends with.
 *
 * Where: runtime, last step of a session. The session collects the fields
 * (validator state, daemon state, user code, etags from `channel-set.ts` and
 * `etag.ts`, accounting from `channel-set.ts` and the process times) and
 * prints `formatReport(...)` to the destination of its report mode (-t).
 *
 * Source of truth: the original's report.c, accounting.c, signal_common.c
 * and doc/report.txt, doc/command_line.txt (manifest 20130611 era). The text
 * is reproduced byte for byte:
 *   validator state\n daemon state\n user code\n etags\n accounting\n
 *   exit state\n \n
 * - the seventh line is the command line in debug builds; release builds
 *   print it empty, so the report ends with an empty line;
 * - -t 1 (syslog) joins the same fields with "; " instead of "\n";
 * - etags: "<alias> <hex>" pairs joined by single spaces (channels in
 *   channel order, then /dev/memory). The original appended "<alias> <hex> "
 *   per etag, or "disabled" when there were none, and then cut the last
 *   character of the report: so with no etag the line reads "disable". This
 *   is reproduced (see ETAGS_DISABLED_FIELD) because consumers compared the
 *   text;
 * - accounting: "%.2f %.2f" system and user CPU seconds (float values from
 *   clock ticks; C rounding, ties to even), then local gets, get bytes,
 *   puts, put bytes, then the same four for network channels, all "%ld";
 * - -t 3 (daemon job socket) prefixes the report with its length as
 *   "0x%06x";
 * - -t 2 adds "fast reports" (an accounting line, at most once per second)
 *   before the final report. The original's code printed nothing at all in
 *   mode 2 (a missing case in its output switch); here mode 2 does what its
 *   documentation says: fast reports and the final report on stdout.
 * Exit states from a failed check of the original carried a "<source file>
 * <line>: " prefix from its logger; that prefix is not reproduced.
 */
import type { EtagEntry } from './etag.js';

/** First report line. */
export const ValidatorState = {
  Valid: 0,
  Invalid: 1,
  /** -s: validation skipped. */
  NotValidated: 2,
} as const;
export type ValidatorState = (typeof ValidatorState)[keyof typeof ValidatorState];

/** Second report line: 1 when the session became a daemon (TrapFork). */
export type DaemonState = 0 | 1;

/** I/O totals of one group of channels (local or network). */
export interface IoTotals {
  readonly gets: number;
  readonly getBytes: number;
  readonly puts: number;
  readonly putBytes: number;
}

export interface AccountingFields {
  /** CPU time in the kernel, seconds. */
  readonly sysSeconds: number;
  /** CPU time in user mode, seconds. */
  readonly userSeconds: number;
  readonly local: IoTotals;
  readonly network: IoTotals;
}

export interface ReportFields {
  readonly validatorState: ValidatorState;
  readonly daemonState: DaemonState;
  /** Code the program passed to TrapExit (int32). */
  readonly userReturnCode: number;
  /** Channel etags in channel order, then the memory etag; empty when disabled. */
  readonly etags: readonly EtagEntry[];
  readonly accounting: AccountingFields;
  /** Exit state text (see EXIT_STATES and signalExitState). */
  readonly exitState: string;
}

/* ------------------------------------------------------------------------ */
/* Report modes (-t)                                                          */
/* ------------------------------------------------------------------------ */

export type ReportMode = 0 | 1 | 2 | 3;
export type ReportDestination = 'stdout' | 'syslog' | 'job-socket';

export interface ReportModeRow {
  readonly mode: ReportMode;
  readonly destination: ReportDestination;
  /** Separator after each field of the final report. */
  readonly separator: string;
  /** Whether accounting lines are printed while the session runs. */
  readonly fastReports: boolean;
  /** Whether the report is prefixed by its length ("0x%06x"). */
  readonly framed: boolean;
}

/** One row per -t value (3 is set by daemon mode, not by the user). */
export const REPORT_MODES: readonly ReportModeRow[] = [
  { mode: 0, destination: 'stdout', separator: '\n', fastReports: false, framed: false },
  { mode: 1, destination: 'syslog', separator: '; ', fastReports: false, framed: false },
  { mode: 2, destination: 'stdout', separator: '\n', fastReports: true, framed: false },
  { mode: 3, destination: 'job-socket', separator: '\n', fastReports: false, framed: true },
];

export function reportMode(mode: ReportMode): ReportModeRow {
  const row = REPORT_MODES[mode];
  if (row === undefined) throw new RangeError(`invalid report mode ${String(mode)}`);
  return row;
}

/* ------------------------------------------------------------------------ */
/* Exit states                                                                */
/* ------------------------------------------------------------------------ */

export type ExitStateId =
  | 'ok'
  | 'sessionTimeout'
  | 'diskQuotaExceeded'
  | 'validationFailed'
  | 'dataCorrupted'
  | 'unknown';

export interface ExitStateRow {
  readonly id: ExitStateId;
  /** Exact text of the report's exit state line. */
  readonly wording: string;
  /** Process exit code the original used with it (an errno), or null when any. */
  readonly exitCode: number | null;
  readonly cause: string;
}

/** Fixed exit states; signals are formatted by signalExitState. */
export const EXIT_STATES: readonly ExitStateRow[] = [
  { id: 'ok', wording: 'ok', exitCode: 0, cause: 'the program called TrapExit (or -F stopped before it ran)' },
  { id: 'sessionTimeout', wording: 'session timeout', exitCode: 4, cause: 'Timeout seconds elapsed (SIGALRM)' },
  { id: 'diskQuotaExceeded', wording: 'disk quota exceeded', exitCode: 4, cause: 'file size limit hit (SIGXFSZ)' },
  { id: 'validationFailed', wording: 'validation failed', exitCode: 8, cause: 'the validator rejected the text' },
  { id: 'dataCorrupted', wording: 'data corrupted', exitCode: 32, cause: 'a network channel etag did not match' },
  { id: 'unknown', wording: 'unknown error, see syslog', exitCode: null, cause: 'the session ended without a state' },
];

export function exitState(id: ExitStateId): string {
  const row = EXIT_STATES.find((candidate) => candidate.id === id);
  if (row === undefined) throw new RangeError(`unknown exit state ${id}`);
  return row.wording;
}

/** Exit code (EINTR) of a session ended by a signal. */
export const SIGNAL_EXIT_CODE = 4;

/**
 * Exit state of a session killed by a signal: the original printed the host
 * address of the faulting instruction (sandbox base + guest address), at
 * least 12 upper-case hex digits.
 */
export function signalExitState(signal: number, fromUntrustedCode: boolean, hostPc: bigint | number): string {
  const pc = BigInt(hostPc).toString(16).toUpperCase().padStart(12, '0');
  return `Signal ${signal} from ${fromUntrustedCode ? 'un' : ''}trusted code: Halting at 0x${pc}`;
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * C's printf("%.2f", x): the exact binary value rounded to two decimals,
 * ties to even. toFixed rounds ties up; exact ties at two decimals are the
 * values k/8 with k odd, handled apart.
 */
export function formatFixed2(value: number): string {
  const eighths = value * 8;
  if (Number.isInteger(eighths) && Math.abs(eighths) % 2 === 1) {
    const sign = value < 0 ? '-' : '';
    const hundredthsBelow = Math.floor(Math.abs(value) * 100); /* exact: |value|*100 = 12.5 * odd */
    const even = hundredthsBelow % 2 === 0 ? hundredthsBelow : hundredthsBelow + 1;
    const whole = Math.floor(even / 100);
    const cents = String(even % 100).padStart(2, '0');
    return `${sign}${whole}.${cents}`;
  }
  return value.toFixed(2);
}

/** A time as the original held it: a C float, printed with %.2f. */
function formatSeconds(seconds: number): string {
  return formatFixed2(Math.fround(seconds));
}

function formatTotals(totals: IoTotals): string {
  return `${totals.gets} ${totals.getBytes} ${totals.puts} ${totals.putBytes}`;
}

/** The accounting line: 2 times and 8 counters separated by single spaces. */
export function formatAccounting(accounting: AccountingFields): string {
  return `${formatSeconds(accounting.sysSeconds)} ${formatSeconds(accounting.userSeconds)} ${formatTotals(accounting.local)} ${formatTotals(accounting.network)}`;
}

/** What the original printed on the etag line when no etag was enabled (see header). */
export const ETAGS_DISABLED_FIELD = 'disable';

/** The etag line: "<alias> <hex>" pairs, or ETAGS_DISABLED_FIELD. */
export function formatEtags(etags: readonly EtagEntry[]): string {
  const raw = etags.length === 0 ? 'disabled' : etags.map((e) => `${e.alias} ${e.digest} `).join('');
  return raw.slice(0, -1); /* the original cut the last character */
}

/** The final report, exactly as the original printed it in the given mode. */
export function formatReport(fields: ReportFields, mode: ReportMode = 0): string {
  const eol = reportMode(mode).separator;
  /* the last field, the command line, is printed by debug builds only: empty */
  return `${fields.validatorState}${eol}${fields.daemonState}${eol}${fields.userReturnCode | 0}${eol}${formatEtags(fields.etags)}${eol}${formatAccounting(fields.accounting)}${eol}${fields.exitState}${eol}${eol}`;
}

/** Prefixes a report with its length in bytes, for the daemon's job socket (-t 3). */
export function frameForJobSocket(report: string): string {
  const length = Buffer.byteLength(report, 'utf8');
  return `0x${length.toString(16).padStart(6, '0')}${report}`;
}

/**
 * A fast report (-t 2): an accounting line with 0.00 system time and the
 * process CPU time so far as user time (the original used clock()).
 */
export function formatFastReport(cpuSeconds: number, local: IoTotals, network: IoTotals): string {
  return `${formatAccounting({ sysSeconds: 0, userSeconds: cpuSeconds, local, network })}\n`;
}

/** Microseconds between fast reports. */
export const FAST_REPORT_PERIOD_US = 1_000_000;

/**
 * When fast reports are due, as the original decided it after each trap:
 * the first call reports and starts the clock; later calls report once a
 * full period has passed since the previous period mark.
 */
export class FastReportTimer {
  private start = 0;

  /** True when a fast report should be printed now (`nowUs`: wall clock, microseconds). */
  due(nowUs: number): boolean {
    if (nowUs - this.start < FAST_REPORT_PERIOD_US) return false;
    this.start += this.start === 0 ? nowUs : FAST_REPORT_PERIOD_US;
    return true;
  }
}

/** Clock ticks per second of /proc/<pid>/stat on Linux. */
const CLOCK_TICKS = 100;

/** Whole clock ticks in `micros` microseconds. */
function ticks(micros: number): number {
  return Math.floor((micros * CLOCK_TICKS) / 1_000_000);
}

/**
 * System and user times for the accounting line from process.cpuUsage():
 * whole clock ticks, as the original read them from /proc, divided as
 * floats.
 */
export function accountingTimes(usage: NodeJS.CpuUsage = process.cpuUsage()): {
  sysSeconds: number;
  userSeconds: number;
} {
  return {
    sysSeconds: Math.fround(ticks(usage.system) / CLOCK_TICKS),
    userSeconds: Math.fround(ticks(usage.user) / CLOCK_TICKS),
  };
}
