/**
 * Generates the two machine-made parts of the conformance suite from their
 * sources, so that they cannot drift:
 *
 *   cases/validator/rules.json   from test/validator-rules.txt (the
 *                                validator's per-rule table): one case per
 *                                table line, the bytes padded with nops to
 *                                whole bundles as the table prescribes;
 *   cases/validator/             from test/validator-rules-zerovm.txt (the
 *     rules-zerovm.json          zerovm policy's table): one case per line,
 *                                the region exactly the bytes given;
 *   cases/elf/elf.json and       from the text of programs/exit42.nexe and
 *   cases/elf/*.nexe             the ELF_VARIANTS table below: the same
 *                                program in well-formed, unusual and
 *                                malformed ELF files (spec/runtime.md
 *                                "Loading the program": what the original
 *                                ZeroVM 2015 runs or refuses).
 *
 *   npx tsx conformance/tools/generate.ts           # write the files
 *   npx tsx conformance/tools/generate.ts --check   # exit 1 if a file differs
 *
 * The committed outputs are the suite (an implementation under test reads
 * only them); test/conformance-suite.test.ts fails when they differ from a
 * fresh generation. Case ids are derived from content (topic, verdict and
 * a hash of the bytes), not from line numbers, so inserting a table line
 * does not rename every case after it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN_TABLE, parseRuleTable, RULE_TABLE, ZEROVM_RULE_TABLE, ZEROVM_TABLE, type TableKind } from '../../test/validator-rules-table.js';

export const SUITE_ROOT = join(import.meta.dirname, '..');

/** A generated file: its path relative to the suite root and its bytes. */
export interface GeneratedFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

const FORMAT = 'zerovm-conformance/1';

/** A case file with one case per line, so that a table of cases reads like one. */
function caseFileText(header: Record<string, string>, cases: readonly object[]): string {
  const head = Object.entries(header).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  return `{\n${head.join('\n')}\n  "cases": [\n${cases.map((c) => `    ${JSON.stringify(c)}`).join(',\n')}\n  ]\n}\n`;
}

function shortHash(...parts: string[]): string {
  return createHash('sha1').update(parts.join('\0')).digest('hex').slice(0, 6);
}

/* ------------------------------------------------------------------------ */
/* Validator cases                                                           */
/* ------------------------------------------------------------------------ */

/** The spec anchor of each table line: the `(spec: #anchor)` of the section header above it. */
function sectionAnchors(table: string, name: string): Map<number, string> {
  const anchors = new Map<number, string>();
  let section = '';
  table.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const header = /^# ----.*\(spec: (#[a-z0-9-]+)\)/.exec(line);
    if (header) section = header[1] as string;
    if (line.length === 0 || line.startsWith('#')) return;
    if (section === '') throw new Error(`${name}:${index + 1}: no section header with a spec anchor above this line`);
    anchors.set(index + 1, section);
  });
  return anchors;
}

/**
 * One case per line of a rule table (read by test/validator-rules-table.ts,
 * which owns the table's format): the region the line validates, exactly
 * (nop-padded to whole bundles in validator-rules.txt, the bytes as given
 * in validator-rules-zerovm.txt), its policy, base, features, and the
 * deviation it names. `ids` holds the ids of the area so far.
 */
function tableCases(table: string, kind: TableKind, ids: Set<string>): object[] {
  const anchors = sectionAnchors(table, kind.name);
  return parseRuleTable(table, kind).map((c) => {
    const code = Buffer.from(c.region).toString('hex');
    const slug = c.topic.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
    let id = `${slug}-${c.verdict}-${shortHash(c.topic, code)}`;
    for (let n = 2; ids.has(id); n++) id = `${slug}-${c.verdict}-${shortHash(c.topic, code)}-${n}`;
    ids.add(id);
    return {
      kind: 'validator',
      id,
      title: c.comment,
      spec: `validator.md${anchors.get(c.line) as string}`,
      code,
      ...(c.base === 0 ? {} : { base: c.base }),
      policy: c.policy,
      ...(c.featureList === undefined ? {} : { features: c.featureList }),
      ...(c.deviation === undefined ? {} : { deviation: c.deviation.reason }),
      expect: { valid: c.verdict === 'accept', errors: [...c.expected] },
    };
  });
}

/** cases/validator/rules.json and rules-zerovm.json from the texts of the two rule tables. */
export function validatorCases(mainTable: string, zerovmTable: string): GeneratedFile[] {
  const ids = new Set<string>();
  const file = (path: string, title: string, cases: object[]): GeneratedFile => ({
    path,
    bytes: new TextEncoder().encode(caseFileText({ format: FORMAT, area: 'validator', title }, cases)),
  });
  return [
    file(
      'cases/validator/rules.json',
      'The validator rules, one case per line of test/validator-rules.txt (generated by conformance/tools/generate.ts; do not edit)',
      tableCases(mainTable, MAIN_TABLE, ids),
    ),
    file(
      'cases/validator/rules-zerovm.json',
      "ZeroVM 2015's validator rules (the zerovm policy) and the deterministic policy on exact regions, one case per line of test/validator-rules-zerovm.txt (generated by conformance/tools/generate.ts; do not edit)",
      tableCases(zerovmTable, ZEROVM_TABLE, ids),
    ),
  ];
}

/* ------------------------------------------------------------------------ */
/* ELF cases                                                                 */
/* ------------------------------------------------------------------------ */

const PT = { NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, PHDR: 6, TLS: 7, LOOS: 0x60000000, GNU_STACK: 0x6474e551 } as const;
const PF = { X: 1, W: 2, R: 4 } as const;
const TEXT_OFFSET = 0x1000;

interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

interface ElfLayout {
  /** e_ident bytes 4..8 overrides, by index. */
  readonly ident?: Readonly<Record<number, number>>;
  readonly type?: number;
  readonly machine?: number;
  readonly version?: number;
  readonly entry?: number;
  readonly phoff?: number;
  readonly phentsize?: number;
  /** e_phnum when it differs from the number of headers written. */
  readonly phnum?: number;
  readonly headers: readonly ProgramHeader[];
  /** Cut the file to this many bytes. */
  readonly truncate?: number;
  /** The text's file size when it is not exit42's padded text: hlt after exit42's bytes. */
  readonly textSize?: number;
  /** Text bytes (hex) instead of exit42's, hlt after them up to a whole bundle. */
  readonly textCode?: string;
}

/** The text of exit42: its PT_LOAD R+X bytes. */
function exit42Text(): Uint8Array {
  const nexe = readFileSync(join(SUITE_ROOT, 'programs', 'exit42.nexe'));
  const view = new DataView(nexe.buffer, nexe.byteOffset, nexe.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  for (let i = 0; i < view.getUint16(56, true); i++) {
    const at = phoff + i * 56;
    if (view.getUint32(at, true) === PT.LOAD && (view.getUint32(at + 4, true) & PF.X) !== 0) {
      const offset = Number(view.getBigUint64(at + 8, true));
      return nexe.subarray(offset, offset + Number(view.getBigUint64(at + 32, true)));
    }
  }
  throw new Error('programs/exit42.nexe has no text segment');
}

/** The text padded with hlt to whole bundles. */
function paddedText(): Uint8Array {
  const text = exit42Text();
  const padded = new Uint8Array(Math.ceil(text.length / 32) * 32).fill(0xf4);
  padded.set(text);
  return padded;
}

const TEXT = paddedText();

/** exit42's text followed by hlt up to `size` bytes. */
function textOfSize(size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(0xf4);
  bytes.set(TEXT.subarray(0, Math.min(TEXT.length, size)));
  return bytes;
}

/** `hex` followed by hlt up to a whole bundle. */
function codeText(hex: string): Uint8Array {
  const code = Buffer.from(hex, 'hex');
  const bytes = new Uint8Array(Math.ceil(code.length / 32) * 32).fill(0xf4);
  bytes.set(code);
  return bytes;
}

function text(overrides: Partial<ProgramHeader> = {}): ProgramHeader {
  return { type: PT.LOAD, flags: PF.R | PF.X, offset: TEXT_OFFSET, vaddr: 0x20000, filesz: TEXT.length, memsz: TEXT.length, ...overrides };
}

/** A segment of `size` bytes at `vaddr`, its file bytes (zeroes) at `offset`. */
function segment(flags: number, vaddr: number, offset: number, size: number, memsz = size): ProgramHeader {
  return { type: PT.LOAD, flags, offset, vaddr, filesz: size, memsz };
}

function other(type: number, memsz = 0): ProgramHeader {
  return { type, flags: PF.R, offset: 0, vaddr: 0, filesz: 0, memsz };
}

function buildElf(layout: ElfLayout): Uint8Array {
  const headers = layout.headers;
  const textBytes = layout.textCode !== undefined ? codeText(layout.textCode) : layout.textSize === undefined ? TEXT : textOfSize(layout.textSize);
  const phoff = layout.phoff ?? 64;
  const textAt = Math.max(TEXT_OFFSET, Math.ceil((phoff + 56 * headers.length) / 0x1000) * 0x1000);
  const placed = headers.map((h) => (h.offset === TEXT_OFFSET && h.type === PT.LOAD && (h.flags & PF.X) !== 0 ? { ...h, offset: textAt } : h));
  const end = Math.max(textAt + textBytes.length, ...placed.map((h) => (h.type === PT.LOAD ? h.offset + h.filesz : 0)));
  const bytes = new Uint8Array(end);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 123, 7]);
  for (const [index, value] of Object.entries(layout.ident ?? {})) bytes[Number(index)] = value;
  view.setUint16(16, layout.type ?? 2, true);
  view.setUint16(18, layout.machine ?? 62, true);
  view.setUint32(20, layout.version ?? 1, true);
  view.setBigUint64(24, BigInt(layout.entry ?? 0x20000), true);
  view.setBigUint64(32, BigInt(phoff), true);
  view.setUint16(52, 64, true);
  view.setUint16(54, layout.phentsize ?? 56, true);
  view.setUint16(56, layout.phnum ?? headers.length, true);
  view.setUint16(58, 64, true);
  placed.forEach((h, i) => {
    const at = phoff + i * 56;
    if (at + 56 > bytes.length) return;
    view.setUint32(at, h.type, true);
    view.setUint32(at + 4, h.flags, true);
    view.setBigUint64(at + 8, BigInt(h.offset), true);
    view.setBigUint64(at + 16, BigInt(h.vaddr), true);
    view.setBigUint64(at + 24, BigInt(h.vaddr), true);
    view.setBigUint64(at + 32, BigInt(h.filesz), true);
    view.setBigUint64(at + 40, BigInt(h.memsz), true);
    view.setBigUint64(at + 48, 0x1000n, true);
  });
  bytes.set(textBytes, textAt);
  return layout.truncate === undefined ? bytes : bytes.subarray(0, layout.truncate);
}

/** What the session does with a variant: run it (exit42's code 42), refuse it, or run it into a fault. */
type ElfOutcome =
  | { readonly runs: true }
  /** refused while loading (validator state 2) */
  | { readonly exitCode: number; readonly refusal: string }
  /** loaded and validated (validator state 0), refused when it would start */
  | { readonly exitCode: number; readonly started: string }
  /** loaded, validated (validator state 0) and run into a signal */
  | { readonly signal: number }
  /** loaded and refused by the validator (validator state 1) */
  | { readonly invalid: true };

interface ElfVariant {
  readonly id: string;
  readonly title: string;
  readonly layout: ElfLayout;
  /** As measured on the original ZeroVM 2015; a refusal carries this project's wording. */
  readonly outcome: ElfOutcome;
  readonly profile?: 'zerovm-ts';
}

const RODATA_AT = 0x30000;
const DATA_AT = 0x40000;
const RUNS = { runs: true } as const;
const EIO = 5;
const ENOEXEC = 8;
const EFAULT = 14;
/** The exit code of a session ended by a signal from the program. */
const SIGNAL_EXIT = 4;
/** A direct jump (e9 rel32) at 0x20000 to 0x20000 + `offset`. */
const jumpTo = (offset: number): string => `e9${Buffer.from(Uint32Array.of(offset - 5).buffer).toString('hex')}`;

/**
 * One file per rule of spec/runtime.md "Loading the program" (what the
 * original ZeroVM 2015 checks, measured), the positive variants first.
 */
export const ELF_VARIANTS: readonly ElfVariant[] = [
  { id: 'minimal', title: 'one R+X PT_LOAD at 0x20000: runs', layout: { headers: [text()] }, outcome: RUNS },
  {
    id: 'tolerated-headers',
    title: 'PT_PHDR, PT_GNU_STACK and an empty PT_TLS are tolerated',
    layout: { headers: [other(PT.PHDR), text(), other(PT.GNU_STACK), other(PT.TLS)] },
    outcome: RUNS,
  },
  {
    id: 'rodata-data-bss',
    title: 'text, rodata and data+bss on their own 64 KiB pages: runs',
    layout: { headers: [text(), segment(PF.R, RODATA_AT, 0x2000, 0x100), segment(PF.R | PF.W, DATA_AT, 0x3000, 0x100, 0x5000)] },
    outcome: RUNS,
  },
  { id: 'empty-load', title: 'an empty PT_LOAD (what linkers emit for empty sections) loads nothing', layout: { headers: [text(), segment(PF.R, 0, 0, 0)] }, outcome: RUNS },
  { id: 'text-memsz-tail', title: 'a text segment longer in memory than in the file (hlt tail): runs', layout: { headers: [text({ memsz: 0x800 })] }, outcome: RUNS },
  { id: 'note-tolerated', title: 'PT_NOTE (flags R) is ignored', layout: { headers: [text(), other(PT.NOTE)] }, outcome: RUNS },
  { id: 'big-endian', title: 'EI_DATA is not read: a big-endian label runs', layout: { ident: { 5: 2 }, headers: [text()] }, outcome: RUNS },
  { id: 'ident-version', title: 'EI_VERSION is not read: 0 runs', layout: { ident: { 6: 0 }, headers: [text()] }, outcome: RUNS },
  { id: 'osabi-sysv', title: 'EI_OSABI is not read: 0 (System V) instead of 123 (NaCl) runs', layout: { ident: { 7: 0 }, headers: [text()] }, outcome: RUNS },
  { id: 'abi-version', title: 'EI_ABIVERSION is not read: 0 instead of 7 runs', layout: { ident: { 8: 0 }, headers: [text()] }, outcome: RUNS },
  { id: 'phentsize', title: 'e_phentsize larger than 56 runs: the headers are read 56 bytes apart', layout: { phentsize: 64, headers: [text()] }, outcome: RUNS },
  { id: 'tls-not-empty', title: 'a PT_TLS (flags R) with contents is ignored', layout: { headers: [text(), other(PT.TLS, 16)] }, outcome: RUNS },
  { id: 'dynamic', title: 'a PT_DYNAMIC header with flags R is ignored', layout: { headers: [text(), other(PT.DYNAMIC, 16)] }, outcome: RUNS },
  { id: 'interp', title: 'a PT_INTERP header with flags R is ignored', layout: { headers: [other(PT.INTERP, 16), text()] }, outcome: RUNS },
  { id: 'unknown-type', title: 'a program header of an unknown type (PT_LOOS) with p_memsz 0 is skipped', layout: { headers: [text(), other(PT.LOOS)] }, outcome: RUNS },
  {
    id: 'overlap',
    title: "a text segment whose memory size reaches the rodata: only the text's file bytes are text, runs",
    layout: { headers: [text({ memsz: 0x20000 }), segment(PF.R, RODATA_AT, 0x2000, 0x100)] },
    outcome: RUNS,
  },
  {
    id: 'entry-zero',
    title: 'entry point 0 passes the loader (below the end of the text, aligned) and validation, but the session cannot start there: EFAULT',
    layout: { entry: 0, headers: [text()] },
    outcome: { exitCode: EFAULT, started: 'the entry point is at address 0' },
  },
  { id: 'too-short', title: 'a file shorter than the ELF header: EIO', layout: { headers: [text()], truncate: 40 }, outcome: { exitCode: EIO, refusal: 'the program is 40 bytes, shorter than an ELF header (64)' } },
  {
    id: 'headers-past-eof',
    title: 'the program header table runs past the end of the file: EIO',
    layout: { phnum: 100, headers: [text()] },
    outcome: { exitCode: EIO, refusal: 'the 100 program headers at offset 64 run past the end of the file (4192 bytes)' },
  },
  {
    id: 'too-many-program-headers',
    title: '129 program headers (at most 128), checked before the magic number',
    layout: { ident: { 1: 0x58 }, headers: [text(), ...Array.from({ length: 128 }, () => other(PT.NULL))] },
    outcome: { exitCode: ENOEXEC, refusal: '129 program headers; at most 128 are read' },
  },
  { id: 'phentsize-small', title: 'e_phentsize smaller than 56', layout: { phentsize: 48, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'e_phentsize is 48; program headers are 56 bytes' } },
  { id: 'bad-magic', title: 'no ELF magic number', layout: { ident: { 1: 0x58 }, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'bad elf magic' } },
  { id: 'elfclass32', title: 'a 32-bit ELF (EI_CLASS 1)', layout: { ident: { 4: 1 }, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'bad elf class' } },
  { id: 'type-dyn', title: 'ET_DYN instead of ET_EXEC', layout: { type: 3, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'non executable' } },
  { id: 'machine-386', title: 'EM_386 instead of EM_X86_64', layout: { machine: 3, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'bad machine: 3' } },
  { id: 'e-version', title: 'e_version 0', layout: { version: 0, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'bad elf version: 0' } },
  { id: 'no-program-headers', title: 'e_phnum 0: no text segment', layout: { phnum: 0, headers: [text()] }, outcome: { exitCode: ENOEXEC, refusal: 'no text segment (a PT_LOAD with flags R+X at 0x20000)' } },
  {
    id: 'dynamic-writable',
    title: 'a PT_DYNAMIC header with flags R+W (no row of the table matches)',
    layout: { headers: [text(), { ...other(PT.DYNAMIC, 16), flags: PF.R | PF.W }] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 1 is of unexpected type 0x2, flag 0x6' },
  },
  {
    id: 'unknown-type-not-empty',
    title: 'a program header of an unknown type (PT_LOOS) with contents',
    layout: { headers: [text(), other(PT.LOOS, 16)] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 1 is of unexpected type 0x60000000, flag 0x4' },
  },
  {
    id: 'two-notes',
    title: 'two PT_NOTE headers with contents: each row of the table at most once, ignored ones too',
    layout: { headers: [text(), other(PT.NOTE, 16), other(PT.NOTE, 16)] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 2 is a type that has been seen' },
  },
  { id: 'filesz-over-memsz', title: 'p_filesz larger than p_memsz', layout: { headers: [text({ memsz: 0x20 })] }, outcome: { exitCode: ENOEXEC, refusal: 'Segment 0: file size 0x00000060 larger than memory size 0x00000020' } },
  {
    id: 'data-past-eof',
    title: 'a segment whose file bytes run past the end of the file',
    layout: { headers: [text(), segment(PF.R, RODATA_AT, 0x2000, 0x100)], truncate: 0x2080 },
    outcome: { exitCode: ENOEXEC, refusal: 'load failure segment 1' },
  },
  {
    id: 'below-0x20000',
    title: 'a text segment below 0x20000 (NULL guard and trampoline)',
    layout: { entry: 0x10000, headers: [text({ vaddr: 0x10000 })] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 0: bad virtual address: 0x00010000, expected 0x00020000' },
  },
  {
    id: 'rodata-below-0x20000',
    title: 'a rodata segment below 0x20000',
    layout: { headers: [text(), segment(PF.R, 0x10000, 0x2000, 0x100)] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 1: virtual address 0x00010000 too low' },
  },
  {
    id: 'beyond-4gib',
    title: 'a data segment that ends past 4 GiB',
    layout: { headers: [text(), segment(PF.R | PF.W, 0xffff0000, 0x2000, 0x100, 0x20000)] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 1: too large, ends at 0x100010000' },
  },
  {
    id: 'data-past-stack',
    title: 'a data segment that ends in the stack (past 0xFF000000): EFAULT',
    layout: { headers: [text(), segment(PF.R | PF.W, 0xfeff0000, 0x2000, 0x100, 0x20000)] },
    outcome: { exitCode: EFAULT, refusal: "Memory 'hole' between end of BSS and start of stack is negative in size" },
  },
  { id: 'write-execute', title: 'a writable and executable segment', layout: { headers: [text({ flags: PF.R | PF.W | PF.X })] }, outcome: { exitCode: ENOEXEC, refusal: 'Segment 0 is of unexpected type 0x1, flag 0x7' } },
  { id: 'no-load', title: 'no PT_LOAD segment at all', layout: { headers: [other(PT.GNU_STACK)] }, outcome: { exitCode: ENOEXEC, refusal: 'no text segment (a PT_LOAD with flags R+X at 0x20000)' } },
  { id: 'no-text', title: 'no executable segment', layout: { headers: [text({ flags: PF.R })] }, outcome: { exitCode: ENOEXEC, refusal: 'no text segment (a PT_LOAD with flags R+X at 0x20000)' } },
  {
    id: 'two-texts',
    title: 'two executable segments',
    layout: { headers: [text(), { ...text(), vaddr: RODATA_AT }] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 1 is a type that has been seen' },
  },
  {
    id: 'text-not-at-0x20000',
    title: 'the text segment at 0x30000',
    layout: { entry: 0x30000, headers: [text({ vaddr: 0x30000 })] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 0: bad virtual address: 0x00030000, expected 0x00020000' },
  },
  {
    id: 'out-of-order',
    title: 'rodata after data in address order: the data segment is not the last',
    layout: { headers: [text(), segment(PF.R | PF.W, RODATA_AT, 0x2000, 0x100), segment(PF.R, DATA_AT, 0x3000, 0x100)] },
    outcome: { exitCode: ENOEXEC, refusal: 'the data segment is not the last segment' },
  },
  {
    id: 'rodata-overlaps-data',
    title: 'a rodata segment that runs into the data segment',
    layout: { headers: [text(), segment(PF.R, RODATA_AT, 0x2000, 0x100, 0x18000), segment(PF.R | PF.W, DATA_AT, 0x3000, 0x100, 0x10000)] },
    outcome: { exitCode: ENOEXEC, refusal: 'the rodata segment overlaps the data segment' },
  },
  {
    id: 'shared-page',
    title: 'rodata in the 64 KiB page of the text',
    layout: { headers: [text(), segment(PF.R, 0x28000, 0x2000, 0x100)] },
    outcome: { exitCode: ENOEXEC, refusal: "the text's pages overlap the rodata segment" },
  },
  {
    id: 'rodata-unaligned',
    title: 'a rodata segment that does not start on a 64 KiB boundary',
    layout: { headers: [text(), segment(PF.R, 0x38000, 0x2000, 0x100)] },
    outcome: { exitCode: ENOEXEC, refusal: 'the rodata segment does not start on a 64 KiB boundary' },
  },
  {
    id: 'no-halt-sled',
    title: 'less than 32 bytes between the end of the text and the rodata for the hlt fill: EFAULT',
    layout: { textSize: 0xfff0, headers: [text({ filesz: 0xfff0, memsz: 0xfff0 }), segment(PF.R, RODATA_AT, 0x12000, 0x100)] },
    outcome: { exitCode: EFAULT, refusal: 'Missing gap between text and rodata for halt_sled' },
  },
  {
    id: 'two-data',
    title: 'two data segments',
    layout: { headers: [text(), segment(PF.R | PF.W, RODATA_AT, 0x2000, 0x100), segment(PF.R | PF.W, DATA_AT, 0x3000, 0x100)] },
    outcome: { exitCode: ENOEXEC, refusal: 'Segment 2 is a type that has been seen' },
  },
  {
    id: 'entry-outside-text',
    title: "the entry point past the end of the text's file bytes",
    layout: { entry: 0x30000, headers: [text()] },
    outcome: { exitCode: ENOEXEC, refusal: 'the entry point 0x30000 is not a 32-byte aligned address in the text' },
  },
  {
    id: 'hlt-fill-jump-kept',
    title: 'a 5-byte text that jumps to its hlt at offset 0x1f: validated up to 16 bytes past its last non-hlt byte, a bundle here, so the target is inside; the hlt faults',
    layout: { textCode: jumpTo(0x1f), headers: [text({ filesz: 32, memsz: 32 })] },
    outcome: { signal: 11 },
  },
  {
    id: 'hlt-fill-jump-dropped',
    title: 'a 5-byte text that jumps to offset 0x21 of its hlt fill: the validator drops the hlt past the first bundle, so the unaligned target lies outside the region: validation failed',
    layout: { textCode: jumpTo(0x21), headers: [text({ filesz: 32, memsz: 32 })] },
    outcome: { invalid: true },
  },
  {
    id: 'entry-unaligned',
    title: 'an entry point that is not 32-byte aligned',
    layout: { entry: 0x20010, headers: [text()] },
    outcome: { exitCode: ENOEXEC, refusal: 'the entry point 0x20010 is not a 32-byte aligned address in the text' },
  },
];

const ELF_MANIFEST = [
  'Version = 20130611',
  'Program = {program}',
  'Timeout = 10',
  'Memory = 33554432, 0',
  'Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0',
  'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 1, 1',
  'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1, 1',
];

/** cases/elf/elf.json and one .nexe per variant. */
export function elfCases(): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  const cases = ELF_VARIANTS.map((v) => {
    const path = `cases/elf/${v.id}.nexe`;
    files.push({ path, bytes: buildElf(v.layout) });
    const o = v.outcome;
    const expect =
      'runs' in o
        ? { exitCode: 0, report: { validatorState: 0, userReturnCode: 42, exitState: 'ok' } }
        : 'signal' in o
          ? { exitCode: SIGNAL_EXIT, report: { validatorState: 0, exitState: { class: 'signal', signal: o.signal, reference: `Signal ${o.signal} from untrusted code: Halting at 0x` } } }
          : 'invalid' in o
            ? { exitCode: ENOEXEC, report: { validatorState: 1, exitState: { class: 'failure', reference: 'validation failed' } } }
            : 'started' in o
          ? { exitCode: o.exitCode, report: { validatorState: 0, exitState: { class: 'failure', reference: o.started } } }
          : { exitCode: o.exitCode, report: { validatorState: 2, exitState: { class: 'failure', reference: o.refusal } } };
    return { id: v.id, title: v.title, ...(v.profile === undefined ? {} : { profile: v.profile }), program: path, manifest: ELF_MANIFEST, expect };
  });
  const text = caseFileText(
    {
      format: FORMAT,
      area: 'elf',
      title: 'Loading the program: ELF files the runtime runs or refuses, as the original ZeroVM 2015 did (generated by conformance/tools/generate.ts; do not edit)',
      spec: 'runtime.md#loading-the-program; runtime.md#session step 3',
    },
    cases,
  );
  files.push({ path: 'cases/elf/elf.json', bytes: new TextEncoder().encode(text) });
  return files;
}

/** Every generated file. */
export function generateAll(): GeneratedFile[] {
  return [...validatorCases(readFileSync(RULE_TABLE, 'utf8'), readFileSync(ZEROVM_RULE_TABLE, 'utf8')), ...elfCases()];
}

/** Generated .nexe files in cases/elf/ that no variant produces any more. */
export function staleFiles(generated: readonly GeneratedFile[]): string[] {
  const dir = join(SUITE_ROOT, 'cases', 'elf');
  if (!existsSync(dir)) return [];
  const wanted = new Set(generated.map((f) => f.path));
  return readdirSync(dir)
    .filter((name) => name.endsWith('.nexe'))
    .map((name) => `cases/elf/${name}`)
    .filter((path) => !wanted.has(path));
}

function differs(file: GeneratedFile): boolean {
  const path = join(SUITE_ROOT, file.path);
  return !existsSync(path) || Buffer.compare(readFileSync(path), Buffer.from(file.bytes)) !== 0;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const generated = generateAll();
  const changed = generated.filter(differs);
  const stale = staleFiles(generated);
  if (process.argv.includes('--check')) {
    for (const f of changed) process.stderr.write(`${f.path} differs from a fresh generation\n`);
    for (const f of stale) process.stderr.write(`${f} is no longer generated\n`);
    process.exitCode = changed.length + stale.length > 0 ? 1 : 0;
  } else {
    for (const f of changed) writeFileSync(join(SUITE_ROOT, f.path), f.bytes);
    for (const f of stale) rmSync(join(SUITE_ROOT, f));
    process.stdout.write(`${changed.length} file(s) written, ${stale.length} removed, ${generated.length - changed.length} unchanged\n`);
  }
}
