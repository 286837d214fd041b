/**
 * Sessions from a Program: the channels as buffers, Node streams or files,
 * the program's arguments and environment, limits and an engine, with no
 * manifest file; the result as data (report fields, accounting, etags,
 * outputs) and as the report text.
 *
 * Pipeline position: embedder (and `zerovm run`) -> Program.run /
 * Program.runSync -> here -> runPlannedSession (src/runtime/session.ts).
 *
 * How each kind of channel is given to the runtime:
 *   - bytes (a Uint8Array or Buffer): an in-memory file (MemoryFile) that
 *     reads as a regular file with those contents;
 *   - a Readable: read to its end before the session starts (the session
 *     runs synchronously, so the program cannot wait on the stream), then as
 *     bytes;
 *   - 'buffer': an in-memory file, returned in the outcome;
 *   - a Writable: every write of the program is handed to the stream as it
 *     happens (nothing is kept in memory); run() waits for the stream to
 *     drain before it resolves, and does not end it;
 *   - { file }: a host file, as a manifest channel line names it;
 *   - 'inherit': this process's descriptor 0, 1 or 2 (what `zerovm run`
 *     does), never reopened by name;
 *   - 'discard': /dev/null;
 *   - { stream }: a blocking sequential stream (a pipe to another session,
 *     src/jobs), read or written as the program traps, with pipe semantics
 *     (src/runtime/channels/stream.ts); mapped as 'pipe' in the nvram.
 * The arguments and environment reach the program through an in-memory
 * /dev/nvram (spec/runtime.md, "The nvram"); an image (a tar) is mounted
 * read-only at '/' through /dev/image, as `zerovm run --image` does.
 */
import { resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { MemoryFile, ChannelMountError, type ChannelSpec, type IoLimit, type SequentialStream } from '../runtime/channels/index.js';
import { ChannelType, SANDBOX_SIZE, STANDARD_CHANNELS } from '../runtime/definitions.js';
import type { Engine } from '../runtime/engine.js';
import { formatNvram, MAPPING_MODES, type MappingMode, type NvramMapping, type NvramMount } from '../runtime/nvram.js';
import type { ReportFields } from '../runtime/report.js';
import { runPlannedSession, type PreparedProgram, type SessionPlan, type SessionResult, type SessionRunOptions } from '../runtime/session.js';
import { ChannelOpenError, ChannelStreamError, InvalidOptionError } from './errors.js';
import { resolveEngine, type EngineChoice } from './engine-choice.js';
import type { Program } from './program.js';

/** What a readable channel reads. */
export type ChannelInput = Uint8Array | Readable | { readonly file: string } | { readonly stream: SequentialStream } | 'inherit';
/** Where a writable channel's bytes go. */
export type ChannelOutput = 'buffer' | 'discard' | Writable | { readonly file: string } | { readonly stream: SequentialStream } | 'inherit';

/** A channel's I/O limits (manifest fields gets, get_size, puts, put_size); unset ones are unlimited. */
export interface ChannelLimits {
  readonly gets?: IoLimit;
  readonly getSize?: IoLimit;
  readonly puts?: IoLimit;
  readonly putSize?: IoLimit;
}

interface ChannelCommon {
  /** The name the program opens, e.g. '/dev/input'. */
  readonly alias: string;
  /** Report this channel's etag (SHA-1 of the bytes moved). */
  readonly etag?: boolean;
  readonly limits?: ChannelLimits;
}

/** A channel beyond the standard ones: read-only, write-only, or a host file both read and written. */
export type ChannelDefinition =
  | (ChannelCommon & { readonly input: ChannelInput })
  | (ChannelCommon & { readonly output: ChannelOutput })
  | (ChannelCommon & { readonly file: string; readonly access: 'read-write' });

export interface SessionOptions {
  /** The program's arguments after its name. */
  readonly args?: readonly string[];
  /** The program's name (argv[0]). Default: the file name it was loaded from, else 'program'. */
  readonly argv0?: string;
  /** The program's environment (the host's is never passed). */
  readonly env?: Readonly<Record<string, string>>;
  /** Default: empty. */
  readonly stdin?: ChannelInput;
  /** Default: 'buffer'. */
  readonly stdout?: ChannelOutput;
  /** Default: 'buffer'. */
  readonly stderr?: ChannelOutput;
  readonly channels?: readonly ChannelDefinition[];
  /** I/O limits of the standard channels, by alias ('/dev/stdout': { putSize: 4096 }); other channels carry their own. */
  readonly channelLimits?: Readonly<Partial<Record<(typeof STANDARD_CHANNELS)[number], ChannelLimits>>>;
  /** A tar file mounted read-only at '/' (the C library of `zerovm cc` reads it). */
  readonly image?: string;
  /**
   * What the C library's stat() says a channel is, by alias: 'file'
   * (S_IFREG), 'char' (S_IFCHR) or 'pipe' (S_IFIFO); the nvram's [mapping]
   * (spec/runtime.md, "Command lines"; spec/serving.md, device `mode`). Unset channels keep the default: the
   * standard channels and pipes are mapped by their kind, others by their
   * type (random: file, sequential: pipe).
   */
  readonly channelModes?: Readonly<Record<string, MappingMode>>;
  /**
   * Seconds since 1970 (UTC), an integer, that the C library of `zerovm cc`
   * gives for time() and gettimeofday(): the nvram's [time] section. The
   * clock does not advance during the session. Default: none (the clock reads 0).
   */
  readonly clock?: number;
  /** Bytes for the whole session, 1 .. 4 GiB. Default 64 MiB. */
  readonly memory?: number;
  /** Seconds of wall time. Default 60. */
  readonly timeout?: number;
  /** Default: the engine the program was loaded for ('auto' unless given). */
  readonly engine?: EngineChoice;
  /** Etags of the standard channels and of memory (`/dev/memory`) in the report. */
  readonly etags?: boolean;
  /** Load and validate, report, and stop before the program's first instruction (`zerovm -F`). */
  readonly loadOnly?: boolean;
}

/** What a session gave: the report's fields as data, its text, and the outputs. */
export interface SessionOutcome extends ReportFields {
  /** The report as `zerovm` prints it. */
  readonly report: string;
  /** 0, or the errno of what ended the session (the original's process exit code). */
  readonly exitCode: number;
  /** The session ended with TrapExit (whatever the program's own code) or, with loadOnly, loaded. */
  readonly ok: boolean;
  readonly engine: Engine['name'];
  /** The standard outputs given as 'buffer' (empty otherwise). */
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Every channel given as 'buffer', by alias. */
  readonly outputs: ReadonlyMap<string, Buffer>;
}

const UNLIMITED = 2n ** 53n;
const DEFAULT_MEMORY = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT = 60;
const INT32_MAX = 2 ** 31 - 1;
const NVRAM = '/dev/nvram';
const IMAGE = '/dev/image';
const DEV_NULL = '/dev/null';
const STANDARD_FD: Readonly<Record<string, number>> = { '/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2 };

function isReadable(value: unknown): value is Readable {
  return value instanceof Readable;
}

function isWritable(value: unknown): value is Writable {
  return value instanceof Writable;
}

function isFile(value: unknown): value is { readonly file: string } {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'file' in value && typeof value.file === 'string';
}

function isStream(value: unknown): value is { readonly stream: SequentialStream } {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'stream' in value && typeof value.stream === 'object' && value.stream !== null;
}

/** A blocking stream endpoint as a channel: sequential (type 0), mapped as a pipe. */
function streamChannel(alias: string, given: { readonly stream: SequentialStream }, direction: SequentialStream['direction'], etag: boolean, limits: ChannelSpec['limits']): PlannedChannel {
  if (given.stream.direction !== direction) throw new InvalidOptionError(`channel ${alias}`, `the stream is the ${given.stream.direction === 'read' ? 'reading' : 'writing'} end of a pipe, so it can only be ${given.stream.direction === 'read' ? 'an input' : 'an output'}`);
  return { spec: { uri: `stream:${alias}`, alias, type: ChannelType.SGetSPut, etag, limits, stream: given.stream }, mapping: 'pipe' };
}

/** A channel as the runtime takes it, plus what the outcome needs of it. */
interface PlannedChannel {
  readonly spec: ChannelSpec;
  /** An in-memory output to return. */
  readonly collect?: MemoryFile;
  readonly stream?: Writable;
  readonly mapping: MappingMode;
}

function limitsFor(readable: boolean, writable: boolean, given: ChannelLimits | undefined, alias: string): ChannelSpec['limits'] {
  return {
    gets: pickLimit(given, 'gets', readable, readable, alias),
    getSize: pickLimit(given, 'getSize', readable, readable, alias),
    puts: pickLimit(given, 'puts', writable, readable, alias),
    putSize: pickLimit(given, 'putSize', writable, readable, alias),
  };
}

/** One limit of limitsFor: `on` for the channel's directions, else it must be 0. */
function pickLimit(given: ChannelLimits | undefined, name: keyof ChannelLimits, on: boolean, readable: boolean, alias: string): IoLimit {
  const value = given?.[name];
  if (value === undefined) return on ? UNLIMITED : 0n;
  if (typeof value === 'number' ? !Number.isInteger(value) || value < 0 : value < 0n) {
    throw new InvalidOptionError(`channel ${alias} limits.${name}`, `must be a whole number of at least 0, not ${String(value)}`);
  }
  if (!on && BigInt(value) !== 0n) throw new InvalidOptionError(`channel ${alias} limits.${name}`, `the channel is ${readable ? 'read-only' : 'write-only'}, so ${name} must be 0`);
  return value;
}

function inputChannel(alias: string, input: ChannelInput | Uint8Array, type: ChannelType, etag: boolean, limits: ChannelLimits | undefined): PlannedChannel {
  const l = limitsFor(true, false, limits, alias);
  if (input === 'inherit') {
    if (!(alias in STANDARD_FD)) throw new InvalidOptionError(`channel ${alias}`, "'inherit' is for /dev/stdin, /dev/stdout and /dev/stderr only");
    return { spec: { uri: alias, alias, type, etag, limits: l }, mapping: 'char' };
  }
  if (isFile(input)) return { spec: { uri: resolve(input.file), alias, type, etag, limits: l }, mapping: 'file' };
  if (isStream(input)) return streamChannel(alias, input, 'read', etag, l);
  if (input instanceof Uint8Array) return { spec: { uri: `memory:${alias}`, alias, type, etag, limits: l, memory: new MemoryFile(input) }, mapping: 'pipe' };
  throw new InvalidOptionError(`channel ${alias}`, 'a stream input must be read first: use run(), not runSync()');
}

/** An input as planned: `streamed` holds the stream inputs already read. */
function plannedInput(streamed: StreamInputs, alias: string, given: ChannelInput | undefined, type: ChannelType, etag: boolean, limits?: ChannelLimits): PlannedChannel {
  const value = given === undefined ? new Uint8Array(0) : isReadable(given) ? streamed.get(alias) : given;
  if (value === undefined) throw new InvalidOptionError(`channel ${alias}`, 'a stream input must be read first: use run(), not runSync()');
  return inputChannel(alias, value, type, etag, limits);
}

/** The in-memory file that hands each write to `stream`; the stream is added to `sinks`. */
function streamWrites(sinks: StreamSink[], alias: string, stream: Writable): MemoryFile {
  const sink: StreamSink = {
    alias,
    stream,
    onError: (error: unknown) => {
      sink.error ??= error;
    },
  };
  stream.on('error', sink.onError);
  sinks.push(sink);
  /* nothing kept: each write goes to the stream as it happens (a sequential write-only channel never reads back) */
  return new MemoryFile(undefined, (bytes) => {
    if (sink.error === undefined) stream.write(bytes);
  }, false);
}

function outputChannel(alias: string, output: ChannelOutput, etag: boolean, limits: ChannelLimits | undefined, sinks: StreamSink[]): PlannedChannel {
  const l = limitsFor(false, true, limits, alias);
  const type = ChannelType.SGetSPut;
  if (output === 'inherit') {
    if (!(alias in STANDARD_FD)) throw new InvalidOptionError(`channel ${alias}`, "'inherit' is for /dev/stdin, /dev/stdout and /dev/stderr only");
    return { spec: { uri: alias, alias, type, etag, limits: l }, mapping: 'char' };
  }
  if (output === 'discard') return { spec: { uri: DEV_NULL, alias, type, etag, limits: l }, mapping: 'char' };
  if (output === 'buffer') {
    const memory = new MemoryFile();
    return { spec: { uri: `memory:${alias}`, alias, type, etag, limits: l, memory }, collect: memory, mapping: 'pipe' };
  }
  if (isFile(output)) return { spec: { uri: resolve(output.file), alias, type, etag, limits: l }, mapping: 'file' };
  if (isStream(output)) return streamChannel(alias, output, 'write', etag, l);
  if (isWritable(output)) return { spec: { uri: `stream:${alias}`, alias, type, etag, limits: l, memory: streamWrites(sinks, alias, output) }, stream: output, mapping: 'pipe' };
  throw new InvalidOptionError(`channel ${alias}`, "an output is 'buffer', 'discard', 'inherit', { file }, { stream } or a Writable stream");
}

function checkNumber(option: string, value: number, max: number, unit: string): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidOptionError(option, `must be a whole number of ${unit} from 1 to ${max}, not ${value}`);
  return value;
}

/** Inputs given as streams, read to their ends (by alias). */
export type StreamInputs = ReadonlyMap<string, Uint8Array>;

/** Reads every Readable input of `options` to its end. */
export async function readStreamInputs(options: SessionOptions): Promise<StreamInputs> {
  const pending: [string, Readable][] = [];
  if (isReadable(options.stdin)) pending.push(['/dev/stdin', options.stdin]);
  for (const channel of options.channels ?? []) if ('input' in channel && isReadable(channel.input)) pending.push([channel.alias, channel.input]);
  const read = new Map<string, Uint8Array>();
  for (const [alias, stream] of pending) {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
    } catch (error) {
      throw new ChannelStreamError(alias, error);
    }
    read.set(alias, Buffer.concat(chunks));
  }
  return read;
}

export interface StreamSink {
  readonly alias: string;
  readonly stream: Writable;
  /** Our 'error' listener, removed after the session (a stream serving many sessions must not collect them). */
  readonly onError: (error: unknown) => void;
  error?: unknown;
}

/** Removes the session's listeners from its output streams. */
export function detachSinks(sinks: readonly StreamSink[]): void {
  for (const sink of sinks) sink.stream.off('error', sink.onError);
}

/**
 * Plans one session of `program` from SessionOptions (channels, nvram,
 * image, limits); the output streams are added to `sinks`. `prepared`:
 * what Program.prepare gave for this engine before, when the caller kept
 * it (a warm start: every request runs on the snapshot's engine); else
 * Program.prepare judges the program (through the cache).
 */
export function planProgramSession(program: Program, options: SessionOptions, streamed: StreamInputs, defaultEngine: EngineChoice | undefined, sinks: StreamSink[], prepared?: PreparedProgram): ProgramSessionPlan {
  const engine = resolveEngine(options.engine ?? defaultEngine);
  const memory = checkNumber('memory', options.memory ?? DEFAULT_MEMORY, SANDBOX_SIZE, 'bytes');
  const timeout = checkNumber('timeout', options.timeout ?? DEFAULT_TIMEOUT, INT32_MAX, 'seconds');
  const etags = options.etags === true;

  for (const alias of Object.keys(options.channelLimits ?? {})) {
    if (!(STANDARD_CHANNELS as readonly string[]).includes(alias)) throw new InvalidOptionError(`channelLimits['${alias}']`, `only ${STANDARD_CHANNELS.join(', ')}; give other channels their limits in channels[]`);
  }
  const planned: PlannedChannel[] = [
    plannedInput(streamed, '/dev/stdin', options.stdin, ChannelType.SGetSPut, etags, options.channelLimits?.['/dev/stdin']),
    outputChannel('/dev/stdout', options.stdout ?? 'buffer', etags, options.channelLimits?.['/dev/stdout'], sinks),
    outputChannel('/dev/stderr', options.stderr ?? 'buffer', etags, options.channelLimits?.['/dev/stderr'], sinks),
  ];
  const reserved = new Set<string>([...STANDARD_CHANNELS, NVRAM, ...(options.image === undefined ? [] : [IMAGE])]);
  for (const channel of options.channels ?? []) {
    if (reserved.has(channel.alias)) throw new InvalidOptionError(`channel ${channel.alias}`, `this alias is given by the session itself (${[...reserved].join(', ')}); use stdin/stdout/stderr, args/env or image`);
    if (planned.some((p) => p.spec.alias === channel.alias)) throw new InvalidOptionError(`channel ${channel.alias}`, 'given twice');
    const etag = channel.etag === true;
    if ('input' in channel) planned.push(plannedInput(streamed, channel.alias, channel.input, ChannelType.RGetSPut, etag, channel.limits));
    else if ('output' in channel) planned.push(outputChannel(channel.alias, channel.output, etag, channel.limits, sinks));
    else planned.push({ spec: { uri: resolve(channel.file), alias: channel.alias, type: ChannelType.RGetRPut, etag, limits: limitsFor(true, true, channel.limits, channel.alias) }, mapping: 'file' });
  }
  const fstab: NvramMount[] = options.image === undefined ? [] : [{ channel: IMAGE, mountpoint: '/', access: 'ro', removable: false }];
  /* the standard channels always; a pipe too, so the C library's fstat() says S_IFIFO */
  const mappings: NvramMapping[] = planned.filter((p, i) => i < 3 || p.spec.stream !== undefined || options.channelModes?.[p.spec.alias] !== undefined).map((p) => ({ channel: p.spec.alias, mode: options.channelModes?.[p.spec.alias] ?? p.mapping }));
  for (const [alias, mode] of Object.entries(options.channelModes ?? {})) {
    if (!planned.some((p) => p.spec.alias === alias)) throw new InvalidOptionError(`channelModes['${alias}']`, `the session has no channel ${alias}`);
    if (!(MAPPING_MODES as readonly string[]).includes(mode)) throw new InvalidOptionError(`channelModes['${alias}']`, `'${String(mode)}' is not one of ${MAPPING_MODES.join(', ')}`);
  }
  const argv0 = options.argv0 ?? (program.path === undefined ? 'program' : program.path.split('/').pop() ?? 'program');
  const nvram = formatNvram({ args: [argv0, ...(options.args ?? [])], env: { ...(options.env ?? {}) }, fstab, mappings, ...(options.clock === undefined ? {} : { timeSeconds: options.clock }) });
  const specs: ChannelSpec[] = [
    ...planned.map((p) => p.spec),
    { uri: `memory:${NVRAM}`, alias: NVRAM, type: ChannelType.RGetRPut, etag: false, limits: { gets: UNLIMITED, getSize: UNLIMITED, puts: 0n, putSize: 0n }, memory: new MemoryFile(Buffer.from(nvram)) },
    ...(options.image === undefined ? [] : [{ uri: resolve(options.image), alias: IMAGE, type: ChannelType.RGetSPut, etag: false, limits: { gets: UNLIMITED, getSize: UNLIMITED, puts: 0n, putSize: 0n } }]),
  ];

  const plannedProgram = prepared ?? program.prepare(engine);
  const inherit = planned.some((p) => p.spec.uri in STANDARD_FD);
  return {
    engine,
    plan: { program: plannedProgram, memory, timeout, memoryEtag: etags, channels: specs },
    runOptions: { engine, preallocate: false, inheritStandardStreams: inherit, loadOnly: options.loadOnly === true },
    planned,
  };
}

/** A session planned from SessionOptions: what the runtime takes, and what the outcome is made from. */
export interface ProgramSessionPlan {
  readonly engine: Engine;
  readonly plan: SessionPlan;
  readonly runOptions: SessionRunOptions;
  readonly planned: readonly PlannedChannel[];
}

/** The SessionResult fields sessionOutcome copies; the others (cause, snapshot, ran) stay behind. */
type CopiedResultField = 'validatorState' | 'daemonState' | 'userReturnCode' | 'etags' | 'accounting' | 'exitState' | 'report' | 'exitCode';
/* a field added to SessionResult fails to compile here until sessionOutcome copies it (or it is left behind on purpose) */
const everyResultFieldCopied: [Exclude<keyof SessionResult, CopiedResultField | 'cause' | 'snapshot' | 'ran'>] extends [never] ? true : never = true;
void everyResultFieldCopied;

/** The outcome of a session the runtime ran from a plan; a channel that did not open is thrown (ChannelOpenError). */
export function sessionOutcome(result: SessionResult, session: ProgramSessionPlan): SessionOutcome {
  if (result.cause instanceof ChannelMountError) throw new ChannelOpenError(result.cause.alias, result.cause.errno, result.cause.message);
  const outputs = new Map<string, Buffer>();
  for (const p of session.planned) if (p.collect !== undefined) outputs.set(p.spec.alias, p.collect.contents());
  /* the result's report fields, report and exit code (not its cause, snapshot or `ran`), without a rest and a spread: this runs for every session */
  return {
    validatorState: result.validatorState,
    daemonState: result.daemonState,
    userReturnCode: result.userReturnCode,
    etags: result.etags,
    accounting: result.accounting,
    exitState: result.exitState,
    report: result.report,
    exitCode: result.exitCode,
    ok: result.exitCode === 0,
    engine: session.engine.name,
    stdout: outputs.get('/dev/stdout') ?? Buffer.alloc(0),
    stderr: outputs.get('/dev/stderr') ?? Buffer.alloc(0),
    outputs,
  };
}

/**
 * Runs one session of `program`; `streamed` holds the stream inputs
 * already read (run() reads them, runSync() refuses streams). The output
 * streams, to wait for and detach afterwards, are added to `sinks` (also
 * when this throws).
 */
export function runProgramSession(program: Program, options: SessionOptions, streamed: StreamInputs, defaultEngine: EngineChoice | undefined, sinks: StreamSink[]): { outcome: SessionOutcome } {
  const session = planProgramSession(program, options, streamed, defaultEngine, sinks);
  return { outcome: sessionOutcome(runPlannedSession(session.plan, session.runOptions), session) };
}

/** Waits until every output stream has taken the session's writes; throws ChannelStreamError (with the outcome) when one failed. */
export async function flushSinks(sinks: readonly StreamSink[], outcome: SessionOutcome): Promise<void> {
  for (const sink of sinks) {
    if (sink.error === undefined && sink.stream.writableNeedDrain) {
      await new Promise<void>((resolveDrain) => {
        const done = (): void => {
          sink.stream.off('drain', done);
          sink.stream.off('error', done);
          resolveDrain();
        };
        sink.stream.on('drain', done);
        sink.stream.on('error', done);
      });
    }
  }
  /* a stream's error arrives on a later tick than the write that caused it */
  await new Promise<void>((resolveTick) => setImmediate(resolveTick));
  const failed = sinks.find((s) => s.error !== undefined);
  if (failed !== undefined) throw new ChannelStreamError(failed.alias, failed.error, outcome);
}
