/**
 * The report text, byte for byte as the original printed it (report.c,
 * accounting.c, signal_common.c of the manifest 20130611 era). Expected
 * strings are written out in full: no snapshots.
 */
import { describe, expect, it } from 'vitest';
import {
  accountingTimes,
  EXIT_STATES,
  exitState,
  FastReportTimer,
  formatAccounting,
  formatEtags,
  formatFastReport,
  formatFixed2,
  formatReport,
  frameForJobSocket,
  REPORT_MODES,
  signalExitState,
  ValidatorState,
  type AccountingFields,
  type ReportFields,
} from './report.js';

const ZERO = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };
const IDLE: AccountingFields = { sysSeconds: 0, userSeconds: 0, local: ZERO, network: ZERO };
const HEX_A = '0123456789abcdef0123456789abcdef01234567';
const HEX_M = '34010ca11e2a98f23b8f3a95da90926b48a8848a';

const base: ReportFields = {
  validatorState: ValidatorState.Valid,
  daemonState: 0,
  userReturnCode: 0,
  etags: [],
  accounting: IDLE,
  exitState: 'ok',
};

describe('formatReport', () => {
  it('release report: six fields, then the empty command-line field', () => {
    expect(formatReport(base)).toBe('0\n0\n0\ndisable\n0.00 0.00 0 0 0 0 0 0 0 0\nok\n\n');
  });

  it('etags: alias and digest pairs, channels then memory, no trailing space', () => {
    const report = formatReport({
      ...base,
      userReturnCode: 42,
      etags: [
        { alias: '/dev/stdout', digest: HEX_A },
        { alias: '/dev/memory', digest: HEX_M },
      ],
      accounting: {
        sysSeconds: 0.01,
        userSeconds: 0.08,
        local: { gets: 7, getBytes: 44144, puts: 14, putBytes: 22825 },
        network: ZERO,
      },
    });
    expect(report).toBe(
      `0\n0\n42\n/dev/stdout ${HEX_A} /dev/memory ${HEX_M}\n0.01 0.08 7 44144 14 22825 0 0 0 0\nok\n\n`,
    );
  });

  it('negative user codes and the other states', () => {
    const report = formatReport({
      ...base,
      validatorState: ValidatorState.NotValidated,
      daemonState: 1,
      userReturnCode: -1,
      exitState: 'session timeout',
    });
    expect(report).toBe('2\n1\n-1\ndisable\n0.00 0.00 0 0 0 0 0 0 0 0\nsession timeout\n\n');
  });

  it('-t 1 (syslog): the same fields joined by "; "', () => {
    expect(formatReport(base, 1)).toBe('0; 0; 0; disable; 0.00 0.00 0 0 0 0 0 0 0 0; ok; ; ');
  });

  it('-t 2 prints the final report like -t 0', () => {
    expect(formatReport(base, 2)).toBe(formatReport(base, 0));
  });

  it('-t 3 (job socket): length prefix "0x%06x"', () => {
    const report = formatReport(base, 3);
    expect(report.length).toBe(44);
    expect(frameForJobSocket(report)).toBe(`0x00002c${report}`);
    expect(frameForJobSocket('x'.repeat(0x1234567))).toMatch(/^0x1234567x/);
  });

  it('report modes table', () => {
    expect(REPORT_MODES.map((m) => [m.mode, m.destination, m.fastReports, m.framed])).toEqual([
      [0, 'stdout', false, false],
      [1, 'syslog', false, false],
      [2, 'stdout', true, false],
      [3, 'job-socket', false, true],
    ]);
  });
});

describe('etag field', () => {
  it('the original cut the last character: "disabled" became "disable"', () => {
    expect(formatEtags([])).toBe('disable');
    expect(formatEtags([{ alias: '/dev/memory', digest: HEX_M }])).toBe(`/dev/memory ${HEX_M}`);
  });
});

describe('accounting', () => {
  it('two times with two decimals, then eight counters', () => {
    expect(
      formatAccounting({
        sysSeconds: 1.5,
        userSeconds: 12.34,
        local: { gets: 1, getBytes: 2, puts: 3, putBytes: 4 },
        network: { gets: 5, getBytes: 6, puts: 7, putBytes: 8 },
      }),
    ).toBe('1.50 12.34 1 2 3 4 5 6 7 8');
  });

  it('printf rounding: exact binary value, ties to even', () => {
    expect(formatFixed2(0.125)).toBe('0.12');
    expect(formatFixed2(0.375)).toBe('0.38');
    expect(formatFixed2(0.625)).toBe('0.62');
    expect(formatFixed2(2.875)).toBe('2.88');
    expect(formatFixed2(1.005)).toBe('1.00'); /* 1.00499999... in binary */
    expect(formatFixed2(0.015)).toBe('0.01'); /* 0.01499999... */
    expect(formatFixed2(0)).toBe('0.00');
    expect(formatFixed2(-0.125)).toBe('-0.12');
  });

  it('times are C floats: 0.07 stays 0.07, 1/3 prints 0.33', () => {
    expect(formatAccounting({ ...IDLE, sysSeconds: 0.07, userSeconds: 1 / 3 })).toBe('0.07 0.33 0 0 0 0 0 0 0 0');
  });

  it('times from process.cpuUsage: whole clock ticks (1/100 s)', () => {
    expect(accountingTimes({ user: 1_239_999, system: 10_000 })).toEqual({
      sysSeconds: Math.fround(0.01),
      userSeconds: Math.fround(1.23),
    });
  });
});

describe('fast reports (-t 2)', () => {
  it('an accounting line with no system time', () => {
    expect(formatFastReport(0.5, { gets: 1, getBytes: 10, puts: 0, putBytes: 0 }, ZERO)).toBe(
      '0.00 0.50 1 10 0 0 0 0 0 0\n',
    );
  });

  it('due at the first call, then once per second from the first mark', () => {
    const timer = new FastReportTimer();
    expect(timer.due(5_000_000)).toBe(true);
    expect(timer.due(5_999_999)).toBe(false);
    expect(timer.due(6_000_000)).toBe(true);
    expect(timer.due(9_500_000)).toBe(true); /* the mark moves one period, not to now */
    expect(timer.due(9_600_000)).toBe(true);
    expect(timer.due(9_700_000)).toBe(true);
    expect(timer.due(9_800_000)).toBe(false);
  });
});

describe('exit states', () => {
  it('fixed wordings', () => {
    expect(EXIT_STATES.map((row) => row.wording)).toEqual([
      'ok',
      'session timeout',
      'disk quota exceeded',
      'validation failed',
      'data corrupted',
      'unknown error, see syslog',
    ]);
    expect(exitState('validationFailed')).toBe('validation failed');
  });

  it('signals name the host address of the faulting instruction', () => {
    expect(signalExitState(11, true, 0x440a00110020n)).toBe('Signal 11 from untrusted code: Halting at 0x440A00110020');
    expect(signalExitState(8, false, 0x4005f0)).toBe('Signal 8 from trusted code: Halting at 0x0000004005F0');
  });
});
