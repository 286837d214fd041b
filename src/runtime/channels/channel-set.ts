/**
 * The channels of one session: opened together from the manifest's channel
 * lines, indexed as the program sees them, closed together at the end.
 *
 * Where: runtime. The session opens a ChannelSet before it starts the
 * program, hands `channels` to the trap (`trap-io.ts`) and the user manifest
 * writer, and at the end calls `closeAll`, then `etags` and `ioTotals` for
 * the report (`report.ts`).
 *
 * Source of truth: spec/runtime.md "Channels" (opening, the channel
 * order), as measured on the original ZeroVM 2015:
 *   - 10915 channel lines or more: ENFILE "channels number reached
 *     maximum"; fewer than 3: EFAULT "not enough channels: N";
 *   - channels are opened in manifest order; for each, an alias seen
 *     before is EFAULT "<alias> is already allocated", then a type above 3
 *     is EFAULT "<alias> has invalid type N", then the host object opens;
 *   - then the program's order: /dev/stdin, /dev/stdout, /dev/stderr at
 *     0, 1, 2, the others sorted by alias as C's strcmp sorts them (the
 *     bytes of the UTF-8 text: "/dev/B" < "/dev/a10" < "/dev/a9" <
 *     "/dev/b"); if index 2 is then not /dev/stderr (a standard channel is
 *     missing), EFAULT "missing standard channels in manifest";
 *   - when anything fails, the channels already opened are closed (with the
 *     final truncation) before the error propagates, as the original's exit
 *     path did;
 *   - accounting sums the host calls of every local channel (network
 *     channels, out of scope, would be the second group of four numbers);
 *   - etags are listed in the program's order.
 */
import type { EtagEntry } from '../etag.js';
import { Errno } from '../definitions.js';
import { ChannelMountError } from './errors.js';
import { HostChannel, type HostIoStats, type OpenChannelOptions } from './host-channel.js';
import { MAX_CHANNELS } from '../manifest.js';
import { isValidChannelType, STANDARD_ALIASES, type ChannelSpec } from './spec.js';

/** Channel lines a manifest may have (one limit for the manifest check and here). */
export { MAX_CHANNELS } from '../manifest.js';

/** Fewer channel lines than this: "not enough channels". */
export const MIN_CHANNELS = 3;

/** I/O totals for the report's accounting line. */
export interface ChannelIoTotals {
  readonly local: HostIoStats;
  readonly network: HostIoStats;
}

function userRank(alias: string): number {
  const rank = (STANDARD_ALIASES as readonly string[]).indexOf(alias);
  return rank < 0 ? STANDARD_ALIASES.length : rank;
}

/** UTF-16 surrogates: outside them, code units compare as code points, and so as UTF-8 bytes do. */
const SURROGATE = /[\ud800-\udfff]/;

/** C's strcmp on the aliases' UTF-8 bytes. */
export function compareAliases(a: string, b: string): number {
  /* UTF-8 keeps code point order; UTF-16 code units keep it too but for surrogates (U+10000 and up sort below U+E000..U+FFFF) */
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The program's order of a set of channels (anything with an alias): the
 * standard streams first, the others by alias, byte order. Aliases are
 * unique once the set has opened, so the order is total.
 */
export function programOrder<T extends { readonly alias: string }>(channels: readonly T[]): T[] {
  return [...channels].sort((a, b) => userRank(a.alias) - userRank(b.alias) || compareAliases(a.alias, b.alias));
}

export class ChannelSet {
  private constructor(
    /** Channels in the order the program sees them (0 stdin, 1 stdout, 2 stderr). */
    readonly channels: readonly HostChannel[],
  ) {}

  /** Opens every channel of a manifest. Throws ChannelMountError. */
  static open(specs: readonly ChannelSpec[], options: OpenChannelOptions = {}): ChannelSet {
    if (specs.length > MAX_CHANNELS)
      throw new ChannelMountError(Errno.ENFILE, 'channels number reached maximum');
    if (specs.length < MIN_CHANNELS)
      throw new ChannelMountError(Errno.EFAULT, `not enough channels: ${specs.length}`);
    const opened: HostChannel[] = [];
    const aliases = new Set<string>();
    try {
      for (const spec of specs) {
        if (aliases.has(spec.alias))
          throw new ChannelMountError(Errno.EFAULT, `${spec.alias} is already allocated`, spec.alias);
        aliases.add(spec.alias);
        if (!isValidChannelType(spec.type))
          throw new ChannelMountError(Errno.EFAULT, `${spec.alias} has invalid type ${spec.type}`, spec.alias);
        opened.push(HostChannel.open(spec, options));
      }
      const ordered = programOrder(opened);
      if (ordered[2]?.alias !== '/dev/stderr')
        throw new ChannelMountError(Errno.EFAULT, 'missing standard channels in manifest', undefined, true);
      return new ChannelSet(ordered);
    } catch (error) {
      for (const channel of opened) channel.close();
      throw error;
    }
  }

  get count(): number {
    return this.channels.length;
  }

  /** The channel with this index, as the program numbers them. */
  at(index: number): HostChannel | undefined {
    return this.channels[index];
  }

  /** The session's deadline (Date.now() milliseconds), for the channels that may wait (streams). */
  setDeadline(deadline: number): void {
    for (const channel of this.channels) channel.setDeadline(deadline);
  }

  /** Closes every channel (idempotent). */
  closeAll(): void {
    for (const channel of this.channels) channel.close();
  }

  /** Totals for the accounting line: every channel here is local. */
  ioTotals(): ChannelIoTotals {
    const local: HostIoStats = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };
    for (const channel of this.channels) {
      const stats = channel.hostStats;
      local.gets += stats.gets;
      local.getBytes += stats.getBytes;
      local.puts += stats.puts;
      local.putBytes += stats.putBytes;
    }
    return { local, network: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 } };
  }

  /** Etags of the channels that asked for one, in channel order. */
  etags(): EtagEntry[] {
    const entries: EtagEntry[] = [];
    for (const channel of this.channels)
      if (channel.etag !== null) entries.push({ alias: channel.alias, digest: channel.etag.digest() });
    return entries;
  }
}
