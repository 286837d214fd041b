/**
 * Conditional requests on objects (`If-Match`, `If-None-Match`,
 * `If-Modified-Since`, `If-Unmodified-Since`), as OpenStack Swift answers
 * them, in the order RFC 7232 section 6 evaluates them (spec/serving.md,
 * "Conditional requests"). One pure function decides; server.ts only
 * answers what it decided.
 *
 * - Entity tags: a comma-separated list; blanks around items are dropped,
 *   quotes are optional (Swift takes `abc` as `"abc"`), and a `*` anywhere
 *   in the list matches any object. A weak tag (`W/"abc"`) never matches
 *   in `If-Match` (RFC 7232's strong comparison); in `If-None-Match` it
 *   matches the object whose ETag is `abc` (the weak comparison; Swift
 *   compared the text `W/"abc"` and never matched). Tags are compared as
 *   written: ETags are lower-case hex.
 * - Dates: the three forms of RFC 7231 section 7.1.1.1; anything else is
 *   not a date and the header is ignored (RFC 7232, and Swift). They are
 *   compared in whole seconds with the Last-Modified the server sends: the
 *   write's time rounded *up* to the second, as Swift's object server did,
 *   so a version is never announced older than it is.
 * - GET and HEAD of an object, RFC 7232 section 6: a failing `If-Match`
 *   answers 412; without `If-Match`, a failing `If-Unmodified-Since`
 *   answers 412; then a matching `If-None-Match` answers 304; without
 *   `If-None-Match`, an `If-Modified-Since` the object is not newer than
 *   answers 304. Only then do Range and If-Range apply (ranges.ts): a 304
 *   or 412 never carries a range. Swift checked `If-None-Match` first and
 *   did not ignore a date beside its tag header; the answers differ only
 *   for such pairs, and this module follows the RFC there.
 * - GET and HEAD of a missing object: 412 when `If-Match` holds `*` (as
 *   Swift, after RFC 2616 section 14.24); otherwise the conditions do not
 *   apply and the answer is 404.
 * - PUT: `If-None-Match: *` stores the object only if there is none (412
 *   otherwise); any `If-None-Match` without `*` is refused with 400, as
 *   Swift's proxy did ("If-None-Match only supports *"). The other three
 *   headers are ignored on PUT, as Swift ignores them.
 * - Other methods (DELETE, POST) ignore them, as Swift.
 */

/** The four headers as a request sent them (undefined: absent). */
export interface Preconditions {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
}

/** What the conditions see of an object's current version. */
export interface Version {
  readonly etag: string;
  /** Milliseconds since the epoch of the write (ObjectInfo.timestamp). */
  readonly timestamp: number;
}

export type Outcome =
  /** Answer as without the conditions (PUT: store; GET/HEAD: 200, 206, 416 or 404). */
  | { readonly kind: 'proceed' }
  /** 304 Not Modified (GET and HEAD only). */
  | { readonly kind: 'not-modified'; readonly reason: string }
  /** 412 Precondition Failed. */
  | { readonly kind: 'precondition-failed'; readonly reason: string }
  /** 400: a condition this server does not evaluate (PUT with an If-None-Match other than `*`). */
  | { readonly kind: 'bad-request'; readonly reason: string };

const PROCEED: Outcome = { kind: 'proceed' };

/** One item of an entity-tag list. */
interface Tag {
  readonly opaque: string;
  readonly weak: boolean;
}

/** `"a", W/"b", c` -> its tags, or 'any' when one is `*`. */
export function parseTagList(header: string): readonly Tag[] | 'any' {
  const tags: Tag[] = [];
  for (const item of header.split(',')) {
    let text = item.trim();
    if (text === '') continue;
    const weak = text.startsWith('W/');
    if (weak) text = text.slice(2);
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
    if (text === '*' && !weak) return 'any';
    tags.push({ opaque: text, weak });
  }
  return tags;
}

/** RFC 7232 section 2.3.2: strong comparison (If-Match) needs both tags strong; weak comparison (If-None-Match) compares the opaque text only. */
function listMatches(header: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  const tags = parseTagList(header);
  if (tags === 'any') return true;
  return tags.some((t) => t.opaque === etag && (comparison === 'weak' || !t.weak));
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * An HTTP-date (RFC 7231 section 7.1.1.1: IMF-fixdate, the obsolete
 * RFC 850 and asctime forms) -> seconds since the epoch, or undefined when
 * the text is none of them or names no real time. RFC 850's two-digit
 * years 70-99 are 1970-1999, 00-69 are 2000-2069 (a fixed pivot keeps this
 * a pure function; the RFC's "50 years ahead" rule needs today's date).
 */
export function parseHttpDate(text: string): number | undefined {
  const value = text.trim();
  let parts: [string, string, string, string, string, string] | undefined;
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) parts = [m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!];
  else if ((m = RFC850_DATE.exec(value)) !== null) {
    const yy = Number(m[3]);
    parts = [m[1]!, m[2]!, String(yy >= 70 ? 1900 + yy : 2000 + yy), m[4]!, m[5]!, m[6]!];
  } else if ((m = ASCTIME_DATE.exec(value)) !== null) parts = [m[2]!.trim(), m[1]!, m[6]!, m[3]!, m[4]!, m[5]!];
  if (parts === undefined) return undefined;
  const [day, monthName, year, hour, minute, second] = parts.map((p, i) => (i === 1 ? p : Number(p))) as [number, string, number, number, number, number];
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  const midnight = Date.UTC(year, month, day);
  /* Date.UTC rolls 31 Feb over into March: such a day names no date */
  if (new Date(midnight).getUTCDate() !== day || new Date(midnight).getUTCMonth() !== month) return undefined;
  return midnight / 1000 + hour * 3600 + minute * 60 + second;
}

/** The whole second the server calls a version's Last-Modified: its write time rounded up, as Swift. */
export function lastModifiedSeconds(timestamp: number): number {
  return Math.ceil(timestamp / 1000);
}

/** The Last-Modified header of a version written at `timestamp` (ms). */
export function lastModifiedHeader(timestamp: number): string {
  return new Date(lastModifiedSeconds(timestamp) * 1000).toUTCString();
}

function hasStar(header: string): boolean {
  return parseTagList(header) === 'any';
}

/** GET and HEAD: RFC 7232 section 6, steps 1 to 4. */
function evaluateRead(headers: Preconditions, current: Version | undefined): Outcome {
  if (current === undefined) {
    if (headers.ifMatch !== undefined && hasStar(headers.ifMatch)) return { kind: 'precondition-failed', reason: 'If-Match: * asks for an object that exists, and there is none' };
    return PROCEED;
  }
  const modified = lastModifiedSeconds(current.timestamp);
  if (headers.ifMatch !== undefined) {
    if (!listMatches(headers.ifMatch, current.etag, 'strong')) return { kind: 'precondition-failed', reason: `If-Match does not name the object's ETag ${current.etag}` };
  } else if (headers.ifUnmodifiedSince !== undefined) {
    const since = parseHttpDate(headers.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return { kind: 'precondition-failed', reason: `the object was modified after If-Unmodified-Since (Last-Modified: ${lastModifiedHeader(current.timestamp)})` };
  }
  if (headers.ifNoneMatch !== undefined) {
    if (listMatches(headers.ifNoneMatch, current.etag, 'weak')) return { kind: 'not-modified', reason: 'If-None-Match names the ETag' };
  } else if (headers.ifModifiedSince !== undefined) {
    const since = parseHttpDate(headers.ifModifiedSince);
    if (since !== undefined && modified <= since) return { kind: 'not-modified', reason: 'not modified since If-Modified-Since' };
  }
  return PROCEED;
}

/**
 * PUT: whether an `If-None-Match` asks to create only (`*`); 400 for any
 * other value (Swift's proxy). Needs no object: the server checks this
 * before it looks for one.
 */
export function writeCondition(headers: Preconditions): { readonly kind: 'write'; readonly onlyIfAbsent: boolean } | { readonly kind: 'bad-request'; readonly reason: string } {
  if (headers.ifNoneMatch === undefined) return { kind: 'write', onlyIfAbsent: false };
  if (hasStar(headers.ifNoneMatch)) return { kind: 'write', onlyIfAbsent: true };
  return { kind: 'bad-request', reason: `If-None-Match only supports * on PUT (store only if the object does not exist); '${headers.ifNoneMatch}' names entity tags` };
}

/** The 412 of a PUT with `If-None-Match: *` onto an existing object. */
export const EXISTS_REASON = 'If-None-Match: * stores the object only if it does not exist, and it does';

/**
 * What a request of `method` with these headers answers, given the
 * object's current version (undefined: there is none).
 */
export function evaluatePreconditions(method: string, headers: Preconditions, current: Version | undefined): Outcome {
  if (method === 'GET' || method === 'HEAD') return evaluateRead(headers, current);
  if (method === 'PUT') {
    const write = writeCondition(headers);
    if (write.kind === 'bad-request') return write;
    if (write.onlyIfAbsent && current !== undefined) return { kind: 'precondition-failed', reason: EXISTS_REASON };
  }
  return PROCEED;
}

/** The four headers of a node:http request (repeated If-Match and If-None-Match are joined with commas, the dates keep the first). */
export function preconditionsOf(headers: { readonly [name: string]: string | string[] | undefined }): Preconditions {
  const one = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return { ifMatch: one('if-match'), ifNoneMatch: one('if-none-match'), ifModifiedSince: one('if-modified-since'), ifUnmodifiedSince: one('if-unmodified-since') };
}
