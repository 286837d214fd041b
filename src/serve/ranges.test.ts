/**
 * Range requests as Swift answers them (ranges.ts; spec/serving.md,
 * "Objects"): each rule on examples, and the single-range answers against
 * a model of RFC 7233 for generated lengths and ranges.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentRange, multipartPieces, parseRangeHeader, planRanges, type RangePlan } from './ranges.js';

const modified = new Date('2026-01-02T03:04:05Z');
const object = (length: number): { length: number; etag: string; lastModified: Date } => ({ length, etag: 'd41d8cd98f00b204e9800998ecf8427e', lastModified: modified });
const plan = (range: string | undefined, length = 100, ifRange?: string): RangePlan => planRanges({ range, ...(ifRange === undefined ? {} : { ifRange }) }, object(length));

describe('Range headers', () => {
  it('answer one range with its bytes: A-B, A- and -N, clipped to the object', () => {
    expect(plan('bytes=0-9')).toEqual({ kind: 'partial', ranges: [{ start: 0, end: 10 }] });
    expect(plan('bytes=90-')).toEqual({ kind: 'partial', ranges: [{ start: 90, end: 100 }] });
    expect(plan('bytes=-5')).toEqual({ kind: 'partial', ranges: [{ start: 95, end: 100 }] });
    expect(plan('bytes=95-200')).toEqual({ kind: 'partial', ranges: [{ start: 95, end: 100 }] });
    expect(plan('bytes=-500')).toEqual({ kind: 'partial', ranges: [{ start: 0, end: 100 }] });
    expect(plan('Bytes = 1 - 2')).toEqual({ kind: 'partial', ranges: [{ start: 1, end: 3 }] });
  });

  it('are unsatisfiable (416) when no range is within the object, or for -0', () => {
    for (const r of ['bytes=100-', 'bytes=200-300', 'bytes=-0', 'bytes=100-100,-0']) expect(plan(r).kind, r).toBe('unsatisfiable');
    expect(plan('bytes=0-')).toMatchObject({ kind: 'partial' });
    expect(plan('bytes=0-', 0)).toMatchObject({ kind: 'unsatisfiable', reason: expect.stringMatching(/within the object's 0 bytes/) });
  });

  it('are ignored (the whole object) when malformed', () => {
    for (const r of ['bytes=5-2', 'items=0-1', 'bytes=a-b', 'bytes=-', 'bytes=0-1,', 'bytes=1', 'bytes=--1', 'bytes=+1-2']) {
      expect(parseRangeHeader(r), r).toBeUndefined();
      expect(plan(r), r).toEqual({ kind: 'whole' });
    }
    expect(plan(undefined)).toEqual({ kind: 'whole' });
  });

  it('keep several ranges in the order asked, dropping those past the end', () => {
    expect(plan('bytes=10-12,0-1')).toEqual({ kind: 'partial', ranges: [{ start: 10, end: 13 }, { start: 0, end: 2 }] });
    expect(plan('bytes=0-1,200-300')).toEqual({ kind: 'partial', ranges: [{ start: 0, end: 2 }] });
  });

  it("refuse egregious sets with Swift's thresholds", () => {
    expect(plan(`bytes=${Array.from({ length: 51 }, (_, i) => `${i}-${i}`).join(',')}`)).toMatchObject({ kind: 'unsatisfiable', reason: expect.stringMatching(/more than 50 ranges/) });
    expect(plan(`bytes=${Array.from({ length: 50 }, (_, i) => `${i}-${i}`).join(',')}`).kind).toBe('partial');
    expect(plan('bytes=0-50,1-50,2-50')).toMatchObject({ kind: 'unsatisfiable', reason: expect.stringMatching(/overlapping/) });
    expect(plan('bytes=0-50,1-50').kind).toBe('partial');
    expect(plan('bytes=9-9,8-8,7-7,6-6,5-5,4-4,3-3,2-2')).toMatchObject({ kind: 'unsatisfiable', reason: expect.stringMatching(/ascending/) });
    expect(plan('bytes=8-8,7-7,6-6,5-5,4-4,3-3,2-2').kind).toBe('partial');
  });

  it('follow If-Range: the ETag or the Last-Modified date must match', () => {
    const etag = object(1).etag;
    expect(plan('bytes=0-1', 100, etag).kind).toBe('partial');
    expect(plan('bytes=0-1', 100, `"${etag}"`).kind).toBe('partial');
    expect(plan('bytes=0-1', 100, `W/"${etag}"`).kind).toBe('whole');
    expect(plan('bytes=0-1', 100, '"0123"').kind).toBe('whole');
    expect(plan('bytes=0-1', 100, modified.toUTCString()).kind).toBe('partial');
    expect(plan('bytes=0-1', 100, new Date(modified.getTime() - 1000).toUTCString()).kind).toBe('whole');
  });

  it('answer a zero-length object whole when only a suffix could match', () => {
    expect(plan('bytes=-5', 0)).toEqual({ kind: 'whole' });
  });

  it('match a model of RFC 7233 for any single range', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.option(fc.nat(1200), { nil: undefined }), fc.option(fc.nat(1200), { nil: undefined }), (length, a, b) => {
        if (a === undefined && b === undefined) return;
        if (a !== undefined && b !== undefined && b < a) return;
        const header = `bytes=${a ?? ''}-${b ?? ''}`;
        const got = plan(header, length);
        let want: RangePlan;
        if (a === undefined) {
          const n = Math.min(b!, length);
          want = b === 0 ? { kind: 'unsatisfiable', reason: '' } : n === 0 ? { kind: 'whole' } : { kind: 'partial', ranges: [{ start: length - n, end: length }] };
        } else if (a >= length) want = { kind: 'unsatisfiable', reason: '' };
        else want = { kind: 'partial', ranges: [{ start: a, end: Math.min(b === undefined ? length : b + 1, length) }] };
        expect(got.kind).toBe(want.kind);
        if (want.kind === 'partial') expect(got).toEqual(want);
      }),
    );
  });

  it('build multipart/byteranges parts whose length is counted exactly', () => {
    const ranges = [{ start: 0, end: 2 }, { start: 10, end: 13 }];
    const { heads, tail, bytes } = multipartPieces(ranges, 100, 'text/plain', 'B');
    expect(heads[0]).toBe('--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/100\r\n\r\n');
    expect(heads[1]).toBe('\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/100\r\n\r\n');
    expect(tail).toBe('\r\n--B--\r\n');
    expect(bytes).toBe(heads.join('').length + 5 + tail.length);
    expect(contentRange({ start: 5, end: 6 }, 9)).toBe('bytes 5-5/9');
  });
});
