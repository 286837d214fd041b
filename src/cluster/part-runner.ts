/**
 * One part of a split group on a worker (spec/cluster.md, "Pipes between
 * workers", "Gang start", "A lost member"): publishes where the part's
 * incoming pipes listen, waits until every part of the group has a worker
 * (gang start), connects its outgoing pipes, runs its nodes on the local
 * pool with the crossing pipes as rings served by net-pipe.ts, and says
 * whether a member was lost on the way.
 *
 * Where: src/cluster, called by the worker (worker.ts) for a task with
 * `part`; the nodes' plan is made by the worker as for any task.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { JobPlan, JobResult, NodeInput, NodeOutput, NodePlan, PipePlan } from '../jobs/executor.js';
import { createRingPipe, type RingPipeState } from '../jobs/ring-pipe.js';
import type { NameService } from './name-service.js';
import { sendPipe, type IncomingPipe, type PipeEnding, type PipeEndpoint, type PipeListener, type PipeTls } from './net-pipe.js';
import type { PartInfo, TaskMessage } from './protocol.js';
import { partPipes } from './split.js';

export interface PartContext {
  readonly worker: string;
  readonly names: NameService;
  /** This worker's pipe listener (started on first use; with TLS when `tls` is set). */
  readonly listener: () => Promise<PipeListener>;
  /** TLS material of this worker's pipes (net-pipe.ts): set, pipes go over TLS only. */
  readonly tls?: PipeTls;
  readonly gangWaitMs: number;
  /** The consumer's max deliver now (a front end may have changed it since the worker started). */
  readonly maxDeliver: () => Promise<number>;
  readonly log: (line: string) => void;
}

/** What the worker does with the task. */
export type PartOutcome<T> =
  /** Store this result (`memberLost`, `gangTimeout` set when so) and acknowledge. */
  | { readonly kind: 'result'; readonly nodes?: T; readonly memberLost?: string; readonly gangTimeout?: string }
  /** Not every part found a worker in time: release the slot, deliver the task again later. */
  | { readonly kind: 'retry' }
  /** The front end gave this attempt up: acknowledge without a result. */
  | { readonly kind: 'drop' };

/** Bytes of the ring on each side of a pipe between workers (a power of two): what a session may write or read ahead of the socket. */
const NET_RING_CAPACITY = 256 * 1024;

/** How long an ending pipe may take to settle after the part's sessions ended. */
const SETTLE_MS = 5000;

/**
 * Runs the part. `runTask` makes the nodes' plan and runs it through the
 * given function (which swaps crossing pipes for rings and runs the local pool).
 */
export async function runPart<T>(task: TaskMessage & { readonly part: PartInfo }, message: JsMsg, context: PartContext, runTask: (run: (plan: JobPlan) => Promise<JobResult>) => Promise<T>, pool: { run(plan: JobPlan, options: { signal: AbortSignal }): Promise<JobResult> }): Promise<PartOutcome<T>> {
  const { job, group, part } = task;
  const { names } = context;
  const label = `${job}.${group} part ${part.index + 1}/${part.of} (attempt ${part.attempt})`;
  if (await names.cancelled(job, group, part.attempt)) return { kind: 'drop' };
  const before = await names.member(job, group, part.attempt, part.index);
  if (before?.started === true && message.info.deliveryCount > 1) {
    return { kind: 'result', memberLost: `part ${part.index + 1} of ${part.of} of the group had started on worker ${before.worker} and was delivered again: that worker was lost while the group ran` };
  }
  const here = new Set(task.nodes.map((n) => n.name));
  const { incoming, outgoing } = partPipes(task.pipes, here);
  const listener = incoming.length > 0 ? await context.listener() : undefined;
  const rings = new Map<string, RingPipeState>();
  const waiting: IncomingPipe[] = [];
  const endpoints: Record<string, PipeEndpoint> = {};
  for (const pipe of incoming) {
    const ring = createRingPipe(NET_RING_CAPACITY);
    rings.set(pipe.id, ring);
    const expected = listener!.expect(ring, `'${pipe.id}' (${pipe.from} -> ${pipe.to})`);
    waiting.push(expected);
    endpoints[pipe.id] = listener!.endpoint(expected.token);
  }
  const watch = await names.watch(job, group, part.attempt);
  try {
    await names.register(job, group, part.attempt, part.index, { worker: context.worker, started: false, endpoints });
    const gang = await watch.waitFor(part.of, context.gangWaitMs);
    if (gang !== 'complete') {
      for (const pipe of waiting) pipe.cancel();
      if (gang === 'cancelled') return { kind: 'drop' };
      const present = watch.members.size;
      await names.withdraw(job, group, part.attempt, part.index).catch(() => undefined);
      context.log(`${label}: ${present} of ${part.of} parts had a worker after ${context.gangWaitMs} ms (delivery ${message.info.deliveryCount}); releasing the slot`);
      if (message.info.deliveryCount < (await context.maxDeliver())) return { kind: 'retry' };
      return { kind: 'result', gangTimeout: `the group's ${part.of} parts never all had a worker at the same time (${present} of ${part.of} after ${context.gangWaitMs} ms, ${message.info.deliveryCount} times): a split group needs ${part.of} free slots at once; add workers or slots, or split it into fewer parts` };
    }
    await names.register(job, group, part.attempt, part.index, { worker: context.worker, started: true, endpoints });
    const sends: Promise<PipeEnding>[] = [];
    for (const pipe of outgoing) {
      const endpoint = [...watch.members.values()].map((m) => m.endpoints[pipe.id]).find((e) => e !== undefined);
      const ring = createRingPipe(NET_RING_CAPACITY);
      rings.set(pipe.id, ring);
      if (endpoint === undefined) {
        sends.push(Promise.resolve({ clean: false, why: `pipe '${pipe.id}': no part published where its reader listens`, bytes: 0 }));
        continue;
      }
      sends.push(sendPipe(ring, endpoint, `'${pipe.id}' (${pipe.from} -> ${pipe.to})`, context.tls));
    }
    const abort = new AbortController();
    const offCancel = watch.onChange(() => {
      if (watch.cancelled) abort.abort();
    });
    if (watch.cancelled) abort.abort();
    let nodes: T;
    try {
      nodes = await runTask((plan) => pool.run(withRings(plan, rings), { signal: abort.signal }));
    } finally {
      offCancel();
      for (const pipe of waiting) pipe.cancel(); /* a writer that never connected: its part is gone */
    }
    if (abort.signal.aborted) return { kind: 'drop' };
    const endings = await Promise.race([Promise.all([...waiting.map((w) => w.ended), ...sends]), new Promise<undefined>((r) => setTimeout(() => r(undefined), SETTLE_MS).unref())]);
    const lost = endings === undefined ? `a pipe to another worker did not end within ${SETTLE_MS} ms of the part's end` : endings.find((e): e is Extract<PipeEnding, { clean: false }> => !e.clean)?.why;
    return { kind: 'result', nodes, ...(lost === undefined ? {} : { memberLost: lost }) };
  } finally {
    watch.stop();
  }
}

/** The plan with crossing pipes swapped for this worker's rings (`{ ring }`), and only the pipes inside the part. */
function withRings(plan: JobPlan, rings: ReadonlyMap<string, RingPipeState>): JobPlan {
  const input = (given: NodeInput | undefined): NodeInput | undefined => (given !== undefined && 'pipe' in given && rings.has(given.pipe) ? { ring: rings.get(given.pipe)! } : given);
  const output = (given: NodeOutput | undefined): NodeOutput | undefined => (typeof given === 'object' && 'pipe' in given && rings.has(given.pipe) ? { ring: rings.get(given.pipe)! } : given);
  const nodes = plan.nodes.map((node): NodePlan => {
    const stdin = input(node.stdin);
    const stdout = output(node.stdout);
    const stderr = output(node.stderr);
    return {
      ...node,
      ...(stdin === undefined ? {} : { stdin }),
      ...(stdout === undefined ? {} : { stdout }),
      ...(stderr === undefined ? {} : { stderr }),
      channels: (node.channels ?? []).map((c) => ('input' in c ? { ...c, input: input(c.input)! } : 'output' in c ? { ...c, output: output(c.output)! } : c)),
    };
  });
  const pipes: PipePlan[] = (plan.pipes ?? []).filter((p) => !rings.has(p.id));
  return { nodes, pipes };
}
