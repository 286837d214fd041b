/**
 * Jobs across hosts on NATS JetStream (spec/cluster.md): the package's
 * `zerovm-ts/cluster` entry.
 *
 *   executor.ts    NatsExecutor: the JobExecutor contract over NATS (a front end)
 *   worker.ts      ClusterWorker: what `zerovm worker` runs
 *   connection.ts  the connection, the stream, buckets and consumer
 *   protocol.ts    task and result messages (plain JSON, no host paths)
 *   blobs.ts       content-addressed bytes in the Object Store bucket
 *   split.ts       a connected group split over several workers (front end)
 *   part-runner.ts one part of a split group on a worker: gang start, crossing pipes
 *   name-service.ts  the KV bucket where parts say where their pipes listen
 *   net-pipe.ts    a pipe between workers: TCP behind a ring on each side
 *   job-records.ts the front ends' job records in KV (`zerovm serve --nats`)
 *   registry.ts    the worker registry (one KV key per live worker)
 *   placement.ts   which worker a task goes to; claims of targeted tasks
 *   replicate.ts   the copies of a replicated node compared
 *   status.ts      what `zerovm cluster status` reports
 *   auth.ts        user/password, nkey seed files, TLS
 *   retry.ts       NATS operations retried through a server's death
 */
export { NatsExecutor, type NatsExecutorOptions, type NatsRunOptions } from './executor.js';
export type { SplitOptions } from './split.js';
export { ClusterWorker, type ClusterWorkerOptions } from './worker.js';
export { NatsConnectError, parseServers, DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, type DeliveryOptions, type NatsOptions } from './connection.js';
export { BlobMissingError } from './blobs.js';
export { JOB_BUCKET, NatsJobRecords, type JobRecord } from './job-records.js';
export { clusterStatus, formatStatus, type ClusterStatus, type WorkerStatus, type QueueCounts } from './status.js';
export { openPlacementStores, workerToken, type WorkerEntry } from './registry.js';
export type { PlacementOptions } from './placement.js';
export { NatsSecurityError, type NatsSecurity } from './auth.js';
