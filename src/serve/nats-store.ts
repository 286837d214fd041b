/**
 * The object store of `zerovm serve --nats` (spec/cluster.md, "Objects in
 * JetStream"): Swift's accounts, containers and objects in JetStream, so
 * every front end of one cluster serves the same objects.
 *
 *   KV bucket `zerovm-containers`   one key per container:
 *                                   hex(account).hex(container) -> its names
 *                                   and bucket (listing an account is a key
 *                                   filter; the hex is reversible)
 *   Object Store `zvc_<hash>`       one bucket per container; the bucket name
 *                                   is the SHA-256 of account and container
 *                                   (bucket names allow [A-Za-z0-9_-] and are
 *                                   short; Swift names are neither), the real
 *                                   names are in the key's value
 *   an entry per object             named by the object name; its metadata
 *                                   holds the MD5 ETag, Content-Type, the
 *                                   X-Object-Meta-* values and the time
 *
 * Atomic replace: an Object Store put writes the new chunks under a new id,
 * then one meta message (a roll-up) makes them the object; readers see the
 * old object or the new one. An upload is spooled to this process's
 * directory first, because its MD5 must be in the meta message and is known
 * only at the end.
 *
 * Jobs: `jobView` lists every container a description names, once, before
 * the job compiles. A readable object becomes a name in the job's directory
 * that no file stands behind; the NatsExecutor asks `blobFor` for its bytes
 * and gets the blob of the same SHA-256 (the Object Store digest is that
 * hash), copied from the container's bucket into the blob bucket once, so a
 * worker fetches it as it fetches any input and a redelivered task reads
 * the same bytes even if the object was replaced meanwhile.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, StorageType, type ObjectInfo as NatsObjectInfo, type ObjectStore as NatsBucket } from '@nats-io/obj';
import { openCluster, type ClusterConnection, type NatsOptions } from '../cluster/connection.js';
import type { BlobRef } from '../cluster/protocol.js';
import { parseSwiftPath, type JobObject, type JobStorage } from '../jobs/compile.js';
import type { JobDescription } from '../jobs/description.js';
import type { JobSink } from '../jobs/finish.js';
import { EXISTS_REASON } from './conditional.js';
import { checkName } from './names.js';
import type { ByteWindow, JobView, StoreBackend } from './object-store.js';
import { byBytes, DEFAULT_CONTENT_TYPE, LISTING_LIMIT, processRuns, spoolUpload, StoreError, window, type ContainerInfo, type ListOptions, type ObjectInfo, type WriteOptions } from './store.js';

export const CONTAINER_BUCKET = 'zerovm-containers';
const BUCKET_PREFIX = 'zvc_';
/** Metadata keys of an entry; X-Object-Meta-NAME is `meta-NAME`. */
const ETAG_KEY = 'etag';
const TYPE_KEY = 'content-type';
const TIME_KEY = 'timestamp';
const META_PREFIX = 'meta-';
/** How long a blob copied into the blob bucket is trusted to be there without asking (the bucket keeps blobs a day). */
const BLOB_TRUST_MS = 3600_000;

/** An object as this store lists it: the Swift info and the version it is. */
export interface NatsStoredObject extends ObjectInfo {
  readonly bucket: string;
  /** The Object Store id of this version's chunks. */
  readonly nuid: string;
  /** SHA-256 of the contents, hex: the name of the same bytes in the blob bucket. */
  readonly sha256: string;
  /** Messages holding the contents (0 for an empty object). */
  readonly chunks: number;
}

interface ContainerRecord {
  readonly account: string;
  readonly container: string;
  readonly bucket: string;
}

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

/** The registry key of a container: reversible, and KV-safe whatever the names hold. */
export function containerKey(account: string, container: string): string {
  return `${hex(account)}.${hex(container)}`;
}

/** The Object Store bucket of a container. */
export function containerBucket(account: string, container: string): string {
  return BUCKET_PREFIX + createHash('sha256').update(`${account}\0${container}`, 'utf8').digest('hex').slice(0, 40);
}

/** `SHA-256=<base64url>` (the Object Store digest) -> hex. */
function digestHex(digest: string): string {
  const eq = digest.indexOf('=');
  return Buffer.from(digest.slice(eq + 1), 'base64url').toString('hex');
}

function toStored(info: NatsObjectInfo): NatsStoredObject {
  const metadata = info.metadata ?? {};
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (k.startsWith(META_PREFIX)) meta[k.slice(META_PREFIX.length)] = v;
  return {
    name: info.name,
    size: info.size,
    etag: metadata[ETAG_KEY] ?? '',
    contentType: metadata[TYPE_KEY] ?? DEFAULT_CONTENT_TYPE,
    meta,
    timestamp: Number(metadata[TIME_KEY] ?? Date.parse(info.mtime)),
    bucket: info.bucket,
    nuid: info.nuid,
    sha256: digestHex(info.digest),
    chunks: info.chunks,
  };
}

function isNatsStored(object: ObjectInfo): object is NatsStoredObject {
  return typeof (object as Partial<NatsStoredObject>).nuid === 'string' && typeof (object as Partial<NatsStoredObject>).bucket === 'string';
}

export interface NatsStoreOptions extends NatsOptions {
  /** Under which directory this process makes its own for job directories and spooled uploads (default: the system's temporary directory). */
  readonly scratch?: string;
}

export class NatsStore implements StoreBackend {
  private readonly buckets = new Map<string, NatsBucket>();
  private readonly objm: Objm;
  private readonly freeJobDirs: string[] = [];
  /** Names in job directories that stand for objects (linkInto), by path. */
  private readonly linked = new Map<string, NatsStoredObject>();
  /** Job outputs the executor handed over instead of writing them to the job directory (takeOutput), by path. */
  private readonly outputs = new Map<string, Buffer>();
  /** Blobs known to be in the blob bucket, with when that was last checked. */
  private readonly knownBlobs = new Map<string, number>();
  /** Bytes copied from container buckets into the blob bucket (for the benchmarks). */
  bytesToBlobs = 0;

  private constructor(
    private readonly conn: ClusterConnection,
    private readonly containers: KV,
    private readonly replicas: number,
    readonly root: string,
    readonly shownAs: string,
  ) {
    this.objm = new Objm(conn.nc);
  }

  static async open(options: NatsStoreOptions): Promise<NatsStore> {
    const conn = await openCluster({ ...options, name: options.name ?? 'zerovm serve (objects)' });
    const replicas = options.replicas ?? 1;
    let containers: KV;
    try {
      containers = await new Kvm(conn.nc).create(CONTAINER_BUCKET, { replicas });
    } catch {
      try {
        containers = await new Kvm(conn.nc).open(CONTAINER_BUCKET);
      } catch (error) {
        await conn.close();
        throw error;
      }
    }
    /* a directory of its own (closeTemp removes it), never the given one itself; those of front ends no longer running are removed */
    const parent = options.scratch ?? tmpdir();
    mkdirSync(parent, { recursive: true });
    for (const entry of readdirSync(parent)) {
      const pid = /^zerovm-serve-(\d+)-/.exec(entry)?.[1];
      if (pid !== undefined && !processRuns(Number(pid))) rmSync(join(parent, entry), { recursive: true, force: true });
    }
    const root = mkdtempSync(join(parent, `zerovm-serve-${process.pid}-`));
    return new NatsStore(conn, containers, replicas, root, `NATS ${options.servers.join(',')}`);
  }

  /** The NATS connection (job records share it). */
  get connection(): ClusterConnection['nc'] {
    return this.conn.nc;
  }

  async close(): Promise<void> {
    this.closeTemp();
    await this.conn.close();
  }

  private async record(account: string, container: string): Promise<ContainerRecord | undefined> {
    checkName('account', account);
    checkName('container', container);
    const entry = await this.containers.get(containerKey(account, container));
    if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<ContainerRecord>();
  }

  private async bucket(name: string): Promise<NatsBucket> {
    const known = this.buckets.get(name);
    if (known !== undefined) return known;
    const bucket = await this.objm.open(name);
    this.buckets.set(name, bucket);
    return bucket;
  }

  /** The container's bucket, or undefined when the container does not exist. */
  private async containerBucket(account: string, container: string): Promise<NatsBucket | undefined> {
    const record = await this.record(account, container);
    return record === undefined ? undefined : this.bucket(record.bucket);
  }

  async putContainer(account: string, container: string): Promise<boolean> {
    if ((await this.record(account, container)) !== undefined) return false;
    const name = containerBucket(account, container);
    /* the bucket first: a registered container always has one (creating it twice with the same settings is harmless) */
    let bucket: NatsBucket;
    try {
      bucket = await this.objm.create(name, { replicas: this.replicas, storage: StorageType.File, description: `swift container ${account}/${container}` });
    } catch {
      bucket = await this.objm.open(name);
    }
    this.buckets.set(name, bucket);
    const record: ContainerRecord = { account, container, bucket: name };
    try {
      await this.containers.create(containerKey(account, container), JSON.stringify(record));
      return true;
    } catch {
      return false; /* another front end made it meanwhile */
    }
  }

  async hasContainer(account: string, container: string): Promise<boolean> {
    return (await this.record(account, container)) !== undefined;
  }

  async deleteContainer(account: string, container: string): Promise<'missing' | 'not-empty' | 'deleted'> {
    const record = await this.record(account, container);
    if (record === undefined) return 'missing';
    const bucket = await this.bucket(record.bucket);
    if ((await this.entries(bucket)).length > 0) return 'not-empty';
    await this.containers.delete(containerKey(account, container));
    this.buckets.delete(record.bucket);
    await bucket.destroy().catch(() => false);
    return 'deleted';
  }

  private async entries(bucket: NatsBucket): Promise<NatsStoredObject[]> {
    return (await bucket.list()).filter((i) => !i.deleted).map(toStored);
  }

  async listAccount(account: string, options: ListOptions = {}): Promise<ContainerInfo[]> {
    checkName('account', account);
    const names: string[] = [];
    const keys = await this.containers.keys(`${hex(account)}.>`);
    for await (const key of keys) names.push(Buffer.from(key.slice(key.indexOf('.') + 1), 'hex').toString('utf8'));
    const chosen = window(
      names.map((name) => ({ name })).sort((a, b) => byBytes(a.name, b.name)),
      options,
    );
    const out: ContainerInfo[] = [];
    for (const { name } of chosen) {
      const totals = await this.containerTotals(account, name);
      if (totals !== undefined) out.push(totals);
    }
    return out;
  }

  async listContainer(account: string, container: string, options: ListOptions = {}): Promise<ObjectInfo[] | undefined> {
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) return undefined;
    return window((await this.entries(bucket)).sort((a, b) => byBytes(a.name, b.name)), options);
  }

  async containerTotals(account: string, container: string): Promise<ContainerInfo | undefined> {
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) return undefined;
    const entries = await this.entries(bucket);
    return { name: container, count: entries.length, bytes: entries.reduce((n, e) => n + e.size, 0) };
  }

  async stat(account: string, container: string, object: string): Promise<NatsStoredObject | undefined> {
    checkName('object', object);
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) return undefined;
    const info = await bucket.info(object);
    return info === null || info.deleted ? undefined : toStored(info);
  }

  read(object: ObjectInfo, range?: ByteWindow): Readable {
    if (!isNatsStored(object)) throw new TypeError('NatsStore.read: the object was not stat-ed by this store');
    const whole = this.readWhole(object);
    return range === undefined ? whole : Readable.from(windowOf(whole, range));
  }

  /** Every byte of the object, checked against its digest (a window reads them all too: the check needs them). */
  private readWhole(object: NatsStoredObject): Readable {
    const bucket = (): Promise<NatsBucket> => this.bucket(object.bucket);
    const jsm = this.conn.jsm;
    return Readable.from(
      (async function* () {
        if (object.chunks <= 1) {
          /* one message: a direct get of it, instead of a consumer over the chunks */
          let data: Uint8Array = new Uint8Array(0);
          if (object.chunks === 1) {
            const message = await jsm.streams.getMessage(`OBJ_${object.bucket}`, { last_by_subj: `$O.${object.bucket}.C.${object.nuid}` }).catch(() => null);
            if (message === null) throw new Error(`${object.name} was replaced or deleted while it was being read`);
            data = message.data;
          }
          if (createHash('sha256').update(data).digest('hex') !== object.sha256) throw new Error(`${object.name} came back with other bytes than its digest says`);
          yield Buffer.from(data);
          return;
        }
        const result = await (await bucket()).get(object.name);
        if (result === null || result.info.nuid !== object.nuid) throw new Error(`${object.name} was replaced or deleted while it was being read`);
        for await (const chunk of result.data) yield Buffer.from(chunk);
        /* resolves once the data is read: an Error (a digest mismatch, a lost chunk), else null or undefined */
        const error = await result.error;
        if (error instanceof Error) throw error;
      })(),
    );
  }

  async putStream(account: string, container: string, object: string, body: Readable, options: WriteOptions & { readonly maxBytes: number }): Promise<ObjectInfo> {
    checkName('object', object);
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) throw new StoreError('no-container', `container '${container}' does not exist (create it with PUT /v1/${account}/${container})`);
    const spool = join(this.root, `upload-${randomBytes(8).toString('hex')}`);
    try {
      const { md5 } = await spoolUpload(body, spool, options.maxBytes);
      return await this.put(bucket, object, md5, Readable.toWeb(createReadStream(spool)) as ReadableStream<Uint8Array>, options);
    } finally {
      unlinkQuietly(spool);
    }
  }

  /** Stores bytes as the object (a job's output). */
  async putBytes(account: string, container: string, object: string, bytes: Uint8Array, options: WriteOptions = {}): Promise<NatsStoredObject> {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(bytes);
        controller.close();
      },
    });
    checkName('object', object);
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) throw new StoreError('no-container', `container '${container}' does not exist (create it with PUT /v1/${account}/${container})`);
    return this.put(bucket, object, createHash('md5').update(bytes).digest('hex'), stream, options);
  }

  private async put(bucket: NatsBucket, object: string, etag: string, data: ReadableStream<Uint8Array>, options: WriteOptions): Promise<NatsStoredObject> {
    const timestamp = Date.now();
    const metadata: Record<string, string> = { [ETAG_KEY]: etag, [TYPE_KEY]: options.contentType ?? DEFAULT_CONTENT_TYPE, [TIME_KEY]: String(timestamp) };
    for (const [k, v] of Object.entries(options.meta ?? {})) metadata[META_PREFIX + k] = v;
    if (options.onlyIfAbsent !== true) return toStored(await bucket.put({ name: object, metadata }, data));
    /*
     * Create only: the entry's meta message must still be the one seen here
     * when the new one is published (JetStream's expected last sequence per
     * subject; 0: the entry never existed). A put from another front end in
     * between makes JetStream refuse this one, so two creates never both win.
     */
    const existing = await bucket.info(object);
    const exists = (): StoreError => new StoreError('exists', `'${object}': ${EXISTS_REASON}`);
    if (existing !== null && !existing.deleted) throw exists();
    try {
      return toStored(await bucket.put({ name: object, metadata }, data, { previousRevision: existing?.revision ?? 0 }));
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) throw exists();
      throw error;
    }
  }

  async deleteObject(account: string, container: string, object: string): Promise<boolean> {
    checkName('object', object);
    const bucket = await this.containerBucket(account, container);
    if (bucket === undefined) return false;
    const info = await bucket.info(object);
    if (info === null || info.deleted) return false;
    await bucket.delete(object);
    return true;
  }

  /**
   * The blob of the object a job's name stands for, copied into the blob
   * bucket when it is not there (undefined: `path` is a real file).
   */
  blobFor(path: string): Promise<BlobRef> | undefined {
    const object = this.linked.get(path);
    if (object === undefined) return undefined;
    return this.ensureBlob(object);
  }

  /** Keeps an output of a job of this store in memory, so it never goes through the front end's disk (false: not a job's file). */
  takeOutput(path: string, bytes: Uint8Array): boolean {
    if (!path.startsWith(`${this.root}/job-`)) return false;
    this.outputs.set(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    return true;
  }

  private async ensureBlob(object: NatsStoredObject): Promise<BlobRef> {
    const name = object.sha256;
    const checked = this.knownBlobs.get(name);
    if (checked !== undefined && Date.now() - checked < BLOB_TRUST_MS) return { blob: name };
    const present = await this.conn.blobs.info(name);
    if (present === null || present.deleted) {
      const bytes = await this.versionBytes(object);
      await this.conn.blobs.putBlob({ name }, bytes);
      this.bytesToBlobs += bytes.length;
    }
    this.knownBlobs.set(name, Date.now());
    return { blob: name };
  }

  /** The bytes of exactly this version of an object. */
  private async versionBytes(object: NatsStoredObject): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.read(object)) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    if (createHash('sha256').update(bytes).digest('hex') !== object.sha256) throw new Error(`${object.name} came back with other bytes than its digest says`);
    return bytes;
  }

  async jobView(description: JobDescription, account: string): Promise<JobView> {
    /*
     * Every container the description names: listed once when a path in it
     * has a wildcard, else each named object looked up (one request each,
     * cheaper than a listing); image devices fetched (the compiler reads
     * their members).
     */
    const listings = new Map<string, { account: string; container: string; names: Set<string>; wildcard: boolean; objects: Map<string, NatsStoredObject> | undefined }>();
    const images: { account: string; container: string; object: string }[] = [];
    const note = (path: string | undefined, image: boolean): void => {
      if (path === undefined || !path.startsWith('swift://')) return;
      let parsed;
      try {
        parsed = parseSwiftPath(path, account, 'path');
      } catch {
        return; /* the compiler reports it */
      }
      const key = containerKey(parsed.account, parsed.container);
      const listing = listings.get(key) ?? { account: parsed.account, container: parsed.container, names: new Set<string>(), wildcard: false, objects: undefined };
      listing.names.add(parsed.object);
      listing.wildcard ||= parsed.object.includes('*');
      listings.set(key, listing);
      if (image && !parsed.object.includes('*')) images.push(parsed);
    };
    for (const node of description) {
      note(node.exec.path, false);
      for (const device of node.devices ?? []) note(device.path, device.name === 'image');
    }
    await Promise.all(
      [...listings.values()].map(async (l) => {
        let bucket: NatsBucket | undefined;
        try {
          bucket = await this.containerBucket(l.account, l.container);
        } catch {
          return; /* a bad name: the compiler says so */
        }
        if (bucket === undefined) return;
        if (l.wildcard) {
          l.objects = new Map((await this.entries(bucket)).map((o) => [o.name, o]));
          return;
        }
        const found = await Promise.all([...l.names].map(async (name) => (Buffer.byteLength(name) > 1024 ? null : bucket.info(name))));
        l.objects = new Map(found.filter((i): i is NatsObjectInfo => i !== null && !i.deleted).map((i) => [i.name, toStored(i)]));
      }),
    );
    const lookup = (a: string, c: string): Map<string, NatsStoredObject> | undefined => listings.get(containerKey(a, c))?.objects;
    const imageBytes = new Map<NatsStoredObject, Uint8Array>();
    for (const image of images) {
      const object = lookup(image.account, image.container)?.get(image.object);
      if (object !== undefined) imageBytes.set(object, await this.versionBytes(object));
    }
    const linkedHere: string[] = [];
    const storage: JobStorage<NatsStoredObject> = {
      stat: (a, c, o) => {
        checkName('object', o);
        return lookup(a, c)?.get(o);
      },
      listContainer: (a, c, options) => {
        const objects = lookup(a, c);
        if (objects === undefined) return undefined;
        return window([...objects.values()].sort((x, y) => byBytes(x.name, y.name)), { ...(options?.prefix === undefined ? {} : { prefix: options.prefix }), limit: LISTING_LIMIT });
      },
      hasContainer: (a, c) => lookup(a, c) !== undefined,
      linkInto: (object, dir, name) => {
        const path = join(dir, name);
        const bytes = imageBytes.get(object);
        if (bytes !== undefined) writeFileSync(path, bytes);
        this.linked.set(path, object);
        linkedHere.push(path);
        return path;
      },
    };
    const commits: Promise<string | undefined>[] = [];
    const sink: JobSink = {
      readOutput: (file) => this.outputs.get(file),
      commitFile: (a, c, o, file, options) => {
        /* read now: the job's directory is emptied once the response is built */
        const bytes = this.outputs.get(file) ?? readFileSync(file);
        commits.push(
          this.putBytes(a, c, o, bytes, options)
            .then(() => undefined)
            .catch((error: unknown) => `swift://${a}/${c}/${o} could not be written: ${(error as Error).message}`),
        );
      },
    };
    return {
      storage: storage as JobStorage<JobObject>,
      sink,
      settle: async () => (await Promise.all(commits)).filter((m): m is string => m !== undefined),
      release: () => {
        for (const path of linkedHere) this.linked.delete(path);
      },
    };
  }

  acquireJobDir(): string {
    return this.freeJobDirs.pop() ?? this.makeTempDir('job');
  }

  releaseJobDir(dir: string): void {
    for (const path of this.outputs.keys()) if (path.startsWith(`${dir}/`)) this.outputs.delete(path);
    try {
      for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
      this.freeJobDirs.push(dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  makeTempDir(prefix: string): string {
    mkdirSync(this.root, { recursive: true });
    return mkdtempSync(join(this.root, `${prefix}-`));
  }

  closeTemp(): void {
    this.freeJobDirs.length = 0;
    rmSync(this.root, { recursive: true, force: true });
  }
}

function unlinkQuietly(path: string): void {
  try {
    if (statSync(path).isFile()) unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/** The chunks of `source` that fall in `range`, cut to it. */
async function* windowOf(source: AsyncIterable<Buffer>, range: ByteWindow): AsyncGenerator<Buffer> {
  let offset = 0;
  for await (const chunk of source) {
    const from = Math.max(range.start - offset, 0);
    const to = Math.min(range.end - offset, chunk.length);
    if (from < to) yield chunk.subarray(from, to);
    offset += chunk.length;
  }
}
