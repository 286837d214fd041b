/**
 * readProgramImage: what a session accepts as a program, each check of
 * spec/runtime.md "Loading the program" with a file that passes and one
 * that fails it, the break and the text region. The same rules run end to
 * end (and against the original ZeroVM 2015) in conformance/cases/elf.
 */
import { describe, expect, it } from 'vitest';
import { ProgramLoadError, readProgramImage, textRegion, type ProgramImage } from './program-image.js';

interface Header {
  type?: number;
  flags?: number;
  offset?: number;
  vaddr?: number;
  filesz?: number;
  memsz?: number;
}

const TEXT = Uint8Array.from([0xb8, 0x2a, 0, 0, 0, 0xf4, 0xf4, 0xf4]);

/** An ELF64 file: header, program headers at 64, the text bytes at 0x1000. */
function elf(headers: readonly Header[], fields: { entry?: number; phentsize?: number; phnum?: number; size?: number; ident?: Record<number, number>; type?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(fields.size ?? 0x2000);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 123, 7].slice(0, Math.min(9, bytes.length)));
  for (const [i, v] of Object.entries(fields.ident ?? {})) bytes[Number(i)] = v;
  if (bytes.length >= 64) {
    view.setUint16(16, fields.type ?? 2, true);
    view.setUint16(18, 62, true);
    view.setUint32(20, 1, true);
    view.setBigUint64(24, BigInt(fields.entry ?? 0x20000), true);
    view.setBigUint64(32, 64n, true);
    view.setUint16(54, fields.phentsize ?? 56, true);
    view.setUint16(56, fields.phnum ?? headers.length, true);
  }
  headers.forEach((h, i) => {
    const at = 64 + i * 56;
    if (at + 56 > bytes.length) return;
    view.setUint32(at, h.type ?? 1, true);
    view.setUint32(at + 4, h.flags ?? 5, true);
    view.setBigUint64(at + 8, BigInt(h.offset ?? 0x1000), true);
    view.setBigUint64(at + 16, BigInt(h.vaddr ?? 0x20000), true);
    view.setBigUint64(at + 32, BigInt(h.filesz ?? TEXT.length), true);
    view.setBigUint64(at + 40, BigInt(h.memsz ?? h.filesz ?? TEXT.length), true);
  });
  if (bytes.length >= 0x1000 + TEXT.length) bytes.set(TEXT, 0x1000);
  return bytes;
}

const TEXT_HEADER: Header = {};

function refusal(bytes: Uint8Array): { errno: number; message: string } {
  try {
    readProgramImage(bytes);
  } catch (error) {
    if (error instanceof ProgramLoadError) return { errno: error.errno, message: error.message };
    throw error;
  }
  throw new Error('expected the program to be refused');
}

describe('readProgramImage: accepted programs', () => {
  it('text only: the break and the text end at the next 64 KiB page after 32 bytes of hlt', () => {
    const image = readProgramImage(elf([TEXT_HEADER]));
    expect(image).toMatchObject({ entry: 0x20000, staticTextEnd: 0x20008, textEnd: 0x30000, breakAddress: 0x30000 });
  });

  it('a text whose memory ends less than 32 bytes before a 64 KiB page pushes the break one page further', () => {
    expect(readProgramImage(elf([{ memsz: 0xffe8 }])).breakAddress).toBe(0x40000);
  });

  it('with data: the break is the data segment end, unrounded', () => {
    const image = readProgramImage(elf([TEXT_HEADER, { flags: 6, vaddr: 0x30000, offset: 0, filesz: 0, memsz: 0x80 }]));
    expect(image.breakAddress).toBe(0x30080);
    expect(image.data).toEqual({ start: 0x30000, end: 0x30080 });
  });

  it('with rodata and no data: the break is the rodata end rounded to 64 KiB', () => {
    expect(readProgramImage(elf([TEXT_HEADER, { flags: 4, vaddr: 0x50000, offset: 0x1000, filesz: 4 }])).breakAddress).toBe(0x60000);
  });

  it('ignores EI_DATA, EI_VERSION, EI_OSABI, EI_ABIVERSION, empty headers and R-only PT_NOTE/PT_DYNAMIC/PT_TLS', () => {
    expect(() => readProgramImage(elf([TEXT_HEADER], { ident: { 5: 2, 6: 0, 7: 0, 8: 0 } }))).not.toThrow();
    expect(() => readProgramImage(elf([TEXT_HEADER, { type: 0x60000000, memsz: 0, filesz: 0 }]))).not.toThrow();
    expect(() => readProgramImage(elf([TEXT_HEADER, { type: 4, flags: 4, memsz: 16, filesz: 0 }, { type: 2, flags: 4, memsz: 16, filesz: 0 }, { type: 7, flags: 4, memsz: 16, filesz: 0 }]))).not.toThrow();
  });

  it('reads program headers 56 bytes apart whatever e_phentsize says (if at least 56)', () => {
    expect(() => readProgramImage(elf([TEXT_HEADER], { phentsize: 64 }))).not.toThrow();
  });

  it('the text region: the file bytes, then hlt up to textEnd', () => {
    const bytes = elf([TEXT_HEADER]);
    const image: ProgramImage = readProgramImage(bytes);
    const region = textRegion(bytes, image);
    expect(region.length).toBe(0x10000);
    expect(Array.from(region.subarray(0, 8))).toEqual(Array.from(TEXT));
    expect(region.subarray(8).every((b) => b === 0xf4)).toBe(true);
  });
});

describe('readProgramImage: refusals, in the original order', () => {
  const cases: readonly [string, Uint8Array, number, string | RegExp][] = [
    ['shorter than an ELF header: EIO', elf([TEXT_HEADER], { size: 40 }), 5, 'the program is 40 bytes, shorter than an ELF header (64)'],
    ['more than 128 headers, before the magic', elf([TEXT_HEADER], { phnum: 129, ident: { 1: 0 } }), 8, '129 program headers; at most 128 are read'],
    ['e_phentsize below 56', elf([TEXT_HEADER], { phentsize: 48 }), 8, 'e_phentsize is 48; program headers are 56 bytes'],
    ['headers past the end of the file: EIO', elf([TEXT_HEADER], { phnum: 100, size: 0x1100 }), 5, /run past the end of the file/],
    ['bad magic', elf([TEXT_HEADER], { ident: { 1: 0x58 } }), 8, 'bad elf magic'],
    ['32-bit', elf([TEXT_HEADER], { ident: { 4: 1 } }), 8, 'bad elf class'],
    ['not ET_EXEC', elf([TEXT_HEADER], { type: 3 }), 8, 'non executable'],
    ['an unknown header with contents', elf([TEXT_HEADER, { type: 0x60000000, flags: 4, memsz: 16, filesz: 0 }]), 8, 'Segment 1 is of unexpected type 0x60000000, flag 0x4'],
    ['write+execute', elf([{ flags: 7 }]), 8, 'Segment 0 is of unexpected type 0x1, flag 0x7'],
    ['two texts', elf([TEXT_HEADER, { vaddr: 0x30000 }]), 8, 'Segment 1 is a type that has been seen'],
    ['text not at 0x20000', elf([{ vaddr: 0x30000 }], { entry: 0x30000 }), 8, 'Segment 0: bad virtual address: 0x00030000, expected 0x00020000'],
    ['rodata below 0x20000', elf([TEXT_HEADER, { flags: 4, vaddr: 0x10000 }]), 8, 'Segment 1: virtual address 0x00010000 too low'],
    ['ending at 4 GiB', elf([TEXT_HEADER, { flags: 6, vaddr: 0xffff0000, memsz: 0x10000, filesz: 0 }]), 8, 'Segment 1: too large, ends at 0x100000000'],
    ['file size over memory size', elf([{ filesz: 0x60, memsz: 0x20 }]), 8, 'Segment 0: file size 0x00000060 larger than memory size 0x00000020'],
    ['no text', elf([{ flags: 4 }]), 8, /no text segment/],
    ['entry unaligned', elf([TEXT_HEADER], { entry: 0x20010 }), 8, /entry point 0x20010/],
    ['entry past the text file bytes', elf([TEXT_HEADER], { entry: 0x20020 }), 8, /entry point 0x20020/],
    ['data not last', elf([TEXT_HEADER, { flags: 6, vaddr: 0x30000, filesz: 0, memsz: 8 }, { flags: 4, vaddr: 0x40000 }]), 8, 'the data segment is not the last segment'],
    ['rodata into the text pages', elf([TEXT_HEADER, { flags: 4, vaddr: 0x28000 }]), 8, "the text's pages overlap the rodata segment"],
    ['rodata unaligned', elf([TEXT_HEADER, { flags: 4, vaddr: 0x38000 }]), 8, 'the rodata segment does not start on a 64 KiB boundary'],
    ['a break past 0xFF000000: EFAULT', elf([TEXT_HEADER, { flags: 6, vaddr: 0xfeff0000, filesz: 0, memsz: 0x20000 }]), 14, /Memory 'hole'/],
    ['segment bytes past the end of the file', elf([TEXT_HEADER, { flags: 4, vaddr: 0x30000, offset: 0x1ff0, filesz: 0x100 }]), 8, 'load failure segment 1'],
  ];
  for (const [name, bytes, errno, message] of cases) {
    it(name, () => {
      const r = refusal(bytes);
      expect(r.errno).toBe(errno);
      if (typeof message === 'string') expect(r.message).toBe(message);
      else expect(r.message).toMatch(message);
    });
  }

  it('no room for 32 bytes of hlt before the rodata: EFAULT', () => {
    const bytes = new Uint8Array(0x14000);
    bytes.set(elf([{ filesz: 0xfff0 }, { flags: 4, vaddr: 0x30000, offset: 0x12000, filesz: 4 }]).subarray(0, 0x1000));
    expect(refusal(bytes)).toEqual({ errno: 14, message: 'Missing gap between text and rodata for halt_sled' });
  });
});
