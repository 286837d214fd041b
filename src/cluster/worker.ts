/**
 * A cluster worker (`zerovm worker --nats ...`): pulls tasks from the
 * JetStream work queue, runs each task's nodes on a local
 * WorkerPoolExecutor, stores the result, and only then acknowledges the
 * task (spec/cluster.md, "Acknowledgement and redelivery").
 *
 * Where: src/cluster, above src/jobs. A worker killed at any point leaves
 * its unacknowledged tasks to JetStream, which hands them to another worker
 * after the consumer's ack wait; while a task runs, the worker signals
 * progress every third of the ack wait (at least every second), so a long node is not redelivered
 * while its worker lives. A task whose result is already stored (the
 * worker died between storing and acknowledging) is acknowledged without
 * running again: sessions are deterministic, so the stored result is the
 * one a rerun would give. A task that is one part of a split group
 * gang-starts with the group's other parts and streams its crossing pipes
 * to their workers (part-runner.ts; spec/cluster.md, "Pipes between
 * workers").
 *
 * It also keeps its entry in the worker registry (registry.ts) and pulls
 * the tasks front ends send to it alone (placement.ts), claiming each
 * before running it.
 *
 * Its slots are sessions, not tasks (slots.ts; spec/cluster.md, "Slots are
 * sessions"): its shared pulls, its targeted pull and the direct offers it
 * answers share one count, and a task that needs more slots than are free
 * is handed back at once.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync, chmodSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { EngineName } from '../api/engine-choice.js';
import type { JobPlan, JobResult, NodeChannel, NodeInput, NodeOutput, NodePlan, NodeResult } from '../jobs/executor.js';
import { JobPlanError } from '../jobs/plan.js';
import { WorkerPoolExecutor } from '../jobs/pool.js';
import { failedNode } from '../jobs/run-node.js';
import { BlobMissingError, BlobStore } from './blobs.js';
import { ensureWorkerConsumer, openCluster, type ClusterConnection, type NatsOptions } from './connection.js';
import { NameService } from './name-service.js';
import { PipeListener, pipeTlsFrom, type PipeTls } from './net-pipe.js';
import { runPart } from './part-runner.js';
import { claimTask, ensureTargetConsumer } from './placement.js';
import { directSubject, type DirectWord } from './direct.js';
import { DEFAULT_HEARTBEAT_MS, openPlacementStores, TARGET_STREAM, WorkerAdvert, workerToken, type PlacementStores } from './registry.js';
import { retryingNats } from './retry.js';
import { SessionSlots } from './slots.js';
import { decodeLimits, parseTask, RECEIPT_WAIT_MS, storedSubject, resultKey, resultSubject, TASK_STREAM, WireFormatError, WORKER_CONSUMER, type ResultEntry, type WireBytes, type TaskMessage, type WireInput, type WireNode, type WireNodeResult, type WireOutput } from './protocol.js';

export interface ClusterWorkerOptions extends NatsOptions {
  /** Sessions at once (the local pool's threads): a task of k nodes takes k slots (all of them when k is more). Default 1. */
  readonly slots?: number;
  /** The engine of nodes that name none. */
  readonly engine?: EngineName;
  /** How this worker is named in results ("where it ran"). Default host:pid. */
  readonly workerName?: string;
  /** Blob cache and task directories. Default a new directory under the system's temporary one. */
  readonly workDir?: string;
  /** A line of progress (the command prints it on stderr). */
  readonly log?: (line: string) => void;
  /* --- pipes between workers (spec/cluster.md, "Pipes between workers") --- */
  /** The address this worker listens on for pipes from other workers, and publishes. Default the host's name. */
  readonly pipeHost?: string;
  /** How long a part of a split group waits for the other parts to have workers before it lets its slot go. Default 10 000 ms. */
  readonly gangWaitMs?: number;
  /** How often its registry entry is rewritten at least (front ends count it dead after three missed). Default 2000 ms. */
  readonly heartbeatMs?: number;
}

/** A file the session writes whose bytes go back to the front end. */
interface ReturnedFile {
  readonly node: number;
  readonly alias: string;
  readonly path: string;
}

export class ClusterWorker {
  readonly name: string;
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private tasksDone = 0;
  /* --- pipes between workers --- */
  private names: NameService | undefined;
  private pipeListener: Promise<PipeListener> | undefined;
  /** With the NATS TLS options (CA, certificate, key), pipes between workers are TLS too (net-pipe.ts). */
  private readonly pipeTls: PipeTls | undefined;
  /* registry and placement (spec/cluster.md, "Worker registry", "Placement") */
  /** Slots in use, in sessions: what every path that takes a task takes first (slots.ts). */
  private readonly slots: SessionSlots;
  /** Shared-queue pulls out: at most the free slots. */
  private sharedPulls = 0;
  /** Tasks offered directly (direct.ts) running now. */
  private directRunning = 0;
  private draining = false;
  private advert: WorkerAdvert | undefined;
  private stores: PlacementStores | undefined;
  private readonly targeted = new Set<Promise<void>>();
  private maxDeliver = 1;
  /** When maxDeliver was last read from the consumer (a front end may change it). */
  private maxDeliverReadAt = 0;
  /** The subscription of tasks offered directly (direct.ts). */
  private direct: Subscription | undefined;
  /* receipts of results (spec/cluster.md, "Results") */
  private readonly receiptInbox = createInbox();
  private receiptCount = 0;
  private readonly receiptWaits = new Map<string, () => void>();
  private receipts: Subscription | undefined;

  private constructor(
    private readonly conn: ClusterConnection,
    private readonly pool: WorkerPoolExecutor,
    private readonly blobs: BlobStore,
    private readonly workDir: string,
    private readonly ackWaitMs: number,
    private readonly options: ClusterWorkerOptions,
  ) {
    this.name = options.workerName ?? `${hostname()}:${process.pid}`;
    this.pipeTls = pipeTlsFrom(options);
    this.slots = new SessionSlots(options.slots ?? 1);
  }

  static async start(options: ClusterWorkerOptions): Promise<ClusterWorker> {
    const slots = options.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`--slots must be a whole number of at least 1, not ${slots}`);
    const conn = await openCluster({ ...options, name: options.workerName ?? `zerovm worker ${hostname()}:${process.pid}` });
    const { ackWaitMs, maxDeliver } = await ensureWorkerConsumer(conn.jsm, {}, false);
    const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'zerovm-worker-'));
    mkdirSync(workDir, { recursive: true });
    const pool = new WorkerPoolExecutor({ workers: slots });
    await pool.warm();
    const worker = new ClusterWorker(conn, pool, new BlobStore(conn.blobs, join(workDir, 'blobs')), workDir, ackWaitMs, options);
    worker.names = await NameService.open(conn.nc, options.replicas ?? 1, options.keepMs ?? 24 * 3600_000);
    await worker.register(slots);
    worker.maxDeliver = maxDeliver > 0 ? maxDeliver : Infinity;
    worker.maxDeliverReadAt = Date.now();
    for (let i = 0; i < slots; i++) worker.loops.push(worker.pullLoop());
    return worker;
  }

  get completed(): number {
    return this.tasksDone;
  }

  /** Bytes this worker fetched from and stored into the blob bucket (what moved between hosts beside task and result messages). */
  get bytesMoved(): { put: number; got: number } {
    return { put: this.blobs.bytesPut, got: this.blobs.bytesGot };
  }

  /** Stops pulling, finishes the tasks it holds (drain), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.draining = true;
    this.direct?.unsubscribe();
    this.advert?.changed();
    /* loops waiting for a slot end; a task waiting for slots on its last delivery is handed back */
    this.slots.close();
    await Promise.all(this.loops);
    while (this.targeted.size > 0) await Promise.allSettled([...this.targeted]);
    await this.advert?.stop();
    this.receipts?.unsubscribe();
    await this.pool.close();
    if (this.pipeListener !== undefined) await (await this.pipeListener).close();
    await this.conn.close();
  }

  /** Its registry entry, and the loop that pulls the tasks sent to it alone. */
  private async register(slots: number): Promise<void> {
    this.stores = await openPlacementStores(this.conn, this.options.replicas);
    const token = workerToken(this.name);
    this.advert = new WorkerAdvert(
      this.stores.registry,
      { name: this.name, token, host: hostname(), pid: process.pid, engine: this.options.engine ?? 'auto', slots, started: new Date().toISOString(), heartbeatMs: this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS },
      () => ({ running: this.slots.inUse, direct: this.directRunning, done: this.tasksDone, draining: this.draining }),
      join(this.workDir, 'blobs'),
      (line) => this.log(line),
    );
    await this.advert.start();
    const consumer = await ensureTargetConsumer(this.conn.jsm, token, this.ackWaitMs);
    this.loops.push(this.targetLoop(consumer));
    this.receipts = this.conn.nc.subscribe(`${this.receiptInbox}.>`, {
      callback: (error, message) => {
        if (error === null) this.receiptWaits.get(message.subject.slice(this.receiptInbox.length + 1))?.();
      },
    });
    this.direct = this.conn.nc.subscribe(directSubject(token), {
      callback: (error, message) => {
        if (error === null) this.offered(message);
      },
    });
  }

  /**
   * Tasks sent to this worker alone, pulled while a slot is free (one pull
   * at a time, beside the shared ones): each runs beside the shared loops'
   * tasks when its sessions fit the free slots, else goes back unclaimed
   * (its front end sends it to the shared queue once `targetWaitMs` passes
   * unclaimed, placement.ts).
   */
  private async targetLoop(consumerName: string): Promise<void> {
    const consumer = await this.conn.js.consumers.get(TARGET_STREAM, consumerName);
    while (!this.stopping) {
      await this.slots.until(() => this.stopping || (!this.slots.queued && this.slots.free > 0));
      if (this.stopping) return;
      const message = await this.pull(consumer, 'a task sent to this worker');
      if (message === null) continue;
      const task = this.parse(message);
      if (task === undefined) continue;
      const need = this.slots.needOf(task.nodes.length);
      /* taken before any await: the shared pulls and direct offers see it */
      if (!this.slots.tryTake(need)) {
        this.handBack(message, task, need);
        continue;
      }
      const running = this.perform(message, task, need).finally(() => this.targeted.delete(running));
      this.targeted.add(running);
    }
  }

  /** A pulled task whose sessions the free slots cannot hold: back to its stream at once, for another worker (or this one later). */
  private handBack(message: JsMsg, task: TaskMessage, need: number): void {
    this.log(`handing task ${resultKey(task.job, task.group, task.part, task.replica)} back: it needs ${need} slot${need === 1 ? '' : 's'}, ${this.slots.free} of ${this.slots.total} free${this.slots.queued ? ' and a task waits for slots' : ''}`);
    message.nak(HAND_BACK_MIN_MS + Math.floor(Math.random() * HAND_BACK_SPREAD_MS));
  }

  private log(line: string): void {
    this.options.log?.(`zerovm worker ${this.name}: ${line}`);
  }

  /** The next message, or null when none came within a second or pulling failed (said, then after a pause). */
  private async pull(consumer: Consumer, what: string): Promise<JsMsg | null> {
    try {
      return await consumer.next({ expires: 1000 });
    } catch (error) {
      if (this.stopping) return null;
      this.log(`pulling ${what} failed (${(error as Error).message}); trying again`);
      await new Promise((r) => setTimeout(r, 500));
      return null;
    }
  }

  /*
   * One pull per free slot (spec/cluster.md, "Acknowledgement and
   * redelivery"): a worker never holds a shared task it cannot start, so a
   * long task never keeps another waiting behind it while some other worker
   * is idle. (A long-lived `consume()` saves a request per task, but its
   * client asks for more messages as soon as one arrives: measured, it left
   * workers idle beside one holding two long tasks.)
   */
  private async pullLoop(): Promise<void> {
    const consumer = await this.conn.js.consumers.get(TASK_STREAM, WORKER_CONSUMER);
    while (!this.stopping) {
      /* slots in use (by tasks of any path) and pulls out together never exceed the slots */
      await this.slots.until(() => this.stopping || (!this.slots.queued && this.slots.inUse + this.sharedPulls < this.slots.total));
      if (this.stopping) return;
      this.sharedPulls++;
      let message: JsMsg | null;
      try {
        message = await this.pull(consumer, 'a task');
      } finally {
        this.sharedPulls--;
        this.slots.changed();
      }
      if (message === null) continue;
      const task = this.parse(message);
      if (task === undefined) continue;
      const need = this.slots.needOf(task.nodes.length);
      /*
       * Taken before any await. Too few free slots (a task sent to this
       * worker alone or offered directly took them while the pull was out,
       * or the task has more sessions than are free): back to the queue at
       * once for another worker, unless this is its last delivery; then it
       * waits here for its slots, first in line, saying it is still being
       * worked on. Never into the pool's queue: two parts of one group
       * there, one running and one waiting for a thread, stall on their pipe.
       */
      if (!this.slots.tryTake(need)) {
        if (message.info.deliveryCount < (await this.maxDeliverNow())) {
          this.handBack(message, task, need);
          continue;
        }
        const held = message;
        const progress = setInterval(() => held.working(), progressEvery(this.ackWaitMs));
        const took = await this.slots.take(need).finally(() => clearInterval(progress));
        if (!took) {
          message.nak(); /* the worker stops (drain) */
          continue;
        }
      }
      await this.perform(message, task, need);
    }
  }

  /**
   * The consumer's max deliver, read again when a second old: a front end
   * that lowered it would otherwise see a task handed back on what is
   * really its last delivery, and fail it. Unreadable (NATS trouble): the
   * last value read.
   */
  private async maxDeliverNow(): Promise<number> {
    if (Date.now() - this.maxDeliverReadAt >= 1000) {
      try {
        const max = (await this.conn.jsm.consumers.info(TASK_STREAM, WORKER_CONSUMER)).config.max_deliver ?? -1;
        /* 0 or -1: JetStream's "no limit" */
        this.maxDeliver = max > 0 ? max : Infinity;
        this.maxDeliverReadAt = Date.now();
      } catch {
        /* keep the last value */
      }
    }
    return this.maxDeliver;
  }

  /** The task a message carries; undefined (and the message terminated) when malformed. */
  private parse(message: JsMsg): TaskMessage | undefined {
    try {
      return parseTask(message.string());
    } catch (error) {
      this.log(`dropping a malformed task (${(error as WireFormatError).message})`);
      message.term();
      return undefined;
    }
  }

  /**
   * A task a front end offers this worker directly (direct.ts): taken when
   * its sessions fit the free slots (said at once, before any await, so the
   * slots are counted before anything else can take them), else `busy`, and
   * the front end queues it on the stream.
   */
  private offered(message: Msg): void {
    const answer = (word: DirectWord): void => {
      try {
        if (message.reply !== undefined) this.conn.nc.publish(message.reply, word);
      } catch {
        /* the connection is closing: the front end's deadline queues the task */
      }
    };
    if (this.stopping || this.slots.free === 0 || this.slots.queued) return answer('busy');
    let task: TaskMessage;
    try {
      task = parseTask(message.string());
      if (task.part !== undefined || task.claim !== undefined) throw new WireFormatError(`task ${task.job}: a part of a split group or a claimed task is never sent directly`);
    } catch (error) {
      this.log(`refusing a malformed direct task (${(error as WireFormatError).message})`);
      return answer('busy');
    }
    if (message.reply === undefined) return;
    const need = this.slots.needOf(task.nodes.length);
    if (!this.slots.tryTake(need)) return answer('busy');
    this.directRunning++;
    const running = this.perform(new DirectDelivery(this.conn.nc, message.reply), task, need).finally(() => this.targeted.delete(running));
    this.targeted.add(running);
    answer('accepted');
  }

  /** Runs a task from the stream or offered directly (`message`: how it is acknowledged) in the `need` slots its caller took, stores its result, acknowledges it. */
  private async perform(message: JsMsg | DirectDelivery, task: TaskMessage, need: number): Promise<void> {
    /*
     * A task sent to this worker alone runs while its claim is being made
     * (a replicated write: its time overlaps the session's); the result is
     * stored only if the claim is this worker's. A refused claim means its
     * front end gave up waiting and sent it elsewhere (placement.ts).
     */
    const claimed = task.claim === undefined ? Promise.resolve(true) : claimTask(this.stores!.claims, task.claim, this.name).catch(() => false);
    const key = resultKey(task.job, task.group, task.part, task.replica);
    this.advert?.changed();
    let released = false;
    /* the slot is free once the sessions end: said in the registry before the result is stored, so front ends that see the result see a free slot */
    const release = (): void => {
      if (released) return;
      released = true;
      if (message instanceof DirectDelivery) this.directRunning--;
      this.slots.give(need);
      this.advert?.changed(true);
    };
    const progress = setInterval(() => message.working(), progressEvery(this.ackWaitMs));
    /*
     * Made only for a task that writes files: a directory made and removed
     * per task cost 3-5 ms of blocked event loop on an ext4 /tmp (measured),
     * more than a short session.
     */
    let madeDir: string | undefined;
    const dir = (): string => (madeDir ??= mkdtempSync(join(this.workDir, 'task-')));
    try {
      /* only a redelivered task can have a result already */
      if (message.info.deliveryCount > 1 && (await retryingNats(() => this.conn.results.get(key)))?.operation === 'PUT') {
        this.log(`task ${key} already has a result; acknowledging it`);
        await message.ackAck();
        return;
      }
      this.log(`running task ${key} (${task.nodes.length} node${task.nodes.length === 1 ? '' : 's'}, ${message instanceof DirectDelivery ? 'offered directly' : `delivery ${message.info.deliveryCount}`}${task.claim === undefined ? '' : ', sent to this worker'})`);
      let entry: ResultEntry;
      if (task.part === undefined) {
        const nodes = await this.runTask(task, dir);
        release();
        if (!(await claimed)) {
          this.log(`task ${task.claim} was taken back by its front end; dropping its result`);
          message.ack();
          return;
        }
        entry = { version: 1, job: task.job, group: task.group, ...(task.replica === undefined ? {} : { replica: task.replica }), nodes };
      } else {
        /* one part of a split group (part-runner.ts); never targeted, never replicated, never direct */
        if (message instanceof DirectDelivery) throw new Error('a part of a split group came directly');
        const part = await runPart({ ...task, part: task.part }, message, this.partContext(), (run) => this.runTask(task, dir, run), this.pool);
        release();
        if (part.kind === 'drop') {
          this.log(`task ${key}: the front end gave this run of the group up; acknowledging it`);
          message.ack();
          return;
        }
        if (part.kind === 'retry') {
          message.nak(200 + Math.floor(Math.random() * 800));
          return;
        }
        const { nodes, memberLost, gangTimeout } = part;
        entry = { version: 1, job: task.job, group: task.group, part: task.part, nodes: nodes ?? [], ...(memberLost === undefined ? {} : { memberLost }), ...(gangTimeout === undefined ? {} : { gangTimeout }) };
        if (memberLost !== undefined) this.log(`task ${key}: ${memberLost}`);
      }
      const json = JSON.stringify(entry);
      /*
       * The front end hears the result at once, before the bucket has it:
       * one replicated round trip less per session. Were this worker to die
       * before storing it, the task is delivered again and the rerun (the
       * same bytes: sessions are deterministic) is stored then.
       */
      const received = this.publishResult(key, json, task.part === undefined);
      /*
       * The record for redeliveries and a front end that missed the message;
       * through a NATS server's death, retried (retry.ts). Not needed when
       * the front end said it has the result (its receipt): a replicated
       * write less per session (spec/cluster.md, "Results").
       */
      if (!(await received)) {
        await retryingNats(() => this.conn.results.put(key, json), { onRetry: (error, attempt) => attempt === 1 && this.log(`storing the result of ${key} failed (${error.message}); retrying`) });
        /* a front end whose receipt was late or lost has ended the job, maybe: it removes the key then */
        if (task.part === undefined) this.conn.nc.publish(storedSubject(key));
      }
      /* not waited for: were the ack lost, the redelivery finds the stored result and is acknowledged without a rerun */
      message.ack();
      this.tasksDone++;
      this.log(`finished task ${key}`);
    } catch (error) {
      /* NATS trouble while storing: let another delivery try, after a pause */
      this.log(`task ${key} could not be completed (${(error as Error).message}); it will be delivered again`);
      message.nak(1000);
    } finally {
      clearInterval(progress);
      if (madeDir !== undefined) rmSync(madeDir, { recursive: true, force: true });
      release();
    }
  }

  /**
   * Publishes a result on its core subject; with `receipt`, asks the front
   * end for a receipt and resolves true when it came within RECEIPT_WAIT_MS
   * (false: store the result). Parts of split groups are always stored:
   * their front end reads them from the bucket too (split.ts).
   */
  private publishResult(key: string, json: string, receipt: boolean): Promise<boolean> {
    if (!receipt) {
      try {
        this.conn.nc.publish(resultSubject(key), json);
      } catch {
        /* larger than a core message may be: the front end reads the bucket */
      }
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const id = String(++this.receiptCount);
      const done = (received: boolean): void => {
        clearTimeout(timer);
        this.receiptWaits.delete(id);
        resolve(received);
      };
      const timer = setTimeout(() => done(false), RECEIPT_WAIT_MS);
      this.receiptWaits.set(id, () => done(true));
      try {
        this.conn.nc.publish(resultSubject(key), json, { reply: `${this.receiptInbox}.${id}` });
      } catch {
        done(false);
      }
    });
  }

  private partContext(): Parameters<typeof runPart>[2] {
    return {
      worker: this.name,
      names: this.names!,
      listener: () => (this.pipeListener ??= PipeListener.listen(this.options.pipeHost ?? hostname(), this.pipeTls)),
      ...(this.pipeTls === undefined ? {} : { tls: this.pipeTls }),
      gangWaitMs: this.options.gangWaitMs ?? 10_000,
      maxDeliver: () => this.maxDeliverNow(),
      log: (line) => this.log(line),
    };
  }

  /** Runs a task's nodes on the local pool (or through `run`: a part of a split group); the results with outputs as blobs. */
  private async runTask(task: TaskMessage, dir: () => string, run: (plan: JobPlan) => Promise<JobResult> = (plan) => this.pool.run(plan)): Promise<WireNodeResult[]> {
    const returned: ReturnedFile[] = [];
    let plan: JobPlan;
    try {
      const nodes = await Promise.all(task.nodes.map((node, i) => this.localNode(node, i, dir, returned)));
      plan = { nodes, pipes: task.pipes };
    } catch (error) {
      if (!(error instanceof BlobMissingError)) throw error;
      return Promise.all(task.nodes.map((node) => this.wire(failedNode(node.name, 'BlobMissing', error.message), {})));
    }
    let result;
    try {
      result = await run(plan);
    } catch (error) {
      /* a group this worker cannot run whole (more connected nodes than its pool allows): a result, not a redelivery */
      if (!(error instanceof JobPlanError)) throw error;
      return Promise.all(task.nodes.map((node) => this.wire(failedNode(node.name, 'JobPlanError', `worker ${this.name}: ${error.message}`), {})));
    }
    return Promise.all(
      result.nodes.map(async (node, i) => {
        const files: Record<string, WireBytes> = {};
        for (const file of returned) {
          if (file.node !== i) continue;
          let bytes: Uint8Array;
          try {
            bytes = readFileSync(file.path);
          } catch {
            continue; /* the session never made it (it did not start) */
          }
          files[file.alias] = await this.blobs.putResult(bytes);
        }
        return this.wire(node, files);
      }),
    );
  }

  private async wire(node: NodeResult, files: Record<string, WireBytes>): Promise<WireNodeResult> {
    const outputs: Record<string, WireBytes> = {};
    for (const [alias, bytes] of Object.entries(node.outputs)) outputs[alias] = await this.blobs.putResult(bytes);
    return { ...node, outputs, files, ranOn: this.name };
  }

  /** A task's node as a NodePlan of this host: blobs become cached files, returned outputs files of the task directory. */
  private async localNode(node: WireNode, index: number, dir: () => string, returned: ReturnedFile[]): Promise<NodePlan> {
    let counter = 0;
    const scratch = (): string => join(dir(), `${index}-${counter++}`);
    const input = async (given: WireInput | undefined): Promise<NodeInput | undefined> => {
      if (given === undefined) return undefined;
      if ('pipe' in given) return { pipe: given.pipe };
      if ('base64' in given) return { bytes: new Uint8Array(Buffer.from(given.base64, 'base64')) };
      if (given.bytes === true) return { bytes: await this.blobs.get(given) };
      return { file: await this.blobs.file(given) };
    };
    const output = (alias: string, given: WireOutput | undefined): NodeOutput | undefined => {
      if (given === undefined || given === 'buffer' || given === 'discard') return given;
      if (given === 'file') {
        const path = scratch();
        returned.push({ node: index, alias, path });
        return { file: path };
      }
      return { pipe: given.pipe };
    };
    const channels: NodeChannel[] = [];
    for (const c of node.channels ?? []) {
      const common = { alias: c.alias, ...(c.etag === undefined ? {} : { etag: c.etag }), ...(c.limits === undefined ? {} : { limits: decodeLimits(c.limits) }) };
      if ('input' in c) channels.push({ ...common, input: (await input(c.input))! });
      else if ('output' in c) channels.push({ ...common, output: output(c.alias, c.output)! });
      else {
        const path = scratch();
        copyFileSync(await this.blobs.file(c.file), path);
        chmodSync(path, 0o644);
        returned.push({ node: index, alias: c.alias, path });
        channels.push({ ...common, file: path, access: 'read-write' });
      }
    }
    const stdin = await input(node.stdin);
    const stdout = output('/dev/stdout', node.stdout);
    const stderr = output('/dev/stderr', node.stderr);
    const engine = node.engine ?? this.options.engine;
    const channelLimits = node.channelLimits === undefined ? undefined : Object.fromEntries(Object.entries(node.channelLimits).map(([alias, limits]) => [alias, decodeLimits(limits)]));
    return {
      name: node.name,
      program: await this.blobs.file(node.program),
      ...(node.argv0 === undefined ? {} : { argv0: node.argv0 }),
      ...(node.args === undefined ? {} : { args: node.args }),
      ...(node.env === undefined ? {} : { env: node.env }),
      ...(stdin === undefined ? {} : { stdin }),
      ...(stdout === undefined ? {} : { stdout }),
      ...(stderr === undefined ? {} : { stderr }),
      channels,
      ...(channelLimits === undefined ? {} : { channelLimits }),
      ...(node.image === undefined ? {} : { image: await this.blobs.file(node.image) }),
      ...(node.memory === undefined ? {} : { memory: node.memory }),
      ...(node.timeout === undefined ? {} : { timeout: node.timeout }),
      ...(node.etags === undefined ? {} : { etags: node.etags }),
      ...(engine === undefined ? {} : { engine }),
    };
  }
}

/** A task handed back for want of slots is delivered again after this long plus up to HAND_BACK_SPREAD_MS (random: two workers handing tasks back do not meet again in step). */
const HAND_BACK_MIN_MS = 250;
const HAND_BACK_SPREAD_MS = 750;

/** How often a held task says it is still being worked on: a third of the ack wait, at least every second (a front end that connects later may shorten the ack wait this worker read at start). */
function progressEvery(ackWaitMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(ackWaitMs / 3)));
}

/** What perform() needs of a task's delivery: a JetStream message, or a direct offer. */
type TaskDelivery = Pick<JsMsg, 'ack' | 'ackAck' | 'nak' | 'working'> & { readonly info: { readonly deliveryCount: number } };

/**
 * A task offered directly: its front end, not JetStream, keeps it until the
 * result comes (direct.ts). Progress is said to the front end; a task given
 * back (nak) is queued by the front end at once; an ack needs no message,
 * the result is the answer.
 */
class DirectDelivery implements TaskDelivery {
  readonly info = { deliveryCount: 1 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly reply: string,
  ) {}

  private say(word: DirectWord): void {
    try {
      this.nc.publish(this.reply, word);
    } catch {
      /* the connection is closing: the front end's ack wait queues the task */
    }
  }

  ack(): void {}

  ackAck(): Promise<boolean> {
    return Promise.resolve(true);
  }

  nak(): void {
    this.say('retry');
  }

  working(): void {
    this.say('working');
  }
}
