/**
 * Replication (ZeroCloud's `replicate: 2|3`): copies of a node, or of a
 * whole connected group, run on different workers, and the front end
 * compares what they gave before the job sees one result (spec/cluster.md,
 * "Replication").
 *
 * Where: src/cluster, called by the front end (executor.ts) once every
 * copy has answered. Sessions are deterministic, so copies that disagree
 * mean a fault of a host (a corrupted disk or cache, bad memory, a broken
 * engine): the nodes fail with kind `ReplicaMismatch` and a message that
 * names the workers and what differs, and their output files are not
 * written.
 *
 * Compared, node by node: the exit code and state, every channel etag
 * (copies run with etags on), the memory etag (`/dev/memory`: taken as at
 * ZeroVM's sandbox base, so the same on every worker and pool thread;
 * spec/runtime.md, "The sandbox base"), and the bytes of every output
 * returned. Not compared: the memory etag of a node that reads a pipe,
 * whose buffers hold the last chunk a read got, and how a pipe's bytes are
 * cut into reads depends on timing (spec/cluster.md, "Pipes between
 * workers").
 */
import { createHash } from 'node:crypto';
import type { JobPlan, NodePlan, NodeResult } from '../jobs/executor.js';
import { JobPlanError } from '../jobs/plan.js';
import { failedNode } from '../jobs/run-node.js';
import { MEMORY_ETAG_ALIAS } from '../runtime/etag.js';

/** What one copy gave: its nodes' results, in the order of the replicated nodes. */
export interface ReplicaOutcome {
  readonly nodes: readonly NodeResult[];
  /** 'file' outputs and read-write files: their final bytes, by the plan's path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** A replicated node as the comparison needs it. */
export interface ReplicatedNode {
  readonly name: string;
  /** It reads a pipe: its memory etag depends on how the pipe's bytes were cut into reads, and is not compared. */
  readonly readsPipe: boolean;
}

/** Whether a node reads a pipe of its job (stdin or an input channel). */
export function readsPipe(node: NodePlan): boolean {
  if (node.stdin !== undefined && 'pipe' in node.stdin) return true;
  return (node.channels ?? []).some((c) => 'input' in c && 'pipe' in c.input);
}

/**
 * A connected group with `replicate` is replicated whole: each copy of the
 * group runs on one worker, its pipes that worker's rings, and every node
 * is compared. So its nodes must ask for the same number of copies, and
 * the group cannot also be split over workers (`parts`: how many parts
 * splitting would make of it). A JobPlanError (400) otherwise.
 */
export function checkReplicatedGroup(plan: JobPlan, members: readonly number[], parts: number): void {
  if (members.length < 2) return;
  const nodes = members.map((i) => plan.nodes[i]!);
  const names = nodes.map((n) => `'${n.name}'`).join(', ');
  const asked = nodes.map((n) => n.replicate ?? 1);
  if (new Set(asked).size > 1) {
    throw new JobPlanError(`pipes connect the nodes ${names} into one group, which is replicated whole (each copy of the group on its own worker), but they ask for different replicate values (${nodes.map((n) => `${n.name}: ${n.replicate ?? 1}`).join(', ')}); give every node of the group the same replicate`);
  }
  if (parts > 1) {
    throw new JobPlanError(`the connected group ${names} asks for replicate: ${asked[0]}, and each copy of a replicated group runs whole on one worker; it cannot also be split over ${parts} workers (spread, or more nodes than one worker runs): leave out spread or replicate`);
  }
}

/** The comparable face of one node of one copy: name -> value of everything compared. */
function fingerprint(node: NodeResult, memory: boolean): Map<string, string> {
  const seen = new Map<string, string>();
  seen.set('exit code', String(node.exitCode));
  seen.set('exit state', node.exitState);
  for (const etag of node.etags) if (memory || etag.alias !== MEMORY_ETAG_ALIAS) seen.set(`etag of ${etag.alias}`, etag.digest);
  const digest = (bytes: Uint8Array): string => `sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
  for (const [alias, bytes] of Object.entries(node.outputs)) seen.set(`output ${alias}`, digest(bytes));
  return seen;
}

function filePrint(files: ReadonlyMap<string, Uint8Array>): Map<string, string> {
  const seen = new Map<string, string>();
  for (const [path, bytes] of files) seen.set(`file ${path}`, `sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
  return seen;
}

/** Items whose values differ between the copies, each as `item: w1 value vs w2 value`. */
function differences(prints: readonly Map<string, string>[], workers: readonly string[], prefix: string): string[] {
  const keys = new Set(prints.flatMap((p) => [...p.keys()]));
  const differing: string[] = [];
  for (const key of keys) {
    const values = prints.map((p) => p.get(key) ?? '(none)');
    if (new Set(values).size > 1) differing.push(`${prefix}${key}: ${workers.map((w, i) => `${w} ${values[i]}`).join(' vs ')}`);
  }
  return differing;
}

/**
 * One result per replicated node from the copies (in copy order): the
 * first copy's when all agree, with `ranOn` naming every copy's worker;
 * the failure of a copy that could not run (the first such node's, for
 * every node); ReplicaMismatch for every node when the copies ran and
 * disagree. `files` are the bytes to write (none on failure).
 */
export function settleReplicas(members: readonly ReplicatedNode[], copies: readonly ReplicaOutcome[]): { nodes: NodeResult[]; files: ReadonlyMap<string, Uint8Array> } {
  const ranOnOf = (k: number): string => copies.map((c) => c.nodes[k]?.ranOn ?? '?').join(',');
  const broken = copies.flatMap((c) => c.nodes).find((n) => n.error !== undefined);
  if (broken !== undefined) {
    return { nodes: members.map((m, k) => ({ ...broken, name: m.name, ranOn: ranOnOf(k) })), files: new Map() };
  }
  const workers = copies.map((c) => c.nodes[0]?.ranOn ?? '?');
  const group = members.length > 1;
  const differing = members.flatMap((m, k) =>
    differences(
      copies.map((c) => fingerprint(c.nodes[k]!, !m.readsPipe)),
      workers,
      group ? `node '${m.name}' ` : '',
    ),
  );
  differing.push(...differences(copies.map((c) => filePrint(c.files)), workers, ''));
  if (differing.length === 0) return { nodes: members.map((m, k) => ({ ...copies[0]!.nodes[k]!, name: m.name, ranOn: ranOnOf(k) })), files: copies[0]!.files };
  const what = group ? `the connected group ${members.map((m) => `'${m.name}'`).join(', ')}` : `node '${members[0]!.name}'`;
  const message = `the ${copies.length} copies of ${what} (replicate: ${copies.length}) disagree, so a worker gave a wrong result (a corrupted cache or disk, bad memory or a broken engine on one of ${workers.join(',')}); the outputs are withheld. Differences: ${differing.join('; ')}`;
  return { nodes: members.map((m, k) => ({ ...failedNode(m.name, 'ReplicaMismatch', message), ranOn: ranOnOf(k), detail: differing.join('\n') })), files: new Map() };
}
