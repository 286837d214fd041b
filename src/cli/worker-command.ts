/**
 * `zerovm worker --nats URL[,URL...] [--slots N] [--engine E] [--user U]
 * [--name NAME] [--replicas R] [--work-dir DIR] [--pipe-host H] [--gang-wait S] [--heartbeat MS]
 * [--nats-nkey FILE] [--nats-ca FILE] [--nats-cert FILE --nats-key FILE]`:
 * runs the sessions of any cluster front end (spec/cluster.md, "Workers").
 * The password is read from ZEROVM_NATS_PASSWORD and an nkey seed from a
 * file (a command line is visible to every user of the host):
 * nats-options.ts. With --nats-ca, --nats-cert and --nats-key, the pipes it
 * streams to and from other workers are TLS too, both certificates verified
 * (net-pipe.ts). Runs until SIGTERM or SIGINT, then drains: it stops pulling tasks,
 * finishes the ones it holds, and exits 0.
 */
import { isEngineName } from '../api/engine-choice.js';
import { NatsConnectError, parseServers } from '../cluster/connection.js';
import { DEFAULT_HEARTBEAT_MS } from '../cluster/registry.js';
import { ClusterWorker } from '../cluster/worker.js';
import { CliError, parseArgs } from './args.js';
import { NATS_SECURITY_VALUES, natsSecurityFromArgs } from './nats-options.js';

export async function runWorker(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { flags: [], values: ['nats', 'slots', 'engine', 'name', 'replicas', 'work-dir', 'pipe-host', 'gang-wait', 'heartbeat', ...NATS_SECURITY_VALUES] });
  if (args.positionals.length > 0) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
  const nats = args.values.get('nats');
  if (nats === undefined) throw new CliError('--nats URL[,URL...] is required (the NATS servers to pull tasks from)');
  const slots = Number(args.values.get('slots') ?? '1');
  if (!Number.isInteger(slots) || slots < 1 || slots > 256) throw new CliError(`--slots must be a whole number from 1 to 256, not '${args.values.get('slots')}'`);
  const replicas = Number(args.values.get('replicas') ?? '1');
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new CliError(`--replicas must be 1 to 5, not '${args.values.get('replicas')}'`);
  const heartbeatMs = Number(args.values.get('heartbeat') ?? String(DEFAULT_HEARTBEAT_MS));
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 100 || heartbeatMs > 60_000) throw new CliError(`--heartbeat must be milliseconds from 100 to 60000 (how often the worker rewrites its registry entry), not '${args.values.get('heartbeat')}'`);
  const engine = args.values.get('engine');
  if (engine !== undefined && !isEngineName(engine)) throw new CliError(`--engine must be native, unicorn or auto, not '${engine}'`);
  const security = natsSecurityFromArgs(args);
  const name = args.values.get('name');
  const workDir = args.values.get('work-dir');
  const pipeHost = args.values.get('pipe-host');
  const gangWait = args.values.get('gang-wait');
  const gangWaitMs = gangWait === undefined ? undefined : Number(gangWait) * 1000;
  if (gangWaitMs !== undefined && !(gangWaitMs >= 100 && gangWaitMs <= 3600_000)) throw new CliError(`--gang-wait must be seconds from 0.1 to 3600, not '${gangWait}'`);
  let worker: ClusterWorker;
  try {
    worker = await ClusterWorker.start({
      servers: parseServers(nats),
      slots,
      replicas,
      heartbeatMs,
      ...(engine === undefined ? {} : { engine }),
      ...security,
      ...(name === undefined ? {} : { workerName: name }),
      ...(workDir === undefined ? {} : { workDir }),
      ...(pipeHost === undefined ? {} : { pipeHost }),
      ...(gangWaitMs === undefined ? {} : { gangWaitMs }),
      log: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (error) {
    if (error instanceof NatsConnectError) {
      process.stderr.write(`zerovm worker: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  process.stderr.write(`zerovm worker ${worker.name}: ready (${slots} slot${slots === 1 ? '' : 's'})\n`);
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.stderr.write(`zerovm worker ${worker.name}: draining\n`);
  await worker.stop();
  const moved = worker.bytesMoved;
  process.stderr.write(`zerovm worker ${worker.name}: stopped after ${worker.completed} task(s); blobs got ${moved.got} bytes, put ${moved.put} bytes\n`);
  return 0;
}
