/**
 * One node of a job, run in the calling thread: its NodePlan becomes a
 * session of the embedding API (src/api), its pipes ends of ring pipes,
 * its outcome a NodeResult that can cross a thread.
 *
 * Where: src/jobs. A pool worker (worker.ts) calls runNode for each node
 * it is given; the executor (pool.ts) never runs sessions itself.
 *
 * Whatever happens (a program that cannot load, a channel that cannot
 * open, a fault, a timeout), every pipe end of the node is closed when the
 * node ends, so its peers see the end of data or a broken pipe instead of
 * waiting for their own timeouts (spec/serving.md, "Executing jobs").
 */
import { statSync, type Stats } from 'node:fs';
import { ChannelOpenError, Program, ProgramCache, ProgramFormatError, ProgramReadError, ValidationFailedError, ValidatorState, ZeroVMError, type ChannelDefinition, type ChannelInput, type ChannelOutput, type SessionOptions } from '../api/index.js';
import { Errno } from '../runtime/definitions.js';
import type { ValidationResult } from '../validator/validate.js';
import type { NodeInput, NodeOutput, NodePlan, NodeResult } from './executor.js';
import { closeRingReader, closeRingWriter, RingPipeReader, RingPipeWriter, type RingPipeState } from './ring-pipe.js';
import type { WarmShelf } from './warm-shelf.js';
import { setOutput } from './worker-protocol.js';

/** A node as a thread is given it: the plan and the shared state of each pipe it uses, by pipe id. */
export interface NodeTask {
  readonly node: NodePlan;
  readonly pipes: Readonly<Record<string, RingPipeState>>;
  /** The pipes this node writes (ids): closed from outside when the node cannot start. */
  readonly writes: readonly string[];
  /** The pipes this node reads (ids). */
  readonly reads: readonly string[];
}

/** Verdicts learnt in one thread, to share with the others (ProgramCache entries). */
export type VerdictEntries = readonly (readonly [string, ValidationResult])[];

const DEFAULT_TIMEOUT = 60;

const NOTHING_LEARNT: VerdictEntries = [];

/**
 * The programs of one thread: each file (device and inode) loaded once while
 * it stays the same (size, mtime), validated through one ProgramCache that
 * other threads' verdicts are added to.
 */
export class ProgramShelf {
  private readonly loaded = new Map<string, { readonly program: Program }>();
  private readonly learnt: [string, ValidationResult][] = [];
  /** What the last load returned, and the file it was (a stat that matches it needs no key). */
  private last: { readonly path: string; readonly engine: NodePlan['engine']; readonly dev: number; readonly ino: number; readonly size: number; readonly mtimeMs: number; readonly key: string; readonly entry: { readonly program: Program } } | undefined;
  readonly cache: ProgramCache;

  constructor(private readonly maxPrograms = 256) {
    this.cache = new ProgramCache({ onVerdict: (key, verdict) => this.learnt.push([key, verdict]) });
  }

  /** Verdicts other threads found. */
  add(entries: VerdictEntries): void {
    for (const [key, verdict] of entries) this.cache.seed(key, verdict);
  }

  /** Verdicts this thread found since the last call. */
  takeLearnt(): VerdictEntries {
    /* most nodes learn nothing: no new array for them */
    return this.learnt.length === 0 ? NOTHING_LEARNT : this.learnt.splice(0, this.learnt.length);
  }

  /** The program at `path` (throws the API's typed errors). */
  load(path: string, engine: NodePlan['engine']): Program {
    /*
     * Keyed by the file, not the path: a server links each request's program
     * into that job's directory, so one stored object reaches here under many
     * paths, and linking changes the ctime but not the bytes. A file whose
     * bytes change in place changes its mtime or size. A stale entry could
     * only run bytes that were loaded and validated before, never unchecked
     * ones: the Program holds the bytes it validated.
     */
    let key = '';
    /*
     * Plain numbers, not bigints (cheaper, and this runs for every node):
     * mtimeMs keeps a fraction of a microsecond, finer than the clock the
     * kernel stamps files with.
     */
    let stats: Stats | undefined;
    try {
      stats = statSync(path);
    } catch {
      /* Program.load says what is wrong with the path */
    }
    /* the same file as the last node's (a server's usual run of requests): no key to make, already the most recently used */
    const last = this.last;
    if (stats !== undefined && last !== undefined && last.path === path && last.engine === engine && last.dev === stats.dev && last.ino === stats.ino && last.size === stats.size && last.mtimeMs === stats.mtimeMs && this.loaded.get(last.key) === last.entry) {
      return last.entry.program;
    }
    if (stats !== undefined) key = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${engine ?? ''}`;
    let entry = key === '' ? undefined : this.loaded.get(key);
    /* the session validates for its engine through the cache (once per program and engine features) */
    if (entry !== undefined) {
      /* most recently used last */
      this.loaded.delete(key);
      this.loaded.set(key, entry);
    } else {
      entry = { program: Program.load(path, { cache: this.cache, ...(engine === undefined ? {} : { engine }) }) };
      if (key === '') return entry.program;
      this.loaded.set(key, entry);
      if (this.loaded.size > this.maxPrograms) this.loaded.delete(this.loaded.keys().next().value as string);
    }
    if (stats !== undefined) this.last = { path, engine, dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, key, entry };
    return entry.program;
  }
}

/** A pipe end of this node and what it was waiting for when the deadline passed. */
interface PipeEnd {
  readonly alias: string;
  readonly pipe: string;
  readonly end: RingPipeReader | RingPipeWriter;
}

/* module functions, not closures made per node (each closure costs an allocation, and a name definition where the sources run through tsx) */

function pipeState(task: NodeTask, id: string, alias: string): RingPipeState {
  const state = task.pipes[id];
  if (state === undefined) throw new PlanError(`node ${task.node.name}: channel ${alias} names pipe '${id}', which this job does not have`);
  return state;
}

/** What a node's input becomes for the session; the pipe ends it opens are added to `ends`. */
function nodeInput(task: NodeTask, ends: PipeEnd[], alias: string, given: NodeInput | undefined): ChannelInput {
  if (given === undefined) return new Uint8Array(0);
  if ('pipe' in given) {
    const end = new RingPipeReader(pipeState(task, given.pipe, alias));
    ends.push({ alias, pipe: given.pipe, end });
    return { stream: end };
  }
  if ('ring' in given) {
    const end = new RingPipeReader(given.ring);
    ends.push({ alias, pipe: 'from another host', end });
    return { stream: end };
  }
  if ('bytes' in given) return given.bytes;
  return { file: given.file };
}

/** What a node's output becomes for the session; the pipe ends it opens are added to `ends`. */
function nodeOutput(task: NodeTask, ends: PipeEnd[], alias: string, given: NodeOutput | undefined): ChannelOutput {
  if (given === undefined || given === 'buffer' || given === 'discard') return given ?? 'buffer';
  if ('pipe' in given) {
    const end = new RingPipeWriter(pipeState(task, given.pipe, alias));
    ends.push({ alias, pipe: given.pipe, end });
    return { stream: end };
  }
  if ('ring' in given) {
    const end = new RingPipeWriter(given.ring);
    ends.push({ alias, pipe: 'to another host', end });
    return { stream: end };
  }
  return { file: given.file };
}

/** Runs one node to its end; never throws for anything the plan, program or engine can cause. */
export function runNode(task: NodeTask, shelf: ProgramShelf, warmShelf?: WarmShelf): NodeResult {
  const { node } = task;
  const timeout = node.timeout ?? DEFAULT_TIMEOUT;
  const ends: PipeEnd[] = [];

  try {
    const channels: ChannelDefinition[] = (node.channels ?? []).map((c) => {
      const common = { alias: c.alias, ...(c.etag === undefined ? {} : { etag: c.etag }), ...(c.limits === undefined ? {} : { limits: c.limits }) };
      if ('input' in c) return { ...common, input: nodeInput(task, ends, c.alias, c.input) };
      if ('output' in c) return { ...common, output: nodeOutput(task, ends, c.alias, c.output) };
      return { ...common, file: c.file, access: c.access };
    });
    /* the node's settings that are set, in this order, without a spread per setting (this runs for every node) */
    const options: { -readonly [K in keyof SessionOptions]: SessionOptions[K] } = {};
    if (node.args !== undefined) options.args = node.args;
    if (node.argv0 !== undefined) options.argv0 = node.argv0;
    if (node.env !== undefined) options.env = node.env;
    options.stdin = nodeInput(task, ends, '/dev/stdin', node.stdin);
    options.stdout = nodeOutput(task, ends, '/dev/stdout', node.stdout);
    options.stderr = nodeOutput(task, ends, '/dev/stderr', node.stderr);
    options.channels = channels;
    if (node.channelLimits !== undefined) options.channelLimits = node.channelLimits;
    if (node.image !== undefined) options.image = node.image;
    if (node.channelModes !== undefined) options.channelModes = node.channelModes;
    if (node.memory !== undefined) options.memory = node.memory;
    options.timeout = timeout;
    if (node.etags !== undefined) options.etags = node.etags;
    if (node.engine !== undefined) options.engine = node.engine;
    const program = shelf.load(node.program, node.engine);
    const { outcome, warm } = node.warm === true && warmShelf !== undefined ? warmShelf.run(program, node, options) : { outcome: program.runSync(options), warm: undefined };
    const outputs: Record<string, Uint8Array> = {};
    /* own ArrayBuffers (a small Buffer is a slice of a shared pool): a view crosses to another thread with its whole buffer, copied or transferred */
    for (const [alias, bytes] of outcome.outputs) setOutput(outputs, alias, new Uint8Array(bytes));
    const blocked = outcome.exitState === 'session timeout' ? ends.find((e) => e.end.timedOut) : undefined;
    return {
      name: node.name,
      report: outcome.report,
      exitCode: outcome.exitCode,
      ok: outcome.ok,
      engine: outcome.engine,
      validatorState: outcome.validatorState,
      daemonState: outcome.daemonState,
      userReturnCode: outcome.userReturnCode,
      etags: outcome.etags,
      accounting: outcome.accounting,
      exitState: outcome.exitState,
      outputs,
      ...(warm === undefined ? {} : { warm }),
      ...(blocked === undefined ? {} : { detail: `timed out while waiting ${blocked.end.direction === 'read' ? 'for data on' : 'for room on'} ${blocked.alias} (pipe '${blocked.pipe}')` }),
    };
  } catch (error) {
    const kind = error instanceof ZeroVMError || error instanceof PlanError ? error.name : 'InternalError';
    /* the original's exit code for what stopped it (ENOENT, ENOEXEC, a channel's errno), EFAULT otherwise */
    const errno = error instanceof ProgramReadError ? Errno.ENOENT : error instanceof ValidationFailedError ? Errno.ENOEXEC : error instanceof ProgramFormatError || error instanceof ChannelOpenError ? error.errno : Errno.EFAULT;
    return failedNode(node.name, kind, error instanceof Error ? error.message : String(error), {
      exitCode: errno,
      validatorState: error instanceof ValidationFailedError ? ValidatorState.Invalid : ValidatorState.NotValidated,
    });
  } finally {
    /* the session closed the ends it opened; these close the rest (idempotent) */
    for (const { end } of ends) end.close();
    for (const id of task.writes) if (task.pipes[id] !== undefined) closeRingWriter(task.pipes[id]);
    for (const id of task.reads) if (task.pipes[id] !== undefined) closeRingReader(task.pipes[id]);
    closeOuterRings(node);
  }
}

/** The ends of rings a node was given from outside the plan (`{ ring }` inputs and outputs), by direction. */
export function outerRings(node: NodePlan): { readonly reads: RingPipeState[]; readonly writes: RingPipeState[] } {
  const reads: RingPipeState[] = [];
  const writes: RingPipeState[] = [];
  const input = (given: NodeInput | undefined): void => {
    if (given !== undefined && 'ring' in given) reads.push(given.ring);
  };
  const output = (given: NodeOutput | undefined): void => {
    if (typeof given === 'object' && 'ring' in given) writes.push(given.ring);
  };
  input(node.stdin);
  output(node.stdout);
  output(node.stderr);
  for (const c of node.channels ?? []) {
    if ('input' in c) input(c.input);
    else if ('output' in c) output(c.output);
  }
  return { reads, writes };
}

/** Closes a node's outer ring ends (it ended, never started, or its thread died): whoever serves the other end sees it. */
export function closeOuterRings(node: NodePlan): void {
  /* most nodes have none: no lists made for them */
  if (!hasOuterRing(node)) return;
  const { reads, writes } = outerRings(node);
  for (const ring of writes) closeRingWriter(ring);
  for (const ring of reads) closeRingReader(ring);
}

function isRing(end: NodeInput | NodeOutput | undefined): boolean {
  return typeof end === 'object' && 'ring' in end;
}

/** Whether `node` has a `{ ring }` input or output. */
function hasOuterRing(node: NodePlan): boolean {
  return isRing(node.stdin) || isRing(node.stdout) || isRing(node.stderr) || node.channels?.some((c) => ('input' in c ? isRing(c.input) : 'output' in c && isRing(c.output))) === true;
}

/** A plan that names what does not exist (a pipe of another job). */
export class PlanError extends Error {
  override name = 'PlanError';
}

/** The result of a node that did not run (or whose thread died): `kind` and `message` say why. */
export function failedNode(name: string, kind: string, message: string, how: { readonly exitCode?: number; readonly validatorState?: ValidatorState } = {}): NodeResult {
  return {
    name,
    report: '',
    exitCode: how.exitCode ?? Errno.EFAULT,
    ok: false,
    engine: '',
    validatorState: how.validatorState ?? ValidatorState.NotValidated,
    daemonState: 0,
    userReturnCode: 0,
    etags: [],
    accounting: { sysSeconds: 0, userSeconds: 0, local: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 }, network: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 } },
    exitState: message,
    outputs: {},
    error: { kind, message },
  };
}
