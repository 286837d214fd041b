/**
 * Jobs across hosts on NATS JetStream (spec/cluster.md): the package's
 * `zerovm-ts/cluster` entry.
 *
 *   executor.ts    NatsExecutor: the JobExecutor contract over NATS (a front end)
 *   worker.ts      ClusterWorker: what `zerovm worker` runs
 *   connection.ts  the connection, the stream, buckets and consumer
 *   protocol.ts    task and result messages (plain JSON, no host paths)
 *   blobs.ts       content-addressed bytes in the Object Store bucket
 *   auth.ts        user/password, nkey seed files, TLS
 *   retry.ts       NATS operations retried through a server's death
 */
export { NatsExecutor, type NatsExecutorOptions } from './executor.js';
export { ClusterWorker, type ClusterWorkerOptions } from './worker.js';
export { NatsConnectError, parseServers, DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, type DeliveryOptions, type NatsOptions } from './connection.js';
export { BlobMissingError } from './blobs.js';
export { NatsSecurityError, type NatsSecurity } from './auth.js';
