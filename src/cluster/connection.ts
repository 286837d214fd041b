/**
 * A connection to the NATS cluster with what both sides use: the task
 * stream, the blob bucket and the result bucket, made when missing
 * (spec/cluster.md, "Streams and buckets").
 *
 * Where: src/cluster, used by the front end (executor.ts) and the worker
 * (worker.ts). Connection failures become NatsConnectError with a message
 * that says which servers were tried and what to check.
 */
import { AuthorizationError, connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { describeIdentity, NatsSecurityError, securityConnectOptions, type NatsSecurity } from './auth.js';
import { BLOB_BUCKET, RESULT_BUCKET, TASK_STREAM, TASK_SUBJECT_PREFIX, WORKER_CONSUMER } from './protocol.js';

/** Credentials (user and password, or an nkey seed file) and TLS: auth.ts. */
export interface NatsOptions extends NatsSecurity {
  /** Server URLs (nats://host:port), any members of one cluster. */
  readonly servers: readonly string[];
  /** Copies JetStream keeps of the stream and buckets (1..5; a 3-node cluster survives one lost server with 3). Default 1. */
  readonly replicas?: number;
  /** How long results and blobs are kept when nobody removes them. Default 24 h. */
  readonly keepMs?: number;
  /** A name the connection shows in the server's monitoring. */
  readonly name?: string;
  /** How long one server may take to accept a connection before the next is tried. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
}

/** The cluster could not be reached or refused us: `message` says what to check. */
export class NatsConnectError extends Error {
  override name = 'NatsConnectError';
}

export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly results: KV;
  readonly blobs: ObjectStore;
  close(): Promise<void>;
}

/** `nats://a:4222,nats://b:4222` -> the list (the form `--nats` takes). */
export function parseServers(list: string): string[] {
  const servers = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new NatsConnectError('no NATS server given: pass --nats nats://HOST:PORT[,nats://HOST:PORT...]');
  return servers;
}

export async function openCluster(options: NatsOptions): Promise<ClusterConnection> {
  let nc: NatsConnection;
  let security;
  try {
    security = securityConnectOptions(options);
  } catch (error) {
    if (error instanceof NatsSecurityError) throw new NatsConnectError(error.message);
    throw error;
  }
  /*
   * The client dials forever (maxReconnectAttempts -1) even before its first
   * connection when a server closes a TLS connection after the handshake (it
   * wanted a client certificate): the first connection gets two rounds of
   * the servers, then fails.
   */
  let connected = false;
  let firstDials = 0;
  try {
    nc = await connect({
      servers: [...options.servers],
      reconnectToServer: () => {
        if (!connected && ++firstDials > 2 * options.servers.length) throw new Error(`no server completed a connection in ${firstDials - 1} tries (timeout)`);
        return null;
      },
      ...security,
      ...(options.name === undefined ? {} : { name: options.name }),
      /* a lost server (spec/cluster.md, "A NATS server dies"): go to another at once, and keep trying forever */
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      /* a server that closes a TLS connection after the handshake (no client certificate) is only noticed by this */
      timeout: options.connectTimeoutMs ?? 5000,
    });
    connected = true;
  } catch (error) {
    const where = options.servers.join(', ');
    const message = (error as Error).message;
    if (error instanceof AuthorizationError || /authorization/i.test(message)) {
      const what = options.nkeySeedFile === undefined ? 'the user name and password (ZEROVM_NATS_PASSWORD)' : 'that the servers list this nkey as a user';
      throw new NatsConnectError(`the NATS servers (${where}) refused the credentials of ${describeIdentity(options)}: check ${what}`);
    }
    if (/tls|ssl|certificate|self[- ]signed|handshake/i.test(message) || ((error as { cause?: Error }).cause !== undefined && /tls|ssl|certificate/i.test(String((error as { cause?: Error }).cause)))) {
      throw new NatsConnectError(`the TLS connection to NATS at ${where} failed: ${message}${causeOf(error)}; check --nats-ca (the CA that signed the servers' certificates) and, when the servers verify clients, --nats-cert and --nats-key`);
    }
    if (/timeout/i.test(message) && options.tlsCaFile !== undefined && options.tlsCertFile === undefined) {
      throw new NatsConnectError(`the NATS servers at ${where} did not complete the TLS connection (${message}): when the servers verify clients, give a client certificate with --nats-cert and --nats-key`);
    }
    throw new NatsConnectError(`cannot connect to NATS at ${where}: ${message}${causeOf(error)}; check that nats-server runs there with JetStream enabled`);
  }
  try {
    const replicas = options.replicas ?? 1;
    const keepNs = (options.keepMs ?? 24 * 3600_000) * 1_000_000;
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(TASK_STREAM);
    } catch {
      await jsm.streams.add({
        name: TASK_STREAM,
        subjects: [`${TASK_SUBJECT_PREFIX}.>`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: replicas,
      });
    }
    const results = await createOrOpen(() => new Kvm(nc).create(RESULT_BUCKET, { replicas, ttl: keepNs / 1_000_000 }), () => new Kvm(nc).open(RESULT_BUCKET));
    const blobs = await createOrOpen(() => new Objm(nc).create(BLOB_BUCKET, { replicas, ttl: keepNs }), () => new Objm(nc).open(BLOB_BUCKET));
    return { nc, js: jetstream(nc), jsm, results, blobs, close: () => nc.close() };
  } catch (error) {
    await nc.close();
    throw new NatsConnectError(`connected to NATS, but JetStream could not give the zerovm stream and buckets: ${(error as Error).message}; check that the servers run with JetStream (-js) and, in a cluster, have elected a meta leader`);
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? ` (${cause.message})` : '';
}

/** Creating a bucket that exists with the same settings gives it; one made with other settings (another replicas count) is opened as it is. */
async function createOrOpen<T>(create: () => Promise<T>, open: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    try {
      return await open();
    } catch {
      throw error;
    }
  }
}

/** Redelivery of tasks (spec/cluster.md, "Acknowledgement and redelivery"). */
export interface DeliveryOptions {
  /** How long a task may go without an ack or a progress signal before JetStream hands it to another worker. Default 10 000 ms (workers signal progress every third of it, so only a dead or stuck worker's tasks wait it out). */
  readonly ackWaitMs?: number;
  /** Deliveries of one task at most (the first included); then the front end fails its nodes. Default 5. */
  readonly maxDeliver?: number;
}

/* recovery after a lost worker takes about this long (bench/cluster-wordcount.bench.ts): 30 s was the client's default */
export const DEFAULT_ACK_WAIT_MS = 10_000;
export const DEFAULT_MAX_DELIVER = 5;

/**
 * Makes the workers' shared consumer, or (`update`, the front end) sets its
 * ack wait and deliveries to these; returns the ack wait in force.
 */
export async function ensureWorkerConsumer(jsm: JetStreamManager, delivery: DeliveryOptions, update: boolean): Promise<{ ackWaitMs: number; maxDeliver: number }> {
  const ackWaitMs = delivery.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const maxDeliver = delivery.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const wanted = { ack_wait: ackWaitMs * 1_000_000, max_deliver: maxDeliver };
  let info;
  try {
    info = await jsm.consumers.info(TASK_STREAM, WORKER_CONSUMER);
  } catch {
    try {
      info = await jsm.consumers.add(TASK_STREAM, { durable_name: WORKER_CONSUMER, ack_policy: AckPolicy.Explicit, ...wanted });
    } catch {
      info = await jsm.consumers.info(TASK_STREAM, WORKER_CONSUMER);
    }
  }
  if (update && (info.config.ack_wait !== wanted.ack_wait || info.config.max_deliver !== wanted.max_deliver)) {
    info = await jsm.consumers.update(TASK_STREAM, WORKER_CONSUMER, wanted);
  }
  return { ackWaitMs: (info.config.ack_wait ?? wanted.ack_wait) / 1_000_000, maxDeliver: info.config.max_deliver ?? maxDeliver };
}
