/**
 * What the runner hands a validator command and reads back from it: the
 * region files ({hex}, {raw}: exactly the case's bytes) and the errors on
 * stdout, as JSON or as NaCl's `ncval` listing.
 */
import { describe, expect, it } from 'vitest';
import { hexText, reportedErrors } from './validator-case.js';

describe('the region files', () => {
  it('hex text: 16 bytes a line; the empty region is an empty file', () => {
    expect(hexText(Uint8Array.from({ length: 18 }, (_, i) => i))).toBe('00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n10 11\n');
    expect(hexText(new Uint8Array(0))).toBe('');
  });
});

describe('reportedErrors', () => {
  it('reads a JSON object\'s errors; an address stands for base + offset', () => {
    expect(reportedErrors('{"errors": [{"offset": 3, "rule": "r"}, {"address": 131076}]}', 0x20000)).toEqual([
      { offset: 3, rule: 'r' },
      { offset: 4, rule: undefined },
    ]);
  });

  it('reads NaCl\'s listing: hex addresses less the base, warnings left out', () => {
    const listing = '   20000: warning - bad call alignment\n   2001c: unrecognized instruction\n   20020: bad jump target\nInvalid.\n';
    expect(reportedErrors(listing, 0x20000)).toEqual([
      { offset: 0x1c, rule: undefined },
      { offset: 0x20, rule: undefined },
    ]);
    expect(reportedErrors('       0: warning - bad call alignment\nValid.\n', 0)).toEqual([]);
  });

  it('finds none in anything else', () => {
    expect(reportedErrors('Invalid.\n', 0)).toEqual([]);
    expect(reportedErrors('', 0)).toBeUndefined();
    expect(reportedErrors('rejected: ret at 3\nInvalid.\n', 0)).toBeUndefined();
    expect(reportedErrors('{"valid": false}', 0)).toBeUndefined();
  });
});
