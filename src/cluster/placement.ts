/**
 * Placement: a task goes to the worker that already holds what its nodes
 * read (program, image, first readable object, or the object `attach`
 * names), or that runs the job's other nodes of the same `location`
 * (spec/cluster.md, "Placement"). When no such worker has a free slot the
 * task goes to the shared work queue, as without placement.
 *
 * Where: src/cluster. The front end (executor.ts) asks `Placer.choose` and
 * sends with `Placer.send`; the worker (worker.ts) pulls its own subject
 * with a consumer of its own and claims each task before running it.
 *
 * A task sent to one worker must not be lost with that worker. So it
 * carries a claim key: the worker creates that key in the claims bucket
 * (atomically: create fails when the key exists) before it runs the task,
 * and the front end watches every task it sent this way:
 *   - unclaimed after `targetWaitMs` (the worker is busy after all), or its
 *     worker stopped heartbeating: the front end creates the claim itself,
 *     which voids the message (the worker, should it pull it later, finds
 *     the claim taken and drops it), and sends the task to the shared queue;
 *   - claimed, and then its worker stops heartbeating (killed, host lost):
 *     the front end sends it to the shared queue, where JetStream's
 *     redelivery protects it as any other task. Each such death counts as a
 *     delivery: after `maxDeliver` of them the nodes fail (MaxDeliveries).
 * Sessions are deterministic, so a task run twice (a worker cut off from
 * NATS but not dead) stores the same result twice.
 */
import { statSync } from 'node:fs';
import { AckPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NodeInput, NodePlan } from '../jobs/executor.js';
import type { ClusterConnection } from './connection.js';
import type { TaskMessage, WireInput, WireNode } from './protocol.js';
import { blobPrefix, TARGET_STREAM, TARGET_SUBJECT_PREFIX, type KnownWorker, type PlacementStores, type RegistryView } from './registry.js';
import { isTransientNatsError, retryingNats } from './retry.js';

export function targetSubject(token: string): string {
  return `${TARGET_SUBJECT_PREFIX}.${token}`;
}

export function targetConsumerName(token: string): string {
  return `zerovm-target-${token}`;
}

/** A worker's consumer of the tasks sent to it, made when missing. */
export async function ensureTargetConsumer(jsm: JetStreamManager, token: string, ackWaitMs: number): Promise<string> {
  const name = targetConsumerName(token);
  try {
    await jsm.consumers.info(TARGET_STREAM, name);
  } catch {
    try {
      await jsm.consumers.add(TARGET_STREAM, {
        durable_name: name,
        filter_subject: targetSubject(token),
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitMs * 1_000_000,
        /* a worker gone for an hour takes its consumer with it */
        inactive_threshold: 3600 * 1_000_000_000,
      });
    } catch (error) {
      await jsm.consumers.info(TARGET_STREAM, name).catch(() => Promise.reject(error));
    }
  }
  return name;
}

/**
 * The worker's side of a claim: true when this worker may run the task
 * (it created the key, or it had created it before: a redelivery to it).
 */
export async function claimTask(claims: KV, key: string, workerName: string): Promise<boolean> {
  try {
    /* retried through a NATS server's death (retry.ts): a transient failure is not a refusal */
    await retryingNats(() => claims.create(key, workerName));
    return true;
  } catch (error) {
    if (isTransientNatsError(error)) throw error;
    const entry = await retryingNats(() => claims.get(key));
    return entry?.operation === 'PUT' && entry.string() === workerName;
  }
}

/** A blob a worker would not need to fetch, weighted by its size. */
export interface WantedBlob {
  readonly prefix: string;
  readonly bytes: number;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * What a node reads that a worker may hold: its program and image, and
 * one object: the one `attach` names (a readable channel's alias, or
 * 'image'), or else the first readable one (stdin, the input channels in
 * order, then read-write files), as ZeroCloud's `attach: "default"` chose.
 * An `attach` naming a writable channel or a pipe asks for nothing more.
 * Inputs given as bytes are never cached by workers and count for nothing.
 */
export function wantedBlobs(plan: NodePlan, wire: WireNode): WantedBlob[] {
  const wanted: WantedBlob[] = [{ prefix: blobPrefix(wire.program.blob), bytes: sizeOf(plan.program) }];
  if (wire.image !== undefined && plan.image !== undefined) wanted.push({ prefix: blobPrefix(wire.image.blob), bytes: sizeOf(plan.image) });
  const readable: { alias: string; planned: NodeInput | { file: string }; wired: WireInput | { blob: string } }[] = [];
  if (plan.stdin !== undefined && wire.stdin !== undefined) readable.push({ alias: '/dev/stdin', planned: plan.stdin, wired: wire.stdin });
  const channels = plan.channels ?? [];
  (wire.channels ?? []).forEach((c, i) => {
    const p = channels[i];
    if (p === undefined) return;
    if ('input' in c && 'input' in p) readable.push({ alias: c.alias, planned: p.input, wired: c.input });
  });
  (wire.channels ?? []).forEach((c, i) => {
    const p = channels[i];
    if (p !== undefined && 'file' in c && 'file' in p) readable.push({ alias: c.alias, planned: { file: p.file }, wired: c.file });
  });
  const cachable = readable.filter((r) => 'blob' in r.wired && !('bytes' in r.wired && r.wired.bytes === true) && 'file' in r.planned);
  let object: (typeof cachable)[number] | undefined;
  if (plan.attach === undefined) object = cachable[0];
  else if (plan.attach !== 'image') object = cachable.find((r) => r.alias === plan.attach);
  if (object !== undefined && 'blob' in object.wired && 'file' in object.planned) wanted.push({ prefix: blobPrefix(object.wired.blob), bytes: sizeOf(object.planned.file) });
  return wanted;
}

/** Slots a task of `sessions` nodes takes on `worker`: its node count, at most all of them (the worker's own count, slots.ts). */
export function slotsTaken(worker: KnownWorker, sessions: number): number {
  return Math.max(1, Math.min(sessions, worker.entry.slots));
}

/** Bytes of `wanted` that `worker` holds. */
export function heldBytes(worker: KnownWorker, wanted: readonly WantedBlob[]): number {
  let held = 0;
  for (const w of wanted) if (worker.blobs.has(w.prefix)) held += w.bytes + 1;
  return held;
}

export interface PlacementOptions {
  /** How long a task sent to one worker may wait unclaimed before it goes to the shared queue. Default 2000 ms. */
  readonly targetWaitMs?: number;
  /** Set false to send every task to the shared queue (no placement). Default true. */
  readonly placement?: boolean;
}

export const DEFAULT_TARGET_WAIT_MS = 2000;

/** A task sent to one worker that has no result yet. */
export interface TargetedTask {
  /** The result key of the task (one per group, or per copy of a replicated node). */
  readonly key: string;
  task: TaskMessage;
  worker: string;
  seq: number;
  sentAt: number;
  claimed: boolean;
  attempt: number;
  /** Workers of this task's replica set (copies run on different workers); absent when not replicated. */
  readonly siblings?: Set<string>;
  /** Wanted blobs, for choosing again. */
  readonly wanted: readonly WantedBlob[];
  /** Deaths of workers that had claimed it. */
  deaths: number;
  /** Sends the task to the shared queue (not replicated tasks). */
  readonly toSharedQueue: () => Promise<void>;
  /** Fails the task's nodes. */
  readonly fail: (kind: string, message: string) => void;
}

/** Chooses workers, sends tasks to them, and takes back those their workers cannot run. */
export class Placer {
  private readonly tracked = new Map<string, TargetedTask>();
  /** Tasks of this front end sent to a worker and not answered, by worker token. */
  private readonly inflight = new Map<string, number>();
  /** `<job>\0<location>` -> the worker that runs that location's nodes. */
  private readonly locations = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  readonly targetWaitMs: number;

  constructor(
    private readonly conn: ClusterConnection,
    private readonly stores: PlacementStores,
    readonly view: RegistryView,
    private readonly maxDeliver: number,
    options: PlacementOptions,
  ) {
    this.targetWaitMs = options.targetWaitMs ?? DEFAULT_TARGET_WAIT_MS;
  }

  private free(worker: KnownWorker): number {
    return worker.entry.slots - Math.max(worker.entry.running, this.inflight.get(worker.entry.token) ?? 0);
  }

  /**
   * The worker for a task of `sessions` nodes: among live workers that
   * are not draining, the one the job's `location` already uses (even
   * without room: the worker takes it when it has), else the one whose
   * free slots hold the task that holds the most bytes of what the task
   * reads; undefined when none holds anything and no location applies (the
   * shared queue decides).
   */
  choose(job: string, wanted: readonly WantedBlob[], location: string | undefined, sessions = 1): KnownWorker | undefined {
    const alive = this.view.alive().filter((w) => !w.entry.draining);
    if (location !== undefined) {
      const anchored = this.locations.get(`${job}\0${location}`);
      const there = alive.find((w) => w.entry.token === anchored);
      if (there !== undefined) return there;
    }
    const ranked = alive
      .filter((w) => this.free(w) >= slotsTaken(w, sessions))
      .map((w) => ({ w, held: heldBytes(w, wanted), free: this.free(w) }))
      .sort((a, b) => b.held - a.held || b.free - a.free || (a.w.entry.name < b.w.entry.name ? -1 : 1));
    const best = ranked[0];
    /* a location's first node anchors it on the least busy worker even when no worker holds its bytes */
    if (best !== undefined && (best.held > 0 || location !== undefined)) return best.w;
    return undefined;
  }

  /** The slot counts of the live workers that take tasks (not draining), for sizing the parts of a split group; undefined when none is known. */
  liveSlots(): number[] | undefined {
    const slots = this.view
      .alive()
      .filter((w) => !w.entry.draining)
      .map((w) => w.entry.slots);
    return slots.length === 0 ? undefined : slots;
  }

  /** Workers for the copies of a replicated node: `count` distinct live workers, best placed first; fewer when fewer live. */
  chooseDistinct(wanted: readonly WantedBlob[], count: number, exclude: ReadonlySet<string>): KnownWorker[] {
    return this.view
      .alive()
      .filter((w) => !w.entry.draining && !exclude.has(w.entry.token))
      .map((w) => ({ w, held: heldBytes(w, wanted), free: this.free(w) }))
      .sort((a, b) => b.held - a.held || b.free - a.free || (a.w.entry.name < b.w.entry.name ? -1 : 1))
      .slice(0, count)
      .map((r) => r.w);
  }

  /** Remembers where a job's location runs. */
  anchor(job: string, location: string | undefined, token: string): void {
    if (location !== undefined && !this.locations.has(`${job}\0${location}`)) this.locations.set(`${job}\0${location}`, token);
  }

  /** The job ended: its locations are forgotten. */
  forgetJob(job: string): void {
    for (const key of this.locations.keys()) if (key.startsWith(`${job}\0`)) this.locations.delete(key);
  }

  /** Sends `task` (without claim) to `worker` and watches it until `untrack(key)`. */
  async send(target: Omit<TargetedTask, 'seq' | 'sentAt' | 'claimed' | 'attempt' | 'deaths' | 'worker' | 'task'>, task: TaskMessage, worker: string): Promise<void> {
    const tracked: TargetedTask = { ...target, task, worker, seq: 0, sentAt: 0, claimed: false, attempt: 0, deaths: 0 };
    this.tracked.set(target.key, tracked);
    await this.publish(tracked, worker);
    /* (a fast task may have its result, and be untracked, before the publish is confirmed) */
    if (this.tracked.has(target.key)) this.timer ??= setInterval(() => void this.check(), 200);
  }

  private async publish(tracked: TargetedTask, worker: string): Promise<void> {
    tracked.attempt++;
    tracked.worker = worker;
    tracked.claimed = false;
    tracked.task = { ...tracked.task, claim: `${tracked.key}.a${tracked.attempt}` };
    tracked.siblings?.add(worker);
    this.inflight.set(worker, (this.inflight.get(worker) ?? 0) + 1);
    tracked.sentAt = Date.now();
    const task = JSON.stringify(tracked.task);
    /* retried through a NATS server's death; the message id makes a second copy a duplicate JetStream drops */
    const ack = await retryingNats(() => this.conn.js.publish(targetSubject(worker), task, { msgID: tracked.task.claim! }));
    tracked.seq = ack.seq;
  }

  private release(tracked: TargetedTask): void {
    const left = (this.inflight.get(tracked.worker) ?? 1) - 1;
    if (left <= 0) this.inflight.delete(tracked.worker);
    else this.inflight.set(tracked.worker, left);
  }

  /** The task has its result, or its job ended. */
  untrack(key: string): void {
    const tracked = this.tracked.get(key);
    if (tracked === undefined) return;
    this.tracked.delete(key);
    this.release(tracked);
    if (!tracked.claimed) void this.conn.jsm.streams.deleteMessage(TARGET_STREAM, tracked.seq).catch(() => false);
    if (this.tracked.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.tracked.clear();
  }

  /** One pass over the tasks sent to workers (every 200 ms while any is out). */
  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = Date.now();
      for (const tracked of [...this.tracked.values()]) {
        const alive = this.view.isAlive(tracked.worker, now);
        if (!tracked.claimed) {
          /* copies of a replicated node wait for their own worker while it lives */
          const waited = tracked.siblings === undefined && now - tracked.sentAt > this.targetWaitMs;
          if (alive && !waited) continue;
          const voided = await this.voidClaim(tracked).catch(() => undefined);
          if (voided === undefined) continue; /* NATS unreachable all along: the next pass tries again */
          if (!voided) {
            tracked.claimed = true; /* the worker got there first */
          } else {
            await this.redirect(tracked, alive ? undefined : tracked.worker, false);
            continue;
          }
        }
        if (tracked.claimed && !alive) {
          tracked.deaths++;
          await this.redirect(tracked, tracked.worker, true);
        }
      }
    } finally {
      this.checking = false;
    }
  }

  /** Takes the claim for the front end: true when the worker had not claimed the task (its message is now void). */
  private async voidClaim(tracked: TargetedTask): Promise<boolean> {
    try {
      await retryingNats(() => this.stores.claims.create(tracked.task.claim!, 'front end'));
    } catch (error) {
      if (isTransientNatsError(error)) throw error; /* NATS unreachable for a minute: the check runs again */
      return false; /* the worker's claim was there first */
    }
    void this.conn.jsm.streams.deleteMessage(TARGET_STREAM, tracked.seq).catch(() => false);
    return true;
  }

  /** Sends the task elsewhere: the shared queue, or (a copy of a replicated node) another worker than its siblings. */
  private async redirect(tracked: TargetedTask, dead: string | undefined, afterDeath: boolean): Promise<void> {
    this.release(tracked);
    /* the dead worker's unacknowledged message would wait in its consumer for nobody */
    if (afterDeath) void this.conn.jsm.streams.deleteMessage(TARGET_STREAM, tracked.seq).catch(() => false);
    if (afterDeath && tracked.deaths >= this.maxDeliver) {
      this.tracked.delete(tracked.key);
      tracked.fail('MaxDeliveries', `the task was delivered ${tracked.deaths} times and no worker finished it (workers died or lost their connection while running it); the job gives up on it`);
      return;
    }
    if (tracked.siblings === undefined) {
      this.tracked.delete(tracked.key);
      try {
        await tracked.toSharedQueue();
      } catch (error) {
        tracked.fail('QueueError', `the task could not be queued again on NATS: ${(error as Error).message}`);
      }
      return;
    }
    const exclude = new Set(tracked.siblings);
    if (dead !== undefined) exclude.add(dead);
    const [next] = this.chooseDistinct(tracked.wanted, 1, exclude);
    if (next === undefined) {
      this.tracked.delete(tracked.key);
      tracked.fail('ReplicationUnavailable', `the worker running one copy of this replicated node (${dead ?? tracked.worker}) is gone and no other live worker is free of the node's other copies: start more workers`);
      return;
    }
    if (dead !== undefined) tracked.siblings.delete(dead);
    try {
      await this.publish(tracked, next.entry.token);
    } catch (error) {
      this.tracked.delete(tracked.key);
      tracked.fail('QueueError', `the copy could not be sent to worker ${next.entry.name}: ${(error as Error).message}`);
    }
  }
}
