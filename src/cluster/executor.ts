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
import { BlobStore } from './blobs.js';
import { ensureWorkerConsumer, openCluster, type ClusterConnection, type DeliveryOptions, type NatsOptions } from './connection.js';
import { Placer, wantedBlobs, type PlacementOptions, type WantedBlob } from './placement.js';
import { openPlacementStores, RegistryView } from './registry.js';
import { settleReplicas, type ReplicaOutcome } from './replicate.js';
import { encodeLimits, resultKey, TASK_STREAM, taskSubject, WORKER_CONSUMER, type ResultEntry, type TaskMessage, type WireChannel, type WireInput, type WireNode, type WireOutput } from './protocol.js';

export interface NatsExecutorOptions extends NatsOptions, DeliveryOptions, PlacementOptions {}

/** A group sent as a task and not yet answered. */
interface PendingGroup {
  readonly job: string;
  readonly group: number;
  /** Indexes of the group's nodes in the plan. */
  readonly members: readonly number[];
  /** 'file' outputs and read-write files: where their bytes go, by node index and alias. */
  readonly files: ReadonlyMap<string, string>;
  seq?: number;
  readonly settle: (nodes: readonly NodeResult[]) => void;
  /** Copy k of a replicated node (its result key ends in `.r<k>`). */
  readonly replica?: number;
  /** Set for copies of a replicated node: file bytes are kept for the comparison rather than written. */
  readonly onFile?: (path: string, bytes: Uint8Array) => void;
  /** Blob prefixes the task reads (placement): the worker that ran it holds them afterwards. */
  wanted?: readonly WantedBlob[];
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
  private stopWatch: (() => void) | undefined;
  /** Absent with `placement: false`: every task goes to the shared queue. */
  private placer: Placer | undefined;

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
    if (options.placement !== false) {
      const stores = await openPlacementStores(conn, options.replicas);
      const view = new RegistryView(stores.registry);
      await view.start();
      executor.placer = new Placer(conn, stores, view, maxDeliver, options);
    }
    await executor.listen();
    return executor;
  }

  /** Copies of a node this executor runs at most: a front end passes it as DescriptionLimits.maxReplicate (3; 1 without placement). */
  get maxReplicate(): number {
    return this.placer === undefined ? 1 : 3;
  }

  /** Bytes this front end put into and got from the blob bucket. */
  get bytesMoved(): { put: number; got: number } {
    return { put: this.blobs.bytesPut, got: this.blobs.bytesGot };
  }

  private async listen(): Promise<void> {
    /* one watch for every job: results stored from now on */
    const watch = await this.conn.results.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) if (entry.operation === 'PUT') void this.onResult(entry);
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

  run(plan: JobPlan, options: { readonly signal?: AbortSignal } = {}): Promise<JobResult> {
    if (this.closing) return Promise.reject(new JobPlanError('the executor is closed'));
    let checked;
    try {
      checked = checkPlan(plan, { replicas: true });
      for (const members of checked.groups) {
        const copied = members.find((i) => (plan.nodes[i]!.replicate ?? 1) > 1);
        if (copied !== undefined && members.length > 1) throw new JobPlanError(`node '${plan.nodes[copied]!.name}' asks for replicate: ${plan.nodes[copied]!.replicate}, but pipes connect it to other nodes; replicating a connected group is not supported: leave replicate out there`);
        if (copied !== undefined && this.placer === undefined) throw new JobPlanError(`node '${plan.nodes[copied]!.name}' asks for replicate: ${plan.nodes[copied]!.replicate}, which needs placement (the executor was made with placement: false)`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const job = randomUUID().replaceAll('-', '');
    const results = new Array<NodeResult>(plan.nodes.length);
    const groups: PendingGroup[] = [];
    const planned: PlannedGroup[] = [];
    const promise = new Promise<JobResult>((resolveJob, rejectJob) => {
      let left = checked.groups.length;
      const abort = (): void => {
        for (const group of groups) {
          if (!this.pending.has(resultKey(group.job, group.group, group.replica))) continue;
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
        if (copies === 1) unit.copies.push({ job, group: g, members, files, settle });
        else {
          /* a lone node: its copies' results are compared once all are in */
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
                outcomes[k - 1] = { node: nodes[0]!, files: kept };
                if (--waiting > 0) return;
                const settled = settleReplicas(plan.nodes[members[0]!]!.name, outcomes);
                try {
                  for (const [path, bytes] of settled.files) writeAtomically(path, bytes);
                  settle([settled.node]);
                } catch (error) {
                  settle([failedNode('', 'OutputWriteError', `the front end could not write an output file: ${(error as Error).message}`)]);
                }
              },
            });
          }
        }
        planned.push(unit);
        for (const copy of unit.copies) {
          groups.push(copy);
          this.pending.set(resultKey(job, g, copy.replica), copy);
        }
      });
      options.signal?.addEventListener('abort', abort, { once: true });
      if (options.signal?.aborted === true) return abort();
      void (async () => {
        for (const unit of planned) {
          const first = unit.copies[0]!;
          let task: TaskMessage;
          let wanted: WantedBlob[];
          try {
            const nodes = await Promise.all(unit.members.map((i) => this.wireNode(plan.nodes[i]!, i, unit.files)));
            task = { version: 1, job, group: first.group, nodes, pipes: (plan.pipes ?? []).filter((p) => unit.members.some((i) => plan.nodes[i]!.name === p.from)) };
            wanted = unit.members.flatMap((i, k) => wantedBlobs(plan.nodes[i]!, nodes[k]!));
            for (const copy of unit.copies) copy.wanted = wanted;
          } catch (error) {
            const message = `the front end could not read what node needs: ${(error as Error).message}`;
            for (const copy of unit.copies) this.finishGroup(copy, unit.members.map(() => failedNode('', 'InputReadError', message)));
            continue;
          }
          if (unit.copies.every((copy) => !this.pending.has(resultKey(job, copy.group, copy.replica)))) continue; /* aborted meanwhile */
          try {
            const location = unit.members.map((i) => plan.nodes[i]!.location).find((l) => l !== undefined);
            if (unit.copies.length === 1) await this.dispatch(first, task, wanted, location);
            else await this.dispatchCopies(plan.nodes[unit.members[0]!]!.name, unit.copies, task, wanted);
          } catch (error) {
            abort();
            rejectJob(new Error(`the job could not be queued on NATS: ${(error as Error).message}`));
            return;
          }
        }
      })();
    });
    const tracked = promise.finally(() => {
      this.running.delete(tracked);
      this.placer?.forgetJob(job);
      for (const group of groups) void this.conn.results.purge(resultKey(group.job, group.group, group.replica)).catch(() => undefined);
    });
    this.running.add(tracked);
    return promise;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.stopWatch?.();
    this.placer?.stop();
    this.placer?.view.stop();
    this.advisories?.unsubscribe();
    await this.conn.close();
  }

  private finishGroup(group: PendingGroup, nodes: readonly NodeResult[]): void {
    const key = resultKey(group.job, group.group, group.replica);
    if (!this.pending.delete(key)) return;
    this.placer?.untrack(key);
    group.settle(nodes);
  }

  /** To the shared queue, where any worker takes it. */
  private async publishShared(group: PendingGroup, task: TaskMessage): Promise<void> {
    const { claim: _claim, ...shared } = task;
    const ack = await this.conn.js.publish(taskSubject(group.job), JSON.stringify(shared), { msgID: `${group.job}.${group.group}` });
    group.seq = ack.seq;
  }

  /** A group's task to the worker placement prefers, or else to the shared queue. */
  private async dispatch(group: PendingGroup, task: TaskMessage, wanted: readonly WantedBlob[], location: string | undefined): Promise<void> {
    const worker = this.placer?.choose(group.job, wanted, location);
    if (this.placer === undefined || worker === undefined) return this.publishShared(group, task);
    this.placer.anchor(group.job, location, worker.entry.token);
    await this.placer.send(
      {
        key: resultKey(group.job, group.group),
        wanted,
        toSharedQueue: () => this.publishShared(group, task),
        fail: (kind, message) => this.finishGroup(group, group.members.map(() => failedNode('', kind, message))),
      },
      task,
      worker.entry.token,
    );
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
          key: resultKey(copy.job, copy.group, copy.replica),
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

  private async onResult(entry: KvEntry): Promise<void> {
    const group = this.pending.get(entry.key);
    if (group === undefined) return; /* another front end's job, or one that ended */
    let nodes: NodeResult[];
    try {
      const stored = entry.json<ResultEntry>();
      nodes = await Promise.all(
        stored.nodes.map(async (wire, k) => {
          const outputs: Record<string, Uint8Array> = {};
          for (const [alias, ref] of Object.entries(wire.outputs)) outputs[alias] = await this.blobs.getResult(ref);
          for (const [alias, ref] of Object.entries(wire.files)) {
            const path = group.files.get(`${group.members[k]}\0${alias}`);
            if (path === undefined) continue;
            const bytes = await this.blobs.getResult(ref);
            if (group.onFile !== undefined) group.onFile(path, bytes);
            else writeAtomically(path, bytes);
          }
          const { files: _files, outputs: _outputs, ...rest } = wire;
          return { ...rest, outputs };
        }),
      );
    } catch (error) {
      const message = `the result stored by a worker could not be read back: ${(error as Error).message}`;
      nodes = group.members.map(() => failedNode('', 'ResultUnreadable', message));
    }
    const ranOn = nodes[0]?.ranOn;
    if (ranOn !== undefined) this.placer?.view.noteFinished(ranOn, (group.wanted ?? []).map((w) => w.prefix));
    this.finishGroup(group, nodes);
  }

  /** A node as a task carries it: blobs for bytes, no host path. */
  private async wireNode(node: NodePlan, index: number, files: Map<string, string>): Promise<WireNode> {
    const input = async (given: NodeInput | undefined): Promise<WireInput | undefined> => {
      if (given === undefined) return undefined;
      if ('pipe' in given) return { pipe: given.pipe };
      if ('bytes' in given) return { ...(await this.blobs.put(given.bytes)), bytes: true };
      return this.blobs.put(readFileSync(given.file));
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
      program: await this.blobs.put(readFileSync(node.program)),
      /* what a session on one host gives: the program file's base name (the worker's copy is named by its hash) */
      argv0: node.argv0 ?? basename(node.program),
      ...(node.args === undefined ? {} : { args: node.args }),
      ...(node.env === undefined ? {} : { env: node.env }),
      ...(stdin === undefined ? {} : { stdin }),
      ...(stdout === undefined ? {} : { stdout }),
      ...(stderr === undefined ? {} : { stderr }),
      ...(channels.length === 0 ? {} : { channels }),
      ...(channelLimits === undefined ? {} : { channelLimits }),
      ...(node.image === undefined ? {} : { image: await this.blobs.put(readFileSync(node.image)) }),
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
