/**
 * What travels through NATS between a cluster front end (NatsExecutor) and
 * its workers (`zerovm worker`): the names of the JetStream stream, consumer
 * and buckets, the task message and the result entry (spec/cluster.md).
 *
 * Where: src/cluster. Everything here is plain JSON. A task never names a
 * host path: a program, an image, input bytes and a read-write file travel
 * as the SHA-256 of their bytes in the blob bucket (blobs.ts); outputs come
 * back the same way. Paths are the front end's business alone.
 */
import type { ChannelLimits } from '../api/session.js';
import type { NodePlan, NodeResult, PipePlan } from '../jobs/executor.js';

/** The work-queue stream of tasks (one message per group of connected nodes). */
export const TASK_STREAM = 'ZEROVM_TASKS';
export const TASK_SUBJECT_PREFIX = 'zerovm.task';
/** The durable pull consumer every worker shares (a work queue has one). */
export const WORKER_CONSUMER = 'zerovm-workers';
/** Object Store bucket of content-addressed bytes (name = SHA-256 hex). */
export const BLOB_BUCKET = 'zerovm-blobs';
/** KV bucket of results, key `<job>.<group>`. */
export const RESULT_BUCKET = 'zerovm-results';

/** Bytes by content: the SHA-256 of the bytes in hex, their name in the blob bucket. */
export interface BlobRef {
  readonly blob: string;
}

/**
 * `bytes: true`: given as bytes (a channel in memory), else a file (the worker's cached copy); sessions see the two alike except in the memory etag, so the difference is kept.
 * Small bytes travel inside the task (`base64`): no blob bucket round trips on either side (spec/cluster.md, "Tasks").
 */
export type WireInput = (BlobRef & { readonly bytes?: true }) | { readonly base64: string; readonly bytes: true } | { readonly pipe: string };

/** Input bytes at most this long travel inside the task message... */
export const INLINE_INPUT_LIMIT = 16 * 1024;
/** ...while the task's inline inputs stay within this (a JetStream message is at most 1 MiB by default). */
export const INLINE_TASK_BUDGET = 256 * 1024;
/** 'file': the worker writes a file of its own and returns its bytes as a blob; the front end writes the plan's file. */
export type WireOutput = 'buffer' | 'discard' | 'file' | { readonly pipe: string };

interface WireChannelCommon {
  readonly alias: string;
  readonly etag?: boolean;
  readonly limits?: WireLimits;
}

export type WireChannel =
  | (WireChannelCommon & { readonly input: WireInput })
  | (WireChannelCommon & { readonly output: WireOutput })
  /** A file read and written: its bytes go in as a blob, its final bytes come back as one. */
  | (WireChannelCommon & { readonly file: BlobRef; readonly access: 'read-write' });

/** IoLimit may be a bigint; JSON carries it as a decimal string. */
export type WireLimits = Readonly<Partial<Record<keyof ChannelLimits, number | string>>>;

export interface WireNode {
  readonly name: string;
  readonly program: BlobRef;
  readonly argv0?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: WireInput;
  readonly stdout?: WireOutput;
  readonly stderr?: WireOutput;
  readonly channels?: readonly WireChannel[];
  readonly channelLimits?: Readonly<Record<string, WireLimits>>;
  readonly image?: BlobRef;
  readonly memory?: number;
  readonly timeout?: number;
  readonly etags?: boolean;
  readonly engine?: NodePlan['engine'];
}

/** One task: a group of nodes that pipes connect (or one node), run whole by one worker; or one part of a split group (`part`). */
export interface TaskMessage {
  readonly version: 1;
  readonly job: string;
  readonly group: number;
  readonly nodes: readonly WireNode[];
  /** Every pipe a node of the task writes or reads: one whose other node is in another part crosses to another worker. */
  readonly pipes: readonly PipePlan[];
  /* --- split groups (spec/cluster.md, "Pipes between workers") --- */
  readonly part?: PartInfo;
  /** Which copy of a replicated node this is (1..3; absent: not replicated), spec/cluster.md "Replication". */
  readonly replica?: number;
  /** A task sent to one worker: the key in the claims bucket the worker must create before running it (placement.ts). */
  readonly claim?: string;
}

/** Which part of a split group a task is. */
export interface PartInfo {
  readonly index: number;
  /** The group's parts: all must run at once. */
  readonly of: number;
  /** Runs of the group so far (1 first; a lost member makes the front end run every part again). */
  readonly attempt: number;
}

/** Bytes of a result: small ones inline (base64), saving the blob bucket's round trips; larger ones as a blob. */
export type WireBytes = BlobRef | { readonly base64: string };

/** Outputs at most this long travel inside the result entry. */
export const INLINE_OUTPUT_LIMIT = 64 * 1024;

/** A node's result as stored. */
export interface WireNodeResult extends Omit<NodeResult, 'outputs'> {
  /** 'buffer' outputs by alias. */
  readonly outputs: Readonly<Record<string, WireBytes>>;
  /** 'file' outputs and read-write files by alias: their final bytes. */
  readonly files: Readonly<Record<string, WireBytes>>;
  readonly ranOn: string;
}

export interface ResultEntry {
  readonly version: 1;
  readonly job: string;
  readonly group: number;
  readonly replica?: number;
  readonly nodes: readonly WireNodeResult[];
  /* --- split groups --- */
  readonly part?: PartInfo;
  /** The part's run met a lost member (its pipe to another worker broke, or the part was redelivered after it started): the front end reruns the group or fails it. */
  readonly memberLost?: string;
  /** The group's parts could not all start together (gang start timed out on the last delivery): the front end fails the group with this. */
  readonly gangTimeout?: string;
}

/** Core subject a worker also publishes a stored result on: the front end hears it at once, without the KV watch's consumer (spec/cluster.md, "Results"). */
export const RESULT_SUBJECT_PREFIX = 'zerovm.result';

/**
 * How long a worker waits for the front end's receipt of a result it
 * published (a reply to the result message) before it stores the result in
 * the bucket after all (spec/cluster.md, "Results").
 */
export const RECEIPT_WAIT_MS = 1000;

/** Core subject a worker announces on that it stored a result after its receipt did not come: the front end removes the key if its job has ended. */
export const STORED_SUBJECT_PREFIX = 'zerovm.stored';

export function storedSubject(key: string): string {
  return `${STORED_SUBJECT_PREFIX}.${key}`;
}

/** The core subject a result is also published on: the prefix and its key in the results bucket (resultKey). */
export function resultSubject(key: string): string {
  return `${RESULT_SUBJECT_PREFIX}.${key}`;
}

export function taskSubject(job: string): string {
  return `${TASK_SUBJECT_PREFIX}.${job}`;
}

/**
 * `<job>.<group>`; `<job>.<group>.a<attempt>.p<index>` for a part of a split
 * group; `<job>.<group>.r<k>` for copy k of a replicated node (a replicated
 * node is never connected, so never split: the two never meet).
 */
export function resultKey(job: string, group: number, part?: PartInfo, replica?: number): string {
  if (part !== undefined) return `${job}.${group}.a${part.attempt}.p${part.index}`;
  return replica === undefined ? `${job}.${group}` : `${job}.${group}.r${replica}`;
}

export function encodeLimits(limits: ChannelLimits): WireLimits {
  const wire: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(limits) as [string, number | bigint | undefined][]) {
    if (value !== undefined) wire[key] = typeof value === 'bigint' ? value.toString() : value;
  }
  return wire;
}

export function decodeLimits(wire: WireLimits): ChannelLimits {
  const limits: Record<string, number | bigint> = {};
  for (const [key, value] of Object.entries(wire) as [string, number | string | undefined][]) {
    if (value !== undefined) limits[key] = typeof value === 'string' ? BigInt(value) : value;
  }
  return limits as ChannelLimits;
}

/** A message that is not a task of this protocol version: `message` says what is wrong. */
export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseTask(text: string): TaskMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WireFormatError(`a task message is not JSON: ${(error as Error).message}`);
  }
  const task = value as Partial<TaskMessage> | null;
  if (task === null || typeof task !== 'object' || task.version !== 1) throw new WireFormatError('a task message is not version 1 of the zerovm task format');
  if (typeof task.job !== 'string' || !SAFE_ID.test(task.job)) throw new WireFormatError('a task message has no valid job id');
  if (!Number.isInteger(task.group) || !Array.isArray(task.nodes) || !Array.isArray(task.pipes)) throw new WireFormatError(`task ${task.job}: group, nodes or pipes missing`);
  const part = task.part;
  if (part !== undefined && (!Number.isInteger(part.index) || !Number.isInteger(part.of) || !Number.isInteger(part.attempt) || part.index < 0 || part.index >= part.of || part.attempt < 1)) throw new WireFormatError(`task ${task.job}: a malformed part`);
  if (task.replica !== undefined && !(Number.isInteger(task.replica) && task.replica >= 1 && task.replica <= 3)) throw new WireFormatError(`task ${task.job}: replica must be 1, 2 or 3`);
  if (task.claim !== undefined && !(typeof task.claim === 'string' && /^[A-Za-z0-9_.-]{1,200}$/.test(task.claim))) throw new WireFormatError(`task ${task.job}: the claim is not a key of the claims bucket`);
  for (const node of task.nodes) {
    if (typeof node?.program?.blob !== 'string' || !isBlobName(node.program.blob)) throw new WireFormatError(`task ${task.job}: a node's program is not a blob reference`);
    /* every other blob a node names (stdin, channels, image) must be a hash too: a worker's cache path is made of it */
    const bad = badBlobName(node);
    if (bad !== undefined) throw new WireFormatError(`task ${task.job}: node '${String(node.name)}' names '${bad}' as a blob, which is not a SHA-256 name`);
  }
  return task as TaskMessage;
}

/** The first `blob` property anywhere in `value` that is not a blob name. */
function badBlobName(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'blob' && (typeof inner !== 'string' || !isBlobName(inner))) return String(inner);
    const bad = badBlobName(inner);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

export function isBlobName(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}

export function isSafeJobId(id: string): boolean {
  return SAFE_ID.test(id);
}
