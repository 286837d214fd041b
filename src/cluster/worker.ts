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
 * one a rerun would give.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync, chmodSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import type { EngineName } from '../api/engine-choice.js';
import type { JobPlan, NodeChannel, NodeInput, NodeOutput, NodePlan, NodeResult } from '../jobs/executor.js';
import { JobPlanError } from '../jobs/plan.js';
import { WorkerPoolExecutor } from '../jobs/pool.js';
import { failedNode } from '../jobs/run-node.js';
import { BlobMissingError, BlobStore } from './blobs.js';
import { ensureWorkerConsumer, openCluster, type ClusterConnection, type NatsOptions } from './connection.js';
import { retryingNats } from './retry.js';
import { decodeLimits, parseTask, resultKey, resultSubject, TASK_STREAM, WireFormatError, WORKER_CONSUMER, type ResultEntry, type WireBytes, type TaskMessage, type WireInput, type WireNode, type WireNodeResult, type WireOutput } from './protocol.js';

export interface ClusterWorkerOptions extends NatsOptions {
  /** Sessions at once (the local pool's threads), and tasks pulled at once. Default 1. */
  readonly slots?: number;
  /** The engine of nodes that name none. */
  readonly engine?: EngineName;
  /** How this worker is named in results ("where it ran"). Default host:pid. */
  readonly workerName?: string;
  /** Blob cache and task directories. Default a new directory under the system's temporary one. */
  readonly workDir?: string;
  /** A line of progress (the command prints it on stderr). */
  readonly log?: (line: string) => void;
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
  private messages: { stop(): void } | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private busy = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private tasksDone = 0;

  private constructor(
    private readonly conn: ClusterConnection,
    private readonly pool: WorkerPoolExecutor,
    private readonly blobs: BlobStore,
    private readonly workDir: string,
    private readonly ackWaitMs: number,
    private readonly options: ClusterWorkerOptions,
  ) {
    this.name = options.workerName ?? `${hostname()}:${process.pid}`;
  }

  static async start(options: ClusterWorkerOptions): Promise<ClusterWorker> {
    const slots = options.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`--slots must be a whole number of at least 1, not ${slots}`);
    const conn = await openCluster({ ...options, name: options.workerName ?? `zerovm worker ${hostname()}:${process.pid}` });
    const { ackWaitMs } = await ensureWorkerConsumer(conn.jsm, {}, false);
    const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'zerovm-worker-'));
    mkdirSync(workDir, { recursive: true });
    const pool = new WorkerPoolExecutor({ workers: slots });
    await pool.warm();
    const worker = new ClusterWorker(conn, pool, new BlobStore(conn.blobs, join(workDir, 'blobs')), workDir, ackWaitMs, options);
    worker.loops.push(worker.consumeLoop());
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
    this.messages?.stop();
    for (const wake of this.slotWaiters.splice(0)) wake();
    await Promise.all(this.loops);
    await this.pool.close();
    await this.conn.close();
  }

  private log(line: string): void {
    this.options.log?.(`zerovm worker ${this.name}: ${line}`);
  }

  /**
   * One long-lived `consume()` for all slots: a pull per task (`next()`)
   * costs a subscription and a request round trip, about 2 ms of the
   * dispatch (spec/cluster.md, "Measured"). The client asks for `slots`
   * messages and asks again as they arrive, so up to `slots` more wait
   * here for a free slot; they signal progress meanwhile (their ack wait
   * runs), and a draining worker hands them back at once (nak).
   */
  private async consumeLoop(): Promise<void> {
    const slots = this.options.slots ?? 1;
    while (!this.stopping) {
      try {
        const consumer = await this.conn.js.consumers.get(TASK_STREAM, WORKER_CONSUMER);
        const messages = await consumer.consume({ max_messages: slots, expires: 5000 });
        this.messages = messages;
        if (this.stopping) messages.stop();
        for await (const message of messages) {
          const done = this.whenSlotFree(message);
          this.inFlight.add(done);
          void done.finally(() => this.inFlight.delete(done));
        }
      } catch (error) {
        if (this.stopping) break;
        this.log(`pulling tasks failed (${(error as Error).message}); trying again`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async whenSlotFree(message: JsMsg): Promise<void> {
    /* at least every second: a front end that connects later may shorten the ack wait this worker read at start */
    const progress = setInterval(() => message.working(), Math.max(100, Math.min(1000, Math.floor(this.ackWaitMs / 3))));
    try {
      while (this.busy >= (this.options.slots ?? 1) && !this.stopping) await new Promise<void>((r) => this.slotWaiters.push(r));
      if (this.stopping) {
        /* not started: another worker takes it now rather than after the ack wait */
        message.nak();
        return;
      }
      this.busy++;
      try {
        await this.handle(message);
      } finally {
        this.busy--;
        this.slotWaiters.shift()?.();
      }
    } finally {
      clearInterval(progress);
    }
  }

  private async handle(message: JsMsg): Promise<void> {
    let task: TaskMessage;
    try {
      task = parseTask(message.string());
    } catch (error) {
      this.log(`dropping a malformed task (${(error as WireFormatError).message})`);
      message.term();
      return;
    }
    const key = resultKey(task.job, task.group);
    const dir = mkdtempSync(join(this.workDir, 'task-'));
    try {
      /* only a redelivered task can have a result already */
      if (message.info.deliveryCount > 1 && (await retryingNats(() => this.conn.results.get(key)))?.operation === 'PUT') {
        this.log(`task ${key} already has a result; acknowledging it`);
        await message.ackAck();
        return;
      }
      this.log(`running task ${key} (${task.nodes.length} node${task.nodes.length === 1 ? '' : 's'}, delivery ${message.info.deliveryCount})`);
      const nodes = await this.runTask(task, dir);
      const entry: ResultEntry = { version: 1, job: task.job, group: task.group, nodes };
      /* through a NATS server's death: retried while the client reconnects and the bucket elects a leader (retry.ts) */
      const json = JSON.stringify(entry);
      /*
       * The front end hears the result at once, before the bucket has it:
       * one replicated round trip less per session. Were this worker to die
       * before storing it, the task is delivered again and the rerun (the
       * same bytes: sessions are deterministic) is stored then.
       */
      try {
        this.conn.nc.publish(resultSubject(task.job, task.group), json);
      } catch {
        /* larger than a core message may be: the front end reads the bucket */
      }
      /* the record for redeliveries and a front end that missed the message; through a NATS server's death, retried (retry.ts) */
      await retryingNats(() => this.conn.results.put(key, json), { onRetry: (error, attempt) => attempt === 1 && this.log(`storing the result of ${key} failed (${error.message}); retrying`) });
      /* not waited for: were the ack lost, the redelivery finds the stored result and is acknowledged without a rerun */
      message.ack();
      this.tasksDone++;
      this.log(`finished task ${key}`);
    } catch (error) {
      /* NATS trouble while storing: let another delivery try, after a pause */
      this.log(`task ${key} could not be completed (${(error as Error).message}); it will be delivered again`);
      message.nak(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Runs a task's nodes on the local pool; the results with outputs as blobs. */
  private async runTask(task: TaskMessage, dir: string): Promise<WireNodeResult[]> {
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
      result = await this.pool.run(plan);
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
  private async localNode(node: WireNode, index: number, dir: string, returned: ReturnedFile[]): Promise<NodePlan> {
    let counter = 0;
    const scratch = (): string => join(dir, `${index}-${counter++}`);
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
