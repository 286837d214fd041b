/**
 * The ZeroVM definitions several layers share: the sandbox's size, the
 * Linux errno values, the channel access types and the standard channels.
 *
 * Where: imported by the ELF reader, the manifest parser, the channels, the
 * trap, the session, the engines and the CLI; it imports nothing, so any
 * layer may use it. Before it, each of these kept its own copy (four 4 GiB
 * constants, four errno tables, two standard channel lists, two
 * `ChannelType`s), free to drift apart.
 *
 * Source of truth: spec/runtime.md ("The memory map", "Channels", "The
 * trap") and the original ZeroVM 2015's api/zvm.h.
 */

/** The sandbox: 4 GiB of address space from %r15 (sandbox addresses 0 .. 2^32). */
export const SANDBOX_SIZE = 2 ** 32;

/**
 * Linux errno values, by name: the session's exit codes (the original
 * exited with the errno of the first error), the channel layer's mount
 * errors, and the trap's results to the guest (negated).
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENOEXEC: 8,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EINVAL: 22,
  ENFILE: 23,
  EFBIG: 27,
  EPIPE: 32,
  EPROTONOSUPPORT: 93,
  EDQUOT: 122,
} as const;
export type ErrnoName = keyof typeof Errno;

/**
 * Channel access types, the manifest's third field (names from the
 * original's enum): bit 0 = random reads, bit 1 = random writes.
 */
export const ChannelType = {
  /** 0: sequential read / sequential write. */
  SGetSPut: 0,
  /** 1: random read / sequential write. */
  RGetSPut: 1,
  /** 2: sequential read / random write. */
  SGetRPut: 2,
  /** 3: random read / random write. */
  RGetRPut: 3,
} as const;
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];

/** The access types as a table (the manifest's checks and documentation). */
export const CHANNEL_TYPES = [
  { type: ChannelType.SGetSPut, name: 'SGetSPut', randomRead: false, randomWrite: false },
  { type: ChannelType.RGetSPut, name: 'RGetSPut', randomRead: true, randomWrite: false },
  { type: ChannelType.SGetRPut, name: 'SGetRPut', randomRead: false, randomWrite: true },
  { type: ChannelType.RGetRPut, name: 'RGetRPut', randomRead: true, randomWrite: true },
] as const;

/** Channel aliases every session has, which the program always finds at indices 0, 1, 2. */
export const STANDARD_CHANNELS = ['/dev/stdin', '/dev/stdout', '/dev/stderr'] as const;
export type StandardChannel = (typeof STANDARD_CHANNELS)[number];
