/**
 * A minimal POSIX ustar writer and reader: the container of a zapp, and the
 * read-only image the C library (toolchain/zrt/zrt.c, mount_image) serves
 * files from.
 *
 * Pipeline position: src/zapp/zapp.ts (bundle, open) -> here -> bytes on
 * disk -> a `/dev/image` channel -> zrt's tar reader in the program.
 *
 * Source of truth: POSIX.1-1988 ustar header (name 100, mode 8, uid 8,
 * gid 8, size 12, mtime 12, chksum 8, typeflag 1, linkname 100, magic 6,
 * version 2, uname 32, gname 32, devmajor 8, devminor 8, prefix 155), and
 * what zrt reads of it: `name`, `prefix` (when the magic is "ustar"),
 * `size`, `typeflag` '0'/NUL (file) or '5' (directory).
 *
 * Choices a reader would question:
 * - The writer is deterministic (mtime 0, uid/gid 0, no user names), so the
 *   same inputs give the same zapp byte for byte.
 * - Long names use the ustar prefix split only: zrt reads neither GNU 'L'
 *   records nor pax headers, so a path that does not fit (name <= 100 and
 *   prefix <= 155 bytes, split at a '/') is refused rather than written in
 *   a form the program could not see.
 * - The reader accepts GNU tar's own magic ("ustar  ") as well, so archives
 *   made with `tar cf` can be used as images and zapps; members other than
 *   files and directories (links, devices, pax/GNU metadata) are refused
 *   with their name, since zrt would not serve them either.
 */

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

export interface TarEntry {
  /** Relative path inside the archive, '/'-separated, no '.' or '..' parts; directories without a trailing '/'. */
  readonly path: string;
  readonly type: 'file' | 'directory';
  /** File contents (empty for a directory). */
  readonly data: Uint8Array;
  /** Permission bits; 0o644 files and 0o755 directories by default. */
  readonly mode?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** 'a//b/./c/' -> 'a/b/c'; refuses '..', empty paths and NUL bytes (a member must stay inside the image). */
export function normaliseMemberPath(path: string): string {
  if (path.includes('\0')) throw new TarError(`tar member path ${JSON.stringify(path)} contains a NUL byte`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new TarError(`tar member path '${path}' contains '..'`);
  if (parts.length === 0) throw new TarError(`tar member path '${path}' is empty`);
  return parts.join('/');
}

function writeString(block: Uint8Array, offset: number, width: number, text: string, what: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > width) throw new TarError(`${what} '${text}' is longer than ${width} bytes`);
  block.set(bytes, offset);
}

/** Octal, zero-padded to width-1 digits, NUL-terminated (the form GNU tar writes). */
function writeOctal(block: Uint8Array, offset: number, width: number, value: number, what: string): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new TarError(`${what} ${value} does not fit a ustar header`);
  writeString(block, offset, width, digits.padStart(width - 1, '0'), what);
}

/** Splits a path into ustar (prefix, name), or throws when it cannot be stored. */
function splitName(path: string): [string, string] {
  const length = encoder.encode(path).length;
  if (length <= 100) return ['', path];
  for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
    const prefix = path.slice(0, slash);
    const name = path.slice(slash + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100 && name.length > 0) return [prefix, name];
  }
  throw new TarError(`path '${path}' is too long for a ustar archive (at most 100 bytes after the last '/' that leaves at most 155 before it)`);
}

function header(entry: TarEntry): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const path = normaliseMemberPath(entry.path);
  const [prefix, name] = splitName(entry.type === 'directory' ? `${path}/` : path);
  writeString(block, 0, 100, name, 'name');
  writeOctal(block, 100, 8, entry.mode ?? (entry.type === 'directory' ? 0o755 : 0o644), 'mode');
  writeOctal(block, 108, 8, 0, 'uid');
  writeOctal(block, 116, 8, 0, 'gid');
  writeOctal(block, 124, 12, entry.type === 'directory' ? 0 : entry.data.length, 'size');
  writeOctal(block, 136, 12, 0, 'mtime');
  block[156] = entry.type === 'directory' ? 0x35 : 0x30;
  writeString(block, 257, 6, 'ustar', 'magic');
  writeString(block, 263, 2, '00', 'version');
  writeString(block, 345, 155, prefix, 'prefix');
  // The checksum is computed with its own field as eight spaces.
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `, 'checksum');
  return block;
}

/** The archive: one header per entry, data padded to 512 bytes, two zero blocks at the end. */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const path = normaliseMemberPath(entry.path);
    if (seen.has(path)) throw new TarError(`'${path}' is in the archive twice`);
    seen.add(path);
    parts.push(header(entry));
    if (entry.type === 'file' && entry.data.length > 0) {
      parts.push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readString(block: Uint8Array, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

function readOctal(block: Uint8Array, offset: number, width: number, what: string, at: number): number {
  const text = readString(block, offset, width).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`tar header at byte ${at}: ${what} '${text}' is not octal (base-256 sizes are not supported)`);
  return parseInt(text, 8);
}

/** Every file and directory of a ustar (or GNU tar short-name) archive, in archive order. */
export function readTar(bytes: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + BLOCK > bytes.length) throw new TarError(`the archive ends inside a header at byte ${at} (truncated, or not a tar file)`);
    const start = at;
    const block = bytes.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) return entries;
    const stored = readOctal(block, 148, 8, 'checksum', at);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    if (sum !== stored) throw new TarError(`tar header at byte ${at}: bad checksum (not a tar file?)`);
    const magic = readString(block, 257, 6);
    const prefix = magic === 'ustar' ? readString(block, 345, 155) : '';
    const rawName = (prefix ? `${prefix}/` : '') + readString(block, 0, 100);
    const size = readOctal(block, 124, 12, 'size', at);
    const flag = String.fromCharCode(block[156] as number);
    const dataStart = at + BLOCK;
    if (dataStart + size > bytes.length) throw new TarError(`'${rawName}' at byte ${at}: its ${size} bytes of data run past the end of the archive`);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === '5') {
      // './' (what `tar cf x.tar -C dir .` writes first) names the root: nothing to record.
      if (rawName.split('/').every((p) => p === '' || p === '.')) continue;
      entries.push({ path: normaliseMemberPath(rawName), type: 'directory', data: new Uint8Array(0), mode: readOctal(block, 100, 8, 'mode', start) });
    } else if (flag === '0' || flag === '\0') {
      entries.push({ path: normaliseMemberPath(rawName), type: 'file', data: bytes.slice(dataStart, dataStart + size), mode: readOctal(block, 100, 8, 'mode', start) });
    } else {
      throw new TarError(`'${rawName}': tar member type '${flag}' is not supported (only files and directories; no links, pax or GNU long-name records)`);
    }
  }
}
