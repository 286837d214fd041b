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

  async started(job: JobRecordStart): Promise<string> {
    const id = randomUUID().replaceAll('-', '');
    const record: JobRecord = { ...job, id, frontEnd: this.frontEnd, submitted: new Date().toISOString(), status: 'running' };
    await this.bucket.put(id, JSON.stringify(record));
    return id;
  }

  async finished(id: string, end: JobRecordEnd): Promise<void> {
    const entry = await this.bucket.get(id);
    if (entry === null || entry.operation !== 'PUT') return;
    const record: JobRecord = { ...entry.json<JobRecord>(), status: 'done', end: { ...end, finished: new Date().toISOString() } };
    await this.bucket.put(id, JSON.stringify(record));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const entry = await this.bucket.get(id);
    return entry === null || entry.operation !== 'PUT' ? undefined : entry.json<JobRecord>();
  }

  /** Every record kept (for `cluster status` and tests). */
  async list(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const key of await this.bucket.keys()) {
      const record = await this.get(key);
      if (record !== undefined) out.push(record);
    }
    return out;
  }
}
