/**
 * What the HTTP front end and the job service need of an object store
 * (spec/serving.md, "Objects"; spec/cluster.md, "Objects in JetStream"):
 * the directory store of one host (store.ts) and the JetStream store of a
 * cluster (nats-store.ts) both give it, so `zerovm serve` with and without
 * `--nats` runs the same server code.
 *
 * Methods may answer at once (the directory store, synchronous) or later
 * (JetStream): callers `await` every answer. A job's compiler works on a
 * synchronous view (`jobView`): the JetStream store reads, before the job
 * compiles, every container its description names, so the whole job sees
 * one listing of each.
 */
import type { Readable } from 'node:stream';
import type { JobDescription } from '../jobs/description.js';
import type { JobObject, JobStorage } from '../jobs/compile.js';
import type { JobSink } from '../jobs/finish.js';
import type { ContainerInfo, ListOptions, ObjectInfo, WriteOptions } from './store.js';

type Answer<T> = T | Promise<T>;

/** Bytes `start` up to `end` (exclusive) of an object. */
export interface ByteWindow {
  readonly start: number;
  readonly end: number;
}

/** Where a job reads its objects and commits its outputs. */
export interface JobView {
  readonly storage: JobStorage;
  readonly sink: JobSink;
  /** Waits for the commits the sink started; the messages of those that failed. */
  settle(): Promise<string[]>;
  /** Forgets what the job linked (its directory is emptied next). */
  release(): void;
}

export interface StoreBackend {
  /** A host directory of this process's own (job directories, extracted images); hidden from messages. */
  readonly root: string;
  /** What the start-up line names (a directory, or the NATS servers). */
  readonly shownAs: string;
  putContainer(account: string, container: string): Answer<boolean>;
  hasContainer(account: string, container: string): Answer<boolean>;
  deleteContainer(account: string, container: string): Answer<'missing' | 'not-empty' | 'deleted'>;
  listAccount(account: string, options?: ListOptions): Answer<ContainerInfo[]>;
  listContainer(account: string, container: string, options?: ListOptions): Answer<ObjectInfo[] | undefined>;
  containerTotals(account: string, container: string): Answer<ContainerInfo | undefined>;
  stat(account: string, container: string, object: string): Answer<ObjectInfo | undefined>;
  /** The bytes of an object `stat` gave (that version, or an error if it is gone); with `range`, bytes `start` up to `end` (exclusive) only. */
  read(object: ObjectInfo, range?: ByteWindow): Readable;
  putStream(account: string, container: string, object: string, body: Readable, options: WriteOptions & { readonly maxBytes: number }): Promise<ObjectInfo>;
  deleteObject(account: string, container: string, object: string): Answer<boolean>;
  /** The storage a job of `account` running `description` compiles against, and where its outputs go. */
  jobView(description: JobDescription, account: string): Answer<JobView>;
  acquireJobDir(): string;
  releaseJobDir(dir: string): void;
  makeTempDir(prefix: string): string;
  closeTemp(): void;
}

/** The directory store is its own job storage and sink: reads and commits are synchronous. */
export function synchronousJobView(store: JobStorage<JobObject> & JobSink): JobView {
  return { storage: store, sink: store, settle: () => Promise.resolve([]), release: () => undefined };
}
