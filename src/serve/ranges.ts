/**
 * Range requests on objects (`GET` with `Range: bytes=...`), as OpenStack
 * Swift answers them (spec/serving.md, "Objects"; RFC 7233):
 *
 * - `bytes=A-B`, `bytes=A-` (to the end) and `bytes=-N` (the last N bytes),
 *   several separated by commas; blanks are ignored and `bytes` is matched
 *   without regard to case. A header that is not of this form (another
 *   unit, a missing '-', B before A, a non-number, an empty item) is
 *   ignored: the whole object is the answer (200).
 * - A range that starts at or past the end is dropped; an end past the end
 *   is cut to the end; a suffix longer than the object is the whole object;
 *   `-0` is dropped. No range left: 416, with a Content-Range of `bytes *`
 *   and then `/LEN`.
 * - One range left: 206 with `Content-Range: bytes A-B/LEN`. Several:
 *   206 `multipart/byteranges`, one part per range in the order asked
 *   (Swift neither sorts nor merges them).
 * - Egregious sets are refused with 416, with Swift's thresholds: more than
 *   50 ranges, more than 2 overlapping pairs, or 8 or more ranges not in
 *   ascending order (RFC 7233 section 6.1 asks servers to refuse such sets).
 * - `If-Range` (an ETag, quotes optional, or an HTTP date): when it does not
 *   match the object's ETag or Last-Modified (the header's exact second,
 *   conditional.ts), the Range is ignored (200).
 * - A zero-length object has no byte to send: a set that is satisfiable
 *   only through a suffix (`bytes=-5`) answers the whole, empty object
 *   with 200 (Swift would send a 206 with `bytes 0--1/0`).
 *
 * Where: src/serve/server.ts asks `planRanges` for every object GET that
 * the conditions of conditional.ts let through (a 304 or 412 carries no
 * range); HEAD ignores Range (as Swift and RFC 7233 do), so its headers
 * are those of a GET without one.
 */
import { lastModifiedSeconds, parseHttpDate } from './conditional.js';

/** Swift's limits on one Range header (swift/common/swob.py). */
export const MAX_RANGES = 50;
export const MAX_RANGE_OVERLAPS = 2;
export const MAX_NONASCENDING_RANGES = 8;

/** Bytes `start` up to `end`, exclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type RangePlan =
  /** No Range, one to ignore, or an If-Range that does not match: the whole object, 200. */
  | { readonly kind: 'whole' }
  /** 416. */
  | { readonly kind: 'unsatisfiable'; readonly reason: string }
  /** 206: one range, or several as multipart/byteranges. */
  | { readonly kind: 'partial'; readonly ranges: readonly ByteRange[] };

type Spec = readonly [number | undefined, number | undefined];

/** `bytes=...` -> its items, or undefined when the header is to be ignored. */
export function parseRangeHeader(header: string): Spec[] | undefined {
  const text = header.replace(/[ \t]/g, '');
  if (!/^bytes=/i.test(text)) return undefined;
  const specs: Spec[] = [];
  for (const item of text.slice('bytes='.length).split(',')) {
    const m = /^(\d*)-(\d*)$/.exec(item);
    if (m === null) return undefined;
    const start = m[1] === '' ? undefined : Number(m[1]);
    const end = m[2] === '' ? undefined : Number(m[2]);
    if (start === undefined && end === undefined) return undefined;
    if (start !== undefined && end !== undefined && end < start) return undefined;
    specs.push([start, end]);
  }
  return specs;
}

/** The ranges of `specs` that an object of `length` bytes can satisfy, clipped to it. */
function satisfiable(specs: readonly Spec[], length: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (const [start, end] of specs) {
    if (start === undefined) {
      const suffix = end as number;
      if (suffix === 0) continue;
      ranges.push({ start: Math.max(0, length - suffix), end: length });
    } else if (start < length) {
      ranges.push({ start, end: end === undefined ? length : Math.min(end + 1, length) });
    }
  }
  return ranges;
}

function egregious(ranges: readonly ByteRange[]): string | undefined {
  if (ranges.length > MAX_RANGES) return `more than ${MAX_RANGES} ranges`;
  let overlaps = 0;
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      if ((a.start < b.start && b.start < a.end) || (a.start < b.end && b.end < a.end) || (b.start < a.start && a.start < b.end) || (b.start < a.end && a.end < b.end)) overlaps++;
      if (overlaps > MAX_RANGE_OVERLAPS) return `more than ${MAX_RANGE_OVERLAPS} overlapping ranges`;
    }
  }
  const ascending = ranges.every((r, i) => i === 0 || ranges[i - 1]!.start <= r.start);
  if (!ascending && ranges.length >= MAX_NONASCENDING_RANGES) return `${MAX_NONASCENDING_RANGES} or more ranges out of ascending order`;
  return undefined;
}

/** Whether `ifRange` (an entity tag or an HTTP date) still names this version of the object. */
function ifRangeMatches(ifRange: string, etag: string, lastModified: Date): boolean {
  const value = ifRange.trim();
  if (value.startsWith('W/')) return false; /* a weak tag never matches (RFC 7233 section 3.2) */
  if (value.startsWith('"') || /^[0-9a-f]{32}$/i.test(value)) return value.replace(/^"|"$/g, '').toLowerCase() === etag.toLowerCase();
  /* the date must be the Last-Modified the server sends (conditional.ts: whole seconds, rounded up) */
  const date = parseHttpDate(value);
  return date !== undefined && date === lastModifiedSeconds(lastModified.getTime());
}

/** What a GET of an object of `length` bytes answers to these request headers. */
export function planRanges(headers: { readonly range?: string | undefined; readonly ifRange?: string | undefined }, object: { readonly length: number; readonly etag: string; readonly lastModified: Date }): RangePlan {
  if (headers.range === undefined) return { kind: 'whole' };
  const specs = parseRangeHeader(headers.range);
  if (specs === undefined) return { kind: 'whole' };
  if (headers.ifRange !== undefined && !ifRangeMatches(headers.ifRange, object.etag, object.lastModified)) return { kind: 'whole' };
  const ranges = satisfiable(specs, object.length);
  if (ranges.length === 0) return { kind: 'unsatisfiable', reason: `no range of '${headers.range}' is within the object's ${object.length} bytes (the first byte is 0, the last ${object.length - 1})` };
  const refused = egregious(ranges);
  if (refused !== undefined) return { kind: 'unsatisfiable', reason: `the Range header asks for ${refused}; ask for fewer, in order` };
  const nonEmpty = ranges.filter((r) => r.end > r.start);
  if (nonEmpty.length === 0) return { kind: 'whole' };
  return { kind: 'partial', ranges: nonEmpty };
}

/** `bytes A-B/LEN` of one range. */
export function contentRange(range: ByteRange, length: number): string {
  return `bytes ${range.start}-${range.end - 1}/${length}`;
}

/** The head of one part of a multipart/byteranges body (RFC 7233 appendix A), and the closing delimiter. */
export function multipartPieces(ranges: readonly ByteRange[], length: number, contentType: string, boundary: string): { readonly heads: readonly string[]; readonly tail: string; readonly bytes: number } {
  const heads = ranges.map((r, i) => `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(r, length)}\r\n\r\n`);
  const tail = `\r\n--${boundary}--\r\n`;
  const bytes = heads.reduce((n, h) => n + Buffer.byteLength(h), 0) + ranges.reduce((n, r) => n + r.end - r.start, 0) + Buffer.byteLength(tail);
  return { heads, tail, bytes };
}
