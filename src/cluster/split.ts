/**
 * A connected group split over several workers, as the front end runs it
 * (spec/cluster.md, "Pipes between workers"): the group's nodes in parts,
 * one task per part, all of which must run at the same time (the workers
 * gang-start them through the name service, part-runner.ts); the parts'
 * results gathered into the group's; and a lost member handled by running
 * every part again, up to `maxRuns` runs, then failing the group with kind
 * 'GroupMemberLost'.
 *
 * Where: src/cluster, used by NatsExecutor (executor.ts) for groups that
 * `partsOf` splits.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NodePlan, NodeResult, PipePlan } from '../jobs/executor.js';
import { JobPlanError } from '../jobs/plan.js';
import { failedNode } from '../jobs/run-node.js';
import type { NameService } from './name-service.js';
import { resultKey, TASK_STREAM, taskSubject, type PartInfo, type ResultEntry, type TaskMessage, type WireNode } from './protocol.js';

/** How a front end splits connected groups. */
export interface SplitOptions {
  /** A connected group of more nodes is split into parts of at most this many (one worker's pool runs a part). Default 64, a pool's default maxThreads. */
  readonly maxNodesPerWorker?: number;
  /** Split every connected group into this many parts (as far as it has nodes), so its nodes run on different workers. Default 1: only groups larger than maxNodesPerWorker are split. */
  readonly spread?: number;
  /** Runs of a split group at most when a member is lost (the first included); then its nodes fail as 'GroupMemberLost'. Default 2. */
  readonly maxGroupRuns?: number;
}

/** How a group is cut: its parts, and for each the worker (index into the slot counts given) it was sized for. */
export interface PartsPlan {
  /** Plan indexes by part: contiguous runs of the group's nodes in plan order. */
  readonly parts: number[][];
  /** Absent when the parts were sized without slot counts (even parts of at most maxNodesPerWorker). */
  readonly workers?: number[];
}

/**
 * The parts of a group (indexes of plan nodes), contiguous runs in plan
 * order (a pipeline listed in order is cut at few pipes). A group is cut
 * when it has more nodes than `maxNodesPerWorker` or `spread` asks for
 * parts. With the live workers' slot counts (`slots`, from the registry)
 * the parts are sized to fit them: the fewest parts (at least `spread`)
 * that the largest workers' slots hold at once, one part per worker, as
 * even as those slots allow; so the gang can start. Without slot counts,
 * or when the workers cannot hold the group at once (more parts asked than
 * workers, or too few slots), the parts are as even as can be, at most
 * `maxNodesPerWorker` each (spec/cluster.md, "Pipes between workers").
 */
export function planParts(members: readonly number[], options: SplitOptions, slots?: readonly number[]): PartsPlan {
  const max = options.maxNodesPerWorker ?? 64;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxNodesPerWorker must be a whole number of at least 1, not ${max}`);
  const spread = options.spread ?? 1;
  if (!Number.isInteger(spread) || spread < 1) throw new RangeError(`spread must be a whole number of at least 1, not ${spread}`);
  const n = members.length;
  if (n < 2) return { parts: [[...members]] };
  const count = Math.min(n, Math.max(spread, Math.ceil(n / max)));
  if (count === 1) return { parts: [[...members]] };
  const even = { parts: cut(members, evenSizes(n, count)) };
  const usable = (slots ?? []).map((s, i) => ({ i, cap: Math.min(s, max) })).filter((w) => Number.isInteger(w.cap) && w.cap >= 1);
  usable.sort((a, b) => b.cap - a.cap || a.i - b.i);
  let p = Math.min(spread, n);
  if (p > usable.length) return even;
  let room = usable.slice(0, p).reduce((sum, w) => sum + w.cap, 0);
  while (room < n && p < usable.length) room += usable[p++]!.cap;
  if (room < n) return even;
  const caps = usable.slice(0, p).map((w) => w.cap);
  const sizes = evenSizes(n, p);
  let excess = 0;
  sizes.forEach((size, k) => {
    excess += Math.max(0, size - caps[k]!);
    sizes[k] = Math.min(size, caps[k]!);
  });
  while (excess > 0) {
    for (let k = 0; k < p && excess > 0; k++) {
      if (sizes[k]! < caps[k]!) {
        sizes[k]!++;
        excess--;
      }
    }
  }
  return { parts: cut(members, sizes), workers: usable.slice(0, p).map((w) => w.i) };
}

/** The parts of a group: planParts without the workers. */
export function partsOf(members: readonly number[], options: SplitOptions, slots?: readonly number[]): number[][] {
  return planParts(members, options, slots).parts;
}

/** `count` sizes adding up to `n`, within one of each other, larger first. */
function evenSizes(n: number, count: number): number[] {
  return Array.from({ length: count }, (_, p) => Math.floor(n / count) + (p < n % count ? 1 : 0));
}

function cut(members: readonly number[], sizes: readonly number[]): number[][] {
  const parts: number[][] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(members.slice(at, at + size));
    at += size;
  }
  return parts;
}

/** The pipes a part's task carries (`pipes` it writes or reads), and which of them cross to another part. */
export function partPipes(pipes: readonly PipePlan[], here: ReadonlySet<string>): { carried: PipePlan[]; incoming: PipePlan[]; outgoing: PipePlan[] } {
  const carried = pipes.filter((p) => here.has(p.from) || here.has(p.to));
  return {
    carried,
    incoming: carried.filter((p) => here.has(p.to) && !here.has(p.from)),
    outgoing: carried.filter((p) => here.has(p.from) && !here.has(p.to)),
  };
}

/** Parts a job may ask a connected group to be split into (`spread`, NodePlan.spread), at most. */
export const MAX_SPREAD = 256;

/**
 * The split options of one group: the front end's (or the job's), with
 * `spread` raised to the largest any of its nodes asks (NodePlan.spread,
 * a job description's `spread`). A bad value is a JobPlanError naming the node.
 */
export function splittingOf(base: SplitOptions, nodes: readonly NodePlan[]): SplitOptions {
  let spread = base.spread ?? 1;
  for (const node of nodes) {
    if (node.spread === undefined) continue;
    if (!Number.isInteger(node.spread) || node.spread < 1 || node.spread > MAX_SPREAD) throw new JobPlanError(`node '${node.name}': spread must be a whole number from 1 to ${MAX_SPREAD} (the parts its connected group is split into), not ${String(node.spread)}`);
    spread = Math.max(spread, node.spread);
  }
  return spread === (base.spread ?? 1) ? base : { ...base, spread };
}

/** What a split group needs of its front end. */
export interface SplitHost {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly results: KV;
  readonly names: NameService;
  /** Part result keys routed to their group. */
  readonly routes: Map<string, SplitGroup>;
  /** A stored result's nodes as NodeResults (outputs fetched, files written); throws when it cannot. */
  readNodes(members: readonly number[], stored: ResultEntry): Promise<NodeResult[]>;
  log?(line: string): void;
}

export class SplitGroup {
  private attempt = 0;
  private readonly seqs: (number | undefined)[] = [];
  private readonly got = new Map<number, NodeResult[]>();
  private wire: ReadonlyMap<number, WireNode> = new Map();
  private done = false;
  private readonly maxRuns: number;

  constructor(
    private readonly host: SplitHost,
    readonly job: string,
    readonly group: number,
    /** Plan indexes by part. */
    readonly parts: readonly (readonly number[])[],
    private readonly nodeNames: readonly string[],
    private readonly pipes: readonly PipePlan[],
    options: SplitOptions,
    /** The group's nodes in the order of its members (the parts concatenated). */
    private readonly finish: (nodes: readonly NodeResult[]) => void,
  ) {
    this.maxRuns = options.maxGroupRuns ?? 2;
  }

  /** Publishes the first run's parts; `wire` holds each member's task form. */
  async start(wire: ReadonlyMap<number, WireNode>): Promise<void> {
    this.wire = wire;
    await this.publishRun();
  }

  private part(index: number): PartInfo {
    return { index, of: this.parts.length, attempt: this.attempt };
  }

  private async publishRun(): Promise<void> {
    this.attempt++;
    this.got.clear();
    this.seqs.length = 0;
    for (let index = 0; index < this.parts.length && !this.done; index++) {
      const members = this.parts[index]!;
      const here = new Set(members.map((i) => this.nodeNames[i]!));
      const task: TaskMessage = {
        version: 1,
        job: this.job,
        group: this.group,
        nodes: members.map((i) => this.wire.get(i)!),
        pipes: partPipes(this.pipes, here).carried,
        part: this.part(index),
      };
      this.host.routes.set(resultKey(this.job, this.group, task.part), this);
      const ack = await this.host.js.publish(taskSubject(this.job), JSON.stringify(task), { msgID: `${this.job}.${this.group}.a${this.attempt}.p${index}` });
      this.seqs[index] = ack.seq;
    }
  }

  /** A part's stored result. */
  async onResult(stored: ResultEntry): Promise<void> {
    const part = stored.part;
    if (this.done || part === undefined || part.attempt !== this.attempt || this.got.has(part.index)) return;
    if (stored.gangTimeout !== undefined) return this.fail('GangStartTimeout', stored.gangTimeout);
    if (stored.memberLost !== undefined) return this.lost(stored.memberLost);
    let nodes: NodeResult[];
    try {
      nodes = await this.host.readNodes(this.parts[part.index]!, stored);
    } catch (error) {
      return this.fail('ResultUnreadable', `the result stored by a worker could not be read back: ${(error as Error).message}`);
    }
    if (this.done || part.attempt !== this.attempt) return;
    this.got.set(part.index, nodes);
    if (this.got.size < this.parts.length) return;
    this.done = true;
    this.finish(this.parts.flatMap((_, p) => this.got.get(p)!));
  }

  /** The stream message `seq` was delivered max-deliver times without an ack. */
  onMaxDeliveries(seq: number, deliveries: number): void {
    if (this.done || !this.seqs.includes(seq)) return;
    this.fail('MaxDeliveries', `a part of the connected group was delivered ${deliveries} times and no worker finished it (workers died or lost their connection while running it); the job gives up on the group`);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    void this.release();
  }

  /** Removes what the group left in the buckets (the job is over). */
  async cleanup(): Promise<void> {
    const keys: string[] = [];
    for (let attempt = 1; attempt <= this.attempt; attempt++) for (let index = 0; index < this.parts.length; index++) keys.push(resultKey(this.job, this.group, { index, of: this.parts.length, attempt }));
    for (const key of keys) this.host.routes.delete(key);
    await Promise.all(keys.map((key) => this.host.results.purge(key).catch(() => undefined)));
    for (let attempt = 1; attempt <= this.attempt; attempt++) await this.host.names.purge(this.job, this.group, attempt, this.parts.length).catch(() => undefined);
  }

  /** Gives the current run up: its workers stop (cancel key), its tasks not yet taken leave the stream. */
  private async release(): Promise<void> {
    await this.host.names.cancel(this.job, this.group, this.attempt).catch(() => undefined);
    await Promise.all(this.seqs.map((seq) => (seq === undefined ? undefined : this.host.jsm.streams.deleteMessage(TASK_STREAM, seq).catch(() => false))));
  }

  private async lost(why: string): Promise<void> {
    if (this.attempt >= this.maxRuns) {
      return this.fail('GroupMemberLost', `a worker running part of this connected group was lost (${why}); the group ran ${this.attempt} time${this.attempt === 1 ? '' : 's'}, the most allowed (maxGroupRuns), and its nodes did not finish`);
    }
    this.host.log?.(`job ${this.job} group ${this.group}: a member was lost (${why}); running every part of the group again`);
    await this.release();
    if (this.done) return;
    try {
      await this.publishRun();
    } catch (error) {
      this.fail('GroupMemberLost', `a member of the connected group was lost (${why}) and the group could not be queued again: ${(error as Error).message}`);
    }
  }

  private fail(kind: string, message: string): void {
    if (this.done) return;
    this.done = true;
    void this.release();
    this.finish(this.parts.flatMap((members) => members.map((i) => failedNode(this.nodeNames[i]!, kind, message))));
  }
}
