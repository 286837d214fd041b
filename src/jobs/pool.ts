/**
 * WorkerPoolExecutor: runs jobs' nodes on a pool of worker threads, each
 * node one session on one thread (worker.ts), pipes between nodes as ring
 * buffers in shared memory (ring-pipe.ts).
 *
 * Where: src/jobs, under the front ends (`zerovm serve`, `zerovm job`),
 * over the embedding API that each thread runs sessions with.
 *
 * Scheduling (spec/serving.md, "Executing jobs"):
 *   - `workers` threads (default: the CPU count) start as they are first
 *     needed and then stay; a node goes to an idle one, else waits in a
 *     first-come queue;
 *   - the nodes a job connects with pipes (a group) must run at the same
 *     time, so a group starts only when it can start whole: a group of k
 *     <= workers nodes waits for k idle threads; a larger one waits until
 *     every pool thread is idle and then gets k - workers extra threads
 *     (idle ones kept from an earlier group first), which end after
 *     `extraIdleMs` without work; a group larger than `maxThreads` is
 *     refused (JobPlanError) before anything runs;
 *   - a node that faults, loops or times out ends only its session: the
 *     thread serves the next node. A thread that dies anyway (its node's
 *     result says so, kind 'WorkerDied') is replaced when next needed, and
 *     its pipe ends are closed so the peers end too;
 *   - validation verdicts found by one thread are handed to the others
 *     with their next node: a program is validated once per pool (per
 *     engine features), not once per thread.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { ResourceLimits, Worker } from 'node:worker_threads';
import type { JobExecutor, JobPlan, JobResult, NodeInput, NodePlan, NodeResult } from './executor.js';
import { checkPlan, JobPlanError } from './plan.js';
import { closeRingReader, closeRingWriter, createRingPipe, DEFAULT_PIPE_CAPACITY, type RingPipeState } from './ring-pipe.js';
import { closeOuterRings, failedNode, type NodeTask, type VerdictEntries } from './run-node.js';
import { startThread } from './thread.js';
import type { ValidationResult } from '../validator/validate.js';
import { packTask, unpackResult, type FromWorker } from './worker-protocol.js';
import type { WarmShelfOptions } from './warm-shelf.js';

export interface WorkerPoolOptions {
  /** Threads kept for sessions. Default: the CPU count. */
  readonly workers?: number;
  /** Most threads at once, extra ones for large connected groups included. Default: the larger of 64 and `workers`. */
  readonly maxThreads?: number;
  /** Bytes of each pipe's ring (a power of two). Default 256 KiB. */
  readonly pipeCapacity?: number;
  /** Most bytes of rings one job's pipes may take (pipes x pipeCapacity); a job needing more is refused. Default 64 MiB. */
  readonly maxPipeMemory?: number;
  /** How long an extra thread (beyond `workers`) waits for another node before it ends. Default 10 000 ms. */
  readonly extraIdleMs?: number;
  /** Limits of each thread's JavaScript heap (worker_threads ResourceLimits); a thread that exceeds them dies and is replaced. */
  readonly resourceLimits?: ResourceLimits;
  /** Warm starts (NodePlan.warm): set-up snapshots each thread keeps at most, least recently used dropped first. Default 8. */
  readonly warmSnapshots?: number;
  /** Warm starts: bytes of snapshot memory each thread keeps at most. Default 256 MiB. */
  readonly warmSnapshotBytes?: number;
}

/** Verdicts shared between threads at most (beyond, threads validate for themselves). */
const MAX_SHARED_VERDICTS = 4096;

/** What a thread is sent when the pool learnt nothing new since its last node. */
const NO_VERDICTS: VerdictEntries = [];

/** A running or waiting node. */
interface NodeWork {
  readonly id: number;
  readonly node: NodePlan;
  /** Pipe ids the node writes and reads. */
  readonly writes: readonly string[];
  readonly reads: readonly string[];
  /** Its job, and its place in the job's plan (and result). */
  readonly job: JobState;
  readonly index: number;
  /** What the thread was sent (made when the node starts, with its pipes). */
  task?: NodeTask;
}

/** Nodes that must start together. */
interface GroupWork {
  readonly nodes: readonly NodeWork[];
  readonly job: JobState;
}

class JobState {
  /** The job's pipes, made when the first of their nodes starts (a waiting job holds no ring). */
  readonly pipes = new Map<string, RingPipeState>();
  aborted = false;
  /** Called once, with the results, when the last node finishes. */
  ended: ((result: JobResult) => void) | undefined;
  private readonly results: NodeResult[];
  private left: number;

  constructor(nodes: number) {
    this.results = new Array<NodeResult>(nodes);
    this.left = nodes;
  }

  /** Node `index` finished (the first result counts: an aborted node's late answer does not). */
  finish(index: number, result: NodeResult): void {
    if (this.results[index] !== undefined) return;
    this.results[index] = result;
    if (--this.left === 0) this.ended?.({ nodes: this.results });
  }
}

/** Ends a node with `result`. */
function finish(work: NodeWork, result: NodeResult): void {
  work.job.finish(work.index, result);
}

class PoolThread {
  readonly worker: Worker;
  /** Index into the pool's shared verdicts: what this thread has been sent. */
  verdictsSent = 0;
  running: { readonly work: NodeWork; readonly job: JobState } | undefined;
  dead = false;
  /** An idle extra thread's end. */
  lingering: NodeJS.Timeout | undefined;

  constructor(
    readonly permanent: boolean,
    resourceLimits: ResourceLimits | undefined,
    warm: WarmShelfOptions,
  ) {
    /* "../jobs/": from dist/jobs/ or from the command's bundle in dist/bundle/ (spec/runtime.md, "Process start") */
    this.worker = startThread(new URL('../jobs/worker.js', import.meta.url), { workerData: warm, ...(resourceLimits === undefined ? {} : { resourceLimits }) });
  }
}

/** `input`, with a copy of its bytes when they view a small part of a larger buffer (a 40-byte Buffer.from() views an 8 KiB pool). */
function tightInput<T extends NodeInput | undefined>(input: T): T {
  if (input === undefined || !('bytes' in input) || input.bytes.byteLength * 2 >= input.bytes.buffer.byteLength) return input;
  /* new Uint8Array(view) copies into a buffer of its own (a Buffer's slice() would be another view of the pool) */
  return { bytes: new Uint8Array(input.bytes) } as T;
}

/**
 * `node`, its byte inputs made tight (tightInput): a view crosses to a
 * thread with its whole buffer (structured clone), so sending the bytes
 * alone copies less. Exported for its test.
 */
export function tightInputs(node: NodePlan): NodePlan {
  const stdin = tightInput(node.stdin);
  let channels = node.channels;
  if (channels !== undefined) {
    const given = channels;
    const tightened = given.map((c) => {
      if (!('input' in c)) return c;
      const input = tightInput(c.input);
      return input === c.input ? c : { ...c, input };
    });
    if (tightened.some((c, i) => c !== given[i])) channels = tightened;
  }
  if (stdin === node.stdin && channels === node.channels) return node;
  return { ...node, ...(stdin === undefined ? {} : { stdin }), ...(channels === undefined ? {} : { channels }) };
}

export class WorkerPoolExecutor implements JobExecutor {
  readonly workers: number;
  readonly maxThreads: number;
  private readonly pipeCapacity: number;
  private readonly maxPipeMemory: number;
  private readonly extraIdleMs: number;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly warmOptions: WarmShelfOptions;
  private readonly threads = new Set<PoolThread>();
  private readonly queue: GroupWork[] = [];
  /* verdicts the threads found, in the order found: each thread is sent the ones past its index */
  private readonly verdicts: (readonly [string, ValidationResult])[] = [];
  private readonly verdictKeys = new Set<string>();
  private learnt = 0;
  private nextId = 1;
  private closing = false;
  private readonly runningJobs = new Set<Promise<unknown>>();
  private deaths = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.workers = options.workers ?? availableParallelism();
    this.maxThreads = options.maxThreads ?? Math.max(64, this.workers);
    this.pipeCapacity = options.pipeCapacity ?? DEFAULT_PIPE_CAPACITY;
    this.extraIdleMs = options.extraIdleMs ?? 10_000;
    this.maxPipeMemory = options.maxPipeMemory ?? 64 * 1024 * 1024;
    this.resourceLimits = options.resourceLimits;
    this.warmOptions = {
      ...(options.warmSnapshots === undefined ? {} : { maxSnapshots: options.warmSnapshots }),
      ...(options.warmSnapshotBytes === undefined ? {} : { maxBytes: options.warmSnapshotBytes }),
      /* this pool's threads share their warm-start snapshots (warm-shelf.ts) */
      share: `zerovm-warm-shelf:${randomUUID()}`,
    };
    if (options.warmSnapshots !== undefined && (!Number.isInteger(options.warmSnapshots) || options.warmSnapshots < 1)) throw new RangeError(`warmSnapshots must be a whole number of at least 1, not ${options.warmSnapshots}`);
    if (options.warmSnapshotBytes !== undefined && !(options.warmSnapshotBytes >= 0)) throw new RangeError(`warmSnapshotBytes must be a number of bytes of at least 0, not ${options.warmSnapshotBytes}`);
    if (!Number.isInteger(this.workers) || this.workers < 1) throw new RangeError(`workers must be a whole number of at least 1, not ${this.workers}`);
    if (!Number.isInteger(this.maxThreads) || this.maxThreads < this.workers) throw new RangeError(`maxThreads must be a whole number of at least workers (${this.workers}), not ${this.maxThreads}`);
    createRingPipe(this.pipeCapacity); /* checks the capacity now rather than at the first job */
  }

  /** Threads alive now (pool threads and extra ones). */
  get threadCount(): number {
    return this.threads.size;
  }

  /** Times a thread ran the validator (a program once per pool and engine features, unless two threads met it at the same time). */
  get validations(): number {
    return this.learnt;
  }

  /** Threads that died under a node since the pool started. */
  get threadDeaths(): number {
    return this.deaths;
  }

  /** Starts the pool's threads now instead of at the first nodes (a server before it listens; a benchmark). */
  async warm(): Promise<void> {
    const started: Promise<void>[] = [];
    while (this.permanentCount() < this.workers) started.push(this.ready(this.spawn(true)));
    await Promise.all(started);
  }

  run(plan: JobPlan, options: { readonly signal?: AbortSignal } = {}): Promise<JobResult> {
    if (this.closing) return Promise.reject(new JobPlanError('the executor is closed'));
    let checked;
    try {
      checked = checkPlan(plan);
    } catch (error) {
      return Promise.reject(error);
    }
    const largest = checked.groups.reduce((most, g) => Math.max(most, g.length), 0);
    if (largest > this.maxThreads) {
      return Promise.reject(
        new JobPlanError(`the job connects ${largest} nodes with pipes, which must all run at the same time, but this executor runs at most ${this.maxThreads} sessions at once (maxThreads): connect fewer nodes, or raise maxThreads`),
      );
    }
    const pipeBytes = (plan.pipes?.length ?? 0) * this.pipeCapacity;
    if (pipeBytes > this.maxPipeMemory) {
      return Promise.reject(
        new JobPlanError(`the job has ${plan.pipes?.length ?? 0} pipes, whose rings need ${pipeBytes} bytes, more than this executor gives one job (maxPipeMemory ${this.maxPipeMemory}): connect fewer nodes, or raise maxPipeMemory`),
      );
    }
    const job = new JobState(plan.nodes.length);
    let detach: (() => void) | undefined;
    /* set once the promise exists (an already aborted signal ends the job inside its executor) */
    let tracked: Promise<JobResult> | undefined;
    let ended = false;
    const promise = new Promise<JobResult>((resolveJob) => {
      job.ended = (result) => {
        ended = true;
        detach?.();
        if (tracked !== undefined) this.runningJobs.delete(tracked);
        resolveJob(result);
      };
      const groups: GroupWork[] = checked.groups.map((members) => ({
        job,
        nodes: members.map((i): NodeWork => ({ id: this.nextId++, node: plan.nodes[i]!, writes: checked.writes[i]!, reads: checked.reads[i]!, job, index: i })),
      }));
      const signal = options.signal;
      if (signal !== undefined) {
        const abort = (): void => this.abort(job, groups);
        if (signal.aborted) {
          abort();
          return;
        }
        /* one signal may serve many jobs (a server's shutdown): each job removes its listener when it ends */
        signal.addEventListener('abort', abort, { once: true });
        detach = () => signal.removeEventListener('abort', abort);
      }
      this.queue.push(...groups);
      this.pump();
    });
    /* tracked until it ends, for close() (without a promise.finally() chain per job) */
    if (!ended) this.runningJobs.add((tracked = promise));
    return promise;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.runningJobs.size > 0) await Promise.allSettled([...this.runningJobs]);
    await Promise.all([...this.threads].map((thread) => this.retire(thread)));
  }

  /** Ends a job: its waiting nodes do not start, its running ones lose their threads, its pipes close. */
  private abort(job: JobState, groups: readonly GroupWork[]): void {
    job.aborted = true;
    const message = 'the job was cancelled';
    for (const group of groups) {
      const at = this.queue.indexOf(group);
      if (at >= 0) this.queue.splice(at, 1);
    }
    for (const state of job.pipes.values()) {
      closeRingWriter(state);
      closeRingReader(state);
    }
    for (const thread of [...this.threads]) {
      if (thread.running?.job !== job) continue;
      const { work } = thread.running;
      thread.running = undefined;
      finish(work, failedNode(work.node.name, 'Aborted', message));
      void this.retire(thread);
    }
    for (const group of groups) for (const work of group.nodes) closeOuterRings(work.node);
    for (const group of groups) for (const work of group.nodes) finish(work, failedNode(work.node.name, 'Aborted', message));
    this.pump();
  }

  private permanentCount(): number {
    let n = 0;
    for (const thread of this.threads) if (thread.permanent) n++;
    return n;
  }

  private spawn(permanent: boolean): PoolThread {
    const thread = new PoolThread(permanent, this.resourceLimits, this.warmOptions);
    this.threads.add(thread);
    thread.worker.on('message', (message: FromWorker) => this.onMessage(thread, message));
    thread.worker.on('error', (error: Error) => this.onDeath(thread, `the worker thread failed: ${error.message}`));
    thread.worker.on('exit', (code: number) => this.onDeath(thread, `the worker thread exited (code ${code})`));
    return thread;
  }

  private ready(thread: PoolThread): Promise<void> {
    return new Promise((resolveReady, rejectReady) => {
      const onMessage = (message: FromWorker): void => {
        if (message.kind !== 'ready') return;
        thread.worker.off('message', onMessage);
        thread.worker.off('exit', onExit);
        resolveReady();
      };
      const onExit = (code: number): void => rejectReady(new Error(`a pool thread ended while starting (code ${code})`));
      thread.worker.on('message', onMessage);
      thread.worker.on('exit', onExit);
    });
  }

  /** Idle threads of the pool (permanent) or extra ones. */
  private idleThreads(permanent: boolean): PoolThread[] {
    return [...this.threads].filter((t) => t.permanent === permanent && !t.dead && t.running === undefined);
  }

  /** The first of idleThreads(true), without making the list. */
  private firstIdlePoolThread(): PoolThread | undefined {
    for (const t of this.threads) if (t.permanent && !t.dead && t.running === undefined) return t;
    return undefined;
  }

  /** Starts the groups at the head of the queue that can start whole. */
  private pump(): void {
    for (;;) {
      const group = this.queue[0];
      if (group === undefined) return;
      const k = group.nodes.length;
      /* one node and an idle pool thread (a server's usual request): what the general case below would choose, without its lists */
      if (k === 1 && this.threads.size <= this.maxThreads) {
        const idle = this.firstIdlePoolThread();
        if (idle !== undefined) {
          this.queue.shift();
          this.dispatch(idle, group.nodes[0]!, group.job);
          continue;
        }
      }
      const fromPool = Math.min(k, this.workers);
      let idle = this.idleThreads(true);
      /* the pool's threads start as they are first needed */
      if (idle.length + this.workers - this.permanentCount() < fromPool) return;
      while (idle.length < fromPool) {
        this.spawn(true);
        idle = this.idleThreads(true);
      }
      const extras = this.idleThreads(false).slice(0, k - fromPool);
      /* idle extras beyond the ones this group takes make room for new ones */
      for (const spare of this.idleThreads(false)) {
        if (this.threads.size + (k - fromPool - extras.length) <= this.maxThreads) break;
        if (!extras.includes(spare)) void this.retire(spare);
      }
      if (this.threads.size + (k - fromPool - extras.length) > this.maxThreads) return;
      this.queue.shift();
      group.nodes.forEach((work, n) => {
        const thread = n < fromPool ? idle[n]! : (extras[n - fromPool] ?? this.spawn(false));
        this.dispatch(thread, work, group.job);
      });
    }
  }

  private dispatch(thread: PoolThread, work: NodeWork, job: JobState): void {
    clearTimeout(thread.lingering);
    thread.lingering = undefined;
    thread.running = { work, job };
    const pipes: Record<string, RingPipeState> = {};
    for (const ids of [work.writes, work.reads]) {
      for (const id of ids) {
        let state = job.pipes.get(id);
        if (state === undefined) job.pipes.set(id, (state = createRingPipe(this.pipeCapacity)));
        pipes[id] = state;
      }
    }
    const task: NodeTask = { node: tightInputs(work.node), pipes, writes: work.writes, reads: work.reads };
    work.task = task;
    const verdicts = thread.verdictsSent === this.verdicts.length ? NO_VERDICTS : this.verdicts.slice(thread.verdictsSent);
    thread.verdictsSent = this.verdicts.length;
    thread.worker.postMessage(packTask(work.id, task, verdicts));
  }

  private onMessage(thread: PoolThread, message: FromWorker): void {
    if (message.kind !== 'done') return;
    this.learnt += message.learnt.length;
    for (const entry of message.learnt) {
      if (this.verdicts.length >= MAX_SHARED_VERDICTS || this.verdictKeys.has(entry[0])) continue;
      this.verdictKeys.add(entry[0]);
      this.verdicts.push(entry);
    }
    const running = thread.running;
    if (running === undefined || running.work.id !== message.id) return; /* an aborted node's late answer */
    thread.running = undefined;
    finish(running.work, unpackResult(message.result));
    this.pump();
    if (!thread.permanent && thread.running === undefined && !thread.dead) {
      thread.lingering = setTimeout(() => void this.retire(thread), this.extraIdleMs);
      thread.lingering.unref();
    }
  }

  private onDeath(thread: PoolThread, why: string): void {
    if (thread.dead) return;
    thread.dead = true;
    this.threads.delete(thread);
    const running = thread.running;
    thread.running = undefined;
    if (running !== undefined) {
      this.deaths++;
      /* the peers must not wait for a node that will never read or write again */
      const pipes = running.work.task?.pipes ?? {};
      for (const id of running.work.writes) if (pipes[id] !== undefined) closeRingWriter(pipes[id]);
      for (const id of running.work.reads) if (pipes[id] !== undefined) closeRingReader(pipes[id]);
      closeOuterRings(running.work.node);
      finish(running.work, failedNode(running.work.node.name, 'WorkerDied', `${why}; the node did not finish and the pool replaced the thread`));
    }
    this.pump();
  }

  /** Ends a thread on purpose (not a death). */
  private async retire(thread: PoolThread): Promise<void> {
    clearTimeout(thread.lingering);
    if (thread.dead) return;
    thread.dead = true;
    this.threads.delete(thread);
    await thread.worker.terminate();
  }
}
