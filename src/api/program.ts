/**
 * `Program`: a nexe read, checked as ELF and validated once, ready to start
 * any number of sessions (session.ts) without reading or validating again.
 *
 * Pipeline position: embedder -> here -> src/runtime (program image,
 * validation as the session does it) and the engine choice.
 *
 * Validation depends on three things only: the program's bytes, the policy
 * (always the session's, spec/validator.md "The policies") and the CPU
 * features of the engine that will run it (the Unicorn engine refuses some
 * that it would run differently). A ProgramCache keeps verdicts under
 * exactly that key (SHA-256 of the bytes, policy, sorted features), so the
 * same nexe is never validated twice for the same engine, whether it is
 * loaded again or run on another engine with the same features.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import type { Engine } from '../runtime/engine.js';
import { ValidatorState } from '../runtime/report.js';
import { loadProgramImage, runPlannedSession, SESSION_POLICY, SessionFailure, type PreparedProgram } from '../runtime/session.js';
import { textRegion, TEXT_START, type ProgramImage } from '../runtime/program-image.js';
import { TrapFunction } from '../runtime/trap-io.js';
import { validate, type ValidateOptions, type ValidationResult } from '../validator/validate.js';
import { resolveEngine, type EngineChoice } from './engine-choice.js';
import { InvalidOptionError, NoForkError, ProgramFormatError, ProgramReadError, ValidationFailedError } from './errors.js';
import { detachSinks, flushSinks, planProgramSession, readStreamInputs, runProgramSession, sessionOutcome, type SessionOptions, type SessionOutcome, type StreamInputs, type StreamSink } from './session.js';
import { WarmStart, type SharedWarmStart } from './warm-start.js';
import { unvalidatedRun } from './unvalidated.js';

/** The validator a cache calls: the real one unless a caller (a test, a tracer) wraps it. */
export type Validator = (text: Uint8Array, options: ValidateOptions) => ValidationResult;

export interface ProgramCacheOptions {
  /** Default: the validator of src/validator/validate.ts. */
  readonly validator?: Validator;
  /** Verdicts kept (least recently used dropped first). Default 1024. */
  readonly maxEntries?: number;
  /** Told of each verdict the validator gives (not of seeded or cached ones): a pool of threads shares them (src/jobs). */
  readonly onVerdict?: (key: string, verdict: ValidationResult) => void;
}

/* An engine's features sorted and joined, made once per features list (an engine keeps its list), not once per session. */
const featureKeys = new WeakMap<readonly string[], string>();

function featuresKey(features: Engine['features']): string {
  if (features === undefined) return '*';
  let key = featureKeys.get(features);
  if (key === undefined) featureKeys.set(features, (key = [...features].sort().join(',')));
  return key;
}

/** Validation verdicts by (content hash, policy, engine features). */
export class ProgramCache {
  private readonly verdicts = new Map<string, ValidationResult>();
  private readonly validator: Validator;
  private readonly maxEntries: number;
  private readonly onVerdict: ((key: string, verdict: ValidationResult) => void) | undefined;
  private validationCount = 0;
  private hitCount = 0;

  constructor(options: ProgramCacheOptions = {}) {
    this.validator = options.validator ?? validate;
    this.maxEntries = options.maxEntries ?? 1024;
    this.onVerdict = options.onVerdict;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new InvalidOptionError('maxEntries', 'must be a whole number of at least 1');
  }

  /** Times the validator ran. */
  get validations(): number {
    return this.validationCount;
  }

  /** Verdicts answered from the cache. */
  get hits(): number {
    return this.hitCount;
  }

  /**
   * Adds a verdict another cache found (a key and verdict it reported
   * through onVerdict): the same validator on the same key gives the same
   * verdict, so it is not run again here.
   */
  seed(key: string, verdict: ValidationResult): void {
    if (this.verdicts.has(key)) return;
    this.verdicts.set(key, verdict);
    if (this.verdicts.size > this.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value as string);
  }

  /** The verdict for a program's text on an engine with `features` (undefined: all). */
  verdict(hash: string, bytes: Uint8Array, image: ProgramImage, features: Engine['features']): ValidationResult {
    const key = `${hash}|${SESSION_POLICY}|${featuresKey(features)}`;
    const known = this.verdicts.get(key);
    if (known !== undefined) {
      this.hitCount++;
      /* most recently used last: Map keeps insertion order */
      this.verdicts.delete(key);
      this.verdicts.set(key, known);
      return known;
    }
    this.validationCount++;
    const result = this.validator(textRegion(bytes, image), { base: TEXT_START, policy: SESSION_POLICY, ...(features === undefined ? {} : { features }) });
    this.verdicts.set(key, result);
    if (this.verdicts.size > this.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value as string);
    this.onVerdict?.(key, result);
    return result;
  }
}

/** The cache Program.load uses unless given another. */
export const defaultProgramCache = new ProgramCache();

export interface ProgramLoadOptions {
  /** The engine to validate for now (more are validated, once each, when a session uses them). Default 'auto'. */
  readonly engine?: EngineChoice;
  /** Default: defaultProgramCache. */
  readonly cache?: ProgramCache;
  /**
   * Run without validating (validator state 2 in the report). Allowed on the
   * Unicorn engine, which keeps any code inside the sandbox; the native
   * engine also needs `unsafe: true` (spec/runtime.md, "Command lines").
   */
  readonly skipValidation?: boolean;
  /** With skipValidation: allow the native engine. Only for code you trust. */
  readonly unsafe?: boolean;
}

/** TrapFork's function word as it appears in memory (trap-io.ts TrapFunction.Fork). */
const FORK_WORD = (() => {
  const word = Buffer.alloc(4);
  word.writeUInt32LE(TrapFunction.Fork);
  return word;
})();

function readProgramFile(path: string): Uint8Array {
  try {
    if (statSync(path).isDirectory()) throw new ProgramReadError(path, 'it is a directory');
    return readFileSync(path);
  } catch (error) {
    if (error instanceof ProgramReadError) throw error;
    const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : String(error);
    throw new ProgramReadError(path, code === 'ENOENT' ? 'no such file' : code);
  }
}

export class Program {
  private constructor(
    /** SHA-256 of the bytes, hex. */
    readonly hash: string,
    /** Where it was loaded from, or undefined for bytes. */
    readonly path: string | undefined,
    private readonly bytes: Uint8Array,
    private readonly image: ProgramImage,
    private readonly cache: ProgramCache,
    private readonly skipValidation: boolean,
    private readonly unsafe: boolean,
    /** The engine sessions use unless they name another. */
    private readonly engine: EngineChoice | undefined,
  ) {}

  /**
   * Reads (a path) or takes (bytes) a nexe, checks it as ZeroVM's ELF
   * loader does and validates it for `options.engine`. Throws
   * ProgramReadError, ProgramFormatError, ValidationFailedError,
   * EngineUnavailableError or InvalidOptionError.
   */
  static load(source: string | Uint8Array, options: ProgramLoadOptions = {}): Program {
    const path = typeof source === 'string' ? source : undefined;
    const bytes = typeof source === 'string' ? readProgramFile(source) : Uint8Array.from(source);
    let image: ProgramImage;
    try {
      image = loadProgramImage(bytes);
    } catch (error) {
      if (error instanceof SessionFailure) throw new ProgramFormatError(error.exitCode, error.message);
      throw error;
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    const program = new Program(hash, path, bytes, image, options.cache ?? defaultProgramCache, options.skipValidation === true, options.unsafe === true, options.engine);
    program.prepare(resolveEngine(options.engine));
    return program;
  }

  /**
   * Runs one session (see SessionOptions); stream inputs are read to their
   * ends first. What the program does (exit, fault, timeout) is in the
   * outcome; what stops the session from starting is thrown
   * (InvalidOptionError, EngineUnavailableError, ValidationFailedError,
   * ChannelOpenError, ChannelStreamError).
   */
  async run(options: SessionOptions = {}): Promise<SessionOutcome> {
    const streamed = await readStreamInputs(options);
    const sinks: StreamSink[] = [];
    try {
      const { outcome } = runProgramSession(this, options, streamed, this.engine, sinks);
      await flushSinks(sinks, outcome);
      return outcome;
    } finally {
      detachSinks(sinks);
    }
  }

  /** As run(), in this turn of the event loop: buffers and files only, no streams. */
  runSync(options: SessionOptions = {}): SessionOutcome {
    this.refuseStreams(options);
    return runProgramSession(this, options, new Map(), this.engine, []).outcome;
  }

  /**
   * Runs the program's set-up as a session (see SessionOptions) until it
   * calls TrapFork (zvm_fork), and keeps that session as a snapshot to
   * start requests from: a WarmStart (spec/runtime.md "Daemon mode").
   * Throws NoForkError when the session ended without TrapFork, and what
   * run() throws.
   */
  async fork(options: SessionOptions = {}): Promise<WarmStart> {
    const streamed = await readStreamInputs(options);
    const sinks: StreamSink[] = [];
    try {
      const { outcome, warm } = this.setUp(options, streamed, sinks);
      await flushSinks(sinks, outcome);
      if (warm === undefined) throw new NoForkError(outcome, outcome.exitState);
      return warm;
    } finally {
      detachSinks(sinks);
    }
  }

  /** As fork(), in this turn of the event loop: buffers and files only, no streams. */
  forkSync(options: SessionOptions = {}): WarmStart {
    this.refuseStreams(options);
    const { outcome, warm } = this.setUp(options, new Map(), []);
    if (warm === undefined) throw new NoForkError(outcome, outcome.exitState);
    return warm;
  }

  /**
   * A WarmStart of this program from another thread's (WarmStart.shared,
   * structured-cloned), as if fork() had been called here with `options`
   * (the set-up's options: memory, image, arguments, environment). Throws
   * InvalidOptionError when the snapshot is of another program.
   */
  adoptWarmStart(shared: SharedWarmStart, options: SessionOptions = {}): WarmStart {
    const theirs = shared.snapshot.program.bytes;
    if (theirs.length !== this.bytes.length || !Buffer.from(theirs.buffer, theirs.byteOffset, theirs.length).equals(this.bytes)) {
      throw new InvalidOptionError('adoptWarmStart', 'the snapshot was taken of another program');
    }
    /* structured cloning made the outputs plain Uint8Arrays */
    const buffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const outputs = new Map([...shared.setup.outputs].map(([alias, bytes]) => [alias, buffer(bytes)]));
    const setup: SessionOutcome = { ...shared.setup, stdout: buffer(shared.setup.stdout), stderr: buffer(shared.setup.stderr), outputs };
    return new WarmStart(this, shared.snapshot, options, this.engine, setup);
  }

  /** Runs a set-up session that stops at TrapFork, if the program calls it. */
  private setUp(options: SessionOptions, streamed: StreamInputs, sinks: StreamSink[]): { outcome: SessionOutcome; warm?: WarmStart } {
    const session = planProgramSession(this, options, streamed, this.engine, sinks);
    const result = runPlannedSession({ ...session.plan, forkable: true }, session.runOptions);
    const outcome = sessionOutcome(result, session);
    return result.snapshot === undefined ? { outcome } : { outcome, warm: new WarmStart(this, result.snapshot, options, this.engine, outcome) };
  }

  private refuseStreams(options: SessionOptions): void {
    const streams = [options.stdin, options.stdout, options.stderr, ...(options.channels ?? []).map((c) => ('input' in c ? c.input : 'output' in c ? c.output : undefined))];
    if (streams.some((s) => s instanceof Readable || s instanceof Writable)) throw new InvalidOptionError('runSync', 'streams need run() (it reads inputs and waits for outputs asynchronously)');
  }

  /** Bytes of the nexe. */
  get size(): number {
    return this.bytes.length;
  }

  /**
   * Whether the nexe's bytes hold TrapFork's function word ("Fork", the
   * number 0x6b726f46 little-endian) anywhere. A program names a trap
   * function by that word in its trap block, so a program without it can
   * call TrapFork only by computing the number; one with it may (a string
   * "Fork" counts too). Executors use it to skip a warm start's set-up for
   * programs that will not fork (spec/serving.md "Warm starts").
   */
  get mayFork(): boolean {
    this.forkWord ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length).includes(FORK_WORD);
    return this.forkWord;
  }

  private forkWord: boolean | undefined;

  /**
   * The program as a session on `engine` starts from: validated for the
   * engine's features (from the cache when it was before). Throws
   * ValidationFailedError, or InvalidOptionError when unvalidated code would
   * run natively without `unsafe`.
   */
  prepare(engine: Engine): PreparedProgram {
    if (this.skipValidation) {
      const verdict = unvalidatedRun(engine, 'skipValidation', this.unsafe);
      if (!verdict.allowed) throw new InvalidOptionError('skipValidation', verdict.message.replace('--unsafe', 'unsafe: true').replace('--engine unicorn', "engine: 'unicorn'"));
      return { bytes: this.bytes, image: this.image, validatorState: ValidatorState.NotValidated };
    }
    const verdict = this.cache.verdict(this.hash, this.bytes, this.image, engine.features);
    if (!verdict.valid) throw new ValidationFailedError(verdict.errors, engine.name);
    return { bytes: this.bytes, image: this.image, validatorState: ValidatorState.Valid };
  }
}
