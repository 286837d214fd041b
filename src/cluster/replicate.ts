/**
 * Replication (ZeroCloud's `replicate: 2|3`): copies of a node run on
 * different workers, and the front end compares what they gave before the
 * job sees one result (spec/cluster.md, "Replication").
 *
 * Where: src/cluster, called by the front end (executor.ts) once every
 * copy has answered. Sessions are deterministic, so copies that disagree
 * mean a fault of a host (a corrupted disk or cache, bad memory, a broken
 * engine): the node fails with kind `ReplicaMismatch` and a message that
 * names the workers and what differs, and its output files are not
 * written.
 *
 * Compared: the exit code and state, every channel etag (copies run with
 * etags on), and the bytes of every output returned. The memory etag
 * (`/dev/memory`) is not compared: on the native engine it depends on
 * which thread of a worker's pool ran the session (spec/cluster.md, "Not
 * done yet"), which says nothing about the results.
 */
import { createHash } from 'node:crypto';
import type { NodeResult } from '../jobs/executor.js';
import { failedNode } from '../jobs/run-node.js';
import { MEMORY_ETAG_ALIAS } from '../runtime/etag.js';

/** What one copy gave. */
export interface ReplicaOutcome {
  readonly node: NodeResult;
  /** 'file' outputs and read-write files: their final bytes, by the plan's path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** The comparable face of one copy: name -> value of everything compared. */
function fingerprint(copy: ReplicaOutcome): Map<string, string> {
  const seen = new Map<string, string>();
  seen.set('exit code', String(copy.node.exitCode));
  seen.set('exit state', copy.node.exitState);
  for (const etag of copy.node.etags) if (etag.alias !== MEMORY_ETAG_ALIAS) seen.set(`etag of ${etag.alias}`, etag.digest);
  const digest = (bytes: Uint8Array): string => `sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
  for (const [alias, bytes] of Object.entries(copy.node.outputs)) seen.set(`output ${alias}`, digest(bytes));
  for (const [path, bytes] of copy.files) seen.set(`file ${path}`, digest(bytes));
  return seen;
}

/**
 * One result for the node from its copies (in copy order): the first
 * copy's when all agree, with `ranOn` naming every copy's worker; the
 * first failure when a copy could not run; a ReplicaMismatch failure when
 * they ran and disagree. `files` are the bytes to write (none on failure).
 */
export function settleReplicas(name: string, copies: readonly ReplicaOutcome[]): { node: NodeResult; files: ReadonlyMap<string, Uint8Array> } {
  const ranOn = copies.map((c) => c.node.ranOn ?? '?').join(',');
  const broken = copies.find((c) => c.node.error !== undefined);
  if (broken !== undefined) return { node: { ...broken.node, name, ranOn }, files: new Map() };
  const prints = copies.map(fingerprint);
  const keys = new Set(prints.flatMap((p) => [...p.keys()]));
  const differing: string[] = [];
  for (const key of keys) {
    const values = prints.map((p) => p.get(key) ?? '(none)');
    if (new Set(values).size > 1) differing.push(`${key}: ${copies.map((c, i) => `${c.node.ranOn ?? '?'} ${values[i]}`).join(' vs ')}`);
  }
  if (differing.length === 0) return { node: { ...copies[0]!.node, name, ranOn }, files: copies[0]!.files };
  const message = `the ${copies.length} copies of node '${name}' (replicate: ${copies.length}) disagree, so a worker gave a wrong result (a corrupted cache or disk, bad memory or a broken engine on one of ${ranOn}); the node's outputs are withheld. Differences: ${differing.join('; ')}`;
  return { node: { ...failedNode(name, 'ReplicaMismatch', message), ranOn, detail: differing.join('\n') }, files: new Map() };
}
