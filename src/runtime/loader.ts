/**
 * The loader: fills a fresh engine session with the program and the data
 * the program finds at entry, then applies the final protections.
 *
 * Pipeline position: session -> computeLayout -> engine.createSession(
 * loadingRegions) -> here -> engine.start.
 *
 * Source of truth: shared/spec-notes/zerovm-abi.md §1, §3, §5 and the
 * original's userspace.c (SetManifest, PatchForOldAPI) and serializer.c
 * (ChannelsSerializer):
 * - user manifest at MANIFEST_PTR: five 32-bit words heap_ptr, heap_size,
 *   stack_size, channels_count, channels (= MANIFEST_PTR + 20, right after
 *   the header, so the records are not 8-byte aligned, as in the original),
 *   then one 48-byte record per channel (limits[4] gets, get_size, puts,
 *   put_size as int64; size int64, 0 for type 0 channels; type uint32;
 *   name uint32), then the NUL-terminated aliases in channel order;
 * - the 32-bit pointer MANIFEST_PTR at 0xFEFFFFFC;
 * - the 56 bytes at the top of the stack: zero, but 32-bit word 4 = 1 and
 *   word 5 = 0xFFFFFFF0 (the remains of NaCl's argc/argv/envp/auxv block).
 */
import { Protection, SANDBOX_SIZE, type EngineSession } from './engine.js';
import { ENTRY_BLOCK_SIZE, MANIFEST_PTR, OLD_MANIFEST_POINTER, type Layout } from './layout.js';
import type { NexeImage } from '../elf/nexe.js';

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
const HLT = 0xf4;

/** Size in bytes of the serialized user manifest. */
export function userManifestSize(channels: readonly Pick<UserManifestChannel, 'alias'>[]): number {
  let size = USER_MANIFEST_HEADER_SIZE + CHANNEL_RECORD_SIZE * channels.length;
  for (const channel of channels) size += Buffer.byteLength(channel.alias, 'utf8') + 1;
  return size;
}

/** Serializes the user manifest as it sits at `address`. */
export function serializeUserManifest(
  channels: readonly UserManifestChannel[],
  fields: { heapPtr: number; heapSize: number; stackSize: number },
  address = MANIFEST_PTR,
): Uint8Array {
  const bytes = new Uint8Array(userManifestSize(channels));
  const view = new DataView(bytes.buffer);
  const recordsAt = USER_MANIFEST_HEADER_SIZE;
  view.setUint32(0, fields.heapPtr, true);
  view.setUint32(4, fields.heapSize, true);
  view.setUint32(8, fields.stackSize, true);
  view.setInt32(12, channels.length, true);
  view.setUint32(16, address + recordsAt, true);
  let nameAt = recordsAt + CHANNEL_RECORD_SIZE * channels.length;
  channels.forEach((channel, i) => {
    const at = recordsAt + i * CHANNEL_RECORD_SIZE;
    view.setBigInt64(at, BigInt.asIntN(64, channel.limits.gets), true);
    view.setBigInt64(at + 8, BigInt.asIntN(64, channel.limits.getSize), true);
    view.setBigInt64(at + 16, BigInt.asIntN(64, channel.limits.puts), true);
    view.setBigInt64(at + 24, BigInt.asIntN(64, channel.limits.putSize), true);
    view.setBigInt64(at + 32, BigInt(channel.manifestSize), true);
    view.setUint32(at + 40, channel.type, true);
    view.setUint32(at + 44, address + nameAt, true);
    const name = Buffer.from(channel.alias, 'utf8');
    bytes.set(name, nameAt);
    nameAt += name.length + 1; /* the NUL is already there */
  });
  return bytes;
}

/** The 56-byte block at the top of the stack. */
export function entryBlock(): Uint8Array {
  const block = new Uint8Array(ENTRY_BLOCK_SIZE);
  const view = new DataView(block.buffer);
  view.setUint32(16, 1, true);
  view.setUint32(20, 0xfffffff0, true);
  return block;
}

/**
 * Copies the program's segments, fills the text tail with hlt, zeroes bss,
 * writes the user manifest, its API-1 pointer and the entry block, then
 * applies the final protections. The session must have been created with
 * `loadingRegions(layout)`.
 */
export function loadProgram(
  session: EngineSession,
  bytes: Uint8Array,
  image: NexeImage,
  layout: Layout,
  userManifest: Uint8Array,
): void {
  for (const placement of layout.segments) {
    if (placement.kind === 'text') session.view(placement.start, placement.end - placement.start).fill(HLT);
  }
  for (const segment of image.segments) {
    if (segment.memsz === 0) continue;
    const target = session.view(segment.vaddr, segment.memsz);
    target.set(bytes.subarray(segment.offset, segment.offset + segment.filesz));
    if (segment.kind !== 'text') target.fill(0, segment.filesz);
    else if (segment.memsz > segment.filesz) target.fill(HLT, segment.filesz);
  }
  session.view(layout.manifestAddress, userManifest.length).set(userManifest);
  const pointer = session.view(OLD_MANIFEST_POINTER, 4);
  new DataView(pointer.buffer, pointer.byteOffset, 4).setUint32(0, MANIFEST_PTR, true);
  session.view(SANDBOX_SIZE - ENTRY_BLOCK_SIZE, ENTRY_BLOCK_SIZE).set(entryBlock());
  for (const region of layout.regions) {
    if (region.protection !== (Protection.Read | Protection.Write) && region.address !== 0x10000) {
      session.protect(region.address, region.size, region.protection);
    }
  }
}
