/**
 * gcc's command-line contract for `zerovm cc`: which flags it honours, which
 * it ignores (with the reason in toolchain/README.md), and which it refuses
 * with a one-line reason. Pure: words in, a plan (or a CcArgsError) out;
 * src/cli/cc-command.ts carries the plan out.
 *
 * The target is a static, single-threaded, position-dependent x86-64
 * sandboxed program, so: everything is linked statically (-static is
 * implied), -fPIC/-fPIE are overridden by the sandbox's code generation
 * flags, and -shared, -pie, -pthread and -flto cannot be honoured.
 */
import { readFileSync } from 'node:fs';
import { inputKind, type InputKind } from './driver.js';

/** A command line zerovm cc cannot carry out; `message` is the one line the user reads. */
export class CcArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CcArgsError';
  }
}

/** A file to compile or link, with its language (`-x`, else its extension); path '-' is standard input. */
export interface CcInput {
  readonly path: string;
  readonly kind: InputKind;
  /** The language came from -x rather than the name. */
  readonly explicit: boolean;
}

/** A question answered without compiling (-dumpversion, -print-file-name=...). */
export type CcQuery =
  | { readonly name: 'version' | 'dumpversion' | 'dumpfullversion' | 'dumpmachine' | 'print-libc' | 'print-libgcc-file-name' | 'print-search-dirs' }
  | { readonly name: 'print-multi-directory' | 'print-multi-os-directory' | 'print-multi-lib' | 'print-multiarch' | 'print-sysroot' }
  | { readonly name: 'print-file-name' | 'print-prog-name'; readonly value: string };

export interface CcArgs {
  readonly mode: 'link' | 'compile' | 'assemble' | 'preprocess';
  readonly output: string | null;
  readonly inputs: readonly CcInput[];
  /** Preprocessor and code generation flags for gcc, in order. */
  readonly flags: readonly string[];
  /** Assembler flags (-Wa,... and -Xassembler), for clang's integrated assembler. */
  readonly assemblerFlags: readonly string[];
  /** -l names in order. */
  readonly libraries: readonly string[];
  readonly libraryDirs: readonly string[];
  /** Flags for ld, in order (-Wl,..., -Xlinker, -e, -u, -s, -T with a section address). */
  readonly ldFlags: readonly string[];
  /** -T SCRIPT: the user's linker script instead of nexe.ld. */
  readonly linkerScript: string | null;
  /** crt0 (dropped by -nostartfiles, -nostdlib). */
  readonly startFiles: boolean;
  /** The libraries that close a link: all, -nolibc's (libgcc only), or none (-nodefaultlibs, -nostdlib). */
  readonly defaultLibraries: 'all' | 'no-libc' | 'none';
  /** -nostdinc: no system header directories. */
  readonly noStandardIncludes: boolean;
  /** -v: print the version and the commands' outline to stderr. */
  readonly verbose: boolean;
  /** The first query on the line, answered instead of building. */
  readonly query: CcQuery | null;
}

/** Languages `-x` can name, and what zerovm cc does with each. */
const LANGUAGES: Readonly<Record<string, InputKind | 'auto'>> = {
  c: 'c',
  'cpp-output': 'c',
  assembler: 's',
  'assembler-with-cpp': 'S',
  none: 'auto',
};

/** Extensions gcc would compile as another language: refused rather than handed to ld as objects. */
const OTHER_LANGUAGES = /\.(cc|cp|cxx|cpp|CPP|c\+\+|C|ii|hh|hpp|hxx|h|m|mi|mm|M|f|for|ftn|F|FOR|fpp|f90|f95|f03|f08|F90|F95|go|d|di|adb|ads|rs)$/;

/** An input's language from its name, as gcc decides it: anything unknown goes to the linker. */
export function kindFromName(path: string): InputKind {
  const kind = inputKind(path);
  if (kind !== null) return kind;
  if (OTHER_LANGUAGES.test(path)) throw new CcArgsError(`${path}: zerovm cc compiles C and assembly only (gcc would treat this as another language)`);
  return 'o';
}

/** Options taking the next word as their value (gcc also accepts most of them joined: -Ifoo, -ofile). */
const SEPARATE_VALUE = new Set(['-o', '-I', '-D', '-U', '-include', '-imacros', '-isystem', '-iquote', '-idirafter', '-iprefix', '-iwithprefix', '-iwithprefixbefore', '-isysroot', '-L', '-l', '-MF', '-MT', '-MQ', '-x', '-e', '-u', '-T', '-Xlinker', '-Xassembler', '-Xpreprocessor', '--entry', '-aux-info', '--param']);

/** Flags refused, with the reason a user reads. */
const REFUSED: readonly (readonly [RegExp, string])[] = [
  [/^-flto($|=|-)/, ''],
  [/^-pthreads?$/, 'a ZeroVM session runs one thread (no clone, no thread-local storage); -pthread cannot be honoured'],
  [/^-(shared|rdynamic|static-pie|pie)$/, 'ZeroVM programs are static, position-dependent executables (no dynamic loader in a session)'],
  [/^-(m32|m16|mabi=ms)$/, 'ZeroVM programs are x86-64 code with 32-bit pointers (-mx32); other ABIs are not supported'],
  [/^-gsplit-dwarf$/, 'split DWARF needs objcopy on each object; build with plain -g instead'],
  [/^-print-sysroot-headers-suffix$/, 'not configured with a sysroot headers suffix'],
];

const LTO_REASON =
  'link-time optimisation is not supported: -flto objects carry GIMPLE that gcc compiles at link time, after the sandboxing pass, so the code would never be sandboxed; build without -flto';

/** Accepted and without effect here: the reason is in toolchain/README.md ("Flags"). */
const IGNORED = new Set(['-static', '-static-libgcc', '-no-pie', '-nopie', '-pipe', '-mx32', '-m64', '-fpic', '-fPIC', '-fpie', '-fPIE', '-fno-lto', '-fno-pic', '-fno-pie', '-fno-PIC', '-fno-PIE']);

const SIMPLE_QUERIES = new Set(['dumpversion', 'dumpfullversion', 'dumpmachine', 'print-libgcc-file-name', 'print-search-dirs', 'print-multi-directory', 'print-multi-os-directory', 'print-multi-lib', 'print-multiarch', 'print-sysroot']);

/**
 * Splits a response file's text into words as gcc's libiberty does:
 * whitespace separates, '...' and "..." quote, a backslash escapes the next character.
 */
export function splitResponseFile(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (quote !== null) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Replaces each @FILE by the words in FILE (recursively); an @word naming no readable file stays as it is, as in gcc. */
export function expandResponseFiles(argv: readonly string[], read: (path: string) => string | null = readText, depth = 0): string[] {
  if (depth > 32) throw new CcArgsError('response files nest more than 32 deep (a file including itself?)');
  const out: string[] = [];
  for (const arg of argv) {
    const text = arg.length > 1 && arg.startsWith('@') ? read(arg.slice(1)) : null;
    if (text === null) out.push(arg);
    else out.push(...expandResponseFiles(splitResponseFile(text), read, depth + 1));
  }
  return out;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Parses a `zerovm cc` command line (after response files are expanded). */
export function parseCcArgs(argv: readonly string[]): CcArgs {
  let mode: CcArgs['mode'] = 'link';
  let explicitMode = false;
  let output: string | null = null;
  let language: InputKind | 'auto' = 'auto';
  let startFiles = true;
  let defaultLibraries: CcArgs['defaultLibraries'] = 'all';
  let linkerScript: string | null = null;
  let noStandardIncludes = false;
  let verbose = false;
  let query: CcQuery | null = null;
  let dependencyOnly = false;
  const inputs: CcInput[] = [];
  const flags: string[] = [];
  const assemblerFlags: string[] = [];
  const libraries: string[] = [];
  const libraryDirs: string[] = [];
  const ldFlags: string[] = [];
  const ask = (q: CcQuery): void => {
    query ??= q;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const take = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new CcArgsError(`${arg}: missing argument`);
      return v;
    };
    // value of an option given joined (-Ifoo) or separately (-I foo)
    const valueOf = (name: string): string => (arg === name ? take() : arg.slice(name.length));

    if (arg === '-' || !arg.startsWith('-')) {
      if (arg === '-' && language === 'auto') throw new CcArgsError('-: reading a program from standard input needs -x c, -x assembler or -x assembler-with-cpp (as in gcc)');
      inputs.push(language === 'auto' ? { path: arg, kind: kindFromName(arg), explicit: false } : { path: arg, kind: language, explicit: true });
      continue;
    }
    const refused = REFUSED.find(([re]) => re.test(arg));
    if (refused !== undefined) throw new CcArgsError(`${arg}: ${refused[1] === '' ? LTO_REASON : refused[1]}`);
    if (IGNORED.has(arg)) continue;

    if (arg === '-c' || arg === '-S' || arg === '-E') {
      const m = arg === '-c' ? 'compile' : arg === '-S' ? 'assemble' : 'preprocess';
      // gcc: the earliest stop wins (-E over -S over -c).
      const rank = { link: 0, compile: 1, assemble: 2, preprocess: 3 } as const;
      if (!explicitMode || rank[m] > rank[mode]) mode = m;
      explicitMode = true;
    } else if (arg === '-o' || (arg.startsWith('-o') && arg.length > 2)) output = valueOf('-o');
    else if (arg === '-x' || (arg.startsWith('-x') && arg.length > 2)) {
      const name = valueOf('-x');
      const kind = LANGUAGES[name];
      if (kind === undefined) throw new CcArgsError(`-x ${name}: zerovm cc compiles C and assembly only (-x c, cpp-output, assembler, assembler-with-cpp, none)`);
      language = kind;
    } else if (arg === '-l' || (arg.startsWith('-l') && arg.length > 2)) {
      const name = valueOf('-l');
      if (name === 'pthread') throw new CcArgsError('-lpthread: a ZeroVM session runs one thread; there is no thread library');
      libraries.push(name);
    } else if (arg === '-L' || (arg.startsWith('-L') && arg.length > 2)) libraryDirs.push(valueOf('-L'));
    else if (arg.startsWith('-Wl,')) ldFlags.push(...arg.slice(4).split(',').filter((f) => f !== ''));
    else if (arg === '-Xlinker') ldFlags.push(take());
    else if (arg.startsWith('-Wa,')) assemblerFlags.push(...arg.slice(4).split(',').filter((f) => f !== ''));
    else if (arg === '-Xassembler') assemblerFlags.push(take());
    else if (arg === '-Xpreprocessor') flags.push(arg, take());
    else if (arg === '-e' || arg === '--entry') ldFlags.push('-e', take());
    else if (arg.startsWith('--entry=')) ldFlags.push('-e', arg.slice('--entry='.length));
    else if (arg === '-u' || (arg.startsWith('-u') && arg.length > 2 && !arg.startsWith('-undef'))) ldFlags.push('-u', valueOf('-u'));
    else if (/^-T(text|data|bss)(=|$)/.test(arg)) ldFlags.push(arg.includes('=') ? arg : `${arg}=${take()}`);
    else if (arg === '-T' || (arg.startsWith('-T') && arg.length > 2)) linkerScript = valueOf('-T');
    else if (arg === '-s') ldFlags.push('--strip-all');
    else if (arg === '-nostdlib') {
      startFiles = false;
      defaultLibraries = 'none';
    } else if (arg === '-nostartfiles') startFiles = false;
    else if (arg === '-nodefaultlibs') defaultLibraries = 'none';
    else if (arg === '-nolibc') {
      if (defaultLibraries === 'all') defaultLibraries = 'no-libc';
    } else if (arg === '-nostdinc') noStandardIncludes = true;
    else if (arg === '-v') verbose = true;
    else if (arg === '--version') ask({ name: 'version' });
    else if (arg === '--print-libc') ask({ name: 'print-libc' });
    else if (arg.startsWith('-print-file-name=') || arg.startsWith('--print-file-name=')) ask({ name: 'print-file-name', value: arg.slice(arg.indexOf('=') + 1) });
    else if (arg.startsWith('-print-prog-name=') || arg.startsWith('--print-prog-name=')) ask({ name: 'print-prog-name', value: arg.slice(arg.indexOf('=') + 1) });
    else if (/^--?[a-z-]+$/.test(arg) && SIMPLE_QUERIES.has(arg.replace(/^--?/, ''))) ask({ name: arg.replace(/^--?/, '') } as CcQuery);
    else if (arg === '-M' || arg === '-MM') {
      dependencyOnly = true;
      flags.push(arg);
    } else if (SEPARATE_VALUE.has(arg)) flags.push(arg, take());
    else if (/^-(I|D|U|O|g|W|f|m|std=|ansi$|pedantic|w$|M|include|imacros|isystem|iquote|idirafter|iprefix|iwithprefix|isysroot|undef$|trigraphs$|traditional-cpp$|C$|CC$|P$|H$|dD$|dM$|dN$|dI$|dU$|ftabstop|finput-charset)/.test(arg)) flags.push(arg);
    else if (arg === '-save-temps' || arg.startsWith('-save-temps=') || arg === '-Q' || arg === '-time' || arg.startsWith('--param=')) flags.push(arg);
    else throw new CcArgsError(`${arg}: not a gcc option zerovm cc knows (toolchain/README.md lists what it accepts)`);
  }
  // gcc: -M and -MM imply -E.
  if (dependencyOnly && mode !== 'preprocess') mode = 'preprocess';
  return { mode, output, inputs, flags, assemblerFlags, libraries, libraryDirs, ldFlags, linkerScript, startFiles, defaultLibraries, noStandardIncludes, verbose, query };
}
