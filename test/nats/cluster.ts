/**
 * A real 3-node nats-server cluster with JetStream on 127.0.0.1, for tests
 * of the cluster executor (spec/cluster.md, "Tests"). Each node gets its own
 * temporary store directory and a config file with one user and password;
 * the harness waits until every node reports a JetStream meta leader, and
 * ends its servers by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export interface NatsCluster {
  readonly nodes: NatsNode[];
  readonly user: string;
  readonly password: string;
  /** Client URLs of every node, comma-separated (as `zerovm worker --nats` takes them). */
  readonly urls: string;
  /** Kills one node by pid (SIGKILL) and waits for its exit. */
  kill(index: number): Promise<void>;
  /** Ends every node by pid and removes the store directories. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function configFor(node: NatsNode, all: readonly NatsNode[], user: string, password: string): string {
  const routes = all.filter((n) => n !== node).map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  return [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.port}`,
    `http: 127.0.0.1:${node.monitorPort}`,
    `jetstream { store_dir: ${JSON.stringify(node.storeDir)}, max_memory_store: 64MB, max_file_store: 1GB }`,
    `authorization { users: [ { user: ${JSON.stringify(user)}, password: ${JSON.stringify(password)} } ] }`,
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

export async function startNatsCluster(options: { readonly size?: number; readonly timeoutMs?: number } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'zerovm-nats-'));
  const nodes: NatsNode[] = [];
  for (let i = 1; i <= size; i++) {
    nodes.push({
      name: `n${i}`,
      port: await freePort(),
      clusterPort: await freePort(),
      monitorPort: await freePort(),
      storeDir: join(root, `n${i}`),
      process: undefined,
      log: '',
    });
  }
  const user = 'zerovm';
  const password = `pw-${process.pid}-${Date.now()}`;
  for (const node of nodes) {
    const config = join(root, `${node.name}.conf`);
    writeFileSync(config, configFor(node, nodes, user, password));
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
