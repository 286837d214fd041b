/**
 * Typed errors of the channel layer.
 *
 * Where: thrown by `host-channel.ts` and `channel-set.ts`; the session turns
 * them into the report's exit state and the process exit code.
 *
 * Source of truth: spec/runtime.md "Channels": the original ZeroVM 2015
 * ended the session with an errno as exit code and a message as exit
 * state. The messages here keep its wording without the "<source file>
 * <line>: " prefix its logger added, which would be meaningless here.
 * Errors of the guest's own requests are not errors: they are -errno results
 * of the trap (see trap-io.ts).
 */
import { constants as osConstants } from 'node:os';

import { Errno } from '../definitions.js';

/** A channel could not be opened: the session does not start. */
export class ChannelMountError extends Error {
  override readonly name = 'ChannelMountError';
  constructor(
    /** Process exit code the original used (an errno). */
    readonly errno: number,
    message: string,
    /** Alias of the channel, when one channel is at fault. */
    readonly alias?: string,
    /** The failure came after the channels were put in the program's order (it decides the order of the report's etags). */
    readonly afterOrdering = false,
  ) {
    super(message);
  }
}

/** Host I/O failed under a guest request: the session ends with EIO. */
export class ChannelIoError extends Error {
  override readonly name = 'ChannelIoError';
  readonly errno = Errno.EIO;
  constructor(
    message: string,
    readonly alias: string,
    /** Host error code (e.g. 'ENOSPC'), when known. */
    readonly hostCode?: string,
  ) {
    super(message);
  }
}

/** Node's error code ('ENOENT') of a failed fs call, if any. */
export function hostErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** The errno number of a failed fs call (Linux value), or EIO when unknown. */
export function hostErrno(error: unknown): number {
  const code = hostErrorCode(error);
  const table = osConstants.errno as Readonly<Record<string, number>>;
  if (code !== undefined && table[code] !== undefined) return table[code];
  return Errno.EIO;
}

/**
 * A channel waited (on a pipe or another stream, stream.ts) until the
 * session's deadline passed: the session ends as "session timeout".
 */
export class ChannelDeadlineError extends Error {
  override readonly name = 'ChannelDeadlineError';
  constructor(
    readonly alias: string,
    /** What the channel waited for. */
    readonly waitingFor: 'data' | 'room',
  ) {
    super(`${alias}: the session's time ran out while it waited for ${waitingFor === 'data' ? 'data to read' : 'room to write'}`);
  }
}
