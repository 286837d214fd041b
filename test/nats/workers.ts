/**
 * `zerovm worker` processes for the cluster tests and benchmarks: started
 * with `node bin/zerovm.js worker` (a name; a work directory when given,
 * whose blob cache is `<workDir>/blobs`), ready when they say so, ended by
 * pid. Their stderr is kept (the tests read which task each ran).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsCluster } from './cluster.js';

/** From test/nats, or from dist-bench/test/nats when a benchmark is compiled. */
const BIN = [join(import.meta.dirname, '..', '..', 'bin', 'zerovm.js'), join(import.meta.dirname, '..', '..', '..', 'bin', 'zerovm.js')].find((path) => existsSync(path))!;

export interface WorkerProcess {
  readonly name: string;
  /** The --work-dir it was given, if any. */
  readonly workDir: string | undefined;
  readonly child: ChildProcess;
  log: string;
}

/** Starts `zerovm worker --nats URLS --name NAME ...args` with `env` added; resolves when ready, rejects with its log when it exits first. */
export function spawnWorker(urls: string, name: string, args: readonly string[], env: Readonly<Record<string, string>> = {}, workDir?: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--nats', urls, '--name', name, ...(workDir === undefined ? [] : ['--work-dir', workDir]), ...args], {
    env: { ...process.env, ...env },
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

/** Starts a worker of the harness's account with one slot (more with --slots in `extra`); resolves when it is ready. */
export function startWorker(cluster: NatsCluster, name: string, extra: readonly string[] = [], workDir?: string): Promise<WorkerProcess> {
  return spawnWorker(cluster.urls, name, ['--user', cluster.user, '--slots', '1', '--replicas', '3', '--pipe-host', '127.0.0.1', ...extra], { ZEROVM_NATS_PASSWORD: cluster.password }, workDir);
}
export function alive(worker: WorkerProcess): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

/** Ends a worker by pid and waits for its exit. */
export async function endWorker(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = worker;
  if (child.pid === undefined || !alive(worker)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  await exited;
}

/** The most resident memory the worker process has had (VmHWM, bytes; Linux). */
export function peakRss(worker: WorkerProcess): number {
  const status = readFileSync(`/proc/${worker.child.pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new Error(`no VmHWM in /proc/${worker.child.pid}/status`);
  return Number(match[1]) * 1024;
}

/** Resets the peak that peakRss reads to the present resident size (Linux: clear_refs 5). */
export function resetPeakRss(worker: WorkerProcess): void {
  writeFileSync(`/proc/${worker.child.pid}/clear_refs`, '5');
}

/** Waits until `worker` logs `text` after `from` characters of its log. */
export async function waitForLog(worker: WorkerProcess, text: string, from = 0, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.log.slice(from).includes(text)) {
    if (Date.now() > deadline) throw new Error(`worker ${worker.name} did not log '${text}' in time:\n${worker.log.slice(from)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
