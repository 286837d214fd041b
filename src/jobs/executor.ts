/**
 * The contract between a job's front end (the HTTP server, `zerovm job`,
 * later a cluster scheduler) and what runs its sessions. A job is a set of
 * nodes, each one session of one program, whose channels read and write
 * host files, in-memory bytes, or pipes to other nodes of the same job.
 *
 * Where: src/jobs. The front ends compile ZeroCloud's job description into
 * `JobPlan`s (spec/serving.md); an executor runs them. Everything here is
 * plain data that can cross a thread (structured clone) or, later, a
 * network: no streams, no functions, no host objects. Swapping the executor
 * (one process, a pool of worker threads, a cluster) changes nothing above.
 */
import type { ChannelLimits } from '../api/session.js';
import type { EngineName } from '../api/engine-choice.js';
import type { EtagEntry } from '../runtime/etag.js';
import type { MappingMode } from '../runtime/nvram.js';
import type { ReportFields } from '../runtime/report.js';
import type { RingPipeState } from './ring-pipe.js';

/** Where a readable channel's bytes come from. */
export type NodeInput =
  /** A host file, read as a regular file (random access allowed). */
  | { readonly file: string }
  /** These bytes, as a regular file. */
  | { readonly bytes: Uint8Array }
  /** The reading end of a pipe of this job (sequential; blocks until the writer writes or ends). */
  | { readonly pipe: string }
  /** The reading end of a ring whose writing end the caller serves itself (a pipe from another host: src/cluster/net-pipe.ts); not a pipe of the plan. */
  | { readonly ring: RingPipeState };

/** Where a writable channel's bytes go. */
export type NodeOutput =
  /** A host file, created or truncated (the front end decides where; it makes the result visible atomically). */
  | { readonly file: string }
  /** Kept in memory and returned in the node's result. */
  | 'buffer'
  | 'discard'
  /** The writing end of a pipe of this job (sequential; blocks while the pipe is full: backpressure). */
  | { readonly pipe: string }
  /** The writing end of a ring whose reading end the caller serves itself (a pipe to another host); not a pipe of the plan. */
  | { readonly ring: RingPipeState };

interface NodeChannelCommon {
  /** The name the program opens, e.g. '/dev/input' or '/dev/out/reducer'. */
  readonly alias: string;
  readonly etag?: boolean;
  readonly limits?: ChannelLimits;
}

/** A channel of a node beyond stdin/stdout/stderr. */
export type NodeChannel =
  | (NodeChannelCommon & { readonly input: NodeInput })
  | (NodeChannelCommon & { readonly output: NodeOutput })
  /** A host file both read and written (random access). */
  | (NodeChannelCommon & { readonly file: string; readonly access: 'read-write' });

/** One session of a job. */
export interface NodePlan {
  /** Unique in the job: 'map-1', 'reduce'. */
  readonly name: string;
  /** Host path of the nexe (the executor loads it through Program, so validation is cached). */
  readonly program: string;
  readonly argv0?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Default: empty. */
  readonly stdin?: NodeInput;
  /** Default: 'buffer'. */
  readonly stdout?: NodeOutput;
  /** Default: 'buffer'. */
  readonly stderr?: NodeOutput;
  readonly channels?: readonly NodeChannel[];
  /** I/O limits of the standard channels, e.g. { '/dev/stdout': { putSize: 1 << 20 } } to cap what a 'buffer' output may hold. */
  readonly channelLimits?: Readonly<Partial<Record<'/dev/stdin' | '/dev/stdout' | '/dev/stderr', ChannelLimits>>>;
  /** A tar mounted read-only at '/' (host path). */
  readonly image?: string;
  /** What stat() says a channel is, by alias ('file', 'char', 'pipe'): SessionOptions.channelModes (a device's `mode`). */
  readonly channelModes?: Readonly<Record<string, MappingMode>>;
  /** Bytes; default 64 MiB. */
  readonly memory?: number;
  /** Seconds of wall time; default 60. A node blocked on a pipe past it ends with a timeout status. */
  readonly timeout?: number;
  readonly etags?: boolean;
  /** An engine by name (plain data: an Engine object cannot cross a thread). Default 'auto'. */
  readonly engine?: EngineName;
  /**
   * Start from a snapshot of the program's set-up (spec/serving.md "Warm
   * starts"): the first such node in a pool runs the set-up (empty
   * inputs) until TrapFork and keeps it; later nodes with the same program,
   * image, engine, args, env, memory and channel shapes start there with
   * their own channels. A program that never calls TrapFork runs cold.
   */
  readonly warm?: boolean;
  /**
   * Copies of the node that run on different hosts and must agree
   * (ZeroCloud's `replicate`; spec/cluster.md "Replication"). Only a cluster
   * executor runs more than 1; the others refuse it.
   */
  readonly replicate?: 1 | 2 | 3;
  /** Placement hint (ZeroCloud's `attach`): the alias of the readable channel, or 'image', whose object the node should run next to. */
  readonly attach?: string;
  /** Placement hint (ZeroCloud's `location`): nodes of a job with the same string run on the same host when possible. */
  readonly location?: string;
  /**
   * Split the connected group of this node into this many parts on
   * different hosts (the largest of its nodes'); a cluster executor's
   * extension (spec/cluster.md, "Spread in job descriptions"). One-host
   * executors run the group whole and ignore it.
   */
  readonly spread?: number;
}

/** How a node with `warm: true` started. */
export interface WarmOutcome {
  /** It ran from a set-up's snapshot (false: cold, see `reason`). */
  readonly fromSnapshot: boolean;
  /** This node's thread ran the set-up for it first (the first node of its key in the pool, or on a thread that had not heard of it yet). */
  readonly setUp: boolean;
  /** Why it ran cold: the program did not call TrapFork, its set-up read a request input, ... */
  readonly reason?: string;
}

/** A pipe between two nodes of a job: `from` writes its `NodeOutput.pipe`, `to` reads its `NodeInput.pipe`. */
export interface PipePlan {
  readonly id: string;
  readonly from: string;
  readonly to: string;
}

export interface JobPlan {
  readonly nodes: readonly NodePlan[];
  readonly pipes?: readonly PipePlan[];
}

/** What one node gave. */
export interface NodeResult extends ReportFields {
  readonly name: string;
  /** The report text, as `zerovm` prints it. */
  readonly report: string;
  /** 0, or the errno of what ended the session (the original's exit code). */
  readonly exitCode: number;
  readonly ok: boolean;
  readonly engine: string;
  readonly etags: readonly EtagEntry[];
  /** Outputs given as 'buffer', by alias ('/dev/stdout', ...). */
  readonly outputs: Readonly<Record<string, Uint8Array>>;
  /** Wall time of the session in seconds, when the executor measured it (X-Nexe-Cdr-Line's node time). */
  readonly seconds?: number;
  /**
   * Set when the session could not start (bad program, unopenable channel)
   * or its thread died under it (kind 'WorkerDied'): a user-facing message.
   */
  readonly error?: { readonly kind: string; readonly message: string };
  /** More about how it ended, e.g. which pipe a node that timed out was waiting on. */
  readonly detail?: string;
  /** Set for nodes with `warm: true`: whether they started from a snapshot. */
  readonly warm?: WarmOutcome;
  /** Where the node ran, when an executor has several hosts: the cluster worker's name (spec/cluster.md). */
  readonly ranOn?: string;
}

export interface JobResult {
  /** In the order of JobPlan.nodes. */
  readonly nodes: readonly NodeResult[];
}

/** Runs jobs. Nodes of one job run at the same time (pipes need it); a job's failure is in its results, never a rejected promise, unless the plan itself is malformed. */
export interface JobExecutor {
  run(plan: JobPlan, options?: { readonly signal?: AbortSignal }): Promise<JobResult>;
  /** Finishes running jobs, then frees threads and engines. */
  close(): Promise<void>;
}
