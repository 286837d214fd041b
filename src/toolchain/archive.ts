/**
 * What `zerovm ar` and `zerovm ranlib` check before handing an archive to
 * the host's binutils: that every object in it is one `zerovm cc` can link
 * into a nexe. The host's `ar` writes the archive (the format is the
 * ordinary System V / GNU one, with ld's symbol index); what it cannot know
 * is that an object compiled by the host's own gcc links fine and then
 * makes the nexe fail the validator, far from the command that put it in.
 *
 * Pipeline position: `zerovm cc -c` -> .o -> `zerovm ar` (here, then the
 * host's ar) -> lib.a -> `zerovm cc ... -lNAME` (ld, then the validator).
 *
 * An object `zerovm cc` made is ELF64, x86-64, relocatable, and its code
 * sections are aligned to 32 bytes: the sandboxing pass assembles with
 * `.bundle_align_mode 5` (spec/validator.md, bundles). gcc's x32 objects
 * (`gcc -mx32 -c`) are ELF32, which ld refuses next to ours; the host's
 * 64-bit objects have 1- or 16-byte aligned code that was never sandboxed.
 */

/** One member of an archive: its name and contents. */
export interface ArchiveMember {
  readonly name: string;
  readonly data: Uint8Array;
}

const MAGIC = '!<arch>\n';
const THIN_MAGIC = '!<thin>\n';
const HEADER = 60;

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.subarray(start, end)).toString('latin1');
}

/**
 * The object members of a regular archive (the symbol index `/`, the GNU
 * long-name table `//` and BSD `__.SYMDEF` are left out), or a message
 * when the bytes are not an archive. A thin archive (`ar T`) holds no
 * members, only paths: it gives [].
 */
export function archiveMembers(bytes: Uint8Array): ArchiveMember[] | string {
  const magic = latin1(bytes, 0, 8);
  if (magic === THIN_MAGIC) return [];
  if (magic !== MAGIC) return 'not an ar archive (no !<arch> magic)';
  const members: ArchiveMember[] = [];
  let longNames = '';
  let at = 8;
  while (at + HEADER <= bytes.length) {
    const header = latin1(bytes, at, at + HEADER);
    if (header.slice(58, 60) !== '`\n') return `malformed member header at byte ${at}`;
    const size = Number(header.slice(48, 58).trim());
    if (!Number.isInteger(size) || size < 0 || at + HEADER + size > bytes.length) return `malformed member size at byte ${at}`;
    const raw = header.slice(0, 16).trimEnd();
    const data = bytes.subarray(at + HEADER, at + HEADER + size);
    if (raw === '//') longNames = Buffer.from(data).toString('latin1');
    else if (raw !== '/' && raw !== '/SYM64/' && !raw.startsWith('__.SYMDEF')) {
      let name = raw;
      if (/^\/\d+$/.test(raw)) {
        const offset = Number(raw.slice(1));
        const end = longNames.indexOf('/\n', offset);
        name = longNames.slice(offset, end < 0 ? undefined : end);
      } else if (name.endsWith('/')) name = name.slice(0, -1);
      members.push({ name, data });
    }
    at += HEADER + size + (size % 2);
  }
  return members;
}

const SHF_EXECINSTR = 0x4;
const BUNDLE = 32;

/**
 * Why `zerovm cc` cannot link this object, or null when it can. A file
 * that is not ELF at all is not judged here (ar takes any file; ld says
 * what it thinks of it).
 */
export function objectProblem(data: Uint8Array): string | null {
  if (data.length < 0x40 || data[0] !== 0x7f || latin1(data, 1, 4) !== 'ELF') return null;
  if (data[4] !== 2) return 'an ELF32 object (made by gcc -mx32 or -m32, not zerovm cc): compile it with `zerovm cc -c`';
  if (data[5] !== 1) return 'a big-endian ELF object: compile it with `zerovm cc -c`';
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = v.getUint16(0x10, true);
  const machine = v.getUint16(0x12, true);
  if (machine !== 62) return `an ELF object for machine ${machine}, not x86-64: compile it with \`zerovm cc -c\``;
  if (type !== 1) return `not a relocatable object (ELF type ${type}): an archive holds objects from \`zerovm cc -c\`, not linked programs`;
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  if (shoff + shnum * shentsize > data.length || (shnum > 0 && shentsize < 0x40)) return 'a truncated ELF object (its section headers lie past its end)';
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    const flags = v.getBigUint64(sh + 0x08, true);
    const size = v.getBigUint64(sh + 0x20, true);
    const align = v.getBigUint64(sh + 0x30, true);
    if ((flags & BigInt(SHF_EXECINSTR)) !== 0n && size > 0n && align < BigInt(BUNDLE)) {
      return `its code is not bundle-aligned (a ${align}-byte aligned code section): it was not compiled by \`zerovm cc\`, so it was never sandboxed and the nexe would fail the validator`;
    }
  }
  return null;
}
