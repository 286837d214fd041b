/**
 * Reading a ZeroVM program ("nexe"): an ELF64 x86-64 executable laid out by
 * the NaCl/ZeroVM rules.
 *
 * Pipeline position: file bytes -> here -> `NexeImage` -> validator
 * (`validateNexe`) and, later, the loader. Source of truth: the project's
 * spec/validator.md "Programs" section (ZeroVM's ELF rules: ELF64 LE,
 * ET_EXEC, EM_X86_64, EI_OSABI 123 / ABI version 7, at most 128 program
 * headers, PT_LOAD segments from 0x20000 up inside 4 GiB, text -> rodata ->
 * data in address order on 64 KiB boundaries, PT_PHDR / PT_TLS / PT_GNU_STACK
 * tolerated, nothing dynamic).
 *
 * Every problem is a `NexeFormatError` whose message names the rule, so a
 * malformed file never surfaces as a stack trace.
 */
import { SANDBOX_SIZE } from '../runtime/definitions.js';

export class NexeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NexeFormatError';
  }
}

export type SegmentKind = 'text' | 'rodata' | 'data';

export interface NexeSegment {
  readonly kind: SegmentKind;
  readonly vaddr: number;
  readonly memsz: number;
  readonly filesz: number;
  readonly offset: number;
  /** PF_R | PF_W | PF_X bits. */
  readonly flags: number;
}

export interface NexeImage {
  readonly entry: number;
  readonly osabi: number;
  readonly abiVersion: number;
  /** Loadable segments in address order (text first). */
  readonly segments: readonly NexeSegment[];
  readonly text: NexeSegment;
}

export const ELF = {
  PT_NULL: 0,
  PT_LOAD: 1,
  PT_DYNAMIC: 2,
  PT_INTERP: 3,
  PT_NOTE: 4,
  PT_PHDR: 6,
  PT_TLS: 7,
  PT_GNU_EH_FRAME: 0x6474e550,
  PT_GNU_STACK: 0x6474e551,
  PT_GNU_RELRO: 0x6474e552,
  PF_X: 1,
  PF_W: 2,
  PF_R: 4,
  ET_EXEC: 2,
  EM_X86_64: 62,
  ELFOSABI_NACL: 123,
  NACL_ABI_VERSION: 7,
} as const;

/** Where the text segment must start (after the NULL guard and the trampoline). */
export const TEXT_START = 0x20000;
const PAGE_64K = 0x10000;
const MAX_PROGRAM_HEADERS = 128;

export interface ReadNexeOptions {
  /**
   * Accept EI_OSABI 0 (System V) as well as 123 (NaCl). Default false: a
   * ZeroVM nexe carries 123 / ABI version 7.
   */
  readonly allowSysvAbi?: boolean;
}

function u64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(value);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function segmentKind(flags: number): SegmentKind {
  if (flags & ELF.PF_X) return 'text';
  if (flags & ELF.PF_W) return 'data';
  return 'rodata';
}

const KIND_ORDER: Record<SegmentKind, number> = { text: 0, rodata: 1, data: 2 };

/** Parses and checks a nexe. Throws `NexeFormatError` with the reason on any violation. */
export function readNexe(bytes: Uint8Array, options: ReadNexeOptions = {}): NexeImage {
  const fail = (message: string): never => {
    throw new NexeFormatError(message);
  };
  if (bytes.length < 64) fail(`file is ${bytes.length} bytes, too short for an ELF header (64 bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF file (bad magic number)');
  if (bytes[4] !== 2) fail('not a 64-bit ELF file (EI_CLASS must be ELFCLASS64)');
  if (bytes[5] !== 1) fail('not a little-endian ELF file (EI_DATA must be ELFDATA2LSB)');
  if (bytes[6] !== 1) fail('unsupported ELF version (EI_VERSION must be 1)');
  const osabi = bytes[7] as number;
  const abiVersion = bytes[8] as number;
  const sysv = osabi === 0 && options.allowSysvAbi === true;
  if (osabi !== ELF.ELFOSABI_NACL && !sysv) fail(`EI_OSABI is ${osabi}; a ZeroVM nexe has 123 (NaCl)`);
  if (!sysv && abiVersion !== ELF.NACL_ABI_VERSION) fail(`EI_ABIVERSION is ${abiVersion}; a ZeroVM nexe has 7`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  if (type !== ELF.ET_EXEC) fail(`e_type is ${type}; a nexe must be a static executable (ET_EXEC)`);
  const machine = view.getUint16(18, true);
  if (machine !== ELF.EM_X86_64) fail(`e_machine is ${machine}; a nexe must be x86-64 (62)`);
  if (view.getUint32(20, true) !== 1) fail('e_version must be 1 (EV_CURRENT)');
  const entry = u64(view, 24);
  const phoff = u64(view, 32);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phnum === 0) fail('no program headers');
  if (phnum > MAX_PROGRAM_HEADERS) fail(`${phnum} program headers; at most ${MAX_PROGRAM_HEADERS} are allowed`);
  if (phentsize !== 56) fail(`e_phentsize is ${phentsize}; ELF64 program headers are 56 bytes`);
  if (phoff + phnum * phentsize > bytes.length) fail('program header table extends past the end of the file');

  const segments: NexeSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const pType = view.getUint32(at, true);
    const flags = view.getUint32(at + 4, true);
    const offset = u64(view, at + 8);
    const vaddr = u64(view, at + 16);
    const filesz = u64(view, at + 32);
    const memsz = u64(view, at + 40);
    switch (pType) {
      case ELF.PT_LOAD:
        break;
      case ELF.PT_NULL:
      case ELF.PT_PHDR:
      case ELF.PT_NOTE:
      case ELF.PT_GNU_STACK:
      case ELF.PT_GNU_EH_FRAME:
      case ELF.PT_GNU_RELRO:
        continue;
      case ELF.PT_TLS:
        if (memsz !== 0) fail(`program header ${i}: PT_TLS must be empty (thread-local storage is not supported)`);
        continue;
      case ELF.PT_DYNAMIC:
      case ELF.PT_INTERP:
        fail(`program header ${i}: dynamic linking is not supported (nexes are static)`);
        break;
      default:
        fail(`program header ${i}: unsupported segment type ${hex(pType)}`);
    }
    // Linkers emit empty PT_LOAD headers for empty sections; they load nothing.
    if (memsz === 0 && filesz === 0) continue;
    if (filesz > memsz) fail(`segment ${i}: p_filesz ${hex(filesz)} exceeds p_memsz ${hex(memsz)}`);
    if (offset + filesz > bytes.length) fail(`segment ${i}: file data [${hex(offset)}, ${hex(offset + filesz)}) is past the end of the file`);
    if (vaddr < TEXT_START) fail(`segment ${i}: starts at ${hex(vaddr)}, below ${hex(TEXT_START)} (the NULL guard and trampoline)`);
    if (vaddr + memsz > SANDBOX_SIZE) fail(`segment ${i}: [${hex(vaddr)}, ${hex(vaddr + memsz)}) is not inside the 4 GiB sandbox`);
    if ((flags & (ELF.PF_W | ELF.PF_X)) === (ELF.PF_W | ELF.PF_X)) fail(`segment ${i}: writable and executable at once`);
    segments.push({ kind: segmentKind(flags), vaddr, memsz, filesz, offset, flags });
  }
  if (segments.length === 0) fail('no loadable (PT_LOAD) segment');
  segments.sort((a, b) => a.vaddr - b.vaddr);
  const texts = segments.filter((s) => s.kind === 'text');
  if (texts.length !== 1) fail(`${texts.length} executable segments; a nexe has exactly one text segment`);
  const text = texts[0] as NexeSegment;
  if (text.vaddr !== TEXT_START) fail(`text segment starts at ${hex(text.vaddr)}; it must start at ${hex(TEXT_START)}`);
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1] as NexeSegment;
    const seg = segments[i] as NexeSegment;
    if (seg.vaddr < prev.vaddr + prev.memsz) fail(`segments at ${hex(prev.vaddr)} and ${hex(seg.vaddr)} overlap`);
    if (KIND_ORDER[seg.kind] < KIND_ORDER[prev.kind]) fail(`segments out of order: ${seg.kind} at ${hex(seg.vaddr)} after ${prev.kind}; the order is text, rodata, data`);
    if (seg.kind !== prev.kind && seg.vaddr % PAGE_64K !== 0) fail(`${seg.kind} segment at ${hex(seg.vaddr)} does not start on a 64 KiB boundary`);
    if (seg.kind === prev.kind && seg.kind === 'text') fail('more than one text segment');
  }
  if (segments.filter((s) => s.kind === 'data').length > 1) fail('more than one data segment; data and bss must be one segment, the last');
  if (entry < text.vaddr || entry >= text.vaddr + text.memsz) fail(`entry point ${hex(entry)} is outside the text segment`);
  if (entry % 32 !== 0) fail(`entry point ${hex(entry)} is not 32-byte aligned`);
  return { entry, osabi, abiVersion, segments, text };
}

/** The text segment's file bytes (what the validator checks). */
export function textBytes(bytes: Uint8Array, image: NexeImage): Uint8Array {
  return bytes.subarray(image.text.offset, image.text.offset + image.text.filesz);
}
