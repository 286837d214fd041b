/**
 * `zerovm serve --nats`: the same server over a NATS JetStream cluster
 * (spec/cluster.md, "Serving from the cluster"): objects in JetStream
 * (nats-store.ts), jobs run by `zerovm worker` processes (NatsExecutor),
 * job records in KV. Loaded only when --nats is given, so a single host
 * never loads the NATS clients.
 */
import { resolve } from 'node:path';
import { isEngineName, type EngineName } from '../api/engine-choice.js';
import { NatsExecutor } from '../cluster/executor.js';
import { NatsJobRecords } from '../cluster/job-records.js';
import { MAX_SPREAD } from '../cluster/split.js';
import { TarImage } from '../jobs/images.js';
import { NatsStore } from './nats-store.js';
import { JobService } from './service.js';
import { DEFAULT_MAX_JOB_BYTES, DEFAULT_MAX_NODES, DEFAULT_MAX_OUTPUT, parseSysimage, SetupError, type SetupOptions } from './setup.js';

/** Seconds a job waits for a worker to take each of its tasks unless --pickup-timeout says otherwise. */
export const DEFAULT_PICKUP_TIMEOUT_S = 30;

export interface NatsSetupOptions extends SetupOptions {
  readonly servers: readonly string[];
  readonly user?: string;
  readonly password?: string;
  /** Copies JetStream keeps of buckets and streams this front end makes. */
  readonly replicas?: number;
  readonly pickupTimeoutMs?: number;
}

export interface NatsSetup {
  readonly store: NatsStore;
  readonly executor: NatsExecutor;
  readonly service: JobService;
  readonly records: NatsJobRecords;
  /** Closes the executor (running jobs finish first), then the store's connection. */
  close(): Promise<void>;
}

export async function setUpNats(options: NatsSetupOptions): Promise<NatsSetup> {
  const engine = options.engine ?? 'auto';
  if (!isEngineName(engine)) throw new SetupError(`--engine '${engine}': use native, unicorn or auto`);
  if (options.workers !== undefined) throw new SetupError('--workers sets the local pool; with --nats the sessions run on `zerovm worker` processes (their --slots)');
  const connection = {
    servers: options.servers,
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
  };
  /* options checked before connecting: a refused option must not leave connections open */
  const images: { name: string; path: string }[] = [];
  for (const text of options.sysimages ?? []) {
    const image = parseSysimage(text);
    if (images.some((i) => i.name === image.name)) throw new SetupError(`--sysimage ${image.name} is given twice`);
    images.push(image);
  }
  const store = await NatsStore.open({ ...connection, ...(options.store === undefined ? {} : { scratch: resolve(options.store) }) });
  let executor: NatsExecutor;
  try {
    executor = await NatsExecutor.connect({
      ...connection,
      blobFor: (path) => store.blobFor(path),
      takeOutput: (path, bytes) => store.takeOutput(path, bytes),
      pickupTimeoutMs: options.pickupTimeoutMs ?? DEFAULT_PICKUP_TIMEOUT_S * 1000,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  let records: NatsJobRecords;
  try {
    records = await NatsJobRecords.open(store.connection, options.replicas === undefined ? {} : { replicas: options.replicas });
  } catch (error) {
    await executor.close();
    await store.close();
    throw error;
  }
  const sysimages = new Map(images.map(({ name, path }) => [name, new TarImage(`system image ${name}`, path, store.makeTempDir(`sysimage-${name}`))]));
  const service = new JobService({
    store,
    executor,
    records,
    sysimages,
    limits: { maxNodes: options.maxNodes ?? DEFAULT_MAX_NODES, maxJobBytes: DEFAULT_MAX_JOB_BYTES, maxOutput: options.maxOutput ?? DEFAULT_MAX_OUTPUT, maxReplicate: executor.maxReplicate, maxSpread: MAX_SPREAD },
    defaults: {
      engine: engine as EngineName,
      ...(options.memory === undefined ? {} : { memory: options.memory }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    },
  });
  return {
    store,
    executor,
    service,
    records,
    close: async () => {
      await executor.close();
      await store.close();
    },
  };
}
