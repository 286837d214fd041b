/**
 * Checks a JobPlan before anything runs and splits it into the groups of
 * nodes that pipes connect: the nodes of one group must run at the same
 * time (a pipe has a small ring, so a writer waits for its reader), the
 * groups are independent (spec/serving.md, "Executing jobs").
 *
 * Where: src/jobs, called by every executor's run(). A plan that breaks
 * these rules is the front end's mistake, thrown as JobPlanError: the job
 * does not start.
 */
import type { JobPlan, NodeChannel, NodeInput, NodeOutput, NodePlan } from './executor.js';

/** A plan that cannot run anywhere: `message` says what to change. */
export class JobPlanError extends Error {
  override name = 'JobPlanError';
}

/** One node's use of one pipe. */
interface PipeUse {
  readonly node: string;
  readonly alias: string;
}

/** The plan's nodes by group, each group in plan order, and the pipe ids each node writes and reads. */
export interface CheckedPlan {
  readonly groups: readonly (readonly number[])[];
  readonly writes: readonly (readonly string[])[];
  readonly reads: readonly (readonly string[])[];
}

function pipeOfInput(input: NodeInput | undefined): string | undefined {
  return input !== undefined && 'pipe' in input ? input.pipe : undefined;
}

function pipeOfOutput(output: NodeOutput | undefined): string | undefined {
  return typeof output === 'object' && 'pipe' in output ? output.pipe : undefined;
}

/** Every (alias, pipe, direction) of a node. */
type PipeUseOf = { alias: string; pipe: string; direction: 'read' | 'write' };

function addUse(uses: PipeUseOf[], alias: string, pipe: string | undefined, direction: 'read' | 'write'): void {
  if (pipe !== undefined) uses.push({ alias, pipe, direction });
}

function pipeUses(node: NodePlan): PipeUseOf[] {
  const uses: PipeUseOf[] = [];
  addUse(uses, '/dev/stdin', pipeOfInput(node.stdin), 'read');
  addUse(uses, '/dev/stdout', pipeOfOutput(node.stdout), 'write');
  addUse(uses, '/dev/stderr', pipeOfOutput(node.stderr), 'write');
  for (const channel of node.channels ?? ([] as NodeChannel[])) {
    if ('input' in channel) addUse(uses, channel.alias, pipeOfInput(channel.input), 'read');
    else if ('output' in channel) addUse(uses, channel.alias, pipeOfOutput(channel.output), 'write');
  }
  return uses;
}

/** What an executor can do beyond one host. */
export interface PlanAbilities {
  /** Runs `replicate: 2|3` (a cluster executor). Default false: such a node is refused. */
  readonly replicas?: boolean;
}

/** Checks `plan` and finds its groups. Throws JobPlanError. */
export function checkPlan(plan: JobPlan, abilities: PlanAbilities = {}): CheckedPlan {
  if (plan.nodes.length === 0) throw new JobPlanError('the job has no nodes');
  /* one node and no pipes (a server's usual request): the checks below that can fail for it, without their maps */
  const only = plan.nodes.length === 1 && (plan.pipes?.length ?? 0) === 0 ? plan.nodes[0]! : undefined;
  if (only !== undefined && typeof only.name === 'string' && only.name !== '' && (only.replicate ?? 1) === 1 && pipeUses(only).length === 0) return { groups: [[0]], writes: [[]], reads: [[]] };
  const index = new Map<string, number>();
  plan.nodes.forEach((node, i) => {
    if (typeof node.name !== 'string' || node.name === '') throw new JobPlanError(`node ${i + 1} has no name`);
    if (index.has(node.name)) throw new JobPlanError(`two nodes are named '${node.name}': names must be unique in a job`);
    index.set(node.name, i);
    const replicate = node.replicate ?? 1;
    if (replicate !== 1 && replicate !== 2 && replicate !== 3) throw new JobPlanError(`node '${node.name}': replicate must be 1, 2 or 3, not ${String(replicate)}`);
    if (replicate > 1 && abilities.replicas !== true) throw new JobPlanError(`node '${node.name}' asks for replicate: ${replicate}, which runs copies on different hosts: only a cluster executor (NATS, spec/cluster.md) replicates; leave it out on one host`);
  });

  const pipes = new Map<string, { from: string; to: string }>();
  for (const pipe of plan.pipes ?? []) {
    if (pipes.has(pipe.id)) throw new JobPlanError(`two pipes have the id '${pipe.id}'`);
    for (const end of [pipe.from, pipe.to]) if (!index.has(end)) throw new JobPlanError(`pipe '${pipe.id}' connects node '${end}', which the job does not have`);
    pipes.set(pipe.id, { from: pipe.from, to: pipe.to });
  }

  const writers = new Map<string, PipeUse>();
  const readers = new Map<string, PipeUse>();
  const writes: string[][] = plan.nodes.map(() => []);
  const reads: string[][] = plan.nodes.map(() => []);
  plan.nodes.forEach((node, i) => {
    for (const use of pipeUses(node)) {
      const pipe = pipes.get(use.pipe);
      if (pipe === undefined) throw new JobPlanError(`node '${node.name}' channel ${use.alias} uses pipe '${use.pipe}', which the job's pipes do not list`);
      const expected = use.direction === 'write' ? pipe.from : pipe.to;
      if (expected !== node.name) throw new JobPlanError(`pipe '${use.pipe}' goes from '${pipe.from}' to '${pipe.to}', but node '${node.name}' ${use.direction === 'write' ? 'writes' : 'reads'} it (${use.alias})`);
      const seen = use.direction === 'write' ? writers : readers;
      const before = seen.get(use.pipe);
      if (before !== undefined) throw new JobPlanError(`pipe '${use.pipe}' is ${use.direction === 'write' ? 'written' : 'read'} by two channels (${before.node} ${before.alias}, ${node.name} ${use.alias}); a pipe has one writer and one reader`);
      seen.set(use.pipe, { node: node.name, alias: use.alias });
      (use.direction === 'write' ? writes : reads)[i]!.push(use.pipe);
    }
  });
  for (const [id, pipe] of pipes) {
    if (!writers.has(id)) throw new JobPlanError(`pipe '${id}': node '${pipe.from}' has no channel that writes it ({ output: { pipe: '${id}' } })`);
    if (!readers.has(id)) throw new JobPlanError(`pipe '${id}': node '${pipe.to}' has no channel that reads it ({ input: { pipe: '${id}' } })`);
  }

  /* groups: union-find over the pipes */
  const parent = plan.nodes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (const pipe of pipes.values()) parent[find(index.get(pipe.from)!)] = find(index.get(pipe.to)!);
  const byRoot = new Map<number, number[]>();
  plan.nodes.forEach((_, i) => {
    const root = find(i);
    const group = byRoot.get(root) ?? [];
    group.push(i);
    byRoot.set(root, group);
  });
  return { groups: [...byRoot.values()], writes, reads };
}
