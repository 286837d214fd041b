/**
 * Warm starts: run a program's set-up once, then start each request from
 * where it stood (spec/runtime.md "Daemon mode"; README "Embedding").
 *
 *   const warm = await program.fork({ image: 'lua.tar' });   // runs until TrapFork
 *   const outcome = await warm.run({ stdin: script });        // a request from the snapshot
 *
 * Pipeline position: embedder (and `zerovm serve`) -> Program.fork ->
 * here -> runPlannedSession (forkable) and runWarmSession
 * (src/runtime/session.ts), snapshot.ts.
 *
 * A request's options are the set-up's with the request's own channels,
 * arguments, environment and time laid over them: the channels must be the
 * set-up session's (same aliases, kinds and limits), because the program's
 * memory already holds what it learnt about them; the memory size, image
 * and engine are the set-up's. Each request gets a fresh sandbox with a
 * copy of the snapshot's memory: nothing one request does is seen by the
 * next.
 */
import { Readable, Writable } from 'node:stream';
import { runWarmSession, SessionFailure, type PreparedProgram } from '../runtime/session.js';
import type { SessionSnapshot } from '../runtime/snapshot.js';
import { InvalidOptionError, WarmStartMismatchError } from './errors.js';
import type { EngineChoice } from './engine-choice.js';
import type { Program } from './program.js';
import {
  detachSinks,
  flushSinks,
  planProgramSession,
  readStreamInputs,
  sessionOutcome,
  type SessionOptions,
  type SessionOutcome,
  type StreamInputs,
  type StreamSink,
} from './session.js';

/**
 * A WarmStart as plain data (structured-cloneable: no descriptors, no
 * class instances but typed arrays and Maps), for another thread of the
 * process to start requests from the same snapshot (Program.adoptWarmStart;
 * src/jobs' warm shelf shares its snapshots among a pool's threads).
 */
export interface SharedWarmStart {
  readonly snapshot: SessionSnapshot;
  readonly setup: SessionOutcome;
}

/** What a request may change: its channels, arguments, environment and time. */
export type WarmRunOptions = Omit<SessionOptions, 'memory' | 'engine' | 'image' | 'loadOnly'>;

function isStream(value: unknown): boolean {
  return value instanceof Readable || value instanceof Writable;
}

/** runSync reads no streams. */
const NOTHING_STREAMED: StreamInputs = new Map();

export class WarmStart {
  /** The set-up's options with its channels unset: what every request's options are laid over. */
  private requestBase: SessionOptions | undefined;
  /** The program as the first request's plan had it (Program.prepare for the snapshot's engine: the same for every request). */
  private prepared: PreparedProgram | undefined;

  /** @internal Program.fork makes these. */
  constructor(
    private readonly program: Program,
    private readonly snapshot: SessionSnapshot,
    private readonly setupOptions: SessionOptions,
    private readonly defaultEngine: EngineChoice | undefined,
    /** How the set-up session ended: daemon state 1, exit state "ok". */
    readonly setup: SessionOutcome,
  ) {}

  /** The engine the snapshot was taken on (every request runs there). */
  get engine(): SessionSnapshot['engine'] {
    return this.snapshot.engine;
  }

  /**
   * Each channel as it stood at the fork, in the program's order: alias,
   * the sequential read and write positions and end of data that requests
   * go on from. A host that gives requests their own inputs checks here that
   * the set-up did not read them (src/jobs, spec/serving.md "Warm starts").
   */
  get channelsAtFork(): readonly { readonly alias: string; readonly getpos: number; readonly putpos: number; readonly eof: boolean }[] {
    return this.snapshot.channels.map((c) => ({ alias: c.alias, getpos: c.getpos, putpos: c.putpos, eof: c.eof }));
  }

  /** The snapshot and the set-up's outcome as plain data (see SharedWarmStart). */
  get shared(): SharedWarmStart {
    return { snapshot: this.snapshot, setup: this.setup };
  }

  /** Bytes of memory the snapshot keeps (the pages that are not zero). */
  get size(): number {
    return this.snapshot.data.reduce((sum, run) => sum + run.bytes.length, 0);
  }

  /**
   * Starts one request from the snapshot; stream inputs are read first.
   * Throws WarmStartMismatchError when its channels are not the set-up's,
   * and what Program.run throws for channels.
   */
  async run(options: WarmRunOptions = {}): Promise<SessionOutcome> {
    const streamed = await readStreamInputs(options);
    const sinks: StreamSink[] = [];
    try {
      const outcome = this.start(options, streamed, sinks);
      await flushSinks(sinks, outcome);
      return outcome;
    } finally {
      detachSinks(sinks);
    }
  }

  /** As run(), in this turn of the event loop: buffers and files only. */
  runSync(options: WarmRunOptions = {}): SessionOutcome {
    if (isStream(options.stdin) || isStream(options.stdout) || isStream(options.stderr) || options.channels?.some((c) => ('input' in c ? isStream(c.input) : 'output' in c && isStream(c.output))) === true) {
      throw new InvalidOptionError('runSync', 'streams need run() (it reads inputs and waits for outputs asynchronously)');
    }
    return this.start(options, NOTHING_STREAMED, []);
  }

  private start(options: WarmRunOptions, streamed: StreamInputs, sinks: StreamSink[]): SessionOutcome {
    /* the set-up's options without its channels, made once */
    this.requestBase ??= { ...this.setupOptions, stdin: undefined, stdout: undefined, stderr: undefined, channels: undefined };
    const merged: SessionOptions = { ...this.requestBase, ...options, engine: this.snapshot.engine };
    /* the program's verdict for the snapshot's engine (every request runs there) is looked up once, at the first request */
    const session = planProgramSession(this.program, merged, streamed, this.defaultEngine, sinks, this.prepared);
    this.prepared ??= session.plan.program;
    /* the request's own user manifest: its channels' sizes, as a cold run would have them (spec/serving.md "Warm starts") */
    const result = runWarmSession(this.snapshot, { channels: session.plan.channels, timeout: session.plan.timeout, ownManifest: true }, session.runOptions);
    if (!result.ran && result.cause instanceof SessionFailure) throw new WarmStartMismatchError(result.cause.message);
    return sessionOutcome(result, session);
  }
}
