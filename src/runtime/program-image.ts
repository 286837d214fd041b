/**
 * The program ("nexe") as the session loads it: the ELF checks, the
 * segments it copies, where the text ends after its hlt fill, and the
 * break (the first heap byte as the user manifest reports it).
 *
 * Pipeline position: session (step 3) -> here -> layout.ts (memory map)
 * -> loader.ts (copies the bytes) -> validator (the text region).
 *
 * Source of truth: spec/runtime.md "Loading the program", which states
 * what the original ZeroVM 2015 (measured) checks, in its order:
 *   1. the 64-byte ELF header must be in the file (else EIO 5);
 *   2. e_phnum at most 128, e_phentsize at least 56 (ENOEXEC 8);
 *   3. the e_phnum 56-byte program headers at e_phoff must be in the file
 *      (EIO 5; e_phentsize is not used as the stride);
 *   4. magic, EI_CLASS 64-bit, e_type ET_EXEC, e_machine x86-64,
 *      e_version 1, in that order (ENOEXEC); EI_DATA, EI_VERSION,
 *      EI_OSABI and EI_ABIVERSION are not looked at;
 *   5. each program header with p_memsz > 0 must match a row of
 *      PROGRAM_HEADER_ROWS by type and exact flags, each row at most once;
 *      loaded rows start at or above 0x20000 (the text exactly there),
 *      end below 4 GiB and have p_filesz <= p_memsz (ENOEXEC);
 *   6. a text segment must exist (ENOEXEC);
 *   7. the break: the end of the highest loaded segment; without a data
 *      segment it is rounded up to 64 KiB (one more page when no rodata
 *      either and less than 32 bytes of hlt would fit);
 *   8. the entry point 32-byte aligned and below the end of the text's
 *      file bytes (ENOEXEC);
 *   9. the layout: data (if any) ends at the break, else rodata ends on
 *      the page of the break; rodata ends before data starts; the text's
 *      pages end before rodata (else data) starts; rodata and data start
 *      on 64 KiB boundaries (ENOEXEC);
 *  10. the 64 KiB-rounded break at most 0xFF000000 (EFAULT 14);
 *  11. every loaded segment's file bytes in the file (ENOEXEC);
 *  12. 32 bytes of hlt fit between the text and rodata/data (EFAULT);
 * then the text is followed by hlt up to the 64 KiB boundary after 32
 * more bytes, and [0x20000, textEnd) is what the validator checks.
 *
 * This is deliberately not src/elf/nexe.ts: that module states what a
 * well-formed nexe is (the validator's `zerovm validate`), this one what
 * the session accepts, which is more (the original ran big-endian or
 * System V labelled files and ignored PT_DYNAMIC).
 */
import { Errno, SANDBOX_SIZE } from './definitions.js';

export const ELF_HEADER_SIZE = 64;
export const PROGRAM_HEADER_SIZE = 56;
export const MAX_PROGRAM_HEADERS = 128;
/** Where the text starts: after the NULL guard and the trampoline. */
export const TEXT_START = 0x20000;
/** hlt bytes that must fit after the text before the next segment. */
export const HALT_SLED_SIZE = 32;
/** The stack's first byte: the break may not pass it. */
export const STACK_START = 0xff000000;
const PAGE_64K = 0x10000;
const HLT = 0xf4;

const roundUp64K = (n: number): number => Math.ceil(n / PAGE_64K) * PAGE_64K;

const PT = { NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, PHDR: 6, TLS: 7, GNU_EH_FRAME: 0x6474e550, GNU_STACK: 0x6474e551, GNU_RELRO: 0x6474e552 } as const;
const PF = { X: 1, W: 2, R: 4 } as const;

/** What a matched program header does. */
export type HeaderRole = 'text' | 'rodata' | 'data' | 'loaded' | 'ignored';

interface HeaderRow {
  readonly type: number;
  /** The exact p_flags (PF_R 4, PF_W 2, PF_X 1). */
  readonly flags: number;
  readonly role: HeaderRole;
  /** The only address the segment may start at, when fixed. */
  readonly vaddr?: number;
}

/**
 * The program headers a session accepts (with p_memsz > 0; empty ones are
 * skipped whatever they are). `loaded` is a writable PT_GNU_STACK: it is
 * checked and copied like a segment but gets no protection of its own.
 */
export const PROGRAM_HEADER_ROWS: readonly HeaderRow[] = [
  { type: PT.PHDR, flags: PF.R, role: 'ignored' },
  { type: PT.LOAD, flags: PF.R | PF.X, role: 'text', vaddr: TEXT_START },
  { type: PT.LOAD, flags: PF.R, role: 'rodata' },
  { type: PT.LOAD, flags: PF.R | PF.W, role: 'data' },
  { type: PT.TLS, flags: PF.R, role: 'ignored' },
  { type: PT.GNU_STACK, flags: PF.R | PF.W, role: 'loaded' },
  { type: PT.DYNAMIC, flags: PF.R, role: 'ignored' },
  { type: PT.INTERP, flags: PF.R, role: 'ignored' },
  { type: PT.NOTE, flags: PF.R, role: 'ignored' },
  { type: PT.GNU_EH_FRAME, flags: PF.R, role: 'ignored' },
  { type: PT.GNU_RELRO, flags: PF.R, role: 'ignored' },
  { type: PT.NULL, flags: PF.R, role: 'ignored' },
];

/** A program the session cannot load: errno (process exit code) and the reason. */
export class ProgramLoadError extends Error {
  override readonly name = 'ProgramLoadError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const { EIO, ENOEXEC, EFAULT } = Errno;

export interface LoadedSegment {
  readonly index: number;
  readonly role: Exclude<HeaderRole, 'ignored'>;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly offset: number;
}

export interface Span {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface ProgramImage {
  readonly entry: number;
  /** The segments copied, in program header order (a later one overwrites an earlier one). */
  readonly segments: readonly LoadedSegment[];
  /** 0x20000 + the text's file size: where the hlt fill starts. */
  readonly staticTextEnd: number;
  /** End of the hlt fill, 64 KiB aligned: [0x20000, textEnd) is validated and executable. */
  readonly textEnd: number;
  readonly rodata?: Span;
  readonly data?: Span;
  /** The break: heap_ptr of the user manifest; the heap starts at its 64 KiB rounding. */
  readonly breakAddress: number;
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** A uint64 field as a number (values past 2^53 saturate: they fail every range check anyway). */
function u64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/** Reads and checks a program. Throws ProgramLoadError. */
export function readProgramImage(bytes: Uint8Array): ProgramImage {
  const fail = (errno: number, message: string): never => {
    throw new ProgramLoadError(errno, message);
  };
  if (bytes.length < ELF_HEADER_SIZE) fail(EIO, `the program is ${bytes.length} bytes, shorter than an ELF header (${ELF_HEADER_SIZE})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = u64(view, 32);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phnum > MAX_PROGRAM_HEADERS) fail(ENOEXEC, `${phnum} program headers; at most ${MAX_PROGRAM_HEADERS} are read`);
  if (phentsize < PROGRAM_HEADER_SIZE) fail(ENOEXEC, `e_phentsize is ${phentsize}; program headers are ${PROGRAM_HEADER_SIZE} bytes`);
  if (phoff > bytes.length || phoff + phnum * PROGRAM_HEADER_SIZE > bytes.length) {
    fail(EIO, `the ${phnum} program headers at offset ${phoff} run past the end of the file (${bytes.length} bytes)`);
  }

  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail(ENOEXEC, 'bad elf magic');
  if (bytes[4] !== 2) fail(ENOEXEC, 'bad elf class');
  if (view.getUint16(16, true) !== 2) fail(ENOEXEC, 'non executable');
  const machine = view.getUint16(18, true);
  if (machine !== 62) fail(ENOEXEC, `bad machine: ${machine.toString(16)}`);
  const version = view.getUint32(20, true);
  if (version !== 1) fail(ENOEXEC, `bad elf version: ${version.toString(16)}`);

  const seen = new Set<HeaderRow>();
  const segments: LoadedSegment[] = [];
  let maxVaddr = TEXT_START;
  let staticTextEnd: number | undefined;
  let rodata: Span | undefined;
  let data: Span | undefined;
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * PROGRAM_HEADER_SIZE;
    const type = view.getUint32(at, true);
    const flags = view.getUint32(at + 4, true);
    const offset = u64(view, at + 8);
    const vaddr = u64(view, at + 16);
    const filesz = u64(view, at + 32);
    const memsz = u64(view, at + 40);
    if (memsz === 0) continue;
    const row = PROGRAM_HEADER_ROWS.find((r) => r.type === type && r.flags === flags);
    if (row === undefined) fail(ENOEXEC, `Segment ${index} is of unexpected type 0x${type.toString(16)}, flag 0x${flags.toString(16)}`);
    const matched = row as HeaderRow;
    if (seen.has(matched)) fail(ENOEXEC, `Segment ${index} is a type that has been seen`);
    seen.add(matched);
    if (matched.role === 'ignored') continue;
    if (matched.vaddr !== undefined && vaddr !== matched.vaddr) {
      fail(ENOEXEC, `Segment ${index}: bad virtual address: ${hex8(vaddr)}, expected ${hex8(matched.vaddr)}`);
    }
    if (vaddr < TEXT_START) fail(ENOEXEC, `Segment ${index}: virtual address ${hex8(vaddr)} too low`);
    if (vaddr + memsz >= SANDBOX_SIZE) fail(ENOEXEC, `Segment ${index}: too large, ends at 0x${(vaddr + memsz).toString(16)}`);
    if (filesz > memsz) fail(ENOEXEC, `Segment ${index}: file size ${hex8(filesz)} larger than memory size ${hex8(memsz)}`);
    maxVaddr = Math.max(maxVaddr, vaddr + memsz);
    if (matched.role === 'text') staticTextEnd = TEXT_START + filesz;
    if (matched.role === 'rodata') rodata = { start: vaddr, end: vaddr + memsz };
    if (matched.role === 'data') data = { start: vaddr, end: vaddr + memsz };
    segments.push({ index, role: matched.role, vaddr, filesz, memsz, offset });
  }
  if (staticTextEnd === undefined) return fail(ENOEXEC, 'no text segment (a PT_LOAD with flags R+X at 0x20000)');
  const textFileEnd = staticTextEnd;

  if (data === undefined) {
    if (rodata === undefined && roundUp64K(maxVaddr) - maxVaddr < HALT_SLED_SIZE) maxVaddr += PAGE_64K;
    maxVaddr = roundUp64K(maxVaddr);
  }
  const breakAddress = maxVaddr;
  const entry = u64(view, 24);
  if (entry % 32 !== 0 || entry >= textFileEnd) fail(ENOEXEC, `the entry point 0x${entry.toString(16)} is not a 32-byte aligned address in the text`);
  checkLayout(textFileEnd, rodata, data, breakAddress, fail);
  if (roundUp64K(breakAddress) > STACK_START) {
    fail(EFAULT, "Memory 'hole' between end of BSS and start of stack is negative in size");
  }
  for (const s of segments) {
    if (s.filesz > 0 && s.offset + s.filesz > bytes.length) fail(ENOEXEC, `load failure segment ${s.index}`);
  }
  if (data !== undefined && textFileEnd + HALT_SLED_SIZE > data.start) fail(EFAULT, 'Missing gap between text and data for halt_sled');
  if (rodata !== undefined && textFileEnd + HALT_SLED_SIZE > rodata.start) fail(EFAULT, 'Missing gap between text and rodata for halt_sled');
  return {
    entry,
    segments,
    staticTextEnd: textFileEnd,
    textEnd: roundUp64K(textFileEnd + HALT_SLED_SIZE),
    ...(rodata === undefined ? {} : { rodata }),
    ...(data === undefined ? {} : { data }),
    breakAddress,
  };
}

/** Step 9: segments in the order text, rodata, data, each on its own pages. */
function checkLayout(textFileEnd: number, rodata: Span | undefined, data: Span | undefined, breakAddress: number, fail: (errno: number, message: string) => never): void {
  if (data !== undefined && data.end !== breakAddress) fail(ENOEXEC, 'the data segment is not the last segment');
  if (data === undefined && rodata !== undefined && roundUp64K(rodata.end) !== breakAddress) fail(ENOEXEC, 'the rodata segment is not the last segment');
  if (rodata !== undefined && data !== undefined && rodata.end > data.start) fail(ENOEXEC, 'the rodata segment overlaps the data segment');
  const next = rodata ?? data;
  if (next !== undefined && roundUp64K(textFileEnd) > next.start) fail(ENOEXEC, `the text's pages overlap the ${rodata === undefined ? 'data' : 'rodata'} segment`);
  if (rodata !== undefined && rodata.start % PAGE_64K !== 0) fail(ENOEXEC, 'the rodata segment does not start on a 64 KiB boundary');
  if (data !== undefined && data.start % PAGE_64K !== 0) fail(ENOEXEC, 'the data segment does not start on a 64 KiB boundary');
}

/**
 * The bytes the validator checks: [0x20000, textEnd) as loaded, every
 * segment copied in header order over zeroes, then the hlt fill from the
 * end of the text's file bytes.
 */
export function textRegion(bytes: Uint8Array, image: ProgramImage): Uint8Array {
  const region = new Uint8Array(image.textEnd - TEXT_START);
  for (const s of image.segments) {
    const from = Math.max(s.vaddr, TEXT_START);
    const to = Math.min(s.vaddr + s.filesz, image.textEnd);
    if (from >= to) continue;
    region.set(bytes.subarray(s.offset + (from - s.vaddr), s.offset + (to - s.vaddr)), from - TEXT_START);
  }
  region.fill(HLT, image.staticTextEnd - TEXT_START);
  return region;
}
