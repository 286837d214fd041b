/**
 * The user manifest: the read-only block below the stack that tells the
 * program its heap, its stack and its channels.
 *
 * Pipeline position: layout.ts places it (its lowest page bounds the
 * heap), loader.ts copies it into the sandbox.
 *
 * Source of truth: spec/runtime.md "The user manifest", as measured on the
 * original ZeroVM 2015: with n channels the header is at P = 0xFF000000 -
 * 24 - 48n, five 32-bit words heap_ptr, heap_size, stack_size,
 * channels_count, channels (= P + 20, so the records are not 8-byte
 * aligned); the n 48-byte records follow (limits gets, get_size, puts,
 * put_size as int64; size int64, 0 for type 0 channels; type uint32; name
 * uint32) up to 0xFEFFFFFC, where the 32-bit pointer P is; the aliases,
 * NUL-terminated, are copied downwards from P, channel 0's first (just
 * below P), each record's name pointing to its copy.
 */
import { SANDBOX_SIZE } from './engine.js';
import { STACK_START } from './program-image.js';

/** Where the 32-bit pointer to the user manifest is. */
export const USER_MANIFEST_POINTER = STACK_START - 4;

/** What the user manifest needs of a channel (HostChannel has it). */
export interface UserManifestChannel {
  readonly alias: string;
  readonly type: number;
  readonly limits: { readonly gets: bigint; readonly getSize: bigint; readonly puts: bigint; readonly putSize: bigint };
  /** 0 for type 0 (sequential) channels. */
  readonly manifestSize: number;
}

export const USER_MANIFEST_HEADER_SIZE = 20;
export const CHANNEL_RECORD_SIZE = 48;
/** stack_size in the user manifest: the 16 MiB stack. */
const STACK_SIZE_FIELD = SANDBOX_SIZE - STACK_START;

/** The user manifest's bytes, from its lowest byte (the last alias) up to 0xFF000000. */
export interface UserManifestPlacement {
  /** Sandbox address of `bytes[0]`. */
  readonly address: number;
  readonly bytes: Uint8Array;
  /** The header's address (the pointer at 0xFEFFFFFC holds it). */
  readonly header: number;
  /** The address of each channel's alias, in channel order. */
  readonly names: readonly number[];
}

/** Serializes the user manifest into its place below the stack. */
export function placeUserManifest(
  channels: readonly UserManifestChannel[],
  fields: { readonly heapPtr: number; readonly heapSize: number },
): UserManifestPlacement {
  const header = STACK_START - (USER_MANIFEST_HEADER_SIZE + 4 + CHANNEL_RECORD_SIZE * channels.length);
  const aliases = channels.map((c) => Buffer.from(c.alias, 'utf8'));
  const address = header - aliases.reduce((sum, a) => sum + a.length + 1, 0);
  const bytes = new Uint8Array(STACK_START - address);
  const view = new DataView(bytes.buffer);
  const at = (sandboxAddress: number): number => sandboxAddress - address;
  view.setUint32(at(header), fields.heapPtr, true);
  view.setUint32(at(header + 4), fields.heapSize, true);
  view.setUint32(at(header + 8), STACK_SIZE_FIELD, true);
  view.setInt32(at(header + 12), channels.length, true);
  view.setUint32(at(header + 16), header + USER_MANIFEST_HEADER_SIZE, true);
  view.setUint32(at(USER_MANIFEST_POINTER), header, true);
  const names: number[] = [];
  let cursor = header;
  channels.forEach((channel, i) => {
    const record = at(header + USER_MANIFEST_HEADER_SIZE + i * CHANNEL_RECORD_SIZE);
    view.setBigInt64(record, BigInt.asIntN(64, channel.limits.gets), true);
    view.setBigInt64(record + 8, BigInt.asIntN(64, channel.limits.getSize), true);
    view.setBigInt64(record + 16, BigInt.asIntN(64, channel.limits.puts), true);
    view.setBigInt64(record + 24, BigInt.asIntN(64, channel.limits.putSize), true);
    view.setBigInt64(record + 32, BigInt(channel.manifestSize), true);
    view.setUint32(record + 40, channel.type, true);
    const alias = aliases[i] as Buffer;
    cursor -= alias.length + 1;
    bytes.set(alias, at(cursor)); /* the NUL is already there */
    view.setUint32(record + 44, cursor, true);
    names.push(cursor);
  });
  return { address, bytes, header, names };
}
