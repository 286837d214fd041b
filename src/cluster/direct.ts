/**
 * Direct dispatch: the front end's fast path for a task, a core NATS
 * message straight to a worker with a free slot, which answers at once
 * whether it took it; the work-queue stream stays the durable path for
 * everything else (spec/cluster.md, "Direct dispatch").
 *
 * Where: src/cluster, between the front end (executor.ts, which offers a
 * task here before it publishes it to the stream) and the worker
 * (worker.ts, which subscribes `zerovm.direct.<token>`).
 *
 * Why: a task published to a replicated stream reaches a worker only after
 * the stream's replicated commit, and then costs the consumer's replicated
 * ack; a targeted one adds its claim, a replicated KV write. For a session
 * of a millisecond those are most of the time a job takes. A core message
 * is one hop through the servers and nothing is written.
 *
 * What keeps a direct task as safe as a queued one:
 *   - the worker answers `accepted` or `busy` in its subscription's
 *     callback, before any await; no answer within `DIRECT_ACCEPT_MS`
 *     (the message was lost with a server, or the worker is stuck), a
 *     `busy`, or no subscriber (the servers' 503): the task goes to the
 *     stream as before;
 *   - an accepted task is the worker's to finish: it says `working` to the
 *     front end as often as it would signal progress to JetStream, and
 *     publishes and stores its result as for a queued task. The front end
 *     keeps the task: a task it has not heard about for the ack wait (the
 *     worker died, or lost its connection), or that the worker gives back
 *     (`retry`), is published to the stream, unless its result is stored
 *     by then. That is the ack wait and redelivery of the stream path,
 *     kept by the front end, which holds the job anyway (a front end that
 *     dies loses its jobs on either path: nobody is left to answer);
 *   - sessions are deterministic: a task run twice (an accept that came
 *     after its deadline, a worker cut off but not dead) stores the same
 *     result twice, and the front end takes the first.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { KnownWorker, RegistryView } from './registry.js';
import { heldBytes, slotsTaken, type WantedBlob } from './placement.js';

export const DIRECT_SUBJECT_PREFIX = 'zerovm.direct';

/** The subject a worker takes direct tasks on. */
export function directSubject(token: string): string {
  return `${DIRECT_SUBJECT_PREFIX}.${token}`;
}

/** How long a front end waits for a worker's answer to a direct task before it queues the task. */
export const DIRECT_ACCEPT_MS = 1000;

/** What a worker says on a direct task's reply subject. */
export type DirectWord = 'accepted' | 'busy' | 'working' | 'retry';

/** A direct task the front end offered and has no result for. */
interface Offered {
  readonly worker: string;
  /** Set until the worker answers the offer. */
  answer: ((accepted: boolean) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  /** When the worker was last heard about this task (this process's clock). */
  heardAt: number;
  /** The task's worker is gone or gave it back: queue it. */
  readonly lost: (why: string) => void;
}

/** The front end's side: chooses a worker, offers it a task, and watches accepted tasks. */
export class DirectDispatch {
  private readonly inbox = createInbox();
  private readonly offered = new Map<string, Offered>();
  /** Direct tasks of this front end not answered yet, by worker token. */
  private readonly inflight = new Map<string, number>();
  private subscription: Subscription | undefined;
  /** Workers whose subject had no subscriber (stopped or killed), by token: when that was heard. */
  private readonly gone = new Map<string, number>();
  /** Tasks offered, taken, and given to the stream instead (busy, no answer in time, no worker subscribed), for benchmarks and tests. */
  readonly counts = { offered: 0, accepted: 0, refused: 0 };
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly view: RegistryView,
    /** The consumer's ack wait: an accepted task not heard about for this long is queued. */
    private readonly ackWaitMs: number,
  ) {}

  start(): void {
    this.subscription = this.nc.subscribe(`${this.inbox}.>`, {
      callback: (error, message) => {
        if (error === null) this.heard(message);
      },
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    for (const task of this.offered.values()) {
      clearTimeout(task.timer);
      task.answer?.(false);
    }
    this.offered.clear();
  }

  private free(worker: KnownWorker): number {
    return worker.entry.slots - Math.max(worker.entry.running, this.inflight.get(worker.entry.token) ?? 0);
  }

  /**
   * The worker for a direct task of `sessions` nodes: `anchored` when a
   * `location` of the job already runs there (only while its free slots
   * hold the task), else the live, not draining worker whose free slots
   * hold it that holds the most bytes of `wanted` (placement's order);
   * undefined when no worker seems to have room. A task takes as many
   * slots as it has nodes, all of them on a smaller worker
   * (spec/cluster.md, "Slots are sessions").
   */
  choose(wanted: readonly WantedBlob[], anchored: KnownWorker | undefined, sessions = 1): KnownWorker | undefined {
    if (anchored !== undefined) return !anchored.entry.draining && this.free(anchored) >= slotsTaken(anchored, sessions) ? anchored : undefined;
    const alive = this.view.alive().filter((w) => !w.entry.draining && !this.isGone(w));
    /*
     * When every entry says busy, a worker this front end has no task on
     * is offered it all the same: an entry written as a task started can
     * arrive after that task's result, and a wrong guess costs one `busy`.
     */
    return this.best(alive, wanted, sessions, (w) => this.free(w)) ?? this.best(alive, wanted, sessions, (w) => w.entry.slots - (this.inflight.get(w.entry.token) ?? 0));
  }

  /**
   * The worker's subject had no subscriber when a task was last offered,
   * and its entry has not changed since: it stopped or was killed, though
   * its entry looks alive for a few heartbeats more. Neither offered tasks
   * nor (executor.ts) sent them on the targeted stream, where they would
   * wait for nobody.
   */
  isGone(worker: KnownWorker): boolean {
    const since = this.gone.get(worker.entry.token);
    if (since === undefined) return false;
    if (worker.seenAt > since) {
      this.gone.delete(worker.entry.token);
      return false;
    }
    return true;
  }

  private best(workers: readonly KnownWorker[], wanted: readonly WantedBlob[], sessions: number, freeOf: (w: KnownWorker) => number): KnownWorker | undefined {
    let best: { w: KnownWorker; held: number; free: number } | undefined;
    for (const w of workers) {
      const free = freeOf(w);
      if (free <= 0 || free < slotsTaken(w, sessions)) continue;
      const held = heldBytes(w, wanted);
      if (best === undefined || held > best.held || (held === best.held && (free > best.free || (free === best.free && w.entry.name < best.w.entry.name)))) best = { w, held, free };
    }
    return best?.w;
  }

  /**
   * Offers the task (JSON) to `worker`; true when the worker took it. From
   * then on `lost` is called at most once, when the task must be queued
   * after all; `forget(key)` ends the watch (its result came, or its job ended).
   */
  offer(key: string, json: string, worker: string, lost: (why: string) => void): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const task: Offered = { worker, answer: undefined, timer: undefined, heardAt: Date.now(), lost };
      task.answer = (accepted) => {
        task.answer = undefined;
        clearTimeout(task.timer);
        task.timer = undefined;
        if (!accepted) this.drop(key);
        if (accepted) this.counts.accepted++;
        else this.counts.refused++;
        resolve(accepted);
      };
      task.timer = setTimeout(() => task.answer?.(false), DIRECT_ACCEPT_MS);
      this.offered.set(key, task);
      this.counts.offered++;
      this.inflight.set(worker, (this.inflight.get(worker) ?? 0) + 1);
      try {
        this.nc.publish(directSubject(worker), json, { reply: `${this.inbox}.${key}` });
      } catch {
        task.answer(false); /* too large for a core message, or the connection is closing: the stream takes it */
        return;
      }
      /* a lost task is queued at most a tenth of the ack wait late (a pass over the map: cheap) */
      this.watchdog ??= setInterval(() => this.check(), Math.max(50, Math.min(1000, Math.floor(this.ackWaitMs / 10))));
    });
  }

  /** The task has its result, or its job ended. */
  forget(key: string): void {
    const task = this.offered.get(key);
    if (task === undefined) return;
    clearTimeout(task.timer);
    task.answer?.(false);
    this.drop(key);
  }

  private drop(key: string): void {
    const task = this.offered.get(key);
    if (task === undefined) return;
    this.offered.delete(key);
    const left = (this.inflight.get(task.worker) ?? 1) - 1;
    if (left <= 0) this.inflight.delete(task.worker);
    else this.inflight.set(task.worker, left);
    if (this.offered.size === 0) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  private heard(message: Msg): void {
    const key = message.subject.slice(this.inbox.length + 1);
    const task = this.offered.get(key);
    if (task === undefined) return;
    /* no worker subscribes the subject (it stopped): the servers answer 503 */
    if (message.headers?.code === 503) {
      this.gone.set(task.worker, Date.now());
      task.answer?.(false);
      return;
    }
    const word = message.string() as DirectWord;
    task.heardAt = Date.now();
    if (word === 'accepted') task.answer?.(true);
    else if (word === 'busy') task.answer?.(false);
    else if (word === 'retry' && task.answer === undefined) this.lose(key, task, `worker ${task.worker} gave the task back`);
  }

  private lose(key: string, task: Offered, why: string): void {
    this.drop(key);
    task.lost(why);
  }

  /** Accepted tasks whose worker was not heard about for the ack wait are queued. */
  private check(): void {
    const now = Date.now();
    for (const [key, task] of [...this.offered]) {
      if (task.answer === undefined && now - task.heardAt > this.ackWaitMs) this.lose(key, task, `worker ${task.worker} was not heard about the task for ${this.ackWaitMs} ms`);
    }
  }
}
