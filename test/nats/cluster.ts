/**
 * A real 3-node nats-server cluster with JetStream on 127.0.0.1, for tests
 * of the cluster executor (spec/cluster.md, "Tests"). Each node gets its own
 * temporary store directory and a config file with two accounts (each its
 * own namespace, JetStream enabled): ZEROVM, with a user and password and
 * an nkey user, and OTHER, with a user and password; optionally TLS with
 * client verification, from a throwaway CA made with openssl at start
 * (spec/cluster.md, "Security"). The harness waits until every node reports
 * a JetStream meta leader, and ends its servers by pid.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';

/** Debian installs it in /usr/sbin, which a non-root PATH may lack. */
export const NATS_SERVER = spawnSync('nats-server', ['--version']).error === undefined ? 'nats-server' : '/usr/sbin/nats-server';

/** Why the cluster tests cannot run here (null: they can). */
export function natsServerUnavailable(): string | null {
  const probe = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `nats-server is not installed (Debian package nats-server; .ci/run installs it)`;
  return null;
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  process: ChildProcess | undefined;
  log: string;
}

/** Why a TLS cluster cannot be made here (null: it can): openssl makes its certificates. */
export function opensslUnavailable(): string | null {
  return spawnSync('openssl', ['version']).error === undefined ? null : 'openssl is not installed (Debian package openssl; .ci/run installs it)';
}

/** PEM files of a throwaway CA, the servers' certificate (127.0.0.1) and a client certificate. */
export interface TestTls {
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A worker's certificate: a NATS client, and the server and client of pipes between workers (127.0.0.1; spec/cluster.md, "Pipes between workers"). */
  readonly workerCertFile: string;
  readonly workerKeyFile: string;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** Account ZEROVM: this user and password, and the nkey user whose seed is in nkeySeedFile. */
  readonly user: string;
  readonly password: string;
  readonly nkeySeedFile: string;
  readonly nkeyPublic: string;
  /** Account OTHER: a separate namespace with its own user. */
  readonly otherUser: string;
  readonly otherPassword: string;
  /** Present when started with `tls: true`: the servers require TLS and verify client certificates. */
  readonly tls: TestTls | undefined;
  /** Client URLs of every node, comma-separated (as `zerovm worker --nats` takes them). */
  readonly urls: string;
  /** Kills one node by pid (SIGKILL) and waits for its exit. */
  kill(index: number): Promise<void>;
  /** Ends every node by pid and removes the store directories. */
  stop(): Promise<void>;
}

/**
 * `count` distinct free ports: all held open at once, then released (one
 * at a time, the kernel may give the same port twice: a node's route port
 * was once another's client port, and that node did not start).
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<Server>((resolveServer, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolveServer(server));
      }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  return ports;
}

interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly nkeyPublic: string;
  readonly otherUser: string;
  readonly otherPassword: string;
}

function configFor(node: NatsNode, all: readonly NatsNode[], credentials: Credentials, tls: { caFile: string; certFile: string; keyFile: string } | undefined): string {
  const routes = all.filter((n) => n !== node).map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  const q = JSON.stringify;
  return [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.port}`,
    `http: 127.0.0.1:${node.monitorPort}`,
    `jetstream { store_dir: ${q(node.storeDir)}, max_memory_store: 64MB, max_file_store: 1GB }`,
    `accounts {`,
    `  ZEROVM { jetstream: enabled, users: [ { user: ${q(credentials.user)}, password: ${q(credentials.password)} }, { nkey: ${q(credentials.nkeyPublic)} } ] }`,
    `  OTHER { jetstream: enabled, users: [ { user: ${q(credentials.otherUser)}, password: ${q(credentials.otherPassword)} } ] }`,
    `}`,
    ...(tls === undefined ? [] : [`tls { cert_file: ${q(tls.certFile)}, key_file: ${q(tls.keyFile)}, ca_file: ${q(tls.caFile)}, verify: true, timeout: 2 }`]),
    `cluster {`,
    `  name: zerovm-test`,
    `  listen: 127.0.0.1:${node.clusterPort}`,
    `  routes: [ ${routes.join(', ')} ]`,
    `}`,
    '',
  ].join('\n');
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

/** Every node's /jsz names the same meta leader: JetStream can place streams with 3 replicas. */
async function metaLeaderElected(nodes: readonly NatsNode[]): Promise<boolean> {
  const leaders = new Set<string>();
  for (const node of nodes) {
    try {
      const response = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`);
      const body = (await response.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
      const leader = body.meta_cluster?.leader;
      if (leader === undefined || leader === '' || (body.meta_cluster?.cluster_size ?? 0) < nodes.length) return false;
      leaders.add(leader);
    } catch {
      return false;
    }
  }
  return leaders.size === 1;
}

/** A CA, a server certificate for 127.0.0.1, a client certificate and a worker's, made by openssl in `dir` (nothing kept: the directory is removed with the cluster). */
function makeTls(dir: string): TestTls & { serverCertFile: string; serverKeyFile: string } {
  const file = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=zerovm test CA');
  for (const [who, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
    ['worker', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'],
  ] as const) {
    writeFileSync(file(`${who}.ext`), ext);
    ssl('req', ...ec, '-keyout', file(`${who}.key`), '-out', file(`${who}.csr`), '-subj', `/CN=zerovm test ${who}`);
    ssl('x509', '-req', '-in', file(`${who}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${who}.pem`), '-days', '1', '-extfile', file(`${who}.ext`));
  }
  return { caFile: file('ca.pem'), clientCertFile: file('client.pem'), clientKeyFile: file('client.key'), workerCertFile: file('worker.pem'), workerKeyFile: file('worker.key'), serverCertFile: file('server.pem'), serverKeyFile: file('server.key') };
}

export async function startNatsCluster(options: { readonly size?: number; readonly timeoutMs?: number; readonly tls?: boolean } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'zerovm-nats-'));
  const tls = options.tls === true ? makeTls(root) : undefined;
  const nkey = nkeys.createUser();
  const nkeySeedFile = join(root, 'user.nk');
  writeFileSync(nkeySeedFile, `${new TextDecoder().decode(nkey.getSeed())}\n`, { mode: 0o600 });
  const nodes: NatsNode[] = [];
  const ports = await freePorts(3 * size);
  for (let i = 1; i <= size; i++) {
    nodes.push({
      name: `n${i}`,
      port: ports[3 * i - 3]!,
      clusterPort: ports[3 * i - 2]!,
      monitorPort: ports[3 * i - 1]!,
      storeDir: join(root, `n${i}`),
      process: undefined,
      log: '',
    });
  }
  const user = 'zerovm';
  const password = `pw-${process.pid}-${Date.now()}`;
  const credentials: Credentials = { user, password, nkeyPublic: nkey.getPublicKey(), otherUser: 'other', otherPassword: `other-${password}` };
  for (const node of nodes) {
    const config = join(root, `${node.name}.conf`);
    writeFileSync(config, configFor(node, nodes, credentials, tls === undefined ? undefined : { caFile: tls.caFile, certFile: tls.serverCertFile, keyFile: tls.serverKeyFile }));
    const child = spawn(NATS_SERVER, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      node.log = (node.log + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    node.process = child;
  }
  const cluster: NatsCluster = {
    nodes,
    user,
    password,
    nkeySeedFile,
    nkeyPublic: credentials.nkeyPublic,
    otherUser: credentials.otherUser,
    otherPassword: credentials.otherPassword,
    tls: tls === undefined ? undefined : { caFile: tls.caFile, clientCertFile: tls.clientCertFile, clientKeyFile: tls.clientKeyFile, workerCertFile: tls.workerCertFile, workerKeyFile: tls.workerKeyFile },
    urls: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    async kill(index: number) {
      const child = nodes[index]?.process;
      if (child?.pid === undefined) return;
      process.kill(child.pid, 'SIGKILL');
      await waitExit(child);
    },
    async stop() {
      for (const node of nodes) {
        const child = node.process;
        if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGTERM');
          const ended = waitExit(child);
          const late = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
          await ended;
          clearTimeout(late);
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await metaLeaderElected(nodes))) {
    const dead = nodes.find((n) => n.process?.exitCode !== null && n.process?.exitCode !== undefined);
    if (dead !== undefined || Date.now() > deadline) {
      await cluster.stop();
      const why = dead !== undefined ? `${dead.name} exited (${dead.process?.exitCode})` : 'no JetStream meta leader in time';
      throw new Error(`the nats-server test cluster did not come up: ${why}\n${nodes.map((n) => `--- ${n.name}\n${n.log}`).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return cluster;
}
