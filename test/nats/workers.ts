/**
 * `zerovm worker` processes for the cluster tests: started with a name, a
 * work directory (its blob cache is `<workDir>/blobs`) and a short
 * heartbeat, ended by pid (spec/cluster.md, "Tests").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { NatsCluster } from './cluster.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'zerovm.js');

export interface WorkerProcess {
  readonly name: string;
  readonly workDir: string;
  readonly child: ChildProcess;
  log: string;
}

export function startWorkerProcess(cluster: NatsCluster, name: string, workDir: string, extra: readonly string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--nats', cluster.urls, '--user', cluster.user, '--name', name, '--slots', '1', '--replicas', '3', '--work-dir', workDir, ...extra], {
    env: { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker: WorkerProcess = { name, workDir, child, log: '' };
  return new Promise((resolveReady, rejectReady) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      worker.log += chunk.toString();
      if (worker.log.includes(': ready (')) resolveReady(worker);
    });
    child.once('exit', (code) => rejectReady(new Error(`worker ${name} exited (${code}) before it was ready:\n${worker.log}`)));
  });
}

export function isRunning(worker: WorkerProcess): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

export async function endWorkerProcess(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = worker;
  if (child.pid === undefined || !isRunning(worker)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  await exited;
}

/** Waits until `worker` logs `text` after `from` characters of its log. */
export async function waitForLog(worker: WorkerProcess, text: string, from = 0, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.log.slice(from).includes(text)) {
    if (Date.now() > deadline) throw new Error(`worker ${worker.name} did not log '${text}' in time:\n${worker.log.slice(from)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
