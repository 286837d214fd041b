/**
 * Where a front end notes the jobs it runs (spec/cluster.md, "Job
 * records"): `zerovm serve --nats` keeps them in JetStream KV
 * (src/cluster/job-records.ts) so other front ends and operators see them;
 * a single host keeps none.
 */

/** What is known when a job starts. */
export interface JobRecordStart {
  readonly account: string;
  /** The plan's node names, in order. */
  readonly nodes: readonly string[];
}

/** What is known when it ends: a summary, not the outputs. */
export interface JobRecordEnd {
  readonly httpStatus: number;
  /** Each node's X-Nexe-Status, in the order of `nodes`. */
  readonly statuses: readonly string[];
  /** Where each node ran (a worker's name), when the executor says. */
  readonly ranOn: readonly string[];
  readonly seconds: number;
  /** Why the job ended without a response of its nodes (a refused request, a lost connection). */
  readonly error?: string;
}

export interface JobRecorder {
  /** Notes a job; its id. */
  started(job: JobRecordStart): Promise<string>;
  finished(id: string, end: JobRecordEnd): Promise<void>;
}

/** The failure kind of a node whose task no worker took before the front end's deadline (the response is 503). */
export const NO_WORKER = 'NoWorker';
