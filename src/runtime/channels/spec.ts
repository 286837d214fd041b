/**
 * Channel specifications: what one `Channel = uri, alias, type, etag, gets,
 * get_size, puts, put_size` line asks for, and the access kind it yields.
 *
 * Where: runtime, between the manifest parser (which produces a
 * `ChannelSpec`) and the host channels (`host-channel.ts`), which open it.
 * This module defines its own input type on purpose, so it does not depend
 * on the manifest parser; the session wires the two together.
 *
 * Source of truth: spec/runtime.md "Channels" and "The user manifest",
 * as the original ZeroVM 2015 decided which kinds a file, a character
 * device or a FIFO may be opened as. The access kind is the
 * product of two independent things:
 *   - the type (0..3): bit 0 = random reads, bit 1 = random writes;
 *   - the limits: readable when gets and get_size are both non-zero,
 *     writable when puts and put_size are both non-zero.
 * The six usable kinds are the rows of CHANNEL_KINDS.
 *
 * Limits are int64 in the manifest and in the user manifest, so they are kept
 * exact here as bigint; arithmetic on the trap path uses them clamped to
 * Number.MAX_SAFE_INTEGER (a counter can never reach 2^53, so every
 * comparison against a clamped limit gives the exact answer).
 */

import { ChannelType, STANDARD_CHANNELS } from '../definitions.js';
import type { MemoryFile } from './memory-file.js';
import type { SequentialStream } from './stream.js';

/** Channel access types, the manifest's third field: the runtime's one definition. */
export { ChannelType };

/** One limit as the manifest parser may hand it over. */
export type IoLimit = number | bigint;

/** The four limits of a channel line, in manifest order. */
export interface IoLimitsSpec {
  readonly gets: IoLimit;
  readonly getSize: IoLimit;
  readonly puts: IoLimit;
  readonly putSize: IoLimit;
}

/** What the session needs to open one channel (one `Channel =` line). */
export interface ChannelSpec {
  /** Host path (absolute) of a regular file, character device or FIFO; `tcp:` uris are rejected. */
  readonly uri: string;
  /** Name the program sees (`/dev/stdin`, `/dev/nvram`, ...). */
  readonly alias: string;
  /** Access type 0..3 (other values are rejected when the channel is opened). */
  readonly type: number;
  /** Whether an etag (SHA-1 of all bytes moved through the channel) is reported. */
  readonly etag: boolean;
  readonly limits: IoLimitsSpec;
  /**
   * The channel's bytes live here instead of at `uri` (which then only
   * names the channel): an embedder's buffer or stream (memory-file.ts).
   */
  readonly memory?: MemoryFile;
  /** The channel is this blocking stream (a pipe to another session: stream.ts); `uri` only names it. */
  readonly stream?: SequentialStream;
}

/** Exact limits (int64), as the user manifest reports them. */
export interface IoLimits {
  readonly gets: bigint;
  readonly getSize: bigint;
  readonly puts: bigint;
  readonly putSize: bigint;
}

/** Limits or counters as plain numbers, for the trap path. */
export interface IoNumbers {
  gets: number;
  getSize: number;
  puts: number;
  putSize: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A limit as an exact int64 value. */
export function toExactLimit(value: IoLimit): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
}

/** A limit for arithmetic: exact up to 2^53 - 1, clamped above. */
export function clampLimit(value: bigint): number {
  if (value > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (value < -MAX_SAFE) return -Number.MAX_SAFE_INTEGER;
  return Number(value);
}

export function exactLimits(spec: IoLimitsSpec): IoLimits {
  return {
    gets: toExactLimit(spec.gets),
    getSize: toExactLimit(spec.getSize),
    puts: toExactLimit(spec.puts),
    putSize: toExactLimit(spec.putSize),
  };
}

export function numericLimits(limits: IoLimits): IoNumbers {
  return {
    gets: clampLimit(limits.gets),
    getSize: clampLimit(limits.getSize),
    puts: clampLimit(limits.puts),
    putSize: clampLimit(limits.putSize),
  };
}

/** Read/write mask from the limits (the original's CH_RW_TYPE): 1 readable, 2 writable. */
export type AccessMask = 0 | 1 | 2 | 3;

export function accessMask(limits: IoLimits): AccessMask {
  const readable = limits.gets !== 0n && limits.getSize !== 0n ? 1 : 0;
  const writable = limits.puts !== 0n && limits.putSize !== 0n ? 2 : 0;
  return (readable | writable) as AccessMask;
}

/** Sequential reads ignore the guest's offset and use the channel's own position. */
export function isSequentialRead(type: number): boolean {
  return (type & 1) === 0;
}

/** Sequential writes ignore the guest's offset and use the channel's own position. */
export function isSequentialWrite(type: number): boolean {
  return (type & 2) === 0;
}

export function isValidChannelType(type: number): type is ChannelType {
  return Number.isInteger(type) && type >= ChannelType.SGetSPut && type <= ChannelType.RGetRPut;
}

/** The six usable channel kinds (doc/channels.txt of the original). */
export type ChannelKind =
  | 'sequential-read-only'
  | 'random-read-only'
  | 'sequential-write-only'
  | 'random-write-only'
  | 'appendable'
  | 'random-read-write';

interface ChannelKindRow {
  readonly kind: ChannelKind;
  /** Limits mask that selects the row. */
  readonly mask: AccessMask;
  /** Access types that select the row together with the mask. */
  readonly types: readonly ChannelType[];
  /** Only regular files can be read and written (devices and FIFOs are one-way). */
  readonly regularOnly: boolean;
}

/**
 * One row per usable kind. Read+write channels of type 0 or 2 are not here:
 * the original refused them ("sequential channels cannot have r/w access",
 * "sequential read / random write channels not supported").
 */
export const CHANNEL_KINDS: readonly ChannelKindRow[] = [
  { kind: 'sequential-read-only', mask: 1, types: [0, 2], regularOnly: false },
  { kind: 'random-read-only', mask: 1, types: [1, 3], regularOnly: false },
  { kind: 'sequential-write-only', mask: 2, types: [0, 1], regularOnly: false },
  { kind: 'random-write-only', mask: 2, types: [2, 3], regularOnly: false },
  { kind: 'appendable', mask: 3, types: [1], regularOnly: true },
  { kind: 'random-read-write', mask: 3, types: [3], regularOnly: true },
];

/** The kind selected by a type and a limits mask, or undefined when the pair is unusable. */
export function channelKind(type: ChannelType, mask: AccessMask): ChannelKind | undefined {
  return CHANNEL_KINDS.find((row) => row.mask === mask && row.types.includes(type))?.kind;
}

/** Channel aliases the program always finds at indices 0, 1, 2. */
export const STANDARD_ALIASES = STANDARD_CHANNELS;
