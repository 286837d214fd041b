/**
 * Etags: SHA-1 digests of the data a session moved, reported on the
 * report's fourth line.
 *
 * Where: runtime. Each etag-enabled channel owns a `StreamingEtag` that
 * `host-channel.ts` feeds with every byte read or written through it; the
 * memory etag (`Memory = N, 1`) is computed once at the end of the session
 * over the readable sandbox regions the engine hands to `memoryEtag`.
 * `report.ts` prints the list.
 *
 * Source of truth: spec/runtime.md "The report and exit codes" (etags), as
 * measured on the original ZeroVM 2015:
 *   - SHA-1, printed as 40 lower-case hex digits;
 *   - the digest is taken from a copy of the running state, so it can be
 *     read at any time without ending the stream;
 *   - a zero-length update changes nothing;
 *   - the report lists "<alias> <hex>" pairs separated by single spaces, in
 *     channel order, then "/dev/memory <hex>" for the memory etag;
 *   - the memory etag hashes every readable region in address order, each
 *     region in full (inaccessible pages are skipped).
 */
import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ReadonlyBytes } from './engine.js';

export const ETAG_ALGORITHM = 'sha1';

/** Alias under which the memory etag is listed (the original's STDRAM). */
export const MEMORY_ETAG_ALIAS = '/dev/memory';

/** The digest of nothing: the etag of a channel that moved no byte, or of memory never loaded. */
export const EMPTY_DIGEST = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

/**
 * node:crypto, loaded on the first etag rather than with this module:
 * loading it costs a `zerovm` process several milliseconds at start
 * (spec/runtime.md, "Process start"), and most sessions ask for no etag.
 */
let crypto: typeof import('node:crypto') | undefined;

function createSha1(): Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash(ETAG_ALGORITHM);
}

/** A running SHA-1 over a stream of byte chunks. */
export class StreamingEtag {
  private readonly hash: Hash = createSha1();
  private bytes = 0;

  /** Adds bytes; the view may alias sandbox memory, it is consumed before returning. */
  update(chunk: ReadonlyBytes): void {
    if (chunk.length === 0) return;
    /* a DataView over the same bytes: the hash takes any ArrayBufferView, and only reads it */
    this.hash.update(new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.bytes += chunk.length;
  }

  /** Number of bytes hashed so far. */
  get length(): number {
    return this.bytes;
  }

  /** Lower-case hex digest of everything so far; the stream can continue. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }
}

/** One entry of the report's etag line. */
export interface EtagEntry {
  readonly alias: string;
  readonly digest: string;
}

/**
 * Supplies the readable regions of sandbox memory, in address order, as
 * views that alias it (the engine implements this; no copies are needed).
 */
export type ReadableRegions = () => Iterable<ReadonlyBytes>;

/** SHA-1 of the readable regions, concatenated in the order given. */
export function memoryEtag(regions: Iterable<ReadonlyBytes>): string {
  const etag = new StreamingEtag();
  for (const region of regions) etag.update(region);
  return etag.digest();
}

/** The memory etag as a report entry. */
export function memoryEtagEntry(regions: ReadableRegions): EtagEntry {
  return { alias: MEMORY_ETAG_ALIAS, digest: memoryEtag(regions()) };
}
