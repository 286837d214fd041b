/**
 * NatsExecutor: the JobExecutor contract (src/jobs/executor.ts) over a NATS
 * JetStream cluster. Each group of connected nodes (one node when no pipe
 * joins it) becomes one task on the work-queue stream; whichever
 * `zerovm worker` pulls it runs the group on its own pool and stores the
 * result in the results bucket; this front end watches that bucket
 * (spec/cluster.md).
 *
 * Where: src/cluster, a drop-in replacement for WorkerPoolExecutor under
 * the front ends. Host paths stay here: programs, images and inputs are
 * sent as blobs (content hashes), and 'file' outputs come back as blobs
 * that this side writes to the plan's paths, atomically (write, then
 * rename).
 *
 * A connected group runs whole on one worker (its pipes are that worker's
 * ring pipes). Pipes between nodes on different workers (the name service
 * and TCP streams) are not built yet: a group is never split.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { KvWatchInclude, type KvEntry } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import type { JobExecutor, JobPlan, JobResult, NodeInput, NodeOutput, NodePlan, NodeResult } from '../jobs/executor.js';
import { checkPlan, JobPlanError } from '../jobs/plan.js';
import { failedNode } from '../jobs/run-node.js';
import { BlobStore } from './blobs.js';
import { ensureWorkerConsumer, openCluster, type ClusterConnection, type DeliveryOptions, type NatsOptions } from './connection.js';
import { retryingNats } from './retry.js';
import { encodeLimits, INLINE_INPUT_LIMIT, INLINE_TASK_BUDGET, RESULT_BUCKET, RESULT_SUBJECT_PREFIX, resultKey, TASK_STREAM, taskSubject, WORKER_CONSUMER, type ResultEntry, type TaskMessage, type WireChannel, type WireInput, type WireNode, type WireOutput } from './protocol.js';

/** Task publishes in flight at once (each waits for its replicated ack). */
const PUBLISH_LANES = 32;

export interface NatsExecutorOptions extends NatsOptions, DeliveryOptions {}

/** A group sent as a task and not yet answered. */
interface PendingGroup {
  readonly job: string;
  readonly group: number;
  /** Indexes of the group's nodes in the plan. */
  readonly members: readonly number[];
  /** 'file' outputs and read-write files: where their bytes go, by node index and alias. */
  readonly files: ReadonlyMap<string, string>;
  seq?: number;
  /** A result for it is being read (it comes by the core subject and by the watch). */
  claimed?: boolean;
  readonly settle: (nodes: readonly NodeResult[]) => void;
}

export class NatsExecutor implements JobExecutor {
  private readonly pending = new Map<string, PendingGroup>();
  private closing = false;
  private readonly running = new Set<Promise<unknown>>();
  private advisories: Subscription | undefined;
  private resultsHeard: Subscription | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private lastResultAt = Date.now();
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly conn: ClusterConnection,
    private readonly blobs: BlobStore,
    readonly maxDeliver: number,
  ) {}

  /** Connects, makes the stream, buckets and consumer when missing, and sets the consumer's redelivery. */
  static async connect(options: NatsExecutorOptions): Promise<NatsExecutor> {
    const conn = await openCluster({ ...options, name: options.name ?? 'zerovm front end' });
    const { maxDeliver } = await ensureWorkerConsumer(conn.jsm, options, true);
    const executor = new NatsExecutor(conn, new BlobStore(conn.blobs), maxDeliver);
    await executor.listen();
    return executor;
  }

  /** Bytes this front end put into and got from the blob bucket. */
  get bytesMoved(): { put: number; got: number } {
    return { put: this.blobs.bytesPut, got: this.blobs.bytesGot };
  }

  private async listen(): Promise<void> {
    /* one watch for every job: results stored from now on */
    const watch = await this.conn.results.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void this.followResults(watch);
    /* results as workers publish them on the core subject: no consumer between (the watch is the backup) */
    this.resultsHeard = this.conn.nc.subscribe(`${RESULT_SUBJECT_PREFIX}.>`, {
      callback: (error, message) => {
        if (error !== null) return;
        const key = message.subject.slice(RESULT_SUBJECT_PREFIX.length + 1);
        if (this.pending.has(key)) void this.onResult({ key, json: <T>() => message.json<T>() });
      },
    });
    /*
     * Silence while groups wait (no result heard for 3 s): read their keys.
     * A watch whose consumer lived on a server that died stalls until its
     * heartbeat (30 s) notices; a result published while this side was
     * reconnecting is lost. The bucket has them all.
     */
    this.silenceTimer = setInterval(() => {
      if (this.pending.size > 0 && Date.now() - this.lastResultAt > 3000) {
        this.lastResultAt = Date.now();
        void this.recheckPending();
      }
    }, 1000);
    this.silenceTimer.unref();
    /* after a reconnect (a NATS server died), results may have been stored while the watch was away */
    void (async () => {
      for await (const status of this.conn.nc.status()) if (status.type === 'reconnect') void this.recheckPending();
    })();
    /* a task delivered maxDeliver times without an ack: its nodes fail */
    this.advisories = this.conn.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${TASK_STREAM}.${WORKER_CONSUMER}`, {
      callback: (error, message) => {
        if (error !== null) return;
        const advisory = message.json<{ stream_seq?: number; deliveries?: number }>();
        for (const group of this.pending.values()) {
          if (group.seq === undefined || group.seq !== advisory.stream_seq) continue;
          void this.conn.jsm.streams.deleteMessage(TASK_STREAM, group.seq).catch(() => false);
          const message = `the task was delivered ${advisory.deliveries ?? this.maxDeliver} times and no worker finished it (workers died or lost their connection while running it); the job gives up on it`;
          this.finishGroup(group, group.members.map(() => failedNode('', 'MaxDeliveries', message)));
        }
      },
    });
    await this.conn.nc.flush();
  }

  /**
   * Hands the watch's results to onResult; a watch that ends while the
   * executor is open (its ordered consumer gave up during an outage) is
   * made again, and the results of pending groups are read directly, so
   * none stored in between is missed (spec/cluster.md, "A NATS server dies").
   */
  private async followResults(watch: AsyncIterable<KvEntry> & { stop(): void }): Promise<void> {
    let current = watch;
    while (!this.closing) {
      try {
        for await (const entry of current) if (entry.operation === 'PUT') void this.onResult(entry);
      } catch {
        /* made again below */
      }
      if (this.closing) return;
      try {
        current = await retryingNats(() => this.conn.results.watch({ key: '>', include: KvWatchInclude.UpdatesOnly }));
      } catch {
        if (this.closing) return;
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const made = current;
      this.stopWatch = () => made.stop();
      await this.recheckPending();
    }
  }

  /** Reads the stored result of every pending group whose task has been published. */
  private async recheckPending(): Promise<void> {
    for (const [key, group] of this.pending) {
      if (group.seq === undefined) continue;
      try {
        const entry = await retryingNats(() => this.conn.results.get(key));
        if (entry !== null && entry.operation === 'PUT') void this.onResult(entry);
      } catch {
        /* the watch will bring it */
      }
    }
  }

  run(plan: JobPlan, options: { readonly signal?: AbortSignal } = {}): Promise<JobResult> {
    if (this.closing) return Promise.reject(new JobPlanError('the executor is closed'));
    let checked;
    try {
      checked = checkPlan(plan);
    } catch (error) {
      return Promise.reject(error);
    }
    const job = randomUUID().replaceAll('-', '');
    const results = new Array<NodeResult>(plan.nodes.length);
    const groups: PendingGroup[] = [];
    const promise = new Promise<JobResult>((resolveJob, rejectJob) => {
      let left = checked.groups.length;
      const abort = (): void => {
        for (const group of groups) {
          if (!this.pending.has(resultKey(group.job, group.group))) continue;
          if (group.seq !== undefined) void this.conn.jsm.streams.deleteMessage(TASK_STREAM, group.seq).catch(() => false);
          this.finishGroup(group, group.members.map(() => failedNode('', 'Aborted', 'the job was cancelled')));
        }
      };
      checked.groups.forEach((members, g) => {
        const group: PendingGroup = {
          job,
          group: g,
          members,
          files: new Map(),
          settle: (nodes) => {
            members.forEach((i, k) => (results[i] = { ...nodes[k]!, name: plan.nodes[i]!.name }));
            if (--left === 0) {
              options.signal?.removeEventListener('abort', abort);
              resolveJob({ nodes: results });
            }
          },
        };
        groups.push(group);
        this.pending.set(resultKey(job, g), group);
      });
      options.signal?.addEventListener('abort', abort, { once: true });
      if (options.signal?.aborted === true) return abort();
      /*
       * Tasks are published PUBLISH_LANES at a time: each waits for the
       * stream's replicated ack (a millisecond or two), and one after
       * another they would bound a 200-session job to that rate.
       */
      let next = 0;
      let failed = false;
      const lane = async (): Promise<void> => {
        while (next < groups.length && !failed) {
          const group = groups[next++]!;
          let task: TaskMessage;
          try {
            const inline = { left: INLINE_TASK_BUDGET };
            task = { version: 1, job, group: group.group, nodes: await Promise.all(group.members.map((i) => this.wireNode(plan.nodes[i]!, i, group.files as Map<string, string>, inline))), pipes: (plan.pipes ?? []).filter((p) => group.members.some((i) => plan.nodes[i]!.name === p.from)) };
          } catch (error) {
            const message = `the front end could not read what node needs: ${(error as Error).message}`;
            this.finishGroup(group, group.members.map(() => failedNode('', 'InputReadError', message)));
            continue;
          }
          if (!this.pending.has(resultKey(job, group.group))) continue; /* aborted meanwhile */
          try {
            /* retried through a NATS server's death; the message id makes a second copy a duplicate JetStream drops */
            const ack = await retryingNats(() => this.conn.js.publish(taskSubject(job), JSON.stringify(task), { msgID: `${job}.${group.group}` }));
            group.seq = ack.seq;
          } catch (error) {
            if (failed) return;
            failed = true;
            abort();
            rejectJob(new Error(`the job could not be queued on NATS: ${(error as Error).message}`));
            return;
          }
        }
      };
      for (let i = 0; i < Math.min(PUBLISH_LANES, groups.length); i++) void lane();
    });
    const tracked = promise.finally(() => {
      this.running.delete(tracked);
      /* one purge of the job's subjects in the bucket's stream, not a replicated write per group */
      void this.conn.jsm.streams.purge(`KV_${RESULT_BUCKET}`, { filter: `$KV.${RESULT_BUCKET}.${job}.>` }).catch(() => undefined);
    });
    this.running.add(tracked);
    return promise;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.stopWatch?.();
    this.advisories?.unsubscribe();
    this.resultsHeard?.unsubscribe();
    clearInterval(this.silenceTimer);
    await this.conn.close();
  }

  private finishGroup(group: PendingGroup, nodes: readonly NodeResult[]): void {
    if (!this.pending.delete(resultKey(group.job, group.group))) return;
    group.settle(nodes);
  }

  private async onResult(entry: { readonly key: string; json<T>(): T }): Promise<void> {
    const group = this.pending.get(entry.key);
    if (group === undefined || group.claimed === true) return; /* another front end's job, one that ended, or heard already (subject and watch both bring it) */
    group.claimed = true;
    this.lastResultAt = Date.now();
    let nodes: NodeResult[];
    try {
      const stored = entry.json<ResultEntry>();
      nodes = await Promise.all(
        stored.nodes.map(async (wire, k) => {
          const outputs: Record<string, Uint8Array> = {};
          for (const [alias, ref] of Object.entries(wire.outputs)) outputs[alias] = await this.blobs.getResult(ref);
          for (const [alias, ref] of Object.entries(wire.files)) {
            const path = group.files.get(`${group.members[k]}\0${alias}`);
            if (path !== undefined) writeAtomically(path, await this.blobs.getResult(ref));
          }
          const { files: _files, outputs: _outputs, ...rest } = wire;
          return { ...rest, outputs };
        }),
      );
    } catch (error) {
      const message = `the result stored by a worker could not be read back: ${(error as Error).message}`;
      nodes = group.members.map(() => failedNode('', 'ResultUnreadable', message));
    }
    this.finishGroup(group, nodes);
  }

  /** A node as a task carries it: blobs for bytes, no host path. */
  private async wireNode(node: NodePlan, index: number, files: Map<string, string>, inline: { left: number }): Promise<WireNode> {
    const input = async (given: NodeInput | undefined): Promise<WireInput | undefined> => {
      if (given === undefined) return undefined;
      if ('pipe' in given) return { pipe: given.pipe };
      if ('bytes' in given && given.bytes.length <= INLINE_INPUT_LIMIT && given.bytes.length <= inline.left) {
        inline.left -= given.bytes.length;
        return { base64: Buffer.from(given.bytes).toString('base64'), bytes: true };
      }
      if ('bytes' in given) return { ...(await this.blobs.put(given.bytes)), bytes: true };
      return this.blobs.putFile(given.file);
    };
    const output = (alias: string, given: NodeOutput | undefined): WireOutput | undefined => {
      if (given === undefined || given === 'buffer' || given === 'discard') return given;
      if ('pipe' in given) return { pipe: given.pipe };
      files.set(`${index}\0${alias}`, given.file);
      return 'file';
    };
    const channels: WireChannel[] = [];
    for (const c of node.channels ?? []) {
      const common = { alias: c.alias, ...(c.etag === undefined ? {} : { etag: c.etag }), ...(c.limits === undefined ? {} : { limits: encodeLimits(c.limits) }) };
      if ('input' in c) channels.push({ ...common, input: (await input(c.input))! });
      else if ('output' in c) channels.push({ ...common, output: output(c.alias, c.output)! });
      else {
        files.set(`${index}\0${c.alias}`, c.file);
        channels.push({ ...common, file: await this.blobs.put(readFileSync(c.file)), access: 'read-write' });
      }
    }
    const stdin = await input(node.stdin);
    const stdout = output('/dev/stdout', node.stdout);
    const stderr = output('/dev/stderr', node.stderr);
    const channelLimits = node.channelLimits === undefined ? undefined : Object.fromEntries(Object.entries(node.channelLimits).map(([alias, limits]) => [alias, encodeLimits(limits)]));
    return {
      name: node.name,
      program: await this.blobs.putFile(node.program),
      /* what a session on one host gives: the program file's base name (the worker's copy is named by its hash) */
      argv0: node.argv0 ?? basename(node.program),
      ...(node.args === undefined ? {} : { args: node.args }),
      ...(node.env === undefined ? {} : { env: node.env }),
      ...(stdin === undefined ? {} : { stdin }),
      ...(stdout === undefined ? {} : { stdout }),
      ...(stderr === undefined ? {} : { stderr }),
      ...(channels.length === 0 ? {} : { channels }),
      ...(channelLimits === undefined ? {} : { channelLimits }),
      ...(node.image === undefined ? {} : { image: await this.blobs.putFile(node.image) }),
      ...(node.memory === undefined ? {} : { memory: node.memory }),
      ...(node.timeout === undefined ? {} : { timeout: node.timeout }),
      ...(node.etags === undefined ? {} : { etags: node.etags }),
      ...(node.engine === undefined ? {} : { engine: node.engine }),
    };
  }
}

/** The plan's file appears whole or not at all. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const partial = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}
