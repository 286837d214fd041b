/**
 * `zerovm cc [gcc-like flags] [-c|-S|-E] [-o OUT] FILES...`: the C compiler
 * driver for ZeroVM programs (src/toolchain/driver.ts does the work).
 *
 * Understood: -c, -S, -E, -o, -I/-isystem/-include, -D/-U, -O*, -g*, -W*
 * (and -w, -pedantic, -ansi, -std=), -f* (-fpic/-fpie and the
 * register flags are overridden: the sandbox needs fixed code),
 * -M* dependency flags, -l/-L, -Wl,..., -static/-s/-pipe (accepted, no
 * effect), --version, -dumpmachine, and --print-libc (build the C library
 * if needed and print its directory: `npm run build:toolchain`). Inputs: .c, .S, .s, .o, .a. Without
 * -c/-S/-E the result is a nexe, validated before it is written.
 * -shared, -m32 and dynamic linking are refused with a reason.
 */
import { basename, extname } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { compileFile, compileToAssembly, findTools, inputKind, linkNexe, ToolchainError, SANDBOX_CFLAGS } from '../toolchain/driver.js';
import { ensureLibc } from '../toolchain/libc.js';
import { CliError } from './args.js';
import { VERSION } from './version.js';

interface CcArgs {
  mode: 'link' | 'compile' | 'assemble' | 'preprocess';
  output: string | null;
  inputs: string[];
  /** Preprocessor and code generation flags, in order. */
  flags: string[];
  libraries: string[];
  libraryDirs: string[];
  ldFlags: string[];
}

const WITH_VALUE = new Set(['-o', '-I', '-D', '-U', '-include', '-isystem', '-iquote', '-idirafter', '-L', '-l', '-MF', '-MT', '-MQ', '-x']);

function parseCcArgs(argv: readonly string[]): CcArgs {
  const a: CcArgs = { mode: 'link', output: null, inputs: [], flags: [], libraries: [], libraryDirs: [], ldFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let value: string | undefined;
    const two = arg.slice(0, 2);
    const take = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new CliError(`${arg} needs a value`);
      return v;
    };
    if (WITH_VALUE.has(arg)) value = take();
    if (arg === '-c') a.mode = 'compile';
    else if (arg === '-S') a.mode = 'assemble';
    else if (arg === '-E') a.mode = 'preprocess';
    else if (arg === '-o') a.output = value as string;
    else if (arg === '-l' || (two === '-l' && arg.length > 2)) a.libraries.push(value ?? arg.slice(2));
    else if (arg === '-L' || (two === '-L' && arg.length > 2)) a.libraryDirs.push(value ?? arg.slice(2));
    else if (arg.startsWith('-Wl,')) a.ldFlags.push(...arg.slice(4).split(',').filter((f) => f !== ''));
    else if (arg === '-x') throw new CliError('-x is not supported: name sources .c, .S or .s');
    else if (WITH_VALUE.has(arg)) a.flags.push(arg, value as string);
    else if (['-I', '-D', '-U'].includes(two) || /^-(O|g|W|f|std=|M|ansi$|pedantic|w$|include)/.test(arg)) {
      if (/^-f(pic|PIC|pie|PIE)$/.test(arg)) continue;
      a.flags.push(arg);
    } else if (arg === '-shared' || arg === '-rdynamic' || arg === '-m32' || arg === '-m64' || arg === '-mx32') {
      if (arg === '-mx32' || arg === '-m64') continue;
      throw new CliError(`${arg}: ZeroVM programs are static x86-64 sandboxed executables; shared objects and 32-bit code are not supported`);
    } else if (arg.startsWith('-m')) a.flags.push(arg);
    else if (['-static', '-s', '-pipe', '-v', '-pthread', '-no-pie', '-nostartfiles'].includes(arg)) continue;
    else if (arg.startsWith('-') && arg !== '-') throw new CliError(`unknown option ${arg}`);
    else a.inputs.push(arg);
  }
  return a;
}

function objectName(source: string): string {
  return `${basename(source, extname(source))}.o`;
}

/**
 * gcc names a -MD/-MMD dependency file after its -o, which is our temporary
 * assembly file: point it (and its target) at the user's object instead.
 */
function dependencyFlags(flags: readonly string[], object: string): string[] {
  if (!flags.includes('-MD') && !flags.includes('-MMD')) return [...flags];
  const out = [...flags];
  if (!flags.includes('-MF')) out.push('-MF', `${object.slice(0, object.length - extname(object).length)}.d`);
  if (!flags.includes('-MT') && !flags.includes('-MQ')) out.push('-MT', object);
  return out;
}

export async function runCc(argv: readonly string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write(`zerovm cc (zerovm-ts ${VERSION}): gcc -mx32 + sandboxing pass + clang-14 assembler + newlib 3.3\n`);
    return 0;
  }
  if (argv.includes('-dumpmachine')) {
    process.stdout.write('x86_64-zerovm-nacl\n');
    return 0;
  }
  if (argv.includes('--print-libc')) {
    // Builds the C library when it is not cached yet (npm run build:toolchain), then names its directory.
    const tools = findTools();
    if (typeof tools === 'string') throw new CliError(tools);
    try {
      process.stdout.write(`${(await ensureLibc(tools, (m) => void process.stderr.write(`${m}\n`))).dir}\n`);
      return 0;
    } catch (error) {
      if (error instanceof ToolchainError) {
        process.stderr.write(`zerovm cc: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  }
  const args = parseCcArgs(argv);
  if (args.inputs.length === 0) throw new CliError('no input files (usage: zerovm cc [flags] [-c|-S|-E] [-o OUT] FILE.c ...)');
  const tools = findTools();
  if (typeof tools === 'string') throw new CliError(tools);
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  try {
    const libc = await ensureLibc(tools, log);
    const env = { tools, systemIncludes: libc.includes };
    const sources = args.inputs.filter((f) => {
      const k = inputKind(f);
      return k === 'c' || k === 'S' || k === 's';
    });
    const unknown = args.inputs.find((f) => inputKind(f) === null);
    if (unknown !== undefined) throw new CliError(`${unknown}: unknown kind of input (expected .c, .S, .s, .o or .a)`);
    if (args.mode !== 'link' && args.output !== null && sources.length > 1) throw new CliError(`-o with -${args.mode === 'compile' ? 'c' : args.mode === 'assemble' ? 'S' : 'E'} needs a single input`);

    if (args.mode === 'preprocess') {
      const source = sources[0] as string;
      const include = execFileSync(tools.gcc, ['-mx32', '-print-file-name=include'], { encoding: 'utf8' }).trim();
      const sys = [...libc.includes, include].flatMap((d) => ['-isystem', d]);
      const out = execFileSync(tools.gcc, ['-nostdinc', ...sys, ...args.flags, ...SANDBOX_CFLAGS, '-E', source], { encoding: 'utf8', maxBuffer: 1 << 28 });
      if (args.output === null) process.stdout.write(out);
      else writeFileSync(args.output, out);
      return 0;
    }
    if (args.mode === 'assemble') {
      for (const source of sources) {
        const text = await compileToAssembly(env, source, args.flags);
        writeFileSync(args.output ?? `${basename(source, extname(source))}.s`, text);
      }
      return 0;
    }
    if (args.mode === 'compile') {
      for (const source of sources) {
        const object = args.output ?? objectName(source);
        await compileFile(env, source, object, { flags: dependencyFlags(args.flags, object) });
      }
      return 0;
    }
    const work = mkdtempSync(join(tmpdir(), 'zerovm-cc-link-'));
    try {
      const objects: string[] = [];
      let n = 0;
      for (const input of args.inputs) {
        const k = inputKind(input);
        if (k === 'o' || k === 'a') objects.push(input);
        else {
          const obj = join(work, `${n++}-${objectName(input)}`);
          await compileFile(env, input, obj, { flags: args.flags });
          objects.push(obj);
        }
      }
      await linkNexe(tools, args.output ?? 'a.out', {
        inputs: objects,
        libraryDirs: args.libraryDirs,
        libraries: args.libraries.filter((l) => l !== 'c' && l !== 'm'),
        startFiles: libc.startFiles,
        systemLibraries: [libc.libc, libc.libm, libc.libgcc],
        linkerScript: libc.linkerScript,
        extraLdFlags: args.ldFlags,
      });
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } catch (error) {
    if (error instanceof ToolchainError) {
      process.stderr.write(`zerovm cc: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
