/**
 * Job records in the KV bucket `zerovm-jobs` (spec/cluster.md, "Job
 * records"): each front end of `zerovm serve --nats` writes one per job
 * when it starts and again when it ends, so another front end or an
 * operator's tool sees what runs and what ran. Records expire with the
 * bucket's age limit (a day by default), as results and blobs do.
 *
 * Where: src/cluster, below the front ends; the job service calls it
 * through the JobRecorder contract (src/jobs/records.ts).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobRecorder, JobRecordEnd, JobRecordStart } from '../jobs/records.js';

export const JOB_BUCKET = 'zerovm-jobs';

/** What the bucket holds under a job's id. */
export interface JobRecord extends JobRecordStart {
  readonly id: string;
  /** Which front end took the request: host name and process id. */
  readonly frontEnd: string;
  /** ISO time the job was submitted. */
  readonly submitted: string;
  readonly status: 'running' | 'done';
  /** Set when done. */
  readonly end?: JobRecordEnd & { readonly finished: string };
}

export class NatsJobRecords implements JobRecorder {
  private readonly frontEnd = `${hostname()}:${process.pid}`;
  /** Records of this front end's running jobs (finished() completes them without reading them back). */
  private readonly running = new Map<string, { readonly record: JobRecord; readonly stored: Promise<unknown> }>();

  private constructor(readonly bucket: KV) {}

  static async open(nc: NatsConnection, options: { readonly replicas?: number; readonly keepMs?: number } = {}): Promise<NatsJobRecords> {
    const kvm = new Kvm(nc);
    let bucket: KV;
    try {
      bucket = await kvm.create(JOB_BUCKET, { replicas: options.replicas ?? 1, ttl: options.keepMs ?? 24 * 3600_000 });
    } catch {
      bucket = await kvm.open(JOB_BUCKET);
    }
    return new NatsJobRecords(bucket);
  }

  /** Does not wait for the put (the job need not wait for its record); finished() does. */
  started(job: JobRecordStart): Promise<string> {
    const id = randomUUID().replaceAll('-', '');
    const record: JobRecord = { ...job, id, frontEnd: this.frontEnd, submitted: new Date().toISOString(), status: 'running' };
    this.running.set(id, { record, stored: this.bucket.put(id, JSON.stringify(record)).catch(() => 0) });
    return Promise.resolve(id);
  }

  async finished(id: string, end: JobRecordEnd): Promise<void> {
    const started = this.running.get(id);
    if (started === undefined) return;
    this.running.delete(id);
    await started.stored;
    const record: JobRecord = { ...started.record, status: 'done', end: { ...end, finished: new Date().toISOString() } };
    await this.bucket.put(id, JSON.stringify(record));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const entry = await this.bucket.get(id);
    return entry === null || entry.operation !== 'PUT' ? undefined : entry.json<JobRecord>();
  }

  /** Every record kept (for `cluster status` and tests). */
  async list(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    /* keys() reads the bucket through a consumer: a record rewritten meanwhile can come twice */
    const keys = new Set<string>();
    for await (const key of await this.bucket.keys()) keys.add(key);
    for (const key of keys) {
      const record = await this.get(key);
      if (record !== undefined) out.push(record);
    }
    return out;
  }
}
