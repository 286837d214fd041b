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
 * ring pipes), unless it has more nodes than one worker runs
 * (`maxNodesPerWorker`) or `spread` asks for it: then it is split into
 * parts that run on different workers at the same time, their pipes TCP
 * streams between workers (split.ts; spec/cluster.md, "Pipes between
 * workers").
 *
 * Placement (placement.ts) may send a task to one worker rather than the
 * shared queue; a node with `replicate: 2|3` becomes that many tasks on
 * different workers, compared by replicate.ts before the job sees one
 * result (spec/cluster.md, "Placement", "Replication").
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { KvWatchInclude, type KvEntry } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import type { JobExecutor, JobPlan, JobResult, NodeInput, NodeOutput, NodePlan, NodeResult } from '../jobs/executor.js';
import { checkPlan, JobPlanError } from '../jobs/plan.js';
import { failedNode } from '../jobs/run-node.js';
import { NO_WORKER } from '../jobs/records.js';
import { BlobStore } from './blobs.js';
import { DirectDispatch } from './direct.js';
import { ensureWorkerConsumer, openCluster, type ClusterConnection, type DeliveryOptions, type NatsOptions } from './connection.js';
import { NameService } from './name-service.js';
import { partsOf, SplitGroup, splittingOf, type SplitOptions } from './split.js';
import { Placer, wantedBlobs, type PlacementOptions, type WantedBlob } from './placement.js';
import { openPlacementStores, RegistryView, type KnownWorker } from './registry.js';
import { checkReplicatedGroup, readsPipe, settleReplicas, type ReplicaOutcome } from './replicate.js';
import { retryingNats } from './retry.js';
import { encodeLimits, INLINE_INPUT_LIMIT, INLINE_TASK_BUDGET, RESULT_BUCKET, RESULT_SUBJECT_PREFIX, resultKey, STORED_SUBJECT_PREFIX, type BlobRef, TASK_STREAM, taskSubject, WORKER_CONSUMER, type ResultEntry, type TaskMessage, type WireChannel, type WireInput, type WireNode, type WireOutput } from './protocol.js';

/** How long after a job ended a result of it that a worker stored late is still removed (a worker stores within its retries, RetryingNats' 60 s). */
const STRAY_WINDOW_MS = 5 * 60_000;

/** Task publishes in flight at once (each waits for its replicated ack). */
const PUBLISH_LANES = 32;

export interface NatsExecutorOptions extends NatsOptions, DeliveryOptions, SplitOptions, PlacementOptions {
  /** Names in a plan that stand for bytes already in the cluster (objects of `zerovm serve --nats`): their blob, or undefined for a host file. */
  readonly blobFor?: (path: string) => Promise<BlobRef> | undefined;
  /** Takes a 'file' output's bytes instead of a file at `path` (true: taken; the store of `zerovm serve --nats` keeps them in memory until the job's outputs are committed). */
  readonly takeOutput?: (path: string, bytes: Uint8Array) => boolean;
  /** A task no worker has taken after this long, while no worker works or waits, is withdrawn and its nodes fail as `NoWorker` (spec/cluster.md, "The front end's deadline"). Default: wait. */
  readonly pickupTimeoutMs?: number;
  /** Set false to queue every task on the stream, never offering it to a free worker directly (spec/cluster.md, "Direct dispatch"). Default true; needs placement (the worker registry). */
  readonly direct?: boolean;
}

/** run()'s options: the contract's, and `spread` for this job (split.ts). */
export interface NatsRunOptions {
  readonly signal?: AbortSignal;
  readonly spread?: number;
  /** false: this job's tasks go through the streams, never offered to a worker directly (direct.ts). */
  readonly direct?: boolean;
}

/** A group sent as a task and not yet answered. */
interface PendingGroup {
  readonly job: string;
  readonly group: number;
  /** Indexes of the group's nodes in the plan. */
  readonly members: readonly number[];
  /** 'file' outputs and read-write files: where their bytes go, by node index and alias. */
  readonly files: ReadonlyMap<string, string>;
  seq?: number;
  /** The pickup deadline's timer. */
  timer?: NodeJS.Timeout;
  /** A result for it is being read (it comes by the core subject and by the watch). */
  claimed?: boolean;
  readonly settle: (nodes: readonly NodeResult[]) => void;
  /** Set when the group runs split over several workers. */
  split?: SplitGroup;
  /** Copy k of a replicated node (its result key ends in `.r<k>`). */
  readonly replica?: number;
  /** Set for copies of a replicated node: file bytes are kept for the comparison rather than written. */
  readonly onFile?: (path: string, bytes: Uint8Array) => void;
  /** Blob prefixes the task reads (placement): the worker that ran it holds them afterwards. */
  wanted?: readonly WantedBlob[];
  /** Its result came by the core subject and this side sent the worker a receipt: the worker does not store it. */
  receipted?: boolean;
  /** The worker that took the task directly (direct.ts), while it holds it. */
  direct?: string;
}

/** A group of the plan and the tasks that run it: one, or one per copy of a replicated node. */
interface PlannedGroup {
  readonly members: readonly number[];
  readonly files: Map<string, string>;
  readonly copies: PendingGroup[];
}

export class NatsExecutor implements JobExecutor {
  private readonly pending = new Map<string, PendingGroup>();
  private closing = false;
  private readonly running = new Set<Promise<unknown>>();
  private advisories: Subscription | undefined;
  private resultsHeard: Subscription | undefined;
  private storedHeard: Subscription | undefined;
  /* results stored although their receipt was sent (spec/cluster.md, "Results") */
  private readonly jobsRunning = new Set<string>();
  private readonly jobsToPurge = new Set<string>();
  /** Jobs ended in the last STRAY_WINDOW_MS, by id: when each ended. */
  private readonly jobsEnded = new Map<string, number>();
  private silenceTimer: NodeJS.Timeout | undefined;
  private lastResultAt = Date.now();
  private stopWatch: (() => void) | undefined;
  /** Result keys of split groups' parts. */
  private readonly splitRoutes = new Map<string, SplitGroup>();
  /** Absent with `placement: false`: every task goes to the shared queue. */
  private placer: Placer | undefined;
  /** Absent with `placement: false` or `direct: false`: tasks go through the stream only. */
  private direct: DirectDispatch | undefined;
  /** Tasks that went to the stream because no worker seemed free (with direct dispatch on). */
  private notOffered = 0;

  private constructor(
    private readonly conn: ClusterConnection,
    private readonly blobs: BlobStore,
    readonly maxDeliver: number,
    private readonly names: NameService,
    private readonly splitOptions: SplitOptions,
    private readonly extra: Pick<NatsExecutorOptions, 'blobFor' | 'takeOutput' | 'pickupTimeoutMs'> = {},
  ) {}

  /** Connects, makes the stream, buckets and consumer when missing, and sets the consumer's redelivery. */
  static async connect(options: NatsExecutorOptions): Promise<NatsExecutor> {
    const conn = await openCluster({ ...options, name: options.name ?? 'zerovm front end' });
    const { maxDeliver, ackWaitMs } = await ensureWorkerConsumer(conn.jsm, options, true);
    const names = await NameService.open(conn.nc, options.replicas ?? 1, options.keepMs ?? 24 * 3600_000);
    const split: SplitOptions = {
      ...(options.maxNodesPerWorker === undefined ? {} : { maxNodesPerWorker: options.maxNodesPerWorker }),
      ...(options.spread === undefined ? {} : { spread: options.spread }),
      ...(options.maxGroupRuns === undefined ? {} : { maxGroupRuns: options.maxGroupRuns }),
    };
    partsOf([], split); /* checks the numbers now */
    const executor = new NatsExecutor(conn, new BlobStore(conn.blobs), maxDeliver, names, split, options);
    if (options.placement !== false) {
      const stores = await openPlacementStores(conn, options.replicas);
      const view = new RegistryView(stores.registry);
      await view.start();
      executor.placer = new Placer(conn, stores, view, maxDeliver, options);
      if (options.direct !== false) {
        executor.direct = new DirectDispatch(conn.nc, view, ackWaitMs);
        executor.direct.start();
      }
    }
    await executor.listen();
    return executor;
  }

  /** Copies of a node this executor runs at most: a front end passes it as DescriptionLimits.maxReplicate (3; 1 without placement). */
  get maxReplicate(): number {
    return this.placer === undefined ? 1 : 3;
  }

  /** Tasks offered to workers directly, taken by them, and queued instead after all (direct.ts); zeros without direct dispatch. */
  get directCounts(): { offered: number; accepted: number; refused: number; notOffered: number } {
    return { offered: 0, accepted: 0, refused: 0, ...this.direct?.counts, notOffered: this.notOffered };
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
        const group = this.pending.get(key);
        if (group === undefined) return;
        /* the worker asks for a receipt: with it, it need not store the result (this side has it) */
        if (message.reply !== undefined) {
          try {
            message.respond();
            group.receipted = true;
          } catch {
            /* the worker stores it after its wait */
          }
        }
        void this.onResult({ key, json: <T>() => message.json<T>() });
      },
    });
    /* a worker stored a result whose receipt it did not get: the job's keys are purged when it ends, or this one now if it has */
    this.storedHeard = this.conn.nc.subscribe(`${STORED_SUBJECT_PREFIX}.>`, {
      callback: (error, message) => {
        if (error !== null) return;
        const key = message.subject.slice(STORED_SUBJECT_PREFIX.length + 1);
        const job = key.split('.')[0]!;
        if (this.jobsRunning.has(job)) this.jobsToPurge.add(job);
        else if (this.jobsEnded.has(job)) void this.conn.jsm.streams.purge(`KV_${RESULT_BUCKET}`, { filter: `$KV.${RESULT_BUCKET}.${key}` }).catch(() => undefined);
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
        for (const split of new Set(this.splitRoutes.values())) split.onMaxDeliveries(advisory.stream_seq ?? -1, advisory.deliveries ?? this.maxDeliver);
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
      if (group.seq === undefined && group.direct === undefined) continue;
      try {
        const entry = await retryingNats(() => this.conn.results.get(key));
        if (entry !== null && entry.operation === 'PUT') void this.onResult(entry);
      } catch {
        /* the watch will bring it */
      }
    }
  }

  run(plan: JobPlan, options: NatsRunOptions = {}): Promise<JobResult> {
    if (this.closing) return Promise.reject(new JobPlanError('the executor is closed'));
    let checked;
    let splitting: SplitOptions;
    let groupSplitting: SplitOptions[];
    try {
      checked = checkPlan(plan, { replicas: true });
      splitting = options.spread === undefined ? this.splitOptions : { ...this.splitOptions, spread: options.spread };
      partsOf([], splitting);
      /* a node's `spread` (a job description's) asks it of its group */
      groupSplitting = checked.groups.map((members) => splittingOf(splitting, members.map((i) => plan.nodes[i]!)));
      for (const [g, members] of checked.groups.entries()) {
        const copied = members.find((i) => (plan.nodes[i]!.replicate ?? 1) > 1);
        if (copied === undefined) continue;
        checkReplicatedGroup(plan, members, partsOf(members, groupSplitting[g]!, this.placer?.liveSlots()).length);
        if (this.placer === undefined) throw new JobPlanError(`node '${plan.nodes[copied]!.name}' asks for replicate: ${plan.nodes[copied]!.replicate}, which needs placement (the executor was made with placement: false)`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const job = randomUUID().replaceAll('-', '');
    this.jobsRunning.add(job);
    const results = new Array<NodeResult>(plan.nodes.length);
    const groups: PendingGroup[] = [];
    const planned: PlannedGroup[] = [];
    const promise = new Promise<JobResult>((resolveJob, rejectJob) => {
      let left = checked.groups.length;
      const abort = (): void => {
        for (const group of groups) {
          if (!this.pending.has(keyOf(group))) continue;
          group.split?.abort();
          if (group.seq !== undefined) void this.conn.jsm.streams.deleteMessage(TASK_STREAM, group.seq).catch(() => false);
          this.finishGroup(group, group.members.map(() => failedNode('', 'Aborted', 'the job was cancelled')));
        }
      };
      checked.groups.forEach((members, g) => {
        const files = new Map<string, string>();
        const settle = (nodes: readonly NodeResult[]): void => {
          members.forEach((i, k) => (results[i] = { ...nodes[k]!, name: plan.nodes[i]!.name }));
          if (--left === 0) {
            options.signal?.removeEventListener('abort', abort);
            resolveJob({ nodes: results });
          }
        };
        const copies = plan.nodes[members[0]!]!.replicate ?? 1;
        const unit: PlannedGroup = { members, files, copies: [] };
        if (copies === 1) {
          const group: PendingGroup = { job, group: g, members, files, settle };
          const parts = partsOf(members, groupSplitting[g]!, this.placer?.liveSlots());
          if (parts.length > 1) {
            group.split = new SplitGroup(this.splitHost(), job, g, parts, plan.nodes.map((n) => n.name), plan.pipes ?? [], groupSplitting[g]!, (nodes) => this.finishGroup(group, nodes));
          }
          unit.copies.push(group);
        }
        else {
          /* a lone node, or a connected group run whole by each copy: the copies' results are compared once all are in */
          const outcomes = new Array<ReplicaOutcome>(copies);
          let waiting = copies;
          for (let k = 1; k <= copies; k++) {
            const kept = new Map<string, Uint8Array>();
            unit.copies.push({
              job,
              group: g,
              members,
              files,
              replica: k,
              onFile: (path, bytes) => kept.set(path, bytes),
              settle: (nodes) => {
                outcomes[k - 1] = { nodes, files: kept };
                if (--waiting > 0) return;
                const settled = settleReplicas(members.map((i) => ({ name: plan.nodes[i]!.name, readsPipe: readsPipe(plan.nodes[i]!) })), outcomes);
                try {
                  for (const [path, bytes] of settled.files) this.writeOutput(path, bytes);
                  settle(settled.nodes);
                } catch (error) {
                  settle(members.map(() => failedNode('', 'OutputWriteError', `the front end could not write an output file: ${(error as Error).message}`)));
                }
              },
            });
          }
        }
        planned.push(unit);
        for (const copy of unit.copies) {
          groups.push(copy);
          this.pending.set(keyOf(copy), copy);
        }
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
        while (next < planned.length && !failed) {
          const unit = planned[next++]!;
          const first = unit.copies[0]!;
          const split = first.split;
          if (split !== undefined) {
            try {
              const inline = { left: INLINE_TASK_BUDGET };
              const wire = await Promise.all(first.members.map(async (i) => [i, await this.wireNode(plan.nodes[i]!, i, unit.files, inline)] as const));
              if (this.pending.has(keyOf(first))) await split.start(new Map(wire));
            } catch (error) {
              const message = `the front end could not send the group's parts: ${(error as Error).message}`;
              split.abort();
              this.finishGroup(first, first.members.map(() => failedNode('', 'InputReadError', message)));
            }
            continue;
          }
          let task: TaskMessage;
          let wanted: WantedBlob[];
          try {
            const inline = { left: INLINE_TASK_BUDGET };
            const nodes = await Promise.all(unit.members.map((i) => this.wireNode(plan.nodes[i]!, i, unit.files, inline)));
            task = { version: 1, job, group: first.group, nodes, pipes: (plan.pipes ?? []).filter((p) => unit.members.some((i) => plan.nodes[i]!.name === p.from)) };
            wanted = unit.members.flatMap((i, k) => wantedBlobs(plan.nodes[i]!, nodes[k]!));
            for (const copy of unit.copies) copy.wanted = wanted;
          } catch (error) {
            const message = `the front end could not read what node needs: ${(error as Error).message}`;
            for (const copy of unit.copies) this.finishGroup(copy, unit.members.map(() => failedNode('', 'InputReadError', message)));
            continue;
          }
          if (unit.copies.every((copy) => !this.pending.has(keyOf(copy)))) continue; /* aborted meanwhile */
          try {
            const location = unit.members.map((i) => plan.nodes[i]!.location).find((l) => l !== undefined);
            if (unit.copies.length === 1) await this.dispatch(first, task, wanted, location, options.direct !== false);
            else await this.dispatchCopies(plan.nodes[unit.members[0]!]!.name, unit.copies, task, wanted);
          } catch (error) {
            if (failed) return;
            failed = true;
            abort();
            rejectJob(new Error(`the job could not be queued on NATS: ${(error as Error).message}`));
            return;
          }
        }
      };
      for (let i = 0; i < Math.min(PUBLISH_LANES, planned.length); i++) void lane();
    });
    const tracked = promise.finally(() => {
      this.running.delete(tracked);
      this.placer?.forgetJob(job);
      /*
       * One purge of the job's subjects in the bucket's stream (every group,
       * copy and part), not a replicated write per group; none when every
       * result came with a receipt, so none was stored (a worker that
       * stored one all the same says so: then it is purged).
       */
      this.jobsRunning.delete(job);
      const now = Date.now();
      this.jobsEnded.set(job, now);
      for (const [ended, at] of this.jobsEnded) {
        if (now - at < STRAY_WINDOW_MS) break;
        this.jobsEnded.delete(ended);
      }
      if (this.jobsToPurge.delete(job) || groups.some((group) => group.receipted !== true)) void this.conn.jsm.streams.purge(`KV_${RESULT_BUCKET}`, { filter: `$KV.${RESULT_BUCKET}.${job}.>` }).catch(() => undefined);
      for (const group of groups) void group.split?.cleanup();
    });
    this.running.add(tracked);
    return promise;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.stopWatch?.();
    this.direct?.stop();
    this.placer?.stop();
    this.placer?.view.stop();
    this.advisories?.unsubscribe();
    this.resultsHeard?.unsubscribe();
    this.storedHeard?.unsubscribe();
    clearInterval(this.silenceTimer);
    await this.conn.close();
  }

  private finishGroup(group: PendingGroup, nodes: readonly NodeResult[]): void {
    const key = keyOf(group);
    if (!this.pending.delete(key)) return;
    clearTimeout(group.timer);
    this.direct?.forget(key);
    this.placer?.untrack(key);
    group.settle(nodes);
  }

  private splitHost(): ConstructorParameters<typeof SplitGroup>[0] {
    return {
      js: this.conn.js,
      jsm: this.conn.jsm,
      results: this.conn.results,
      names: this.names,
      routes: this.splitRoutes,
      readNodes: (members, stored) => {
        const group = this.pending.get(resultKey(stored.job, stored.group));
        if (group === undefined) return Promise.reject(new Error('the job has ended'));
        return this.readNodes(members, group.files, stored);
      },
    };
  }

  /** A stored result's nodes (plan indexes `members`): outputs fetched, files written where the plan says. */
  private readNodes(members: readonly number[], files: ReadonlyMap<string, string>, stored: ResultEntry, onFile?: (path: string, bytes: Uint8Array) => void): Promise<NodeResult[]> {
    return Promise.all(
      stored.nodes.map(async (wire, k) => {
        const outputs: Record<string, Uint8Array> = {};
        for (const [alias, ref] of Object.entries(wire.outputs)) outputs[alias] = await this.blobs.getResult(ref);
        for (const [alias, ref] of Object.entries(wire.files)) {
          const path = files.get(`${members[k]}\0${alias}`);
          if (path === undefined) continue;
          const bytes = await this.blobs.getResult(ref);
          if (onFile !== undefined) onFile(path, bytes);
          else this.writeOutput(path, bytes);
        }
        const { files: _files, outputs: _outputs, ...rest } = wire;
        return { ...rest, outputs };
      }),
    );
  }

  /** A 'file' output's bytes: to the store of `zerovm serve --nats` when it takes them, else to the plan's path. */
  private writeOutput(path: string, bytes: Uint8Array): void {
    if (this.extra.takeOutput?.(path, bytes) !== true) writeAtomically(path, bytes);
  }

  /**
   * The pickup deadline passed. When no worker has taken the task (the
   * workers' consumer has not delivered its sequence yet) and none is
   * there to take it (no task is being worked on, no worker is waiting for
   * one), it is deleted from the stream, so no worker runs it later, and
   * its nodes fail. Workers that are all busy are not a reason: the
   * deadline starts again.
   */
  private async withdrawIfWaiting(group: PendingGroup): Promise<void> {
    if (group.seq === undefined || !this.pending.has(keyOf(group))) return;
    try {
      const info = await this.conn.jsm.consumers.info(TASK_STREAM, WORKER_CONSUMER);
      if (info.delivered.stream_seq >= group.seq) return; /* a worker has it: ack wait and redelivery take over */
      if (info.num_ack_pending > 0 || info.num_waiting > 0) {
        /* workers are there, busy with earlier tasks: wait another period */
        if (this.pending.has(keyOf(group))) group.timer = setTimeout(() => void this.withdrawIfWaiting(group), this.extra.pickupTimeoutMs);
        return;
      }
      if (!(await this.conn.jsm.streams.deleteMessage(TASK_STREAM, group.seq))) return;
    } catch {
      return; /* taken and acked meanwhile, or NATS unreachable: the result or redelivery decides */
    }
    const seconds = (this.extra.pickupTimeoutMs ?? 0) / 1000;
    const message = `no worker took the task within ${seconds} s (no \`zerovm worker\` is connected to this cluster)`;
    this.finishGroup(group, group.members.map(() => failedNode('', NO_WORKER, message)));
  }

  /** To the shared queue, where any worker takes it. */
  private async publishShared(group: PendingGroup, task: TaskMessage): Promise<void> {
    const { claim: _claim, ...shared } = task;
    /* retried through a NATS server's death; the message id makes a second copy a duplicate JetStream drops */
    const ack = await retryingNats(() => this.conn.js.publish(taskSubject(group.job), JSON.stringify(shared), { msgID: `${group.job}.${group.group}` }));
    group.seq = ack.seq;
    if (this.extra.pickupTimeoutMs !== undefined && this.pending.has(keyOf(group))) group.timer = setTimeout(() => void this.withdrawIfWaiting(group), this.extra.pickupTimeoutMs);
  }

  /**
   * A group's task: directly to a free worker (placement's choice when it
   * has a free slot), else to the worker placement prefers, else to the
   * shared queue.
   */
  private async dispatch(group: PendingGroup, task: TaskMessage, wanted: readonly WantedBlob[], location: string | undefined, direct: boolean): Promise<void> {
    const worker = this.placer?.choose(group.job, wanted, location, task.nodes.length);
    if (worker !== undefined) this.placer!.anchor(group.job, location, worker.entry.token);
    if (direct && (await this.sendDirect(group, task, wanted, location === undefined ? undefined : worker))) return;
    if (!this.pending.has(keyOf(group))) return; /* aborted, or answered, while the offer was out */
    if (this.placer === undefined || worker === undefined || this.direct?.isGone(worker) === true) return this.publishShared(group, task);
    await this.placer.send(
      {
        key: keyOf(group),
        wanted,
        toSharedQueue: () => this.publishShared(group, task),
        fail: (kind, message) => this.finishGroup(group, group.members.map(() => failedNode('', kind, message))),
      },
      task,
      worker.entry.token,
    );
  }

  /** Offers the task to a free worker (direct.ts): true when one took it. */
  private async sendDirect(group: PendingGroup, task: TaskMessage, wanted: readonly WantedBlob[], anchored: KnownWorker | undefined): Promise<boolean> {
    if (this.direct === undefined) return false;
    const worker = this.direct.choose(wanted, anchored, task.nodes.length);
    if (worker === undefined) {
      this.notOffered++;
      return false;
    }
    const { claim: _claim, ...plain } = task;
    const accepted = await this.direct.offer(keyOf(group), JSON.stringify(plain), worker.entry.token, () => void this.requeue(group, task));
    if (accepted && this.pending.has(keyOf(group))) group.direct = worker.entry.name;
    return accepted;
  }

  /** A direct task whose worker died or gave it back: its stored result if there is one, else the shared queue. */
  private async requeue(group: PendingGroup, task: TaskMessage): Promise<void> {
    const key = keyOf(group);
    if (!this.pending.has(key)) return;
    group.direct = undefined;
    try {
      const entry = await retryingNats(() => this.conn.results.get(key));
      if (entry !== null && entry.operation === 'PUT') return void (await this.onResult(entry));
    } catch {
      /* NATS unreachable for a minute: queue it all the same */
    }
    try {
      if (this.pending.has(key)) await this.publishShared(group, task);
    } catch (error) {
      this.finishGroup(group, group.members.map(() => failedNode('', 'QueueError', `the task could not be queued again on NATS: ${(error as Error).message}`)));
    }
  }

  /** The copies of a replicated node, each to a different worker (with etags on, to be compared). */
  private async dispatchCopies(name: string, copies: readonly PendingGroup[], task: TaskMessage, wanted: readonly WantedBlob[]): Promise<void> {
    const placer = this.placer!;
    const workers = placer.chooseDistinct(wanted, copies.length, new Set());
    if (workers.length < copies.length) {
      const message = `node '${name}' asks for replicate: ${copies.length}, which runs each copy on a different worker, but ${workers.length} live worker${workers.length === 1 ? ' is' : 's are'} registered: start more workers or lower replicate`;
      for (const copy of copies) this.finishGroup(copy, copy.members.map(() => failedNode('', 'ReplicationUnavailable', message)));
      return;
    }
    const siblings = new Set<string>();
    for (const [k, copy] of copies.entries()) {
      const replicaTask: TaskMessage = { ...task, replica: copy.replica!, nodes: task.nodes.map((node) => ({ ...node, etags: true })) };
      await placer.send(
        {
          key: keyOf(copy),
          wanted,
          siblings,
          toSharedQueue: () => Promise.reject(new Error('a copy of a replicated node never goes to the shared queue')),
          fail: (kind, message) => this.finishGroup(copy, copy.members.map(() => failedNode('', kind, message))),
        },
        replicaTask,
        workers[k]!.entry.token,
      );
    }
  }

  private async onResult(entry: { readonly key: string; json<T>(): T }): Promise<void> {
    const split = this.splitRoutes.get(entry.key);
    if (split !== undefined) {
      let stored: ResultEntry;
      try {
        stored = entry.json<ResultEntry>();
      } catch {
        return;
      }
      return split.onResult(stored);
    }
    const group = this.pending.get(entry.key);
    if (group === undefined || group.claimed === true) return; /* another front end's job, one that ended, or heard already (subject and watch both bring it) */
    group.claimed = true;
    this.lastResultAt = Date.now();
    let nodes: NodeResult[];
    try {
      nodes = await this.readNodes(group.members, group.files, entry.json<ResultEntry>(), group.onFile);
    } catch (error) {
      const message = `the result stored by a worker could not be read back: ${(error as Error).message}`;
      nodes = group.members.map(() => failedNode('', 'ResultUnreadable', message));
    }
    const ranOn = nodes[0]?.ranOn;
    if (ranOn !== undefined) this.placer?.view.noteFinished(ranOn, (group.wanted ?? []).map((w) => w.prefix));
    this.finishGroup(group, nodes);
  }

  /** A plan's file as a blob: an object already in the cluster, or the host file's bytes. */
  private fileBlob(path: string): Promise<BlobRef> {
    return this.extra.blobFor?.(path) ?? this.blobs.putFile(path);
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
      if ('ring' in given) throw new JobPlanError(`node ${node.name}: a ring in this process's memory cannot be sent to another host; name a pipe of the plan`);
      return this.fileBlob(given.file);
    };
    const output = (alias: string, given: NodeOutput | undefined): WireOutput | undefined => {
      if (given === undefined || given === 'buffer' || given === 'discard') return given;
      if ('pipe' in given) return { pipe: given.pipe };
      if ('ring' in given) throw new JobPlanError(`node ${node.name}: a ring in this process's memory cannot be sent to another host; name a pipe of the plan`);
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
      program: await this.fileBlob(node.program),
      /* what a session on one host gives: the program file's base name (the worker's copy is named by its hash) */
      argv0: node.argv0 ?? basename(node.program),
      ...(node.args === undefined ? {} : { args: node.args }),
      ...(node.env === undefined ? {} : { env: node.env }),
      ...(stdin === undefined ? {} : { stdin }),
      ...(stdout === undefined ? {} : { stdout }),
      ...(stderr === undefined ? {} : { stderr }),
      ...(channels.length === 0 ? {} : { channels }),
      ...(channelLimits === undefined ? {} : { channelLimits }),
      ...(node.image === undefined ? {} : { image: await this.fileBlob(node.image) }),
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

/** A pending task's key in the results bucket. */
function keyOf(group: PendingGroup): string {
  return resultKey(group.job, group.group, undefined, group.replica);
}
