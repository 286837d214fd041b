/**
 * The compiler driver behind `zerovm cc`: gcc-like flags in, a validated
 * nexe (or object files) out.
 *
 * Pipeline position, per source file:
 *   .c  -> gcc -mx32 -S (ILP32 code, %r15/%r11/%rbp reserved; %rbp is used
 *          only as a frame pointer, where a function needs one)
 *   .S  -> gcc -E (the preprocessor only)
 *       -> sandbox.ts (the rewrite) -> clang-14 -c (integrated assembler:
 *          NaCl bundling directives) -> .o (ELF64 objects with 32-bit
 *          relocations)
 * and for a program: ld with toolchain/nexe.ld (text at 0x20000, rodata and
 * data on 64 KiB boundaries) + crt0 + the C library (libc.ts), or what
 * -nostdlib/-nostartfiles/-nodefaultlibs/-nolibc/-T leave (cc-args.ts) -> EI_OSABI
 * 123 / ABI version 7 -> the project's validator (deterministic policy, as a
 * session uses): an invalid result fails the build with its messages and
 * the output is removed.
 *
 * Why gcc, then clang: gcc 12 has `-mx32` and `-ffixed-r15`; clang 14 has
 * neither for x86, but its assembler is the only one here that implements
 * `.bundle_lock align_to_end`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validateNexe } from '../validator/validate-nexe.js';
import { narrowLineTableAddresses } from './debug-line.js';
import { sandboxAssembly, SandboxError } from './sandbox.js';

const run = promisify(execFile);

/** A build step failed; `message` is what the user should read. */
export class ToolchainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolchainError';
  }
}

/** The repository (or installed package) root: toolchain/ and the cache live relative to it. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLCHAIN_DIR = join(PACKAGE_ROOT, 'toolchain');

export interface Tools {
  readonly gcc: string;
  readonly clang: string;
  readonly ld: string;
  readonly ar: string;
}

function which(names: readonly string[]): string | null {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(':')) {
      const p = join(dir, name);
      if (dir !== '' && existsSync(p)) return p;
    }
  }
  return null;
}

/** The host tools, or a message naming what is missing (and the Debian package). */
export function findTools(): Tools | string {
  const gcc = process.env.ZEROVM_GCC ?? which(['gcc-12', 'gcc']);
  const clang = process.env.ZEROVM_CLANG ?? which(['clang-14', 'clang']);
  const ld = which(['ld.bfd', 'ld']);
  const ar = which(['ar']);
  const missing: string[] = [];
  if (gcc === null) missing.push('gcc (Debian: gcc, with gcc-multilib for -mx32)');
  if (clang === null) missing.push('clang-14 (Debian: clang-14)');
  if (ld === null || ar === null) missing.push('ld and ar (Debian: binutils)');
  if (missing.length > 0 || gcc === null || clang === null || ld === null || ar === null) return `zerovm cc needs ${missing.join(', ')}`;
  return { gcc, clang, ld, ar };
}

/** Code generation flags the sandboxing pass relies on; they come after the user's flags, so they win. */
export const SANDBOX_CFLAGS: readonly string[] = [
  '-mx32',
  '-ffixed-r15',
  '-ffixed-r11',
  // %rbp may only hold a sandbox address, so gcc must not allocate it as a
  // general register; it stays the frame pointer where a function needs one
  // (alloca, VLAs, -O0, -fno-omit-frame-pointer). Before, the pass forced
  // -fno-omit-frame-pointer: keeping a frame in every function cost Lua
  // 7 KB of text (3 %) and a push/mov/pop per call.
  '-ffixed-rbp',
  // gcc's 16-byte loop and branch-target alignment pads inside functions;
  // in 32-byte bundled code it only adds nops to the padding the bundles
  // already force (Lua: 6 KB less text, no measurable run-time cost;
  // bench/toolchain.bench.ts).
  '-fno-align-loops',
  '-fno-align-jumps',
  '-fno-align-labels',
  // NaCl forbids bt/btc/btr/bts with a register bit offset, even register to register; this
  // tuning flag makes gcc use shifts instead (switch bit-test clusters, (x >> n) & 1).
  '-mtune-ctrl=^use_bt',
  '-fno-pic',
  '-fno-pie',
  '-fno-stack-protector',
  '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
  '-fno-unwind-tables',
  '-fno-exceptions',
  '-ftls-model=local-exec',
  // With -g, gcc writes the line table itself (labels and .long addresses)
  // instead of .loc directives for the assembler. The labels move with the
  // instructions through the sandboxing pass, and the table's addresses are
  // 4 bytes like the rest of gcc's x32 DWARF: clang's assembler (an ELF64
  // target here) would write 8-byte ones, which GNU addr2line rejects
  // ("mangled line number section").
  '-gno-as-loc-support',
];

/** Header search path for programs: our overrides, then the C library's, then gcc's own (stddef.h, stdarg.h...). */
export interface CompileEnvironment {
  readonly tools: Tools;
  /** `-isystem` directories (in order) used instead of the host's /usr/include. */
  readonly systemIncludes: readonly string[];
}

export type InputKind = 'c' | 'S' | 's' | 'o' | 'a';

export function inputKind(path: string): InputKind | null {
  const ext = extname(path);
  if (ext === '.c' || ext === '.i') return 'c';
  if (ext === '.S' || ext === '.sx') return 'S';
  if (ext === '.s') return 's';
  if (ext === '.o') return 'o';
  if (ext === '.a') return 'a';
  return null;
}

async function tool(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new ToolchainError(e.stderr && e.stderr.trim() !== '' ? e.stderr.trimEnd() : e.message);
  }
}

let gccInclude: string | null = null;

async function gccIncludeDir(gcc: string): Promise<string> {
  gccInclude ??= (await tool(gcc, ['-mx32', '-print-file-name=include'])).trim();
  return gccInclude;
}

export interface CompileOptions {
  /** Flags for the preprocessor and code generator (-I, -D, -U, -O, -f, -W, -std, -g, -include, -M...). */
  readonly flags: readonly string[];
  /** The language, when not the file name's (`-x`). */
  readonly kind?: InputKind;
  /** Flags for the assembler (-Wa,... and -Xassembler). */
  readonly assemblerFlags?: readonly string[];
  /** -nostdinc: no system header directories at all (neither the C library's nor gcc's own). */
  readonly noStandardIncludes?: boolean;
  /** Keep the sandboxed assembly next to the object (debugging the pass). */
  readonly keepAssembly?: string;
}

/** Runs gcc on a C file (or the preprocessor on a .S) and returns the assembly text. */
async function generateAssembly(env: CompileEnvironment, source: string, kind: InputKind, options: CompileOptions, work: string): Promise<string> {
  if (kind === 's') return readFileSync(source, 'utf8');
  const flags = options.flags;
  const sys = options.noStandardIncludes === true ? [] : [...env.systemIncludes, await gccIncludeDir(env.tools.gcc)].flatMap((d) => ['-isystem', d]);
  const out = join(work, `${basename(source)}.s`);
  // An explicit language (`-x c`, or a program read from stdin) must reach gcc too; a .i is left to gcc's own rule.
  const language = options.kind === undefined ? [] : ['-x', 'c'];
  if (kind === 'c') await tool(env.tools.gcc, ['-nostdinc', ...sys, ...flags, ...SANDBOX_CFLAGS, '-S', ...language, '-o', out, source]);
  else await tool(env.tools.gcc, ['-nostdinc', ...sys, ...flags, '-mx32', '-D__ZEROVM__', '-E', '-x', 'assembler-with-cpp', '-o', out, source]);
  return readFileSync(out, 'utf8');
}

/** `.file 0 "DIR" "NAME" [md5 0x...]`: the DWARF 5 root file, as gcc 12 writes it with -g. */
const ROOT_FILE = /^\s*\.file\s+0\s+("(?:[^"\\]|\\.)*")(?:\s+("(?:[^"\\]|\\.)*"))?[^\n]*$/m;
/** A .loc directive: the assembler builds the line table. */
const LOC = /^\s*\.loc\s/m;
/** The `view V` operand of a .loc (GNU as location views). */
const LOC_VIEW = /^(\s*\.loc\b[^\n]*?)\s+view\s+(\S+)/gm;

/**
 * Debug line information as GNU as takes it, for clang-14's assembler.
 * The driver's own gcc runs write no .loc (SANDBOX_CFLAGS), but assembly
 * a user hands in (a `.s` from gcc -S -g) has them, in two forms clang-14
 * does not take:
 * - gcc 12 (DWARF 5) names the root file twice: `.file 0 "DIR" "NAME"`,
 *   then `.file 1 "NAME"`. clang-14 folds a file equal to the root into
 *   entry 0 and leaves number 1 unassigned, so every `.loc 1 ...` fails
 *   ("unassigned file number in '.loc' directive"). Without `.file 0`,
 *   clang takes its root from the first `.file N` (the same name) and the
 *   directory from -fdebug-compilation-dir, which gets DIR.
 * - `.loc ... view .LVUn` (location views) is unknown to clang-14: the
 *   operand is dropped and each view symbol, which the debug sections may
 *   name, is defined as view 0. What is lost is only which of several
 *   locations at one address comes first.
 * - clang-14 writes a DWARF 5 line table's file names into
 *   .debug_line_str at offsets that assume the section is its own, but
 *   gcc's .debug_info strings are there too: the names come out wrong.
 *   `lineTable` says the text has .loc directives; the assembler is then
 *   told to write a DWARF 4 line table, whose names are inline.
 */
export function forIntegratedAssembler(text: string): { readonly text: string; readonly compilationDir: string | null; readonly lineTable: boolean } {
  const views = new Set<string>();
  let out = text.replace(LOC_VIEW, (_, loc: string, view: string) => {
    if (!/^-?\d+$/.test(view)) views.add(view);
    return loc;
  });
  if (views.size > 0) out += `\n${[...views].map((v) => `\t.set ${v}, 0`).join('\n')}\n`;
  const lineTable = LOC.test(out);
  const m = ROOT_FILE.exec(out);
  if (m === null) return { text: out, compilationDir: null, lineTable };
  const dir = m[2] === undefined ? null : (m[1] as string).slice(1, -1).replace(/\\(.)/g, '$1');
  return { text: out.slice(0, m.index) + out.slice(m.index + m[0].length), compilationDir: dir, lineTable };
}

/** Assembles sandboxed assembly text into an object file; `assemblerFlags` are the user's -Wa,/-Xassembler flags. */
export async function assemble(tools: Tools, sandboxed: string, output: string, work: string, assemblerFlags: readonly string[] = []): Promise<void> {
  const asm = join(work, `${basename(output)}.sb.s`);
  const { text, compilationDir, lineTable } = forIntegratedAssembler(sandboxed);
  writeFileSync(asm, text);
  // Only with .loc: on other text, -gdwarf-4 would describe the assembly file's own lines.
  const debugDir = [...(compilationDir === null ? [] : [`-fdebug-compilation-dir=${compilationDir}`]), ...(lineTable ? ['-Wa,-gdwarf-4'] : [])];
  await tool(tools.clang, ['-c', '-target', 'x86_64-linux-gnu', ...debugDir, ...assemblerFlags.map((f) => `-Wa,${f}`), '-x', 'assembler', '-o', output, asm]);
}

/** One source file (.c, .S, .s) to one sandboxed object file. */
export async function compileFile(env: CompileEnvironment, source: string, output: string, options: CompileOptions): Promise<void> {
  const kind = options.kind ?? inputKind(source);
  if (kind === null || kind === 'o' || kind === 'a') throw new ToolchainError(`${source}: not a source file (.c, .S or .s)`);
  const work = mkdtempSync(join(tmpdir(), 'zerovm-cc-'));
  try {
    const asm = await generateAssembly(env, source, kind, options, work);
    let sandboxed: string;
    try {
      sandboxed = sandboxAssembly(asm, source);
    } catch (error) {
      if (error instanceof SandboxError) throw new ToolchainError(`sandboxing ${error.message}`);
      throw error;
    }
    if (options.keepAssembly !== undefined) writeFileSync(options.keepAssembly, sandboxed);
    await assemble(env.tools, sandboxed, output, work, options.assemblerFlags);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Sandboxed assembly for one source (`zerovm cc -S`). */
export async function compileToAssembly(env: CompileEnvironment, source: string, options: CompileOptions): Promise<string> {
  const kind = options.kind ?? inputKind(source);
  if (kind === null || kind === 'o' || kind === 'a') throw new ToolchainError(`${source}: not a source file (.c, .S or .s)`);
  const work = mkdtempSync(join(tmpdir(), 'zerovm-cc-'));
  try {
    return sandboxAssembly(await generateAssembly(env, source, kind, options, work), source);
  } catch (error) {
    if (error instanceof SandboxError) throw new ToolchainError(`sandboxing ${error.message}`);
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** ZeroVM's ELF identification: EI_OSABI 123 (NaCl), EI_ABIVERSION 7. */
export function patchOsAbi(bytes: Uint8Array): void {
  bytes[7] = 123;
  bytes[8] = 7;
}

export interface LinkOptions {
  /** Objects and archives in command-line order. */
  readonly inputs: readonly string[];
  /** `-L` directories, then the C library's. */
  readonly libraryDirs: readonly string[];
  /** `-l` names in order (searched as lib<name>.a). */
  readonly libraries: readonly string[];
  /** Startup object(s) placed first. */
  readonly startFiles: readonly string[];
  /** Archives that always close the link (libc, libm, the syscall layer), in a group. */
  readonly systemLibraries: readonly string[];
  readonly linkerScript: string;
  /** Raw ld flags from -Wl,... */
  readonly extraLdFlags?: readonly string[];
  /** Searched for -l after libraryDirs: the C library's directory, so `-nostdlib ... -lgcc` or `-lc` finds its archives. */
  readonly systemLibraryDir?: string;
}

function findLibrary(name: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const p = join(dir, `lib${name}.a`);
    if (existsSync(p)) return p;
  }
  throw new ToolchainError(`cannot find -l${name} (looked for lib${name}.a in ${dirs.join(', ') || 'no directories'}); only static archives built by zerovm cc can be linked`);
}

/** The validator's verdict on a linked program, as lines for the user, or [] when valid. */
export function validationProblems(bytes: Uint8Array): string[] {
  const outcome = validateNexe(bytes, { policy: 'deterministic' });
  if (!outcome.ok) return [`not a valid nexe: ${outcome.error.message}`];
  return outcome.value.result.errors.map((e) => `0x${e.address.toString(16)}: ${e.message} [${e.rule}]`);
}

/** Links, patches the ELF identification and validates. Throws ToolchainError (and removes the output) when invalid. */
export async function linkNexe(tools: Tools, output: string, options: LinkOptions): Promise<void> {
  const dirs = options.systemLibraryDir === undefined ? options.libraryDirs : [...options.libraryDirs, options.systemLibraryDir];
  const libs = options.libraries.map((l) => findLibrary(l, dirs));
  const args = [
    '-static',
    '-nostdlib',
    '--build-id=none',
    '-z',
    'noexecstack',
    '-z',
    'max-page-size=0x1000',
    '-T',
    options.linkerScript,
    ...(options.extraLdFlags ?? []),
    '-o',
    output,
    ...options.startFiles,
    ...options.inputs,
    '--start-group',
    ...libs,
    ...options.systemLibraries,
    '--end-group',
  ];
  await tool(tools.ld, args);
  const bytes = new Uint8Array(readFileSync(output));
  patchOsAbi(bytes);
  narrowLineTableAddresses(bytes);
  writeFileSync(output, bytes);
  const problems = validationProblems(bytes);
  if (problems.length > 0) {
    unlinkSync(output);
    const shown = problems.slice(0, 20);
    if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
    throw new ToolchainError(`${output}: the linked program does not pass the sandbox validator:\n${shown.join('\n')}`);
  }
}

/** Creates (replaces) a static archive. */
export async function archive(tools: Tools, output: string, objects: readonly string[]): Promise<void> {
  if (existsSync(output)) unlinkSync(output);
  // ar's command line can get long for a C library: add in chunks.
  for (let i = 0; i < objects.length; i += 500) await tool(tools.ar, ['qc', output, ...objects.slice(i, i + 500)]);
  await tool(tools.ar, ['s', output]);
}
