/**
 * Conditional requests (conditional.ts; spec/serving.md, "Conditional
 * requests"): Swift's parsing and answers on examples, and, for generated
 * header sets, the outcome against a small model of RFC 7232 section 6's
 * evaluation order that works on what the headers mean (which tags, which
 * dates) rather than on their text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, lastModifiedHeader, lastModifiedSeconds, parseHttpDate, parseTagList, preconditionsOf, writeCondition, type Outcome, type Preconditions, type Version } from './conditional.js';

const ETAG = 'd41d8cd98f00b204e9800998ecf8427e';
const OTHER = '0cc175b9c0f1b6a831c399e269772661';
/** Written at 03:04:05.250: Last-Modified is 03:04:06 (rounded up). */
const WRITTEN = Date.UTC(2026, 0, 2, 3, 4, 5, 250);
const object: Version = { etag: ETAG, timestamp: WRITTEN };
/** `null`: there is no object (an explicit undefined would take the default). */
const kind = (method: string, headers: Preconditions, current: Version | null = object): Outcome['kind'] => evaluatePreconditions(method, headers, current ?? undefined).kind;

describe('HTTP dates', () => {
  it('read the three forms of RFC 7231 (its own examples) and nothing else', () => {
    const sunday = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(sunday);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(sunday);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(sunday);
    expect(parseHttpDate('Tuesday, 01-Jan-30 00:00:00 GMT')).toBe(Date.UTC(2030, 0, 1) / 1000);
    for (const bad of ['', 'yesterday', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 1994 08:49:37 PST', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 06 Foo 1994 08:49:37 GMT', '784111777']) {
      expect(parseHttpDate(bad), bad).toBeUndefined();
    }
  });

  it('give Last-Modified as the write time rounded up to the second, as Swift', () => {
    expect(lastModifiedHeader(WRITTEN)).toBe('Fri, 02 Jan 2026 03:04:06 GMT');
    expect(lastModifiedHeader(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('Fri, 02 Jan 2026 03:04:05 GMT');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (ms) => {
        expect(parseHttpDate(lastModifiedHeader(ms))).toBe(lastModifiedSeconds(ms));
        expect(lastModifiedSeconds(ms) * 1000).toBeGreaterThanOrEqual(ms);
        expect(lastModifiedSeconds(ms) * 1000 - ms).toBeLessThan(1000);
      }),
    );
  });
});

describe('entity-tag lists', () => {
  it('take quoted and unquoted tags, drop blanks and empty items, and read * anywhere as any', () => {
    expect(parseTagList(`"${ETAG}"`)).toEqual([{ opaque: ETAG, weak: false }]);
    expect(parseTagList(` ${ETAG} ,, W/"x",y`)).toEqual([
      { opaque: ETAG, weak: false },
      { opaque: 'x', weak: true },
      { opaque: 'y', weak: false },
    ]);
    expect(parseTagList(`"a", *`)).toBe('any');
    expect(parseTagList('"*"')).toBe('any');
    expect(parseTagList('')).toEqual([]);
  });
});

describe('GET and HEAD', () => {
  it('answer 304 for If-None-Match naming the ETag (quoted, unquoted, in a list, weak, or *)', () => {
    for (const value of [`"${ETAG}"`, ETAG, `"${OTHER}", "${ETAG}"`, `W/"${ETAG}"`, '*']) {
      expect(kind('GET', { ifNoneMatch: value }), value).toBe('not-modified');
      expect(kind('HEAD', { ifNoneMatch: value }), value).toBe('not-modified');
    }
    expect(kind('GET', { ifNoneMatch: `"${OTHER}"` })).toBe('proceed');
    expect(kind('GET', { ifNoneMatch: `"${ETAG.toUpperCase()}"` })).toBe('proceed');
  });

  it('answer 412 for If-Match not naming the ETag; a weak tag never matches it', () => {
    expect(kind('GET', { ifMatch: `"${ETAG}"` })).toBe('proceed');
    expect(kind('GET', { ifMatch: ETAG })).toBe('proceed');
    expect(kind('GET', { ifMatch: '*' })).toBe('proceed');
    expect(kind('GET', { ifMatch: `"${OTHER}"` })).toBe('precondition-failed');
    expect(kind('HEAD', { ifMatch: `W/"${ETAG}"` })).toBe('precondition-failed');
    expect(kind('GET', { ifMatch: '' })).toBe('precondition-failed');
  });

  it('compare dates with the Last-Modified sent (rounded up), in whole seconds; ignore what is not a date', () => {
    const lastModified = lastModifiedHeader(WRITTEN);
    expect(kind('GET', { ifModifiedSince: lastModified })).toBe('not-modified');
    expect(kind('GET', { ifModifiedSince: 'Fri, 02 Jan 2026 03:04:05 GMT' })).toBe('proceed');
    expect(kind('GET', { ifModifiedSince: 'not a date' })).toBe('proceed');
    expect(kind('GET', { ifUnmodifiedSince: lastModified })).toBe('proceed');
    expect(kind('GET', { ifUnmodifiedSince: 'Fri, 02 Jan 2026 03:04:05 GMT' })).toBe('precondition-failed');
    expect(kind('GET', { ifUnmodifiedSince: 'garbage' })).toBe('proceed');
  });

  it('follow RFC 7232 where Swift did not: If-Match before If-None-Match; a date header is ignored beside its tag header', () => {
    /* Swift answered 304: it checked If-None-Match first */
    expect(kind('GET', { ifMatch: `"${OTHER}"`, ifNoneMatch: `"${ETAG}"` })).toBe('precondition-failed');
    /* Swift answered 304 and 412: it also checked the dates */
    expect(kind('GET', { ifNoneMatch: `"${OTHER}"`, ifModifiedSince: lastModifiedHeader(WRITTEN) })).toBe('proceed');
    expect(kind('GET', { ifMatch: `"${ETAG}"`, ifUnmodifiedSince: 'Thu, 01 Jan 1970 00:00:00 GMT' })).toBe('proceed');
  });

  it('on a missing object: 412 only for If-Match holding * (as Swift); the rest falls through to 404', () => {
    expect(kind('GET', { ifMatch: '*' }, null)).toBe('precondition-failed');
    expect(kind('HEAD', { ifMatch: `"a", *` }, null)).toBe('precondition-failed');
    expect(kind('GET', { ifMatch: `"${ETAG}"` }, null)).toBe('proceed');
    expect(kind('GET', { ifNoneMatch: '*' }, null)).toBe('proceed');
  });
});

describe('PUT', () => {
  it('takes If-None-Match: * as create-only, refuses any other If-None-Match with 400, and ignores the rest', () => {
    expect(writeCondition({})).toEqual({ kind: 'write', onlyIfAbsent: false });
    expect(writeCondition({ ifNoneMatch: '*' })).toEqual({ kind: 'write', onlyIfAbsent: true });
    expect(writeCondition({ ifNoneMatch: `"${ETAG}"` }).kind).toBe('bad-request');
    expect(kind('PUT', { ifNoneMatch: '*' })).toBe('precondition-failed');
    expect(kind('PUT', { ifNoneMatch: '*' }, null)).toBe('proceed');
    expect(kind('PUT', { ifNoneMatch: `"${OTHER}"` }, null)).toBe('bad-request');
    expect(kind('PUT', { ifMatch: `"${OTHER}"`, ifUnmodifiedSince: 'Thu, 01 Jan 1970 00:00:00 GMT' })).toBe('proceed');
    expect(kind('DELETE', { ifMatch: `"${OTHER}"` })).toBe('proceed');
  });
});

describe('node:http headers', () => {
  it('joins repeated tag headers into one list', () => {
    expect(preconditionsOf({ 'if-match': ['"a"', '"b"'], 'if-modified-since': 'x' })).toEqual({ ifMatch: '"a", "b"', ifNoneMatch: undefined, ifModifiedSince: 'x', ifUnmodifiedSince: undefined });
  });
});

/* ---- the model: RFC 7232 section 6 on what the headers mean ---- */

/** One item of a generated tag list: the object's ETag, another, or `*`; written weak and/or quoted or not. */
interface TagItem {
  readonly names: 'current' | 'other' | 'star';
  readonly weak: boolean;
  readonly quoted: boolean;
}
/** A generated date header: seconds from the object's Last-Modified in one of the three forms, or text that is no date. */
type DateItem = { readonly valid: true; readonly offset: number; readonly form: 'imf' | 'rfc850' | 'asctime' } | { readonly valid: false; readonly text: string };

interface Generated {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  readonly exists: boolean;
  readonly timestamp: number;
  readonly ifMatch?: readonly TagItem[];
  readonly ifNoneMatch?: readonly TagItem[];
  readonly ifModifiedSince?: DateItem;
  readonly ifUnmodifiedSince?: DateItem;
  readonly separator: string;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

function writeDate(seconds: number, form: 'imf' | 'rfc850' | 'asctime'): string {
  const d = new Date(seconds * 1000);
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const day = DAYS[d.getUTCDay()]!;
  const month = MONTHS[d.getUTCMonth()]!;
  if (form === 'imf') return `${day.slice(0, 3)}, ${two(d.getUTCDate())} ${month} ${d.getUTCFullYear()} ${time} GMT`;
  if (form === 'rfc850') return `${day}, ${two(d.getUTCDate())}-${month}-${two(d.getUTCFullYear() % 100)} ${time} GMT`;
  return `${day.slice(0, 3)} ${month} ${String(d.getUTCDate()).padStart(2, ' ')} ${time} ${d.getUTCFullYear()}`;
}

function writeTag(item: TagItem): string {
  if (item.names === 'star') return item.quoted ? '"*"' : '*';
  const opaque = item.names === 'current' ? ETAG : OTHER;
  return `${item.weak ? 'W/' : ''}${item.quoted ? `"${opaque}"` : opaque}`;
}

const tagItem = fc.record({ names: fc.constantFrom('current', 'other', 'star') as fc.Arbitrary<TagItem['names']>, weak: fc.boolean(), quoted: fc.boolean() }).map((t) => (t.names === 'star' ? { ...t, weak: false } : t));
const tagList = fc.array(tagItem, { maxLength: 3 });
const dateItem: fc.Arbitrary<DateItem> = fc.oneof(
  fc.record({ valid: fc.constant(true as const), offset: fc.integer({ min: -2, max: 2 }), form: fc.constantFrom('imf', 'rfc850', 'asctime') as fc.Arbitrary<'imf' | 'rfc850' | 'asctime'> }),
  fc.record({ valid: fc.constant(false as const), text: fc.constantFrom('', 'now', '2026-01-02', 'Fri, 32 Jan 2026 00:00:00 GMT') }),
);
const generated: fc.Arbitrary<Generated> = fc.record(
  {
    method: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE') as fc.Arbitrary<Generated['method']>,
    exists: fc.boolean(),
    /* 1970 to 2065: RFC 850's two-digit years read back to the same year */
    timestamp: fc.integer({ min: 3000, max: 3_000_000_000_000 }),
    ifMatch: tagList,
    ifNoneMatch: tagList,
    ifModifiedSince: dateItem,
    ifUnmodifiedSince: dateItem,
    separator: fc.constantFrom(',', ', ', ' , ', ',,'),
  },
  { requiredKeys: ['method', 'exists', 'timestamp', 'separator'] },
);

function headersOf(g: Generated): Preconditions {
  const lastModified = lastModifiedSeconds(g.timestamp);
  const date = (d: DateItem | undefined): string | undefined => (d === undefined ? undefined : d.valid ? writeDate(lastModified + d.offset, d.form) : d.text);
  const list = (l: readonly TagItem[] | undefined): string | undefined => (l === undefined ? undefined : l.map(writeTag).join(g.separator));
  return { ifMatch: list(g.ifMatch), ifNoneMatch: list(g.ifNoneMatch), ifModifiedSince: date(g.ifModifiedSince), ifUnmodifiedSince: date(g.ifUnmodifiedSince) };
}

/** RFC 7232 section 6, and Swift's PUT, on the generated meanings. */
function model(g: Generated): Outcome['kind'] {
  const any = (l: readonly TagItem[]): boolean => l.some((t) => t.names === 'star');
  if (g.method === 'PUT') {
    if (g.ifNoneMatch === undefined) return 'proceed';
    if (!any(g.ifNoneMatch)) return 'bad-request';
    return g.exists ? 'precondition-failed' : 'proceed';
  }
  if (g.method !== 'GET' && g.method !== 'HEAD') return 'proceed';
  if (!g.exists) return g.ifMatch !== undefined && any(g.ifMatch) ? 'precondition-failed' : 'proceed';
  /* the date headers' offsets are from Last-Modified: "modified since D" is offset < 0 */
  if (g.ifMatch !== undefined) {
    const strongMatch = any(g.ifMatch) || g.ifMatch.some((t) => t.names === 'current' && !t.weak);
    if (!strongMatch) return 'precondition-failed';
  } else if (g.ifUnmodifiedSince?.valid === true && g.ifUnmodifiedSince.offset < 0) return 'precondition-failed';
  if (g.ifNoneMatch !== undefined) {
    if (any(g.ifNoneMatch) || g.ifNoneMatch.some((t) => t.names === 'current')) return 'not-modified';
  } else if (g.ifModifiedSince?.valid === true && g.ifModifiedSince.offset >= 0) return 'not-modified';
  return 'proceed';
}

describe('the evaluation order (property)', () => {
  it('agrees with a model of RFC 7232 section 6 for generated requests', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const current = g.exists ? { etag: ETAG, timestamp: g.timestamp } : undefined;
        expect(evaluatePreconditions(g.method, headersOf(g), current).kind).toBe(model(g));
      }),
      { numRuns: 2000 },
    );
  });

  it('never answers 304 to a PUT or DELETE, and never anything but proceed without conditions', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const outcome = evaluatePreconditions(g.method, headersOf(g), g.exists ? { etag: ETAG, timestamp: g.timestamp } : undefined);
        if (g.method === 'PUT' || g.method === 'DELETE') expect(outcome.kind).not.toBe('not-modified');
        expect(evaluatePreconditions(g.method, {}, g.exists ? { etag: ETAG, timestamp: g.timestamp } : undefined).kind).toBe('proceed');
      }),
    );
  });
});
