/**
 * The name service of a split group (what the original's NameServer did):
 * where each part of a connected group runs and where its pipes' readers
 * listen, in a JetStream KV bucket (spec/cluster.md, "Pipes between
 * workers").
 *
 * Where: src/cluster, used by the part runner (part-runner.ts, on a
 * worker) and the front end (split.ts). Keys, one attempt of one group at
 * a time (an attempt is one run of all its parts; a rerun is the next):
 *
 *   <job>.<group>.a<attempt>.m<part>   the part's member entry: the worker
 *                                      running it, whether its sessions
 *                                      started, and for each pipe it reads
 *                                      from another part: host, port and a
 *                                      one-time token
 *   <job>.<group>.a<attempt>.cancel    the front end gave this attempt up
 *                                      (a rerun, a failure, an abort)
 */
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PipeEndpoint } from './net-pipe.js';

export const PIPE_BUCKET = 'zerovm-pipes';

/** A part's entry: which worker holds it and where the pipes it reads listen (by pipe id). */
export interface MemberEntry {
  readonly worker: string;
  readonly started: boolean;
  readonly endpoints: Readonly<Record<string, PipeEndpoint>>;
}

export function attemptPrefix(job: string, group: number, attempt: number): string {
  return `${job}.${group}.a${attempt}`;
}

export function memberKey(job: string, group: number, attempt: number, part: number): string {
  return `${attemptPrefix(job, group, attempt)}.m${part}`;
}

export function cancelKey(job: string, group: number, attempt: number): string {
  return `${attemptPrefix(job, group, attempt)}.cancel`;
}

/** What a gang wait came to. */
export type GangOutcome = 'complete' | 'cancelled' | 'timeout';

/** A watch of one attempt's keys: the members present, and whether the front end cancelled it. */
export class AttemptWatch {
  readonly members = new Map<number, MemberEntry>();
  cancelled = false;
  private readonly listeners = new Set<() => void>();
  private readonly stopWatch: () => void;

  constructor(iterator: AsyncIterable<KvEntry> & { stop(): void }, prefix: string) {
    this.stopWatch = () => iterator.stop();
    void (async () => {
      try {
        for await (const entry of iterator) this.apply(entry, prefix);
      } catch {
        /* the connection went: the gang wait times out, the running part ends by its pipes or its node timeouts */
      }
    })();
  }

  private apply(entry: KvEntry, prefix: string): void {
    const rest = entry.key.slice(prefix.length + 1);
    if (rest === 'cancel') {
      if (entry.operation === 'PUT') this.cancelled = true;
    } else if (rest.startsWith('m')) {
      const part = Number(rest.slice(1));
      if (entry.operation === 'PUT') this.members.set(part, entry.json<MemberEntry>());
      else this.members.delete(part);
    }
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` on every change (until stop()); returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits until `parts` members are present (complete), the attempt is cancelled, or `timeoutMs` passes. */
  waitFor(parts: number, timeoutMs: number): Promise<GangOutcome> {
    return new Promise((resolveWait) => {
      const check = (): void => {
        const outcome = this.cancelled ? 'cancelled' : this.members.size >= parts ? 'complete' : undefined;
        if (outcome === undefined) return;
        clearTimeout(timer);
        off();
        resolveWait(outcome);
      };
      const timer = setTimeout(() => {
        off();
        resolveWait(this.cancelled ? 'cancelled' : 'timeout');
      }, timeoutMs);
      const off = this.onChange(check);
      check();
    });
  }

  stop(): void {
    this.listeners.clear();
    this.stopWatch();
  }
}

export class NameService {
  private constructor(readonly kv: KV) {}

  /** Opens the bucket, making it when missing (the same settings make the same bucket). */
  static async open(nc: NatsConnection, replicas: number, keepMs: number): Promise<NameService> {
    const kvm = new Kvm(nc);
    let kv: KV;
    try {
      kv = await kvm.create(PIPE_BUCKET, { replicas, ttl: keepMs });
    } catch (error) {
      try {
        kv = await kvm.open(PIPE_BUCKET);
      } catch {
        throw error;
      }
    }
    return new NameService(kv);
  }

  /** Watches one attempt's keys; what is there now arrives first, then changes. */
  async watch(job: string, group: number, attempt: number): Promise<AttemptWatch> {
    const prefix = attemptPrefix(job, group, attempt);
    const iterator = await this.kv.watch({ key: `${prefix}.>` });
    return new AttemptWatch(iterator, prefix);
  }

  async register(job: string, group: number, attempt: number, part: number, entry: MemberEntry): Promise<void> {
    await this.kv.put(memberKey(job, group, attempt, part), JSON.stringify(entry));
  }

  async member(job: string, group: number, attempt: number, part: number): Promise<MemberEntry | undefined> {
    const entry = await this.kv.get(memberKey(job, group, attempt, part));
    return entry?.operation === 'PUT' ? entry.json<MemberEntry>() : undefined;
  }

  async cancelled(job: string, group: number, attempt: number): Promise<boolean> {
    return (await this.kv.get(cancelKey(job, group, attempt)))?.operation === 'PUT';
  }

  async withdraw(job: string, group: number, attempt: number, part: number): Promise<void> {
    await this.kv.delete(memberKey(job, group, attempt, part));
  }

  async cancel(job: string, group: number, attempt: number): Promise<void> {
    await this.kv.put(cancelKey(job, group, attempt), '1');
  }

  /** Removes an attempt's keys (the job is over). */
  async purge(job: string, group: number, attempt: number, parts: number): Promise<void> {
    const keys = [cancelKey(job, group, attempt), ...Array.from({ length: parts }, (_, p) => memberKey(job, group, attempt, p))];
    await Promise.all(keys.map((key) => this.kv.purge(key).catch(() => undefined)));
  }
}
