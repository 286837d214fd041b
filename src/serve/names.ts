/**
 * Swift names -> file names inside the object store, such that no name can
 * leave the store or meet another name's file (spec/serving.md, "Objects").
 *
 * Where: src/serve/store.ts keeps one directory per account and container
 * and one metadata file per object, each named by `encodeName`.
 *
 * Why an encoding and not a check: Swift allows almost any UTF-8 in object
 * names ('/', '..', blanks, '%'); refusing them would break clients that
 * use them as pseudo-directories. Every byte outside [A-Za-z0-9_.-] is
 * written %XX (so '/' and NUL can never reach the file system), a leading
 * '.' is written %2E (so '.', '..' and hidden files cannot be named), and a
 * name whose encoding would pass the file system's 255-byte limit is
 * stored as '#' and its SHA-256 (a '#' never starts any other encoding:
 * it would be %23). The real name is kept inside the metadata file, so the
 * encoding need not be reversed.
 */
import { createHash } from 'node:crypto';

/** Swift's limits (swift/common/constraints.py: MAX_ACCOUNT_NAME_LENGTH, MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH). */
export const NAME_LIMITS = { account: 256, container: 256, object: 1024 } as const;
export type NameKind = keyof typeof NAME_LIMITS;

/** Longest encoded name kept as is (file systems allow 255 bytes; room for a '.tmp-…' suffix is not needed: temporary files live elsewhere). */
const MAX_ENCODED = 200;

export class NameError extends Error {
  override name = 'NameError';
}

const KEEP = /^[A-Za-z0-9_.-]$/;
/** A name every character of which is kept and that does not start with '.': its own encoding (the common case, found with one regular expression instead of a loop per byte). */
const KEPT_AS_IS = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/** Names of ASCII characters other than NUL: as many bytes as characters, and valid UTF-8. */
const PLAIN_ASCII = /^[\x01-\x7f]*$/;

/** The file name for a Swift name (already percent-decoded from the URL). */
export function encodeName(name: string): string {
  if (name.length <= MAX_ENCODED && KEPT_AS_IS.test(name)) return name;
  return encodeNameBytes(name);
}

/** encodeName byte by byte, for any name (exported for the test that compares it with the fast path). */
export function encodeNameBytes(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && KEEP.test(ch) && !(out === '' && ch === '.') ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > MAX_ENCODED) return `#${createHash('sha256').update(name, 'utf8').digest('hex')}`;
  return out;
}

/** Throws NameError when `name` is not a valid Swift name of this kind (its message is shown to the client). */
export function checkName(kind: NameKind, name: string): void {
  if (name.length === 0) throw new NameError(`the ${kind} name is empty`);
  if (name.length <= NAME_LIMITS[kind] && PLAIN_ASCII.test(name) && (kind === 'object' || !name.includes('/'))) return;
  checkNameBytes(kind, name);
}

/** checkName's checks one by one, for any name (exported for the test that compares it with the fast path). */
export function checkNameBytes(kind: NameKind, name: string): void {
  if (name.length === 0) throw new NameError(`the ${kind} name is empty`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > NAME_LIMITS[kind]) throw new NameError(`the ${kind} name is ${bytes} bytes long; at most ${NAME_LIMITS[kind]}`);
  if (name.includes('\0')) throw new NameError(`the ${kind} name contains a NUL byte`);
  if (kind !== 'object' && name.includes('/')) throw new NameError(`the ${kind} name contains '/'`);
  if (Buffer.from(name, 'utf8').toString('utf8') !== name) throw new NameError(`the ${kind} name is not valid UTF-8`);
}
