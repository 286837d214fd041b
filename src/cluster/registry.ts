/**
 * The worker registry: a KV bucket with one key per live worker, which the
 * worker rewrites on every change of its state and at least once per
 * heartbeat (spec/cluster.md, "Worker registry"). Front ends read it to
 * place tasks (placement.ts); `zerovm cluster status` prints it.
 *
 * Where: src/cluster. A worker that dies stops writing: readers judge
 * liveness by whether the entry still changes (they never compare clocks
 * of two hosts), and the bucket's TTL removes a dead worker's key in the
 * end. A worker that stops cleanly deletes its key.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { NatsConnectError, type ClusterConnection } from './connection.js';
import { isBlobName } from './protocol.js';
import { retryingNats } from './retry.js';

/** KV bucket of workers, key = workerToken(name). */
export const REGISTRY_BUCKET = 'zerovm-registry';
/** KV bucket of claims of tasks sent to one worker (placement.ts), key = the task's `claim`. */
export const CLAIM_BUCKET = 'zerovm-claims';
/** Work-queue stream of tasks sent to one worker; subject `zerovm.target.<token>`. */
export const TARGET_STREAM = 'ZEROVM_TARGETED';
export const TARGET_SUBJECT_PREFIX = 'zerovm.target';
/** A registry key disappears this long after its worker's last write. */
export const REGISTRY_TTL_MS = 60_000;
/** Default interval of a worker's rewrites. */
export const DEFAULT_HEARTBEAT_MS = 2000;
/** A worker writes its entry at most once per this long (state changes in between are coalesced into the next write). */
export const ADVERT_SPACING_MS = 100;
/** Cached blobs a registry entry names at most (as 16-hex-digit prefixes, about 17 KB). */
export const ADVERTISED_BLOBS = 1024;
/** Hex digits of a blob name kept in the entry: a false match only costs a less good placement. */
export const BLOB_PREFIX_DIGITS = 16;

/** One worker as the registry holds it (JSON). */
export interface WorkerEntry {
  readonly version: 1;
  readonly name: string;
  /** Subject token, consumer suffix and registry key of the worker. */
  readonly token: string;
  readonly host: string;
  readonly pid: number;
  /** The engine of nodes that name none ('auto' when not set). */
  readonly engine: string;
  readonly slots: number;
  /** Slots in use now: the sessions of the tasks it runs (a task of more nodes than its slots takes them all; spec/cluster.md, "Slots are sessions"). */
  readonly running: number;
  /** Tasks it runs that were offered to it directly (direct.ts): no stream consumer counts them. Absent from entries of older workers. */
  readonly direct?: number;
  /** Tasks finished since it started. */
  readonly done: number;
  /** Prefixes (BLOB_PREFIX_DIGITS) of cached blob names, at most ADVERTISED_BLOBS, most recently used first. */
  readonly blobs: readonly string[];
  /** Blobs in its cache (may exceed what `blobs` lists). */
  readonly blobCount: number;
  /** ISO time it started (its own clock). */
  readonly started: string;
  /** It got SIGTERM and finishes what it holds; it takes no new task. */
  readonly draining: boolean;
  /** How often it rewrites its entry at least. */
  readonly heartbeatMs: number;
}

/**
 * A worker's name as one token of a subject, a consumer name and a KV key
 * (letters, digits, _ and -): the name made safe, plus 8 hex digits of its
 * hash so two names never share a token.
 */
export function workerToken(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `${safe}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

export function blobPrefix(blob: string): string {
  return blob.slice(0, BLOB_PREFIX_DIGITS);
}

/** The registry and claims buckets and the targeted-task stream, made when missing. */
export interface PlacementStores {
  readonly registry: KV;
  readonly claims: KV;
}

export async function openPlacementStores(conn: ClusterConnection, replicas = 1): Promise<PlacementStores> {
  try {
    return await makePlacementStores(conn, replicas);
  } catch (error) {
    throw new NatsConnectError(`connected to NATS, but JetStream could not give the registry, claims and targeted-task stores: ${(error as Error).message}; check that the servers run with JetStream and have elected a meta leader`);
  }
}

async function makePlacementStores(conn: ClusterConnection, replicas: number): Promise<PlacementStores> {
  try {
    await conn.jsm.streams.info(TARGET_STREAM);
  } catch {
    try {
      await conn.jsm.streams.add({
        name: TARGET_STREAM,
        subjects: [`${TARGET_SUBJECT_PREFIX}.>`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: replicas,
        /* a task for a worker that vanished is not kept forever (its front end has sent it elsewhere) */
        max_age: 3600 * 1_000_000_000,
      });
    } catch (error) {
      /* another process made it meanwhile */
      await conn.jsm.streams.info(TARGET_STREAM).catch(() => Promise.reject(error));
    }
  }
  const kvm = new Kvm(conn.nc);
  const open = async (name: string, ttl: number): Promise<KV> => {
    try {
      return await kvm.create(name, { replicas, ttl });
    } catch (error) {
      return kvm.open(name).catch(() => Promise.reject(error));
    }
  };
  return { registry: await open(REGISTRY_BUCKET, REGISTRY_TTL_MS), claims: await open(CLAIM_BUCKET, 3600_000) };
}

export function parseWorkerEntry(text: string): WorkerEntry | undefined {
  try {
    const value = JSON.parse(text) as Partial<WorkerEntry>;
    if (value.version !== 1 || typeof value.name !== 'string' || typeof value.token !== 'string' || !Number.isInteger(value.slots) || !Array.isArray(value.blobs)) return undefined;
    return value as WorkerEntry;
  } catch {
    return undefined;
  }
}

/** The names of the blobs in a worker's cache directory, most recently used first, and how many there are. */
export function cachedBlobs(cacheDir: string, limit = ADVERTISED_BLOBS): { names: string[]; count: number } {
  let files: string[];
  try {
    files = readdirSync(cacheDir).filter(isBlobName);
  } catch {
    return { names: [], count: 0 };
  }
  const timed = files.map((name) => {
    let used = 0;
    try {
      const stat = statSync(`${cacheDir}/${name}`);
      used = Math.max(stat.atimeMs, stat.mtimeMs);
    } catch {
      /* removed meanwhile */
    }
    return { name, used };
  });
  timed.sort((a, b) => b.used - a.used || (a.name < b.name ? -1 : 1));
  return { names: timed.slice(0, limit).map((t) => t.name), count: files.length };
}

/** What a worker reports about itself; `advertise` is called on every write. */
export interface WorkerState {
  readonly running: number;
  readonly direct: number;
  readonly done: number;
  readonly draining: boolean;
}

/**
 * A worker's own entry: written at start, on every `changed()` and every
 * heartbeat; deleted by `stop()`. Writes never overlap (one in flight, one
 * pending at most).
 */
export class WorkerAdvert {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private blobCache: { at: number; names: string[]; count: number } | undefined;
  private lastWriteAt = 0;
  private spacing: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: KV,
    private readonly fixed: Omit<WorkerEntry, 'version' | 'running' | 'done' | 'draining' | 'blobs' | 'blobCount'>,
    private readonly state: () => WorkerState,
    private readonly cacheDir: string,
    private readonly log: (line: string) => void,
  ) {}

  get token(): string {
    return this.fixed.token;
  }

  async start(): Promise<void> {
    /* a bucket made a moment ago may not have elected its leader yet: retried (retry.ts) */
    await retryingNats(() => this.write());
    this.timer = setInterval(() => this.changed(), this.fixed.heartbeatMs);
  }

  /**
   * The worker's state changed (a task started or ended, a drain began):
   * write soon. `blobsToo`: its cache may have grown; the directory is read
   * again if the last reading is older than half a heartbeat (front ends
   * learn a worker's new blobs from its results meanwhile).
   */
  changed(blobsToo = false): void {
    if (blobsToo && this.blobCache !== undefined && Date.now() - this.blobCache.at > this.fixed.heartbeatMs / 2) this.blobCache = undefined;
    if (this.writing !== undefined || this.spacing !== undefined) {
      this.again = true;
      return;
    }
    /*
     * At most one write per ADVERT_SPACING_MS: a worker of short sessions
     * changes state twice per session, and each write is a replicated one
     * the servers' cores pay for (spec/cluster.md, "Worker registry").
     */
    const wait = this.lastWriteAt + ADVERT_SPACING_MS - Date.now();
    if (wait > 0) {
      this.spacing = setTimeout(() => {
        this.spacing = undefined;
        this.again = false;
        this.changed();
      }, wait);
      return;
    }
    this.lastWriteAt = Date.now();
    this.writing = this.write()
      .catch((error: unknown) => this.log(`could not update the registry (${(error as Error).message})`))
      .finally(() => {
        this.writing = undefined;
        if (this.again) {
          this.again = false;
          this.changed();
        }
      });
  }

  private async write(): Promise<void> {
    const now = Date.now();
    /* the cache directory is read again once a heartbeat, or sooner when a task may have fetched something */
    if (this.blobCache === undefined || now - this.blobCache.at >= this.fixed.heartbeatMs) this.blobCache = { at: now, ...cachedBlobs(this.cacheDir) };
    const entry: WorkerEntry = { version: 1, ...this.fixed, ...this.state(), blobs: this.blobCache.names.map(blobPrefix), blobCount: this.blobCache.count };
    await this.registry.put(this.fixed.token, JSON.stringify(entry));
  }

  /** Stops the heartbeat and removes the entry. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.spacing);
    this.spacing = undefined;
    this.again = false;
    await this.writing;
    await this.registry.delete(this.fixed.token).catch(() => undefined);
  }
}

/** A worker as a front end sees it. */
export interface KnownWorker {
  /** Its entry, with `running` less the tasks this front end saw it finish since the entry was written. */
  readonly entry: WorkerEntry;
  /** Its blob prefixes, for look-ups: the entry's and those this front end saw it use. */
  readonly blobs: ReadonlySet<string>;
  /** When this process last saw its entry change (this process's clock). */
  readonly seenAt: number;
}

interface Known {
  entry: WorkerEntry;
  blobs: Set<string>;
  seenAt: number;
  /** Results from it seen since its entry was last written. */
  finishedSince: number;
}

/** Blob prefixes a view adds to a worker's own list at most. */
const LEARNED_BLOBS = 4096;

/**
 * A front end's live view of the registry: one watch, every write. A worker
 * counts as alive while its entry changed within three of its heartbeats
 * (plus a second of slack for a loaded machine).
 */
export class RegistryView {
  private readonly workers = new Map<string, Known>();
  private stopWatch: (() => void) | undefined;

  constructor(private readonly registry: KV) {}

  async start(): Promise<void> {
    const watch = await this.registry.watch({ key: '>', include: KvWatchInclude.LastValue });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const change of watch) {
        if (change.operation !== 'PUT') {
          this.workers.delete(change.key);
          continue;
        }
        const entry = parseWorkerEntry(change.string());
        if (entry === undefined) continue;
        /* what it was seen to use stays known: a worker's cache only grows */
        const before = this.workers.get(change.key);
        const blobs = new Set(entry.blobs);
        if (before !== undefined) for (const b of before.blobs) if (blobs.size < LEARNED_BLOBS + entry.blobs.length) blobs.add(b);
        this.workers.set(change.key, { entry, blobs, seenAt: Date.now(), finishedSince: 0 });
      }
    })();
  }

  stop(): void {
    this.stopWatch?.();
  }

  isAlive(token: string, now = Date.now()): boolean {
    const known = this.workers.get(token);
    return known !== undefined && now - known.seenAt <= 3 * known.entry.heartbeatMs + 1000;
  }

  private face(known: Known): KnownWorker {
    return { entry: { ...known.entry, running: Math.max(0, known.entry.running - known.finishedSince) }, blobs: known.blobs, seenAt: known.seenAt };
  }

  get(token: string): KnownWorker | undefined {
    const known = this.workers.get(token);
    return known === undefined ? undefined : this.face(known);
  }

  /** Workers alive now. */
  alive(now = Date.now()): KnownWorker[] {
    return [...this.workers.values()].filter((w) => this.isAlive(w.entry.token, now)).map((w) => this.face(w));
  }

  /**
   * A result came from worker `name`, which fetched `blobs` to run it: the
   * result often arrives before the worker's next entry, which would
   * otherwise still count the task as running and lack the blobs.
   */
  noteFinished(name: string, blobs: readonly string[]): void {
    const known = this.workers.get(workerToken(name));
    if (known === undefined) return;
    known.finishedSince++;
    for (const b of blobs) if (known.blobs.size < LEARNED_BLOBS + known.entry.blobs.length) known.blobs.add(b);
  }
}
