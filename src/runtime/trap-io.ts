/**
 * The trap's I/O half: TrapRead and TrapWrite, and the dispatcher that
 * routes the trap's function word to them or to the session's hooks.
 *
 * Where: runtime. An engine that sees the program call the trampoline reads
 * the argument block at %edi (`readTrapArgs`) and calls `dispatchTrap`;
 * the result goes back in %eax. Jail, Unjail, Exit and Fork belong to the
 * session (validator, memory protection, end of session, daemon) and come in
 * as `TrapHooks`.
 *
 * Source of truth: spec/runtime.md "The trap", measured on the original
 * ZeroVM 2015 (its TrapRead and TrapWrite handlers). The checks run in
 * exactly the original's order, each returning a Linux errno (guest ABI,
 * whatever the host is):
 *   1. channel index outside [0, count)                          -EINVAL
 *   2. buffer not writable (read) / readable (write) for the
 *      requested size (at least its first byte when size <= 0)    -EINVAL
 *   3. sequential read/write: offset := channel position;
 *      random read: size := int32(min(channel size - offset, size))
 *   4. size == 0 -> 0; size < 0 -> -EFAULT; offset < 0 -> -EINVAL
 *   5. read only: end of channel already seen                     0
 *   6. gets (puts) counter at its limit                           -EDQUOT
 *   7. read, random: offset >= put_size left + size               -EINVAL
 *      write: offset >= put_size limit on a channel that cannot
 *      be read, or offset >= size + put_size left                 -EINVAL
 *   8. size cut to get_size (put_size) left; nothing left         -EDQUOT
 *   9. the channel moves the bytes (host-channel.ts)
 * Arguments are converted as the original's C casts did: channel and size
 * are the low 32 bits, signed (so channel 2^32 + 1 is channel 1); the offset
 * is the full signed 64 bits; the buffer is the full 64-bit value (anything
 * at or above 4 GiB is outside the sandbox). Unknown function words, all 64
 * bits compared, give -EPERM.
 * Offsets beyond 2^53 are compared as the nearest double: no file system
 * can use them, and the channel refuses to write there.
 */
import { isSequentialRead, isSequentialWrite, type IoNumbers } from './channels/spec.js';
import { Errno, SANDBOX_SIZE } from './definitions.js';
import type { ReadonlyBytes } from './engine.js';

/** Linux errno values returned to the guest (negated); one table for the whole runtime. */
export { Errno } from './definitions.js';

/** Sandbox memory as the trap needs it. Addresses are sandbox (32-bit) addresses. */
export interface GuestMemory {
  /** True when every byte of [address, address + length) may be read by the program. */
  isReadable(address: number, length: number): boolean;
  /** True when every byte of [address, address + length) may be written by the program. */
  isWritable(address: number, length: number): boolean;
  /** A read-only view aliasing sandbox memory (no copy); only called on ranges checked readable. */
  view(address: number, length: number): ReadonlyBytes;
  /** A writable view aliasing sandbox memory; only called on ranges checked writable. */
  writableView(address: number, length: number): Uint8Array;
}

/** What the trap needs of a channel (HostChannel implements it). */
export interface TrapChannel {
  readonly type: number;
  readonly size: number;
  readonly getpos: number;
  readonly putpos: number;
  readonly eof: boolean;
  /** Limits, as numbers. */
  readonly quota: Readonly<IoNumbers>;
  /** Requests served so far. */
  readonly counters: Readonly<IoNumbers>;
  read(dest: Uint8Array, offset: number): number;
  /** Only reads `src`. */
  write(src: ReadonlyBytes, offset: number): number;
}


/** CheckRAMAccess: the range must be accessible; a size <= 0 still needs its first byte. */
function bufferAccessible(memory: GuestMemory, buffer: number, size: number, forWriting: boolean): boolean {
  const length = Math.max(size, 1);
  if (!Number.isInteger(buffer) || buffer < 0 || buffer + length > SANDBOX_SIZE) return false;
  return forWriting ? memory.isWritable(buffer, length) : memory.isReadable(buffer, length);
}

function channelAt(channels: readonly TrapChannel[], index: number): TrapChannel | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= channels.length) return undefined;
  return channels[index];
}

/** TrapRead: reads from a channel into sandbox memory. Returns bytes read, 0 or -errno. */
export function trapRead(
  channels: readonly TrapChannel[],
  memory: GuestMemory,
  channelIndex: number,
  buffer: number,
  requestedSize: number,
  requestedOffset: number,
): number {
  const channel = channelAt(channels, channelIndex);
  if (channel === undefined) return -Errno.EINVAL;
  if (!bufferAccessible(memory, buffer, requestedSize, true)) return -Errno.EINVAL;

  let size = requestedSize;
  let offset = requestedOffset;
  const sequential = isSequentialRead(channel.type);
  if (sequential) offset = channel.getpos;
  else size = Math.min(channel.size - offset, size) | 0; /* assigned to an int32 */

  if (size === 0) return 0;
  if (size < 0) return -Errno.EFAULT;
  if (offset < 0) return -Errno.EINVAL;

  if (channel.eof) return 0;

  const { quota, counters } = channel;
  if (counters.gets >= quota.gets) return -Errno.EDQUOT;
  if (!sequential && offset >= quota.putSize - counters.putSize + channel.size) return -Errno.EINVAL;

  const left = quota.getSize - counters.getSize;
  if (size > left) size = left;
  if (size < 1) return -Errno.EDQUOT;

  return channel.read(memory.writableView(buffer, size), offset);
}

/** TrapWrite: writes sandbox memory to a channel. Returns bytes written or -errno. */
export function trapWrite(
  channels: readonly TrapChannel[],
  memory: GuestMemory,
  channelIndex: number,
  buffer: number,
  requestedSize: number,
  requestedOffset: number,
): number {
  const channel = channelAt(channels, channelIndex);
  if (channel === undefined) return -Errno.EINVAL;
  if (!bufferAccessible(memory, buffer, requestedSize, false)) return -Errno.EINVAL;

  let size = requestedSize;
  let offset = requestedOffset;
  if (isSequentialWrite(channel.type)) offset = channel.putpos;

  if (size === 0) return 0;
  if (size < 0) return -Errno.EFAULT;
  if (offset < 0) return -Errno.EINVAL;

  const { quota, counters } = channel;
  if (counters.puts >= quota.puts) return -Errno.EDQUOT;
  const left = quota.putSize - counters.putSize;
  const readable = quota.gets !== 0 && quota.getSize !== 0;
  if (offset >= quota.putSize && !readable) return -Errno.EINVAL;
  if (offset >= channel.size + left) return -Errno.EINVAL;
  if (size > left) size = left;
  if (size < 1) return -Errno.EDQUOT;

  return channel.write(memory.view(buffer, size), offset);
}

/* ------------------------------------------------------------------------ */
/* The trap functions and the dispatcher                                     */
/* ------------------------------------------------------------------------ */

/** The trap's function words: four ASCII letters read as a little-endian number. */
export const TrapFunction = {
  Read: 0x64616552,
  Write: 0x74697257,
  Jail: 0x6c69614a,
  Unjail: 0x6c6a6e55,
  Exit: 0x74697845,
  Fork: 0x6b726f46,
} as const;
export type TrapFunction = (typeof TrapFunction)[keyof typeof TrapFunction];

/** Who implements a trap function: this module, or the session through a hook. */
export type TrapOwner = 'channels' | 'session';

export interface TrapFunctionRow {
  readonly value: TrapFunction;
  /** Name in the original's sources and in traces. */
  readonly name: string;
  /** Number of arguments after the reserved word. */
  readonly arity: number;
  readonly args: string;
  readonly owner: TrapOwner;
}

/** One row per trap function (spec/runtime.md, "The trap"). */
export const TRAP_FUNCTIONS: readonly TrapFunctionRow[] = [
  { value: TrapFunction.Read, name: 'TrapRead', arity: 4, args: 'channel, buffer, size, offset', owner: 'channels' },
  { value: TrapFunction.Write, name: 'TrapWrite', arity: 4, args: 'channel, buffer, size, offset', owner: 'channels' },
  { value: TrapFunction.Jail, name: 'TrapJail', arity: 2, args: 'buffer, size', owner: 'session' },
  { value: TrapFunction.Unjail, name: 'TrapUnjail', arity: 2, args: 'buffer, size', owner: 'session' },
  { value: TrapFunction.Exit, name: 'TrapExit', arity: 1, args: 'code', owner: 'session' },
  { value: TrapFunction.Fork, name: 'TrapFork', arity: 0, args: '', owner: 'session' },
];

const ROW_BY_VALUE = new Map<bigint, TrapFunctionRow>(TRAP_FUNCTIONS.map((row) => [BigInt(row.value), row]));

/** The row of a function word, or undefined (all 64 bits must match). */
export function trapFunctionRow(word: bigint): TrapFunctionRow | undefined {
  return ROW_BY_VALUE.get(BigInt.asUintN(64, word));
}

/** The session's side of the trap. */
export interface TrapHooks {
  /** TrapJail(buffer as uint32, size as int32): validate and make read+execute; 0 or -errno. */
  jail(buffer: number, size: number): number;
  /** TrapUnjail(buffer as uint32, size as int32): make read+write again; 0 or -errno. */
  unjail(buffer: number, size: number): number;
  /** TrapExit(code as int32): ends the session; never returns to the program. */
  exit(code: number): never;
  /** TrapFork: daemon mode; returns the trap result when the program continues. */
  fork(): number;
}

export interface TrapContext {
  readonly channels: readonly TrapChannel[];
  readonly memory: GuestMemory;
  readonly hooks: TrapHooks;
}

/** The argument block: [function, reserved, arg0, arg1, arg2, arg3] as uint64. */
export type TrapArgs = readonly [bigint, bigint, bigint, bigint, bigint, bigint];

/** Size in bytes of the argument block. */
export const TRAP_ARGS_SIZE = 48;

/** The argument block at %edi is not readable by the program. */
export class TrapArgsFault extends Error {
  override readonly name = 'TrapArgsFault';
  constructor(readonly address: number) {
    super(`trap arguments at 0x${address.toString(16)} are not readable`);
  }
}

/**
 * Reads the argument block. The original read it without any check (a bad
 * pointer crashed zerovm with a signal from trusted code); here it must be
 * readable, else TrapArgsFault, which the session turns into that crash.
 */
export function readTrapArgs(memory: GuestMemory, address: number): TrapArgs {
  if (!Number.isInteger(address) || address < 0 || address + TRAP_ARGS_SIZE > SANDBOX_SIZE)
    throw new TrapArgsFault(address);
  if (!memory.isReadable(address, TRAP_ARGS_SIZE)) throw new TrapArgsFault(address);
  const bytes = memory.view(address, TRAP_ARGS_SIZE);
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (i: number): bigint => data.getBigUint64(i * 8, true);
  return [word(0), word(1), word(2), word(3), word(4), word(5)];
}

const int32 = (word: bigint): number => Number(BigInt.asIntN(32, word));
const uint32 = (word: bigint): number => Number(BigInt.asUintN(32, word));
const int64 = (word: bigint): number => Number(BigInt.asIntN(64, word));
const pointer = (word: bigint): number => Number(BigInt.asUintN(64, word));

function u32(b: ReadonlyBytes, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

/**
 * Reads the argument block at `address` and runs the trap: the hot path
 * of every system call. Same semantics as `dispatchTrap(readTrapArgs(...))`
 * but on plain numbers (32-bit halves) instead of bigints, with no
 * allocation besides the view.
 */
export function dispatchTrapAt(context: TrapContext, address: number): number {
  const { channels, memory, hooks } = context;
  if (!Number.isInteger(address) || address < 0 || address + TRAP_ARGS_SIZE > SANDBOX_SIZE) throw new TrapArgsFault(address);
  if (!memory.isReadable(address, TRAP_ARGS_SIZE)) throw new TrapArgsFault(address);
  const b = memory.view(address, TRAP_ARGS_SIZE);
  // The function word must match in all 64 bits.
  if (u32(b, 4) !== 0) return -Errno.EPERM;
  const fn = u32(b, 0);
  const a0 = u32(b, 16) | 0; // int32 / uint32 (low half) of arg0
  switch (fn) {
    case TrapFunction.Read:
    case TrapFunction.Write: {
      const buffer = u32(b, 28) * 4294967296 + u32(b, 24); // uint64 as a number
      const size = u32(b, 32) | 0; // int32
      const offset = (u32(b, 44) | 0) * 4294967296 + u32(b, 40); // int64 as a number
      return fn === TrapFunction.Read
        ? trapRead(channels, memory, a0, buffer, size, offset)
        : trapWrite(channels, memory, a0, buffer, size, offset);
    }
    case TrapFunction.Jail:
      return hooks.jail(a0 >>> 0, u32(b, 24) | 0);
    case TrapFunction.Unjail:
      return hooks.unjail(a0 >>> 0, u32(b, 24) | 0);
    case TrapFunction.Exit:
      return hooks.exit(a0);
    case TrapFunction.Fork:
      return hooks.fork();
    default:
      return -Errno.EPERM;
  }
}

/** Runs one trap call; returns the int32 result for %eax (TrapExit does not return). */
export function dispatchTrap(context: TrapContext, args: TrapArgs): number {
  const [word, , a0, a1, a2, a3] = args;
  const row = trapFunctionRow(word);
  if (row === undefined) return -Errno.EPERM;
  const { channels, memory, hooks } = context;
  switch (row.value) {
    case TrapFunction.Read:
      return trapRead(channels, memory, int32(a0), pointer(a1), int32(a2), int64(a3));
    case TrapFunction.Write:
      return trapWrite(channels, memory, int32(a0), pointer(a1), int32(a2), int64(a3));
    case TrapFunction.Jail:
      return hooks.jail(uint32(a0), int32(a1));
    case TrapFunction.Unjail:
      return hooks.unjail(uint32(a0), int32(a1));
    case TrapFunction.Exit:
      return hooks.exit(int32(a0));
    case TrapFunction.Fork:
      return hooks.fork();
  }
}
