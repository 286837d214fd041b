/**
 * `zerovm serve` and `zerovm job` (spec/serving.md).
 *
 *   zerovm serve [--host 127.0.0.1] [--port 8080] [--store DIR] [--workers N]
 *                [--engine E] [--sysimage NAME=APP.zapp]... [--auth-token T]
 *                [--max-nodes N] [--max-body BYTES] [--max-output BYTES] [--memory BYTES] [--timeout S]
 *                [--nats URL[,URL...] [--nats-user U] [--nats-replicas R] [--pickup-timeout S]]
 *   zerovm job JOB.json [--store DIR] [--account A] [--workers N] [--engine E]
 *                [--sysimage NAME=APP.zapp]... [--body FILE] [--max-nodes N]
 *
 * `serve` prints the address it listens on, then serves until SIGTERM or
 * SIGINT, which drain it (running requests finish). `job` runs one job
 * description against the store without a server and prints what the HTTP
 * response would carry: the status line, the headers, a blank line, the
 * body. With --nats, `serve` keeps objects and job records in the NATS
 * JetStream cluster and runs jobs on `zerovm worker` processes
 * (spec/cluster.md, "Serving from the cluster"); the password comes from
 * ZEROVM_NATS_PASSWORD, as for `zerovm worker`. Its exit status is 0 when every node ended ok, 1 when one did not,
 * 2 for a request the server would refuse (the status line says which).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, parseAddress } from './args.js';
import { ZeroVMServer } from '../serve/server.js';
import { HttpError, type JobService } from '../serve/service.js';
import type { StoreBackend } from '../serve/object-store.js';
import { DEFAULT_MAX_BODY, setUp, SetupError, type SetupOptions } from '../serve/setup.js';
import { STATUS_CODES } from 'node:http';

type ValueOption = 'host' | 'port' | 'store' | 'workers' | 'engine' | 'sysimage' | 'auth-token' | 'max-nodes' | 'max-body' | 'max-output' | 'memory' | 'timeout' | 'account' | 'body' | 'nats' | 'nats-user' | 'nats-replicas' | 'pickup-timeout';

function parse(argv: readonly string[], allowed: readonly ValueOption[]): { values: Map<ValueOption, string>; sysimages: string[]; positionals: string[] } {
  const values = new Map<ValueOption, string>();
  const sysimages: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)) as ValueOption;
    if (!allowed.includes(name)) throw new CliError(`unknown option ${arg} (options: ${allowed.map((o) => `--${o}`).join(' ')})`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new CliError(`option --${name} needs a value`);
    if (name === 'sysimage') sysimages.push(value);
    else if (values.has(name)) throw new CliError(`option --${name} is given twice`);
    else values.set(name, value);
  }
  return { values, sysimages, positionals };
}

function number(values: Map<ValueOption, string>, name: ValueOption): number | undefined {
  const text = values.get(name);
  return text === undefined ? undefined : parseAddress(text, `--${name}`);
}

function setupOptions(values: Map<ValueOption, string>, sysimages: string[]): SetupOptions {
  const workers = number(values, 'workers');
  const maxNodes = number(values, 'max-nodes');
  const maxOutput = number(values, 'max-output');
  const memory = number(values, 'memory');
  const timeout = number(values, 'timeout');
  return {
    ...(values.has('store') ? { store: values.get('store')! } : {}),
    ...(workers === undefined ? {} : { workers }),
    ...(values.has('engine') ? { engine: values.get('engine')! } : {}),
    sysimages,
    ...(maxNodes === undefined ? {} : { maxNodes }),
    ...(maxOutput === undefined ? {} : { maxOutput }),
    ...(memory === undefined ? {} : { memory }),
    ...(timeout === undefined ? {} : { timeout }),
  };
}

/** What `serve` runs on: one host's store and pool, or a NATS cluster. */
interface ServeSetup {
  readonly store: StoreBackend;
  readonly service: JobService;
  closeExecutor(): Promise<void>;
  closeStore(): Promise<void>;
}

async function serveSetup(values: Map<ValueOption, string>, sysimages: string[]): Promise<ServeSetup> {
  const nats = values.get('nats');
  if (nats === undefined) {
    for (const name of ['nats-user', 'nats-replicas', 'pickup-timeout'] as const) if (values.has(name)) throw new CliError(`--${name} goes with --nats URL[,URL...]`);
    const setup = setUp(setupOptions(values, sysimages));
    return { store: setup.store, service: setup.service, closeExecutor: () => setup.executor.close(), closeStore: () => Promise.resolve(setup.store.closeTemp()) };
  }
  const { setUpNats } = await import('../serve/setup-nats.js');
  const { NatsConnectError, parseServers } = await import('../cluster/connection.js');
  const replicas = number(values, 'nats-replicas');
  if (replicas !== undefined && (replicas < 1 || replicas > 5)) throw new CliError(`--nats-replicas must be 1 to 5, not ${replicas}`);
  const pickupText = values.get('pickup-timeout');
  const pickup = pickupText === undefined ? undefined : Number(pickupText);
  if (pickup !== undefined && !(Number.isFinite(pickup) && pickup > 0)) throw new CliError(`--pickup-timeout must be a positive number of seconds, not '${pickupText}'`);
  const user = values.get('nats-user');
  const password = process.env['ZEROVM_NATS_PASSWORD'];
  try {
    const setup = await setUpNats({
      ...setupOptions(values, sysimages),
      servers: parseServers(nats),
      ...(user === undefined ? {} : { user }),
      ...(password === undefined ? {} : { password }),
      ...(replicas === undefined ? {} : { replicas }),
      ...(pickup === undefined ? {} : { pickupTimeoutMs: Math.round(pickup * 1000) }),
    });
    return { store: setup.store, service: setup.service, closeExecutor: () => setup.executor.close(), closeStore: () => setup.store.close() };
  } catch (error) {
    if (error instanceof NatsConnectError) throw new CliError(error.message);
    throw error;
  }
}

export async function runServe(argv: readonly string[]): Promise<number> {
  const { values, sysimages, positionals } = parse(argv, ['host', 'port', 'store', 'workers', 'engine', 'sysimage', 'auth-token', 'max-nodes', 'max-body', 'max-output', 'memory', 'timeout', 'nats', 'nats-user', 'nats-replicas', 'pickup-timeout']);
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`);
  let setup: ServeSetup;
  try {
    setup = await serveSetup(values, sysimages);
  } catch (error) {
    if (error instanceof SetupError) throw new CliError(error.message);
    throw error;
  }
  const authToken = values.get('auth-token');
  const server = new ZeroVMServer({ store: setup.store, service: setup.service, maxBody: number(values, 'max-body') ?? DEFAULT_MAX_BODY, ...(authToken === undefined ? {} : { authToken }) });
  const host = values.get('host') ?? '127.0.0.1';
  const port = number(values, 'port') ?? 8080;
  let address;
  try {
    address = await server.listen(port, host);
  } catch (error) {
    await setup.closeExecutor();
    await setup.closeStore();
    throw new CliError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  process.stdout.write(`zerovm serve: listening on http://${address.address}:${address.port} (store ${setup.store.shownAs})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.stdout.write(`zerovm serve: ${signal}: finishing running requests\n`);
      void server.close(() => setup.closeExecutor()).then(async () => {
        await setup.closeStore();
        resolve();
      });
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  process.stdout.write('zerovm serve: stopped\n');
  return 0;
}

export async function runJob(argv: readonly string[]): Promise<number> {
  const { values, sysimages, positionals } = parse(argv, ['store', 'workers', 'engine', 'sysimage', 'account', 'body', 'max-nodes', 'max-output', 'memory', 'timeout']);
  if (positionals.length !== 1) throw new CliError('usage: zerovm job JOB.json [--store DIR] [--account NAME] [--workers N] [--engine E] [--sysimage NAME=APP.zapp]... [--body FILE]');
  let text: string;
  try {
    text = readFileSync(positionals[0]!, 'utf8');
  } catch {
    throw new CliError(`cannot read the job description '${positionals[0]}'`);
  }
  let body: Buffer | undefined;
  const bodyFile = values.get('body');
  if (bodyFile !== undefined) {
    try {
      body = readFileSync(bodyFile);
    } catch {
      throw new CliError(`--body: cannot read '${bodyFile}'`);
    }
  }
  let setup;
  try {
    setup = setUp(setupOptions(values, sysimages));
  } catch (error) {
    if (error instanceof SetupError) throw new CliError(error.message);
    throw error;
  }
  const out = process.stdout;
  try {
    const response = await setup.service.runDescription(text, { account: values.get('account') ?? 'local' }, (dir) => (body === undefined ? {} : { body: writeBodyFile(dir, body) }));
    out.write(`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}\n`);
    for (const [name, value] of response.headers) out.write(`${name}: ${value}\n`);
    out.write(`Content-Length: ${response.body.length}\n\n`);
    out.write(response.body);
    const statuses = response.headers.find(([name]) => name === 'X-Nexe-Status')?.[1] ?? '';
    return statuses.split(',').every((s) => s === 'ok') ? 0 : 1;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    out.write(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\nContent-Type: text/plain; charset=utf-8\n\n${error.message}\n`);
    return 2;
  } finally {
    await setup.executor.close();
    setup.store.closeTemp();
  }
}

function writeBodyFile(dir: string, body: Buffer): string {
  const path = join(dir, 'request-body');
  writeFileSync(path, body);
  return path;
}
