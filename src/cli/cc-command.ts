/**
 * `zerovm cc [gcc-like flags] [-c|-S|-E] [-o OUT] FILES...`: the C compiler
 * driver for ZeroVM programs. src/toolchain/cc-args.ts decides what each
 * gcc flag means here (toolchain/README.md "Flags" lists them);
 * src/toolchain/driver.ts compiles, links and validates. Without -c/-S/-E
 * the result is a nexe, validated before it is written.
 */
import { basename, extname } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { CcArgsError, expandResponseFiles, parseCcArgs, type CcArgs, type CcInput, type CcQuery } from '../toolchain/cc-args.js';
import { compileFile, compileToAssembly, findTools, linkNexe, ToolchainError, SANDBOX_CFLAGS, TOOLCHAIN_DIR, type CompileOptions, type Tools } from '../toolchain/driver.js';
import { ensureLibc, type Libc } from '../toolchain/libc.js';
import { CliError } from './args.js';
import { VERSION } from './version.js';

const TARGET = 'x86_64-zerovm-nacl';

function objectName(source: string): string {
  return `${basename(source, extname(source))}.o`;
}

/**
 * gcc names a -MD/-MMD dependency file after its -o, which is our temporary
 * assembly file: point it (and its target) at the user's output instead
 * (OUT minus its extension, plus .d: what gcc 12 writes for -c -o and for a link).
 */
function dependencyFlags(flags: readonly string[], output: string): string[] {
  if (!flags.includes('-MD') && !flags.includes('-MMD')) return [...flags];
  const out = [...flags];
  if (!flags.some((f) => f.startsWith('-MF'))) out.push('-MF', `${output.slice(0, output.length - extname(output).length)}.d`);
  if (!flags.some((f) => f.startsWith('-MT') || f.startsWith('-MQ'))) out.push('-MT', output);
  return out;
}

/** The tools, or a CliError naming what to install. */
function requireTools(): Tools {
  const tools = findTools();
  if (typeof tools === 'string') throw new CliError(tools);
  return tools;
}

const log = (m: string): void => void process.stderr.write(`${m}\n`);

/** Answers -dumpversion, -print-file-name=... and the other questions configure scripts and libtool ask. */
async function answer(query: CcQuery): Promise<string> {
  switch (query.name) {
    case 'version':
      return `zerovm cc (zerovm-ts ${VERSION}): gcc -mx32 + sandboxing pass + clang-14 assembler + newlib 3.3`;
    case 'dumpmachine':
      return TARGET;
    case 'dumpversion':
    case 'dumpfullversion':
      // The compiler that generates the code is the host's gcc: its version is what feature tests mean.
      return execFileSync(requireTools().gcc, [`-${query.name}`], { encoding: 'utf8' }).trim();
    case 'print-multi-directory':
    case 'print-multi-os-directory':
      return '.';
    case 'print-multi-lib':
      return '.;';
    case 'print-multiarch':
    case 'print-sysroot':
      return '';
    case 'print-prog-name': {
      // The programs a build may run itself; any other name is printed back, as gcc does for a program it lacks.
      const tools = requireTools();
      const programs: Record<string, string> = { ld: tools.ld, ar: tools.ar };
      return programs[query.value] ?? query.value;
    }
    default:
      break;
  }
  const tools = requireTools();
  const libc = await ensureLibc(tools, log);
  switch (query.name) {
    case 'print-libc':
      return libc.dir;
    case 'print-libgcc-file-name':
      return libc.libgcc;
    case 'print-search-dirs':
      return [`install: ${TOOLCHAIN_DIR}/`, `programs: =${[tools.gcc, tools.clang, tools.ld].map((t) => t.slice(0, t.lastIndexOf('/') + 1)).join(':')}`, `libraries: =${libc.dir}/`].join('\n');
    case 'print-file-name': {
      const files: Record<string, string> = {
        'libc.a': libc.libc,
        'libm.a': libc.libm,
        'libgcc.a': libc.libgcc,
        'crt0.o': libc.startFiles[0] as string,
        'nexe.ld': libc.linkerScript,
        include: execFileSync(tools.gcc, ['-mx32', '-print-file-name=include'], { encoding: 'utf8' }).trim(),
      };
      return files[query.value] ?? query.value;
    }
  }
}

/** Where a source's text is read from: the file itself, or standard input saved under a name with the right extension. */
function sourcePath(input: CcInput, work: string): string {
  if (input.path !== '-') return input.path;
  const path = join(work, `stdin.${input.kind === 'c' ? 'c' : input.kind}`);
  writeFileSync(path, readFileSync(0));
  return path;
}

function compileOptions(args: CcArgs, input: CcInput, flags: readonly string[]): CompileOptions {
  return { flags, assemblerFlags: args.assemblerFlags, noStandardIncludes: args.noStandardIncludes, ...(input.explicit ? { kind: input.kind } : {}) };
}

/** The archives that close a link, as -nostdlib/-nodefaultlibs/-nolibc leave them. */
function defaultArchives(args: CcArgs, libc: Libc): string[] {
  if (args.defaultLibraries === 'none') return [];
  if (args.defaultLibraries === 'no-libc') return [libc.libgcc];
  return [libc.libc, libc.libm, libc.libgcc];
}

async function build(args: CcArgs, tools: Tools, libc: Libc, work: string): Promise<void> {
  const env = { tools, systemIncludes: libc.includes };
  const sources = args.inputs.filter((f) => f.kind === 'c' || f.kind === 'S' || f.kind === 's');
  const stop = args.mode === 'compile' ? '-c' : args.mode === 'assemble' ? '-S' : '-E';
  if (args.mode !== 'link' && args.output !== null && sources.length > 1) throw new CliError(`-o with ${stop} needs a single input`);
  if (args.mode !== 'link' && sources.length === 0) throw new CliError(`${stop}: no C or assembly source among the inputs`);

  if (args.mode === 'preprocess') {
    const include = execFileSync(tools.gcc, ['-mx32', '-print-file-name=include'], { encoding: 'utf8' }).trim();
    const sys = args.noStandardIncludes ? [] : [...libc.includes, include].flatMap((d) => ['-isystem', d]);
    let text = '';
    for (const input of sources) {
      const language = input.kind === 'c' ? 'c' : input.kind === 'S' ? 'assembler-with-cpp' : 'assembler';
      text += execFileSync(tools.gcc, ['-nostdinc', ...sys, ...args.flags, ...SANDBOX_CFLAGS, '-E', '-x', language, sourcePath(input, work)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    }
    if (args.output === null || args.output === '-') process.stdout.write(text);
    else writeFileSync(args.output, text);
    return;
  }
  if (args.mode === 'assemble') {
    for (const input of sources) {
      const text = await compileToAssembly(env, sourcePath(input, work), compileOptions(args, input, args.flags));
      const output = args.output ?? `${basename(input.path, extname(input.path))}.s`;
      if (output === '-') process.stdout.write(text);
      else writeFileSync(output, text);
    }
    return;
  }
  if (args.mode === 'compile') {
    for (const input of sources) {
      const object = args.output ?? objectName(input.path);
      await compileFile(env, sourcePath(input, work), object, compileOptions(args, input, dependencyFlags(args.flags, object)));
    }
    return;
  }
  if (args.inputs.length === 0) throw new CliError('no input files (usage: zerovm cc [flags] [-c|-S|-E] [-o OUT] FILE.c ...)');
  const output = args.output ?? 'a.out';
  const objects: string[] = [];
  let n = 0;
  for (const input of args.inputs) {
    if (input.kind === 'o' || input.kind === 'a') objects.push(input.path);
    else {
      const object = join(work, `${n++}-${objectName(input.path === '-' ? 'stdin' : input.path)}`);
      await compileFile(env, sourcePath(input, work), object, compileOptions(args, input, dependencyFlags(args.flags, output)));
      objects.push(object);
    }
  }
  await linkNexe(tools, output, {
    inputs: objects,
    libraryDirs: args.libraryDirs,
    // -lc and -lm name the C library's archives, which the default libraries already hold (unless left out).
    libraries: args.libraries.filter((l) => !(args.defaultLibraries === 'all' && (l === 'c' || l === 'm'))),
    startFiles: args.startFiles ? libc.startFiles : [],
    systemLibraries: defaultArchives(args, libc),
    linkerScript: args.linkerScript ?? libc.linkerScript,
    extraLdFlags: args.ldFlags,
    systemLibraryDir: libc.dir,
  });
}

export async function runCc(argv: readonly string[]): Promise<number> {
  let args: CcArgs;
  try {
    args = parseCcArgs(expandResponseFiles(argv));
  } catch (error) {
    if (error instanceof CcArgsError) throw new CliError(error.message);
    throw error;
  }
  try {
    if (args.query !== null) {
      process.stdout.write(`${await answer(args.query)}\n`);
      return 0;
    }
    if (args.verbose) log(`${await answer({ name: 'version' })}\nTarget: ${TARGET}\nThread model: single`);
    if (args.inputs.length === 0) {
      if (args.verbose) return 0;
      throw new CliError('no input files (usage: zerovm cc [flags] [-c|-S|-E] [-o OUT] FILE.c ...)');
    }
    const tools = requireTools();
    const libc = await ensureLibc(tools, log);
    const work = mkdtempSync(join(tmpdir(), 'zerovm-cc-'));
    try {
      await build(args, tools, libc, work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return 0;
  } catch (error) {
    if (error instanceof ToolchainError) {
      process.stderr.write(`zerovm cc: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
