import { describe, expect, it } from 'vitest';
import { bytesDiff, compareAccounting, compareEtags, compareExitState, compareFile, textDiff } from './compare.js';
import { parseReport, reportSeparator } from './report.js';

const SHA = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

describe('exit state classes', () => {
  it('exact: equal, or equal after the original\'s logger prefix', () => {
    const want = { kind: 'exact', text: 'MANIFEST 3: invalid memory token' } as const;
    expect(compareExitState(want, 'MANIFEST 3: invalid memory token', true)).toBeUndefined();
    expect(compareExitState(want, 'manifest.c 316: MANIFEST 3: invalid memory token', true)).toBeUndefined();
    expect(compareExitState(want, 'MANIFEST 4: invalid memory token', true)?.what).toBe('report: exit state');
    expect(compareExitState({ kind: 'exact', text: 'ok' }, 'ok ', false)).toBeDefined();
  });

  it('signal: any wording naming the number; strict mode checks the reference prefix', () => {
    const want = { kind: 'signal', signal: 11, reference: 'Signal 11 from untrusted code: Halting at 0x' } as const;
    expect(compareExitState(want, 'Signal 11 from untrusted code: Halting at 0x440000020228', true)).toBeUndefined();
    expect(compareExitState(want, 'killed by signal 11 (SIGSEGV)', false)).toBeUndefined();
    expect(compareExitState(want, 'killed by signal 11 (SIGSEGV)', true)).toBeDefined();
    expect(compareExitState(want, 'Signal 111 from untrusted code', false)).toBeDefined();
    expect(compareExitState(want, 'Signal 8 from untrusted code', false)).toBeDefined();
  });

  it('timeout and failure classes', () => {
    expect(compareExitState({ kind: 'timeout', reference: 'session timeout' }, 'Session Timeout reached', false)).toBeUndefined();
    expect(compareExitState({ kind: 'timeout', reference: 'session timeout' }, 'Session Timeout reached', true)).toBeDefined();
    expect(compareExitState({ kind: 'failure', reference: undefined }, 'ok', false)).toBeDefined();
    expect(compareExitState({ kind: 'failure', reference: 'x y' }, 'elf.c 12: x y', true)).toBeUndefined();
    expect(compareExitState({ kind: 'failure', reference: 'MANIFEST 7: x' }, 'MANIFEST 7: x', true)).toBeUndefined();
  });
});

describe('report fields', () => {
  it('etags: aliases exact, * for any SHA-1, disable exact', () => {
    expect(compareEtags('disable', 'disable')).toBeUndefined();
    expect(compareEtags('disable', 'disabled')).toBeDefined();
    expect(compareEtags(`/dev/stdout ${SHA} /dev/memory *`, `/dev/stdout ${SHA} /dev/memory ${SHA.toUpperCase()}`)).toBeUndefined();
    expect(compareEtags(`/dev/stdout ${SHA} /dev/memory *`, `/dev/stdout ${SHA} /dev/memory xyz`)).toBeDefined();
    expect(compareEtags(`/dev/stdout ${SHA}`, `/dev/stderr ${SHA}`)).toBeDefined();
    expect(compareEtags(`/dev/stdout ${SHA}`, `/dev/stdout ${SHA} /dev/memory ${SHA}`)).toBeDefined();
  });

  it('accounting: * matches a %.2f time or a whole number by position', () => {
    expect(compareAccounting('* * 1 2 3 4 0 0 0 0', '0.04 12.30 1 2 3 4 0 0 0 0')).toBeUndefined();
    expect(compareAccounting('* * 1 2 3 4 0 0 0 0', '0.04 0.3 1 2 3 4 0 0 0 0')).toBeDefined();
    expect(compareAccounting('* * * * 3 4 0 0 0 0', '0.00 0.00 9 99 3 4 0 0 0 0')).toBeUndefined();
    expect(compareAccounting('* * 1 2 3 4 0 0 0 0', '0.00 0.00 1 2 3 5 0 0 0 0')?.what).toBe('report: accounting');
  });

  it('parses reports of mode 0 and mode 1', () => {
    expect(parseReport('0\n0\n42\ndisable\n0.00 0.01 0 0 0 0 0 0 0 0\nok\n\n', '\n')).toEqual({
      validatorState: '0',
      daemonState: '0',
      userReturnCode: '42',
      etags: 'disable',
      accounting: '0.00 0.01 0 0 0 0 0 0 0 0',
      exitState: 'ok',
    });
    expect(parseReport('0; 0; 42; disable; 0.00 0.01 0 0 0 0 0 0 0 0; ok; ; ', '; ')).toMatchObject({ userReturnCode: '42', exitState: 'ok' });
    expect(parseReport('', '\n')).toMatch(/nothing on stdout/);
    expect(parseReport('usage: zerovm ...\n', '\n')).toMatch(/fields/);
    expect(reportSeparator(['-t', '1'])).toBe('; ');
    expect(reportSeparator(['-st1'])).toBe('; ');
    expect(reportSeparator(['-t', '0', '-F'])).toBe('\n');
    expect(reportSeparator([])).toBe('\n');
  });
});

describe('files', () => {
  const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

  it('text files differ line by line, with the lines shown', () => {
    const d = compareFile('out', { kind: 'bytes', bytes: encode('1\n2\n3\n'), text: true }, encode('1\n5\n3\n'));
    expect(d?.detail).toEqual(['  1: "1"', '- 2: "2"', '+ 2: "5"']);
    expect(textDiff('a\nb', 'a\nb\nc')).toEqual(['  2: "b"', '+ 3: "c"']);
  });

  it('binary files show the first differing offset and the bytes around it', () => {
    const d = compareFile('bin', { kind: 'bytes', bytes: Uint8Array.from([0, 1, 2, 3]), text: false }, Uint8Array.from([0, 1, 9]));
    expect(d?.detail).toEqual(bytesDiff(Uint8Array.from([0, 1, 2, 3]), Uint8Array.from([0, 1, 9])));
    expect(d?.detail?.[0]).toBe('sizes: expected 4, got 3; first difference at offset 2');
  });

  it('sha1, size and absence', () => {
    expect(compareFile('x', { kind: 'sha1', sha1: SHA, size: 0 }, new Uint8Array(0))).toBeUndefined();
    expect(compareFile('x', { kind: 'sha1', sha1: SHA, size: undefined }, encode('a'))).toBeDefined();
    expect(compareFile('x', { kind: 'size', size: 1 }, encode('a'))).toBeUndefined();
    expect(compareFile('x', { kind: 'absent' }, undefined)).toBeUndefined();
    expect(compareFile('x', { kind: 'absent' }, encode('a'))).toBeDefined();
    expect(compareFile('x', { kind: 'size', size: 1 }, undefined)?.actual).toBe('no such file');
  });
});
