/**
 * The comparators: what an implementation produced against what a case
 * expects, each difference as a short readable text.
 *
 * Pipeline position: session-case.ts / validator-case.ts collect the
 * output -> here -> results.ts prints the differences.
 *
 * Comparison classes (conformance/README.md, "How results are compared"),
 * where implementations may legitimately differ:
 * - exit state `exact`: equal, or equal once a logger prefix
 *   "<word> <digits>: " is removed (the original's failed checks printed
 *   one, e.g. "manifest.c 316: MANIFEST 3: invalid memory token");
 * - `signal`: any wording naming the signal number ("Signal 11 from
 *   untrusted code: Halting at 0x...", "signal 11"); `timeout`: any
 *   wording with "timeout"; `failure`: anything but "ok". In strict mode
 *   (the default for this project's implementation) a `reference` must
 *   match too: exactly, or as a prefix for signals (whose text ends with a
 *   host address);
 * - accounting `*`: the two CPU times are any "%.2f" number, counters any
 *   whole number;
 * - etag `*`: any 40-digit SHA-1 (the memory etag hashes the trampoline,
 *   whose code is the implementation's own).
 */
import { createHash } from 'node:crypto';
import type { ExitStateExpect, FileExpect } from './format.js';

export interface Difference {
  /** What differs: "exit code", "report: exit state", "file out"... */
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
  /** Extra lines (a diff of a file), shown indented. */
  readonly detail?: readonly string[];
}

const LOGGER_PREFIX = /^\S+ \d+: /;
const SHA1 = /^[0-9a-fA-F]{40}$/;
const TIME = /^\d+\.\d\d$/;
const COUNTER = /^\d+$/;

export function compareExitState(expected: ExitStateExpect, actual: string, strict: boolean): Difference | undefined {
  const differ = (description: string): Difference => ({ what: 'report: exit state', expected: description, actual: JSON.stringify(actual) });
  switch (expected.kind) {
    case 'exact':
      if (actual === expected.text || actual.replace(LOGGER_PREFIX, '') === expected.text) return undefined;
      return differ(JSON.stringify(expected.text));
    case 'signal': {
      if (!new RegExp(`\\bsignal ${expected.signal}\\b`, 'i').test(actual)) return differ(`signal ${expected.signal} (any wording naming it)`);
      if (strict && expected.reference !== undefined && !actual.startsWith(expected.reference)) return differ(`${JSON.stringify(expected.reference)}... (strict)`);
      return undefined;
    }
    case 'timeout':
      if (!/timeout/i.test(actual)) return differ('a timeout (any wording with "timeout")');
      if (strict && expected.reference !== undefined && actual !== expected.reference) return differ(`${JSON.stringify(expected.reference)} (strict)`);
      return undefined;
    case 'failure':
      if (actual === 'ok' || actual.trim() === '') return differ('a failure (any text but "ok")');
      if (strict && expected.reference !== undefined && actual !== expected.reference && actual.replace(LOGGER_PREFIX, '') !== expected.reference) {
        return differ(`${JSON.stringify(expected.reference)} (strict)`);
      }
      return undefined;
  }
}

/** A report field that must equal a number. */
export function compareNumber(what: string, expected: number, actual: string): Difference | undefined {
  return actual === String(expected) ? undefined : { what, expected: String(expected), actual: JSON.stringify(actual) };
}

/** The etag field: "disable" or "<alias> <sha1|*>" pairs. */
export function compareEtags(expected: string, actual: string): Difference | undefined {
  const differ: Difference = { what: 'report: etags', expected: JSON.stringify(expected), actual: JSON.stringify(actual) };
  if (expected === 'disable') return actual === expected ? undefined : differ;
  const want = expected.split(' ');
  const got = actual.split(' ');
  if (want.length !== got.length) return differ;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (i % 2 === 0 ? w !== g : w === '*' ? !SHA1.test(g) : w !== g.toLowerCase()) return differ;
  }
  return undefined;
}

/** The accounting field: ten tokens; `*` matches a "%.2f" time (first two) or a whole number. */
export function compareAccounting(expected: string, actual: string): Difference | undefined {
  const want = expected.split(' ');
  const got = actual.split(' ');
  const ok =
    want.length === got.length &&
    want.every((w, i) => {
      const g = got[i] as string;
      if (w === '*') return i < 2 ? TIME.test(g) : COUNTER.test(g);
      return w === g;
    });
  return ok ? undefined : { what: 'report: accounting', expected: JSON.stringify(expected), actual: JSON.stringify(actual) };
}

export function sha1Hex(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

const DIFF_LINES = 24;

/** Line-by-line diff of two texts: the differing lines with one line of context, at most DIFF_LINES lines. */
export function textDiff(expected: string, actual: string): string[] {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const out: string[] = [];
  let lastShown = -2;
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < DIFF_LINES; i++) {
    if (a[i] === b[i]) continue;
    if (i - 1 > lastShown && i > 0 && a[i - 1] === b[i - 1]) out.push(`  ${i}: ${JSON.stringify(a[i - 1])}`);
    if (a[i] !== undefined) out.push(`- ${i + 1}: ${JSON.stringify(a[i])}`);
    if (b[i] !== undefined) out.push(`+ ${i + 1}: ${JSON.stringify(b[i])}`);
    lastShown = i;
  }
  if (out.length >= DIFF_LINES) out.push('  ...');
  return out;
}

function hexAround(bytes: Uint8Array, offset: number): string {
  const from = Math.max(0, offset - 8);
  return Buffer.from(bytes.subarray(from, offset + 8)).toString('hex').replace(/(..)/g, '$1 ').trim() + (from > 0 ? ` (from offset ${from})` : '');
}

/** First differing offset of two byte strings, with the bytes around it. */
export function bytesDiff(expected: Uint8Array, actual: Uint8Array): string[] {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  return [`sizes: expected ${expected.length}, got ${actual.length}; first difference at offset ${i}`, `- ${hexAround(expected, i)}`, `+ ${hexAround(actual, i)}`];
}

function isText(bytes: Uint8Array): boolean {
  return !bytes.some((b) => b < 9 || (b > 13 && b < 32));
}

/** A file after the run (`actual` undefined when it does not exist). */
export function compareFile(name: string, expected: FileExpect, actual: Uint8Array | undefined): Difference | undefined {
  const what = `file ${name}`;
  if (expected.kind === 'absent') return actual === undefined ? undefined : { what, expected: 'no such file', actual: `${actual.length} bytes` };
  if (actual === undefined) return { what, expected: 'a file', actual: 'no such file' };
  switch (expected.kind) {
    case 'bytes': {
      if (Buffer.compare(Buffer.from(expected.bytes), Buffer.from(actual)) === 0) return undefined;
      const text = expected.text && isText(actual);
      const detail = text ? textDiff(Buffer.from(expected.bytes).toString('utf8'), Buffer.from(actual).toString('utf8')) : bytesDiff(expected.bytes, actual);
      return { what, expected: `${expected.bytes.length} bytes`, actual: `${actual.length} bytes, different`, detail };
    }
    case 'sha1': {
      const digest = sha1Hex(actual);
      if (digest === expected.sha1 && (expected.size === undefined || expected.size === actual.length)) return undefined;
      return { what, expected: `sha1 ${expected.sha1}${expected.size === undefined ? '' : `, ${expected.size} bytes`}`, actual: `sha1 ${digest}, ${actual.length} bytes` };
    }
    case 'size':
      return actual.length === expected.size ? undefined : { what, expected: `${expected.size} bytes`, actual: `${actual.length} bytes` };
  }
}
