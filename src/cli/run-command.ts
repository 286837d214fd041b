/**
 * `zerovm run PROGRAM.nexe [ARGS...]`: the zvsh convenience (spec/runtime.md,
 * "Command lines"), over the embedding API (src/api/): the program is
 * loaded and validated with Program.load and runs with the host's stdin,
 * stdout and stderr (inherited descriptors; a terminal, file, pipe or
 * socket), its arguments and environment in an in-memory nvram
 * (/dev/stdin, /dev/stdout, /dev/stderr mapped as char devices); no
 * manifest file is written. Exits with the program's code (or the
 * session's exit code when it failed, with the exit state on stderr).
 *
 * Options: --memory BYTES (default 64 MiB), --timeout SECONDS (default 60),
 * --report FILE (write the report there), --save-dir DIR (write there the
 * manifest, nvram and, for a zapp, program that `zerovm MANIFEST` runs the
 * same session from), --engine native|unicorn|auto (default auto,
 * src/api/engine-choice.ts), --skip-validation (on the native engine only
 * with --unsafe too: src/api/unvalidated.ts), and repeatable --channel
 * ALIAS=PATH[:ro|:wo|:rw] (an extra channel: random read-only, sequential
 * write-only, or random read/write; ro by default) and --env NAME=VALUE
 * (the program's environment, passed in the nvram's [env] section — the
 * host environment is not), --time SECONDS (the clock the C library reads:
 * the nvram's [time] section; it does not advance, and without it reads 0).
 *
 * Images and zapps: `--image FILE.tar` mounts a tar read-only at '/' (a
 * `/dev/image` channel and an nvram `[fstab]` record, which the C library
 * of `zerovm cc` reads: toolchain/zrt/zrt.c). `zerovm run app.zapp ARGS`
 * runs a zapp (src/zapp/zapp.ts): its program is loaded from the zapp's
 * bytes, the zapp itself is mounted as the image, the program's arguments
 * are zapp.yaml's `args` then ARGS, and every device zapp.yaml names beyond
 * stdin/stdout/stderr/nvram/image must be given with --channel
 * /dev/NAME=PATH. With --save-dir, the zapp's program is written to the
 * directory's `zapp/` folder (so that no program name, `nvram` or
 * `manifest` included, meets a generated file), and a generated file never
 * replaces one the session reads (`--save-dir` naming the program's own
 * folder is refused).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { formatManifest, MANIFEST_VERSION, parseChannelUri, type Manifest, type ManifestChannel } from '../runtime/manifest.js';
import { formatNvram, type NvramMount } from '../runtime/nvram.js';
import { CliError, parseAddress } from './args.js';
import { DEFAULT_ENGINE, resolveEngine } from '../api/engine-choice.js';
import {
  ChannelOpenError,
  EngineUnavailableError,
  InvalidOptionError,
  Program,
  ProgramFormatError,
  ProgramReadError,
  ValidationFailedError,
  type ChannelDefinition,
} from '../api/index.js';
import { Errno } from '../runtime/definitions.js';
import { BUILTIN_DEVICES, openZapp, ZappError } from '../zapp/zapp.js';
import { unvalidatedRun } from '../api/unvalidated.js';

const BIG = 2n ** 53n;

/** What `zerovm run` writes into the session directory: the files at its top, a zapp's program in a folder of its own. */
const GENERATED_MANIFEST = 'manifest';
const GENERATED_NVRAM = 'nvram';
const ZAPP_PROGRAM_DIR = 'zapp';

/** The path a file is known by (symbolic links followed where it exists), to tell two names of one file. */
function identity(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Refuses to write a generated file over one the session reads (`--save-dir` can be the program's own folder). */
function refuseOverwrite(generated: readonly string[], inputs: readonly string[]): void {
  const read = new Set(inputs.map(identity));
  for (const path of generated) {
    if (read.has(identity(path))) throw new CliError(`zerovm run writes its ${basename(path)} file to ${path}, which is one of the session's own files: choose another --save-dir`);
  }
}

function channel(uri: string, alias: string, type: number, limits: [bigint, bigint, bigint, bigint]): ManifestChannel {
  const [gets, getSize, puts, putSize] = limits;
  return { uri, sources: parseChannelUri(uri), alias, type, etag: false, limits: { gets, getSize, puts, putSize } };
}

/** Splits `run` options (before the program) from the program's own arguments. */
function parseRunArgs(argv: readonly string[]): {
  options: Map<string, string>;
  flags: Set<string>;
  channels: string[];
  env: string[];
  program: string;
  args: string[];
} {
  const options = new Map<string, string>();
  const flags = new Set<string>();
  const channels: string[] = [];
  const env: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) break;
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (name === 'skip-validation' || name === 'unsafe') {
      flags.add(name);
      continue;
    }
    if (!['memory', 'timeout', 'report', 'save-dir', 'engine', 'channel', 'env', 'image', 'time'].includes(name)) throw new CliError(`unknown option ${arg}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new CliError(`option --${name} needs a value`);
    if (name === 'channel') channels.push(value);
    else if (name === 'env') env.push(value);
    else options.set(name, value);
  }
  const program = argv[i];
  if (program === undefined) throw new CliError('usage: zerovm run [options] PROGRAM.nexe|APP.zapp [ARGS...]');
  return { options, flags, channels, env, program, args: argv.slice(i + 1) };
}

/** `ALIAS=PATH[:ro|:wo|:rw]` -> a manifest channel. */
function extraChannel(text: string): ManifestChannel {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliError(`--channel '${text}': expected ALIAS=PATH[:ro|:wo|:rw], e.g. /dev/input=data.txt:ro`);
  const alias = text.slice(0, eq);
  let path = text.slice(eq + 1);
  let mode = 'ro';
  const m = /:(ro|wo|rw)$/.exec(path);
  if (m) {
    mode = m[1] as string;
    path = path.slice(0, -3);
  }
  if (path.length === 0) throw new CliError(`--channel '${text}': the path is empty`);
  const uri = resolve(path);
  if (mode === 'ro') return channel(uri, alias, 1, [BIG, BIG, 0n, 0n]);
  if (mode === 'wo') return channel(uri, alias, 0, [0n, 0n, BIG, BIG]);
  return channel(uri, alias, 3, [BIG, BIG, BIG, BIG]);
}

/** `NAME=VALUE` pairs -> the nvram's environment. */
function environment(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--env '${pair}': expected NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** A zapp is a tar: named .zapp, or anything with the ustar magic at byte 257 (an ELF file never has it). */
function isZapp(path: string): boolean {
  if (path.endsWith('.zapp')) return true;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // the session reports the missing program in its own words
  }
  try {
    const head = Buffer.alloc(262);
    return readSync(fd, head, 0, 262, 0) === 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}

/** What a session runs: the program's bytes, where they came from, argv (name first), and the tar to mount at '/', if any. */
interface Launch {
  readonly program: Uint8Array | string;
  /** The program's own name inside a zapp (for --save-dir), or undefined for a nexe. */
  readonly zappProgram: string | undefined;
  readonly argv: readonly string[];
  readonly image: string | undefined;
}

/** Reads a zapp: its program's bytes, its arguments; the zapp becomes the image. */
function launchZapp(zappPath: string, args: readonly string[], extra: readonly ManifestChannel[], image: string | undefined): Launch {
  if (image !== undefined) throw new CliError(`--image: a zapp brings its own image (its files); bundle ${basename(image)}'s files into it instead`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(zappPath);
  } catch {
    throw new CliError(`cannot read the zapp '${zappPath}'`);
  }
  try {
    const zapp = openZapp(bytes, zappPath);
    const aliases = new Set(extra.map((c) => c.alias));
    for (const device of zapp.manifest.devices) {
      if (!(BUILTIN_DEVICES as readonly string[]).includes(device) && !aliases.has(`/dev/${device}`)) {
        throw new CliError(`${zappPath} expects a device '${device}': give it with --channel /dev/${device}=PATH[:ro|:wo|:rw]`);
      }
    }
    const name = basename(zapp.manifest.program);
    return { program: zapp.program, zappProgram: name, argv: [name, ...zapp.manifest.args, ...args], image: resolve(zappPath) };
  } catch (error) {
    if (error instanceof ZappError) throw new CliError(error.message);
    throw error;
  }
}

/** A --channel line as the embedding API takes it (same types and limits as its manifest line). */
function channelDefinition(c: ManifestChannel): ChannelDefinition {
  if (c.type === 1) return { alias: c.alias, input: { file: c.uri } };
  if (c.type === 0) return { alias: c.alias, output: { file: c.uri } };
  return { alias: c.alias, file: c.uri, access: 'read-write' };
}

/**
 * --save-dir: the files `zerovm MANIFEST` would run this session from (a
 * record of it; the session itself does not read them).
 */
/** --time SECONDS: a whole number of seconds since 1970, or undefined when not given. */
function parseClock(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new CliError(`--time '${value}': expected whole seconds since 1970 (e.g. --time $(date +%s))`);
  return Number(value);
}

function saveSession(dir: string, launch: Launch, programArg: string, extra: readonly ManifestChannel[], env: Record<string, string>, memory: number, timeout: number, clock: number | undefined): void {
  mkdirSync(dir, { recursive: true });
  const inputs = [resolve(programArg), ...(launch.image === undefined ? [] : [launch.image]), ...extra.map((c) => c.uri)];
  let programPath = resolve(programArg);
  if (launch.zappProgram !== undefined) {
    try {
      mkdirSync(join(dir, ZAPP_PROGRAM_DIR), { recursive: true });
    } catch {
      throw new CliError(`cannot create the folder ${join(dir, ZAPP_PROGRAM_DIR)} for the zapp's program: choose another --save-dir`);
    }
    programPath = join(dir, ZAPP_PROGRAM_DIR, launch.zappProgram);
    refuseOverwrite([programPath], inputs);
  }
  const nvramPath = join(dir, GENERATED_NVRAM);
  const manifestPath = join(dir, GENERATED_MANIFEST);
  refuseOverwrite([nvramPath, manifestPath], inputs);
  if (launch.zappProgram !== undefined) writeFileSync(programPath, launch.program);
  const fstab: NvramMount[] = launch.image === undefined ? [] : [{ channel: '/dev/image', mountpoint: '/', access: 'ro', removable: false }];
  writeFileSync(
    nvramPath,
    formatNvram({
      args: launch.argv,
      env,
      fstab,
      mappings: [
        { channel: '/dev/stdin', mode: 'char' },
        { channel: '/dev/stdout', mode: 'char' },
        { channel: '/dev/stderr', mode: 'char' },
      ],
      ...(clock === undefined ? {} : { timeSeconds: clock }),
    }),
  );
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    program: programPath,
    timeout,
    memory,
    memoryEtag: false,
    channels: [
      channel('/dev/stdin', '/dev/stdin', 0, [BIG, BIG, 0n, 0n]),
      channel('/dev/stdout', '/dev/stdout', 0, [0n, 0n, BIG, BIG]),
      channel('/dev/stderr', '/dev/stderr', 0, [0n, 0n, BIG, BIG]),
      channel(nvramPath, '/dev/nvram', 3, [BIG, BIG, 0n, 0n]),
      ...(launch.image === undefined ? [] : [channel(launch.image, '/dev/image', 1, [BIG, BIG, 0n, 0n])]),
      ...extra,
    ],
  };
  writeFileSync(manifestPath, formatManifest(manifest));
}

/** The API's refusals as the command's exit codes: the errno the session used to end with, 2 for a usage error. */
function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof ProgramReadError) return Errno.ENOENT;
  if (error instanceof ProgramFormatError) return error.errno;
  if (error instanceof ValidationFailedError) return Errno.ENOEXEC;
  if (error instanceof ChannelOpenError) return error.errno;
  if (error instanceof EngineUnavailableError) return Errno.EFAULT;
  return undefined;
}

export function runRun(argv: readonly string[]): number {
  const { options, flags, channels, env, program, args } = parseRunArgs(argv);
  const extra = channels.map(extraChannel);
  const environmentVariables = environment(env);
  const engineName = options.get('engine') ?? DEFAULT_ENGINE;
  const skipValidation = flags.has('skip-validation');
  const memory = parseAddress(options.get('memory') ?? String(64 * 1024 * 1024), '--memory');
  const timeout = parseAddress(options.get('timeout') ?? '60', '--timeout');
  const clock = parseClock(options.get('time'));
  const saveDir = options.get('save-dir');
  const imageOption = options.get('image');
  try {
    const engine = resolveEngine(engineName);
    if (skipValidation) {
      const verdict = unvalidatedRun(engine, '--skip-validation', flags.has('unsafe'));
      if (!verdict.allowed) throw new CliError(verdict.message);
      if (verdict.warning !== null) process.stderr.write(`zerovm run: ${verdict.warning}\n`);
    }
    if (imageOption !== undefined && !existsSync(imageOption)) throw new CliError(`--image '${imageOption}': no such file`);
    const launch: Launch = isZapp(program)
      ? launchZapp(program, args, extra, imageOption)
      : { program: resolve(program), zappProgram: undefined, argv: [program, ...args], image: imageOption === undefined ? undefined : resolve(imageOption) };
    if (saveDir !== undefined) saveSession(resolve(saveDir), launch, program, extra, environmentVariables, memory, timeout, clock);
    /* unvalidatedRun above decided whether unvalidated code may run on this engine */
    const loaded = Program.load(launch.program, { engine, skipValidation, unsafe: true });
    const outcome = loaded.runSync({
      argv0: launch.argv[0]!,
      args: launch.argv.slice(1),
      env: environmentVariables,
      stdin: 'inherit',
      stdout: 'inherit',
      stderr: 'inherit',
      channels: extra.map(channelDefinition),
      ...(launch.image === undefined ? {} : { image: launch.image }),
      memory,
      timeout,
      ...(clock === undefined ? {} : { clock }),
    });
    const reportPath = options.get('report');
    if (reportPath !== undefined) writeFileSync(reportPath, outcome.report);
    if (outcome.exitCode !== 0) {
      process.stderr.write(`zerovm run: ${outcome.exitState}\n`);
      return outcome.exitCode;
    }
    return outcome.userReturnCode & 0xff;
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new CliError(error.message);
    const code = exitCodeOf(error);
    if (code === undefined) throw error;
    process.stderr.write(`zerovm run: ${(error as Error).message}\n`);
    return code;
  }
}
