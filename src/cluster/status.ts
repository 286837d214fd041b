/**
 * What `zerovm cluster status` reports (spec/cluster.md, "Status"): the
 * workers of the registry and the sessions queued and running, from
 * JetStream's own counts of the task stream's consumers.
 *
 * Where: src/cluster, read by src/cli/cluster-command.ts. Tasks are
 * groups of connected nodes (usually one node each): "sessions" here
 * counts tasks. A task is queued while no worker has pulled it
 * (`num_pending`) and running while a worker holds it unacknowledged
 * (`num_ack_pending`); a task a worker took directly (direct.ts) is in no
 * stream: live workers' entries count those.
 */
import type { ClusterConnection } from './connection.js';
import { TASK_STREAM, WORKER_CONSUMER } from './protocol.js';
import { parseWorkerEntry, TARGET_STREAM, type PlacementStores, type WorkerEntry } from './registry.js';
import { targetConsumerName } from './placement.js';

export interface WorkerStatus extends Omit<WorkerEntry, 'blobs' | 'version'> {
  /** Seconds since the worker last rewrote its entry (the servers' clock against this host's). */
  readonly heardSecondsAgo: number;
  /** It rewrote its entry within three heartbeats. */
  readonly alive: boolean;
  /** Tasks sent to it alone that it has not pulled yet. */
  readonly queuedForIt: number;
}

export interface QueueCounts {
  /** Not pulled by any worker yet. */
  readonly queued: number;
  /** Pulled and not yet acknowledged: running (or held by a worker that died, until the ack wait ends). */
  readonly running: number;
}

export interface ClusterStatus {
  readonly workers: readonly WorkerStatus[];
  /** The shared work queue. */
  readonly shared: QueueCounts;
  /** Tasks sent to one worker (placement), all workers together. */
  readonly targeted: QueueCounts;
  /** Tasks offered to a worker directly (never queued): what live workers' entries say they run. */
  readonly direct: QueueCounts;
  /** All three. */
  readonly total: QueueCounts;
}

export async function clusterStatus(conn: ClusterConnection, stores: PlacementStores, now = Date.now()): Promise<ClusterStatus> {
  const shared = await conn.jsm.consumers.info(TASK_STREAM, WORKER_CONSUMER).then(
    (info) => ({ queued: info.num_pending, running: info.num_ack_pending }),
    () => ({ queued: 0, running: 0 }),
  );
  const perConsumer = new Map<string, QueueCounts>();
  for await (const info of conn.jsm.consumers.list(TARGET_STREAM)) perConsumer.set(info.name, { queued: info.num_pending, running: info.num_ack_pending });
  const targeted = [...perConsumer.values()].reduce((a, c) => ({ queued: a.queued + c.queued, running: a.running + c.running }), { queued: 0, running: 0 });
  const workers: WorkerStatus[] = [];
  /* keys() reads the bucket through a consumer: a worker rewriting its entry meanwhile can come twice */
  const keys = new Set<string>();
  for await (const key of await stores.registry.keys()) keys.add(key);
  for (const key of keys) {
    const entry = await stores.registry.get(key);
    if (entry?.operation !== 'PUT') continue;
    const parsed = parseWorkerEntry(entry.string());
    if (parsed === undefined) continue;
    const { blobs: _blobs, version: _version, ...rest } = parsed;
    const heardSecondsAgo = Math.max(0, (now - entry.created.getTime()) / 1000);
    workers.push({ ...rest, heardSecondsAgo, alive: heardSecondsAgo * 1000 <= 3 * parsed.heartbeatMs + 1000, queuedForIt: perConsumer.get(targetConsumerName(parsed.token))?.queued ?? 0 });
  }
  workers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const direct = { queued: 0, running: workers.reduce((n, w) => n + (w.alive ? (w.direct ?? 0) : 0), 0) };
  return { workers, shared, targeted, direct, total: { queued: shared.queued + targeted.queued, running: shared.running + targeted.running + direct.running } };
}

/** The status as a few lines of text. */
export function formatStatus(status: ClusterStatus): string {
  const lines: string[] = [];
  const live = status.workers.filter((w) => w.alive);
  lines.push(`workers: ${live.length} live, ${live.reduce((n, w) => n + w.slots, 0)} slots, ${live.reduce((n, w) => n + w.running, 0)} running`);
  if (status.workers.length > 0) {
    const rows = [['NAME', 'HOST', 'PID', 'ENGINE', 'SLOTS', 'RUNNING', 'DONE', 'QUEUED', 'CACHED', 'STATE', 'HEARD']];
    for (const w of status.workers) {
      const state = !w.alive ? 'silent' : w.draining ? 'draining' : 'ready';
      rows.push([w.name, w.host, String(w.pid), w.engine, String(w.slots), String(w.running), String(w.done), String(w.queuedForIt), String(w.blobCount), state, `${w.heardSecondsAgo.toFixed(1)} s ago`]);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const row of rows) lines.push(`  ${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}`);
  }
  lines.push(`sessions queued: ${status.total.queued} (shared queue ${status.shared.queued}, sent to one worker ${status.targeted.queued})`);
  lines.push(`sessions running: ${status.total.running} (shared queue ${status.shared.running}, sent to one worker ${status.targeted.running}, offered directly ${status.direct.running})`);
  return `${lines.join('\n')}\n`;
}
