/**
 * `zerovm worker` as a child process for the cluster tests and benchmarks:
 * started with the given options, ready when it says so, ended by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** From test/nats, or from dist-bench/test/nats when a benchmark is compiled. */
const BIN = [join(import.meta.dirname, '..', '..', 'bin', 'zerovm.js'), join(import.meta.dirname, '..', '..', '..', 'bin', 'zerovm.js')].find((path) => existsSync(path))!;

export interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  log: string;
}

/** Starts `zerovm worker --nats URLS --name NAME ...args` with `env` added; resolves when ready, rejects with its log when it exits first. */
export function spawnWorker(urls: string, name: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--nats', urls, '--name', name, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker: WorkerProcess = { name, child, log: '' };
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

/** Ends the worker by pid with `signal` and waits for its exit. */
export async function endWorker(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = worker;
  if (child.pid === undefined || !isRunning(worker)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  await exited;
}
