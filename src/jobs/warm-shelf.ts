/**
 * Warm starts of job nodes (spec/serving.md, "Warm starts"): a node with
 * `warm: true` runs its program's set-up once (per pool: see below) until
 * TrapFork, and every later node of the same *set-up key* starts from the
 * snapshot with its own channels, as the original's daemon mode did
 * without a process per request.
 *
 * Where: src/jobs, used by runNode (run-node.ts) in a pool thread, over the
 * embedding API's Program.forkSync and WarmStart.runSync.
 *
 * The set-up key is everything the snapshot's memory can depend on: the
 * program's bytes (its hash), the engine asked for, the image (its file's
 * identity: device, inode, size, mtime), argv0, args, env, memory size, etags, channel modes, and the shape of
 * every channel (alias, kind of source or sink, limits, etag): the C
 * library reads the arguments, environment and the channels' nvram
 * mappings before main, and a request's channels must match the set-up's
 * one for one. A node's inputs and outputs are not in the key: the set-up
 * runs with empty inputs of the same kinds, and a program whose set-up
 * reads a request input (a sequential read before the fork) or writes to
 * an output that cannot be replayed (a file or a pipe) is not started
 * warm: its verdict is kept and its nodes run cold. What the set-up wrote
 * to a 'buffer' output is put back in front of each request's bytes there,
 * so a warm node's outputs are those of a cold run of set-up + request.
 *
 * Each thread keeps its shelf, least recently used dropped first, bounded
 * in count and in bytes. Shelves given the same `share` name (a pool's
 * threads) share what they learn: a thread that took a snapshot or a
 * verdict posts it on a BroadcastChannel of that name, and every shelf
 * takes what was posted (receiveMessageOnPort, synchronously, before each
 * node), so a set-up runs once per pool, not once per thread (twice only
 * when two threads meet a new key at the same moment). A thread makes its
 * own memory image of a snapshot it was given (the native engine's image
 * is a descriptor its thread's addon owns; making one costs a copy of the
 * snapshot's pages, about a millisecond for Lua's 1.5 MiB).
 */
import { statSync } from 'node:fs';
import { BroadcastChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { NoForkError, type ChannelDefinition, type ChannelLimits, type ChannelInput, type ChannelOutput, type Program, type SessionOptions, type SessionOutcome, type SharedWarmStart, type WarmRunOptions, type WarmStart } from '../api/index.js';
import type { NodeChannel, NodeInput, NodeOutput, NodePlan, WarmOutcome } from './executor.js';

export interface WarmShelfOptions {
  /** Snapshots kept at most (least recently used dropped first). Default 8. */
  readonly maxSnapshots?: number;
  /** Bytes of snapshot memory kept at most (WarmStart.size). Default 256 MiB. */
  readonly maxBytes?: number;
  /** Shelves of this name (one per thread of a pool) share their snapshots and verdicts. */
  readonly share?: string;
}

/** What the shelf knows of one set-up key: a snapshot (or one another thread took, not yet used here), or why its nodes run cold. */
type Entry = { readonly warm: WarmStart; readonly bytes: number } | { readonly shared: SharedWarmStart; readonly bytes: number } | { readonly cold: string };

/** What a shelf posts to the others of its name. */
type Shared = { readonly key: string; readonly warm: SharedWarmStart; readonly bytes: number } | { readonly key: string; readonly cold: string };

function inputKind(input: NodeInput | undefined): string {
  if (input === undefined || 'bytes' in input) return 'bytes';
  return 'pipe' in input || 'ring' in input ? 'pipe' : 'file';
}

function outputKind(output: NodeOutput | undefined): string {
  if (output === undefined || output === 'buffer') return 'buffer';
  if (output === 'discard') return 'discard';
  return 'pipe' in output || 'ring' in output ? 'pipe' : 'file';
}

function channelKind(channel: NodeChannel): string {
  if ('input' in channel) return `in:${inputKind(channel.input)}`;
  if ('output' in channel) return `out:${outputKind(channel.output)}`;
  return 'read-write';
}

/**
 * A file's identity, not its path: a changed file is another set-up, while
 * the same file reached by another path is the same one (a server links a
 * request's image object into that request's directory; linking changes
 * the ctime, so it is left out, as ProgramShelf does: bytes changed in
 * place change the mtime or the size).
 */
function fileStamp(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return `missing:${path}`;
  }
}

/** A channel's limits in a key: the four numbers, a bigint written with its 'n' (JSON has no bigints). */
function limitsKey(limits: ChannelLimits | undefined): readonly (number | string | null)[] | null {
  if (limits === undefined) return null;
  return [limitKey(limits.gets), limitKey(limits.getSize), limitKey(limits.puts), limitKey(limits.putSize)];
}

function limitKey(value: ChannelLimits[keyof ChannelLimits]): number | string | null {
  return value === undefined ? null : typeof value === 'bigint' ? `${value}n` : value;
}

/** The set-up key of `node` run with `program` (see the module comment). */
export function warmKey(node: NodePlan, program: Program): string {
  const etags = node.etags === true;
  const shapes = [
    ['/dev/stdin', `in:${inputKind(node.stdin)}`, limitsKey(node.channelLimits?.['/dev/stdin']), etags],
    ['/dev/stdout', `out:${outputKind(node.stdout)}`, limitsKey(node.channelLimits?.['/dev/stdout']), etags],
    ['/dev/stderr', `out:${outputKind(node.stderr)}`, limitsKey(node.channelLimits?.['/dev/stderr']), etags],
  ];
  for (const c of node.channels ?? []) shapes.push([c.alias, channelKind(c), limitsKey(c.limits), c.etag === true]);
  const env = node.env === undefined ? [] : Object.entries(node.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  /* no replacer: the limits, the only bigints, are written by limitsKey (a replacer is called for every value) */
  return JSON.stringify([program.hash, node.engine ?? 'auto', node.image === undefined ? null : fileStamp(node.image), node.argv0 ?? null, node.args ?? [], env, node.memory ?? null, etags, shapes, node.channelModes ?? null]);
}

/** A pipe end for the set-up: no data to read (the request's comes later). */
const EMPTY_PIPE = { direction: 'read' as const, read: (): number => 0, write: (): number => 0, close: (): void => {} };

/** A pipe end for the set-up that takes what is written; the verdict refuses a set-up that wrote to it. */
const SINK_PIPE = { direction: 'write' as const, read: (): number => 0, write: (src: Uint8Array): number => src.length, close: (): void => {} };

/** The node's session options with the set-up's channels: same kinds, empty inputs, outputs nowhere but 'buffer'. */
function setUpOptions(options: SessionOptions): SessionOptions {
  const input = (given: ChannelInput | undefined): ChannelInput => (given === undefined || given instanceof Uint8Array ? new Uint8Array(0) : typeof given === 'object' && 'stream' in given ? { stream: EMPTY_PIPE } : { file: '/dev/null' });
  const output = (given: ChannelOutput | undefined): ChannelOutput => (given === undefined || given === 'buffer' || given === 'discard' ? (given ?? 'buffer') : typeof given === 'object' && 'stream' in given ? { stream: SINK_PIPE } : { file: '/dev/null' });
  return {
    ...options,
    stdin: input(options.stdin),
    stdout: output(options.stdout),
    stderr: output(options.stderr),
    channels: (options.channels ?? []).map((c): ChannelDefinition => ('input' in c ? { ...c, input: input(c.input) } : 'output' in c ? { ...c, output: output(c.output) } : c)),
  };
}

/** Why requests of this set-up cannot start from its snapshot, or undefined when they can. */
function refusal(warm: WarmStart, node: NodePlan): string | undefined {
  const kinds = new Map<string, string>([
    ['/dev/stdin', `in:${inputKind(node.stdin)}`],
    ['/dev/stdout', `out:${outputKind(node.stdout)}`],
    ['/dev/stderr', `out:${outputKind(node.stderr)}`],
    ...(node.channels ?? []).map((c) => [c.alias, channelKind(c)] as [string, string]),
  ]);
  for (const channel of warm.channelsAtFork) {
    const kind = kinds.get(channel.alias);
    if (kind === undefined) continue; /* /dev/nvram, /dev/image: the same for every request */
    if (kind.startsWith('in:') && (channel.getpos > 0 || channel.eof)) return `the program read ${channel.alias} before TrapFork, so its set-up depends on the request's input`;
    if (kind.startsWith('out:') && kind !== 'out:buffer' && kind !== 'out:discard' && channel.putpos > 0) return `the program wrote to ${channel.alias} before TrapFork, which a warm start cannot replay into a ${kind.slice(4)}`;
  }
  return undefined;
}

/** `request`'s buffer outputs with what the set-up wrote there in front (the request's write positions went on after it). */
function withSetUpOutput(request: SessionOutcome, setUp: SessionOutcome): SessionOutcome {
  let wrote = false;
  for (const bytes of setUp.outputs.values()) wrote ||= bytes.length > 0;
  if (!wrote) return request;
  const outputs = new Map(request.outputs);
  for (const [alias, before] of setUp.outputs) {
    const after = outputs.get(alias);
    if (after === undefined || before.length === 0) continue;
    outputs.set(alias, Buffer.concat([before, after.subarray(Math.min(before.length, after.length))]));
  }
  return { ...request, outputs, stdout: outputs.get('/dev/stdout') ?? request.stdout, stderr: outputs.get('/dev/stderr') ?? request.stderr };
}

/** The warm starts of one thread. */
export class WarmShelf {
  private readonly entries = new Map<string, Entry>();
  private readonly maxSnapshots: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private readonly channel: BroadcastChannel | undefined;
  /** What the other shelves posted, not yet taken. */
  private readonly inbox: Shared[] = [];
  /** Set-ups run on this thread (each one a snapshot taken or a verdict learnt). */
  setUps = 0;
  /** Snapshots and verdicts taken from the other shelves of the name. */
  adopted = 0;

  constructor(options: WarmShelfOptions = {}) {
    this.maxSnapshots = options.maxSnapshots ?? 8;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    if (options.share !== undefined) {
      this.channel = new BroadcastChannel(options.share);
      /* a BroadcastChannel drops what arrives while its thread waits without a listener: keep it until the next node */
      this.channel.onmessage = (event: unknown): void => void this.inbox.push((event as { data: Shared }).data);
      /* it must not keep its thread alive */
      this.channel.unref();
    }
  }

  /** Snapshots kept now, and their bytes. */
  get held(): { readonly snapshots: number; readonly bytes: number } {
    let snapshots = 0;
    for (const entry of this.entries.values()) if (!('cold' in entry)) snapshots++;
    return { snapshots, bytes: this.bytes };
  }

  /**
   * Runs `node` (its session options already made) from its set-up's
   * snapshot, taking the snapshot first when this thread has none; runs it
   * cold when the program cannot start warm. Throws what Program.runSync
   * throws for the node's own channels.
   */
  run(program: Program, node: NodePlan, options: SessionOptions): { outcome: SessionOutcome; warm: WarmOutcome } {
    if (!program.mayFork) {
      return { outcome: program.runSync(options), warm: { fromSnapshot: false, setUp: false, reason: "the program's bytes never hold TrapFork's function word, so it cannot fork: no set-up is run" } };
    }
    if (node.channels?.some((c) => !('input' in c) && !('output' in c)) === true) {
      return { outcome: program.runSync(options), warm: { fromSnapshot: false, setUp: false, reason: 'a read-write file channel is both input and output, so a set-up cannot run without it' } };
    }
    this.take();
    const key = warmKey(node, program);
    let entry = this.entries.get(key);
    let setUp = false;
    if (entry === undefined) {
      setUp = true;
      this.setUps++;
      entry = this.takeSnapshot(program, node, options);
      if (entry === undefined) return { outcome: program.runSync(options), warm: { fromSnapshot: false, setUp, reason: 'the set-up did not reach TrapFork: it could not start (the cold run says why) or ran out of time (tried again with the next node)' } };
      this.keep(key, entry);
      this.post(key, entry);
    } else if ('shared' in entry) {
      /* another thread's snapshot, used here for the first time (keep() counted its bytes) */
      const warm = program.adoptWarmStart(entry.shared, setUpOptions(options));
      this.entries.delete(key);
      entry = { warm, bytes: entry.bytes };
      this.entries.set(key, entry);
    } else {
      /* most recently used last */
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    if ('cold' in entry) return { outcome: program.runSync(options), warm: { fromSnapshot: false, setUp, reason: entry.cold } };
    if (!('warm' in entry)) throw new Error('unreachable: a shared snapshot is adopted above');
    /*
     * The node's options as they are: their memory, engine and image are the
     * set-up's (they are in the key) and runNode sets no loadOnly, so
     * leaving them out (a copy of the options per node) changes nothing.
     */
    const request: WarmRunOptions = options;
    const outcome = withSetUpOutput(entry.warm.runSync(request), entry.warm.setup);
    return { outcome, warm: { fromSnapshot: true, setUp } };
  }

  /** Drops every snapshot (their memory images close when collected). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** Drops every snapshot and stops sharing. */
  close(): void {
    this.clear();
    this.channel?.close();
  }

  /** Keeps what the other shelves of the name posted since the last node (a key this shelf knows already stays as it is). */
  private take(): void {
    if (this.channel === undefined) return;
    /* what arrived while this thread ran a node (Node's receiveMessageOnPort takes a BroadcastChannel too: its documentation says so, its types say MessagePort only) */
    const port = this.channel as unknown as MessagePort;
    for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) this.inbox.push(message.message as Shared);
    if (this.inbox.length === 0) return;
    for (const shared of this.inbox.splice(0, this.inbox.length)) {
      if (this.entries.has(shared.key)) continue;
      this.adopted++;
      this.keep(shared.key, 'cold' in shared ? { cold: shared.cold } : { shared: shared.warm, bytes: shared.bytes });
    }
  }

  /** Tells the other shelves of the name what this one learnt. */
  private post(key: string, entry: Entry): void {
    if (this.channel === undefined) return;
    const message: Shared = 'cold' in entry ? { key, cold: entry.cold } : 'warm' in entry ? { key, warm: entry.warm.shared, bytes: entry.bytes } : { key, warm: entry.shared, bytes: entry.bytes };
    this.channel.postMessage(message);
  }

  /**
   * Runs the set-up (with the node's timeout). Undefined when it could not
   * start (the cold run reports why) or ran out of time (a later node may
   * have a longer timeout): neither is kept.
   */
  private takeSnapshot(program: Program, node: NodePlan, options: SessionOptions): Entry | undefined {
    let warm: WarmStart;
    try {
      warm = program.forkSync(setUpOptions(options));
    } catch (error) {
      if (!(error instanceof NoForkError)) return undefined;
      const exitState = (error as NoForkError<SessionOutcome>).outcome.exitState;
      if (exitState === 'session timeout') return undefined;
      return { cold: `the program did not call TrapFork in its set-up (it ended with "${exitState}")` };
    }
    const why = refusal(warm, node);
    if (why !== undefined) return { cold: why };
    return { warm, bytes: warm.size };
  }

  private keep(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    if (!('cold' in entry)) this.bytes += entry.bytes;
    /* oldest first; a single snapshot larger than the whole budget is kept alone */
    for (const [oldKey, old] of this.entries) {
      if (this.held.snapshots <= this.maxSnapshots && this.bytes <= this.maxBytes && this.entries.size <= this.maxSnapshots * 64) break;
      if (oldKey === key) continue;
      this.entries.delete(oldKey);
      if (!('cold' in old)) this.bytes -= old.bytes;
    }
  }
}
