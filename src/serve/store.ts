/**
 * The object store of `zerovm serve` and `zerovm job`: Swift's accounts,
 * containers and objects in one host directory (spec/serving.md,
 * "Objects").
 *
 * Layout under the root (`--store`, default ./zerovm-store):
 *
 *   accounts/<account>/<container>/<object>   one JSON record per object:
 *                                             its name, size, md5 etag,
 *                                             content type, X-Object-Meta-*
 *                                             and the data file holding it
 *   data/<random>                             object contents, never renamed
 *                                             or rewritten once committed
 *   tmp/<pid>-<random>/                       uploads and job directories in
 *                                             progress, one folder per process
 *                                             (removed once that process is
 *                                             gone)
 *
 * Each container directory also holds `.name` (the container's name: a
 * long name's directory is a hash). Names are encoded by names.ts, so no account, container or object name
 * can leave the root or meet another's file.
 *
 * Atomic writes: an upload goes to tmp/ first; committing moves it to data/
 * and then renames a new record over the old one. The rename is the only
 * step that changes what readers see, so a crash leaves the old object or
 * the new one, never a part of either (at worst an unreferenced file in
 * data/, which costs space only). A reader that holds a record keeps a
 * consistent view: the data file a record names is never written again
 * (it is unlinked when replaced; a job links the files it reads into its
 * own directory first, src/jobs/compile.ts).
 *
 * The store is synchronous where it touches records, so that within one
 * process two commits of one object never interleave.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Dirent, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXISTS_REASON } from './conditional.js';
import { checkName, encodeName } from './names.js';
import { synchronousJobView, type JobView, type StoreBackend } from './object-store.js';

/** What a listing and a HEAD give of an object. */
export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
  /** MD5 of the contents, hex (Swift's ETag). */
  readonly etag: string;
  readonly contentType: string;
  /** X-Object-Meta-* values by lower-case key (without the prefix). */
  readonly meta: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch of the last write. */
  readonly timestamp: number;
}

/** An object as stored: its info and the host file holding its bytes (never rewritten). */
export interface StoredObject extends ObjectInfo {
  readonly dataPath: string;
}

export interface ContainerInfo {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
}

export interface WriteOptions {
  readonly contentType?: string;
  readonly meta?: Readonly<Record<string, string>>;
  /** Store only if the object does not exist when the write commits (PUT with `If-None-Match: *`); else StoreError 'exists'. */
  readonly onlyIfAbsent?: boolean;
}

export interface ListOptions {
  readonly prefix?: string;
  /** Names after this one only (Swift's marker). */
  readonly marker?: string;
  readonly limit?: number;
}

/** Emptied job directories kept for reuse. */
const MAX_FREE_JOB_DIRS = 64;
/** Object records kept parsed (readRecord). */
const MAX_CACHED_RECORDS = 4096;

/** In each container directory: the container's name (its directory name may be a hash). Encoded names never start with '.'. */
const CONTAINER_NAME_FILE = '.name';

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Swift's listing limit (CONTAINER_LISTING_LIMIT). */
export const LISTING_LIMIT = 10_000;

interface ObjectRecord {
  readonly name: string;
  readonly size: number;
  readonly etag: string;
  readonly contentType: string;
  readonly meta: Record<string, string>;
  readonly timestamp: number;
  /** File name in data/. */
  readonly data: string;
}

/** Why a write was refused (the server maps it to 404, 409 or 412). */
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly reason: 'no-container' | 'not-empty' | 'exists',
    message: string,
  ) {
    super(message);
  }
}

/** Swift sorts listings by the names' UTF-8 bytes. */
/**
 * Writes an upload's body to a new file at `path`, counting its bytes and
 * taking its MD5 on the way (the object's ETag); BodyTooLargeError past
 * `maxBytes`. The caller removes the file when it is not kept.
 */
export async function spoolUpload(body: Readable, path: string, maxBytes: number): Promise<{ size: number; md5: string }> {
  const hash = createHash('md5');
  let size = 0;
  /* opened here, not by the stream: a stream's own open can finish after a failed pipeline's unlink, leaving the file behind */
  const out = createWriteStream(path, { fd: openSync(path, 'wx') });
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
        hash.update(chunk);
        yield chunk;
      }
    },
    out,
  );
  return { size, md5: hash.digest('hex') };
}

export function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isRecord(value: unknown): value is ObjectRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.name === 'string' && typeof r.size === 'number' && typeof r.etag === 'string' && typeof r.contentType === 'string' && typeof r.data === 'string' && typeof r.meta === 'object';
}

export class ObjectStore implements StoreBackend {
  private readonly accounts: string;
  private readonly data: string;
  private readonly tmp: string;
  private readonly freeJobDirs: string[] = [];
  /** Records read lately, by path, with the file's stamp when read (readRecord). */
  private readonly recordCache = new Map<string, { readonly stamp: string; readonly record: ObjectRecord }>();

  private constructor(readonly root: string) {
    this.accounts = join(root, 'accounts');
    this.data = join(root, 'data');
    this.tmp = join(root, 'tmp', `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  /** What the start-up line names. */
  get shownAs(): string {
    return this.root;
  }

  /** Jobs read and commit through the store itself. */
  jobView(): JobView {
    return synchronousJobView(this);
  }

  /**
   * Opens (creating it if needed) the store at `root`. Each process that
   * opens it works in its own folder of tmp/ (a server and `zerovm job` may
   * share a store); the folders of processes that no longer run are
   * removed: what an interrupted upload or job left.
   */
  static open(root: string): ObjectStore {
    const store = new ObjectStore(root);
    mkdirSync(store.accounts, { recursive: true });
    mkdirSync(store.data, { recursive: true });
    const tmpRoot = join(root, 'tmp');
    mkdirSync(tmpRoot, { recursive: true });
    for (const entry of readdirSync(tmpRoot)) {
      const pid = Number(entry.split('-')[0]);
      if (!Number.isInteger(pid) || pid <= 0 || !processRuns(pid)) rmSync(join(tmpRoot, entry), { recursive: true, force: true });
    }
    mkdirSync(store.tmp, { recursive: true });
    return store;
  }

  /**
   * A job's directory: empty, on the store's file system. Directories are
   * reused (releaseJobDir empties them): making and removing a directory
   * per request costs about half a millisecond on ext4, more than a hello
   * session.
   */
  acquireJobDir(): string {
    return this.freeJobDirs.pop() ?? this.makeTempDir('job');
  }

  /** Empties a job's directory and keeps it for the next job. */
  releaseJobDir(dir: string): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) rmSync(path, { recursive: true, force: true });
        else unlinkSync(path);
      }
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    if (this.freeJobDirs.length < MAX_FREE_JOB_DIRS) this.freeJobDirs.push(dir);
    else rmSync(dir, { recursive: true, force: true });
  }

  /** Removes this process's folder of tmp/ (the store stays usable: it is made again when needed). */
  closeTemp(): void {
    this.freeJobDirs.length = 0;
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** A fresh directory under tmp/ (on the store's file system, so files in it can be committed by rename); the caller removes it. */
  makeTempDir(prefix: string): string {
    mkdirSync(this.tmp, { recursive: true });
    return mkdtempSync(join(this.tmp, `${prefix}-`));
  }

  private containerDir(account: string, container: string): string {
    checkName('account', account);
    checkName('container', container);
    return join(this.accounts, encodeName(account), encodeName(container));
  }

  private recordPath(account: string, container: string, object: string): string {
    checkName('object', object);
    return join(this.containerDir(account, container), encodeName(object));
  }

  private readRecord(path: string): ObjectRecord | undefined {
    /*
     * A record is never written in place (a new one is renamed over it), so
     * while the file has the same inode, size and times it is the record
     * read before: one stat instead of open, read and close per request.
     */
    let stamp: string;
    try {
      const stats = statSync(path, { bigint: true });
      stamp = `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
    } catch {
      this.recordCache.delete(path);
      return undefined;
    }
    const known = this.recordCache.get(path);
    if (known !== undefined && known.stamp === stamp) return known.record;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (!isRecord(parsed)) return undefined;
      this.recordCache.delete(path);
      this.recordCache.set(path, { stamp, record: parsed });
      if (this.recordCache.size > MAX_CACHED_RECORDS) this.recordCache.delete(this.recordCache.keys().next().value as string);
      return parsed;
    } catch {
      return undefined;
    }
  }

  private stored(record: ObjectRecord): StoredObject {
    const { data, ...info } = record;
    return { ...info, dataPath: join(this.data, data) };
  }

  /** Creates a container; false when it existed already. */
  putContainer(account: string, container: string): boolean {
    const dir = this.containerDir(account, container);
    if (existsSync(dir)) return false;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CONTAINER_NAME_FILE), container);
    return true;
  }

  hasContainer(account: string, container: string): boolean {
    return existsSync(this.containerDir(account, container));
  }

  /** Removes an empty container: 'missing', 'not-empty' or 'deleted'. */
  deleteContainer(account: string, container: string): 'missing' | 'not-empty' | 'deleted' {
    const dir = this.containerDir(account, container);
    if (!existsSync(dir)) return 'missing';
    if (readdirSync(dir).some((entry) => entry !== CONTAINER_NAME_FILE)) return 'not-empty';
    rmSync(dir, { recursive: true, force: true });
    return 'deleted';
  }

  /** The containers of an account, sorted. */
  listAccount(account: string, options: ListOptions = {}): ContainerInfo[] {
    checkName('account', account);
    const dir = join(this.accounts, encodeName(account));
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return [];
    }
    const names: ContainerInfo[] = [];
    for (const entry of entries) {
      let name: string;
      try {
        name = readFileSync(join(dir, entry, CONTAINER_NAME_FILE), 'utf8');
      } catch {
        continue;
      }
      const records = this.records(join(dir, entry));
      names.push({ name, count: records.length, bytes: records.reduce((n, r) => n + r.size, 0) });
    }
    return window(names.sort((a, b) => byBytes(a.name, b.name)), options);
  }

  private records(dir: string): ObjectRecord[] {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return [];
    }
    const out: ObjectRecord[] = [];
    for (const entry of entries) {
      if (entry === CONTAINER_NAME_FILE) continue;
      const record = this.readRecord(join(dir, entry));
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  /** The objects of a container, sorted; undefined when the container does not exist. */
  listContainer(account: string, container: string, options: ListOptions = {}): ObjectInfo[] | undefined {
    const dir = this.containerDir(account, container);
    if (!existsSync(dir)) return undefined;
    const infos = this.records(dir).map((r) => this.stored(r));
    return window(infos.sort((a, b) => byBytes(a.name, b.name)), options).map(({ dataPath: _dataPath, ...info }) => info);
  }

  /** Count and bytes of a container, or undefined. */
  containerTotals(account: string, container: string): ContainerInfo | undefined {
    const dir = this.containerDir(account, container);
    if (!existsSync(dir)) return undefined;
    const records = this.records(dir);
    return { name: container, count: records.length, bytes: records.reduce((n, r) => n + r.size, 0) };
  }

  stat(account: string, container: string, object: string): StoredObject | undefined {
    const record = this.readRecord(this.recordPath(account, container, object));
    if (record === undefined) return undefined;
    const stored = this.stored(record);
    return existsSync(stored.dataPath) ? stored : undefined;
  }

  /**
   * A stream of an object's bytes (the data file is never rewritten, so a
   * reader sees one version); with `range`, bytes `start` up to `end`
   * (exclusive) only.
   */
  read(object: StoredObject, range?: { readonly start: number; readonly end: number }): ReadStream {
    return range === undefined ? createReadStream(object.dataPath) : createReadStream(object.dataPath, { start: range.start, end: range.end - 1 });
  }

  /**
   * Makes `file` (in tmp/, or anywhere on the store's file system) the
   * object's contents, atomically; the file is moved. Throws StoreError
   * 'no-container' when the container does not exist.
   */
  commitFile(account: string, container: string, object: string, file: string, options: WriteOptions = {}): ObjectInfo {
    const recordPath = this.recordPath(account, container, object);
    if (!existsSync(this.containerDir(account, container))) throw new StoreError('no-container', `container '${container}' does not exist (create it with PUT /v1/${account}/${container})`);
    return this.commit(recordPath, object, file, statSync(file).size, md5File(file), options);
  }

  private commit(recordPath: string, object: string, file: string, size: number, etag: string, options: WriteOptions): ObjectInfo {
    const previous = this.readRecord(recordPath);
    /* checked here, synchronously up to the rename: no other commit of this process comes between */
    if (options.onlyIfAbsent === true && previous !== undefined) throw new StoreError('exists', `'${object}': ${EXISTS_REASON}`);
    const data = randomBytes(16).toString('hex');
    renameSync(file, join(this.data, data));
    const record: ObjectRecord = {
      name: object,
      size,
      etag,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      meta: { ...(options.meta ?? {}) },
      timestamp: Date.now(),
      data,
    };
    const temp = join(this.tmp, `record-${randomBytes(8).toString('hex')}`);
    writeFileSync(temp, JSON.stringify(record));
    renameSync(temp, recordPath);
    if (previous !== undefined && previous.data !== data) unlinkQuietly(join(this.data, previous.data));
    const { data: _data, ...info } = record;
    return info;
  }

  /** Writes an object from a stream (an HTTP body), at most `maxBytes`; the MD5 is computed while the bytes arrive. */
  async putStream(account: string, container: string, object: string, body: Readable, options: WriteOptions & { readonly maxBytes: number }): Promise<ObjectInfo> {
    const recordPath = this.recordPath(account, container, object);
    if (!existsSync(this.containerDir(account, container))) throw new StoreError('no-container', `container '${container}' does not exist (create it with PUT /v1/${account}/${container})`);
    const temp = join(this.tmp, `upload-${randomBytes(8).toString('hex')}`);
    try {
      const { size, md5 } = await spoolUpload(body, temp, options.maxBytes);
      return this.commit(recordPath, object, temp, size, md5, options);
    } finally {
      unlinkQuietly(temp);
    }
  }

  /** Writes an object from bytes. */
  putBytes(account: string, container: string, object: string, bytes: Uint8Array, options: WriteOptions = {}): ObjectInfo {
    const temp = join(this.tmp, `upload-${randomBytes(8).toString('hex')}`);
    writeFileSync(temp, bytes);
    try {
      return this.commitFile(account, container, object, temp, options);
    } finally {
      unlinkQuietly(temp);
    }
  }

  /** Removes an object; false when there was none. */
  deleteObject(account: string, container: string, object: string): boolean {
    const recordPath = this.recordPath(account, container, object);
    const record = this.readRecord(recordPath);
    if (record === undefined) return false;
    unlinkSync(recordPath);
    unlinkQuietly(join(this.data, record.data));
    return true;
  }

  /**
   * A hard link to an object's data in `dir` (a job's directory): the job
   * keeps reading this version even if the object is replaced meanwhile.
   */
  linkInto(object: StoredObject, dir: string, name: string): string {
    const path = join(dir, name);
    linkSync(object.dataPath, path);
    return path;
  }
}

/** An upload passed the server's limit. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** Whether process `pid` exists (a temporary directory named by it is still in use). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone (committed, or never written) */
  }
}

/** Digest of a file, read in pieces (outputs can be large). */
function md5File(path: string): string {
  const hash = createHash('md5');
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** A listing's prefix, marker and limit (also the JetStream store's, src/serve/nats-store.ts). */
export function window<T extends { readonly name: string }>(items: readonly T[], options: ListOptions): T[] {
  const limit = Math.min(options.limit ?? LISTING_LIMIT, LISTING_LIMIT);
  return items.filter((i) => (options.prefix === undefined || i.name.startsWith(options.prefix)) && (options.marker === undefined || byBytes(i.name, options.marker) > 0)).slice(0, limit);
}
