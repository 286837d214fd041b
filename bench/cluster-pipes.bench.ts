/**
 * Pipe throughput between workers: `npm run build`, then
 * `npx tsx bench/cluster-pipes.bench.ts` (needs nats-server and the
 * `zerovm cc` toolchain; not part of `npm run bench`).
 *
 * Starts a 3-node JetStream cluster on 127.0.0.1 (replicas 3) and two
 * `zerovm worker --slots 1`; a writer session (a C program writing N MiB in
 * writes of 1 MiB) piped into `cat` whose output is discarded, split over
 * the two workers (spread 2), so every byte crosses a TCP connection
 * between them; and the same job on a WorkerPoolExecutor, where the pipe is
 * a ring between two threads. The best and median MB/s of each (the job's
 * wall time, dispatch included) (spec/cluster.md, "Measured").
 * Knobs: ZEROVM_BENCH_MIB (default 256), ZEROVM_BENCH_ROUNDS (default 5).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsExecutor } from '../src/cluster/executor.js';
import type { JobPlan, JobResult } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { natsServerUnavailable, startNatsCluster } from '../test/nats/cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'cat.nexe')))!;
const MIB = Math.max(1, Number(process.env['ZEROVM_BENCH_MIB'] ?? 256) || 256);
const ROUNDS = Math.max(1, Number(process.env['ZEROVM_BENCH_ROUNDS'] ?? 5) || 5);

const WRITER = `#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  static unsigned char buf[1 << 20];
  long total = atol(argv[1]), done = 0;
  for (unsigned i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131u + 7u);
  while (done < total) {
    long n = total - done < (long)sizeof buf ? total - done : (long)sizeof buf;
    ssize_t w = write(1, buf, (size_t)n);
    if (w <= 0) return 3;
    done += w;
  }
  return 0;
}
`;

const unavailable = natsServerUnavailable();
if (unavailable !== null) {
  console.log(`cluster pipes bench skipped: ${unavailable}`);
  process.exit(0);
}
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-pipes-bench-'));
writeFileSync(join(tmp, 'writer.c'), WRITER);
const cc = spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', '-O2', '-o', join(tmp, 'writer.nexe'), join(tmp, 'writer.c')], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.log(`cluster pipes bench skipped: zerovm cc failed:\n${cc.stderr}`);
  process.exit(0);
}
const bytes = MIB * 2 ** 20;
const plan: JobPlan = {
  nodes: [
    { name: 'writer', program: join(tmp, 'writer.nexe'), args: [String(bytes)], stdout: { pipe: 'p' } },
    { name: 'reader', program: join(ROOT, 'examples', 'cat.nexe'), stdin: { pipe: 'p' }, stdout: 'discard' },
  ],
  pipes: [{ id: 'p', from: 'writer', to: 'reader' }],
};

const cluster = await startNatsCluster();
const workers: ChildProcess[] = [];
function startWorker(name: string): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'worker', '--nats', cluster.urls, '--user', cluster.user, '--name', name, '--slots', '1', '--replicas', '3', '--pipe-host', '127.0.0.1'], {
    env: { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.push(child);
  return new Promise((resolveReady, rejectReady) => {
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(': ready (')) resolveReady();
    });
    child.once('exit', (code) => rejectReady(new Error(`worker ${name} exited (${code}):\n${log}`)));
  });
}
try {
  await Promise.all([startWorker('b1'), startWorker('b2')]);
  const nats = await NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3 });
  const pool = new WorkerPoolExecutor({ workers: 2 });
  await pool.warm();
  const timed = async (run: () => Promise<JobResult>, check: (result: JobResult) => void): Promise<number> => {
    const start = process.hrtime.bigint();
    const result = await run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (result.nodes.some((n) => n.exitState !== 'ok')) throw new Error(`the job failed: ${result.nodes.map((n) => `${n.name}: ${n.exitState}`).join('; ')}`);
    check(result);
    return bytes / 1e6 / seconds;
  };
  const split = (result: JobResult): void => {
    if (result.nodes[0]!.ranOn === result.nodes[1]!.ranOn) throw new Error('both nodes ran on one worker');
  };
  /* warm-up: programs cached on both workers and validated */
  await timed(() => nats.run(plan, { spread: 2 }), split);
  await timed(() => pool.run(plan), () => undefined);
  const rates = { nats: [] as number[], pool: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    rates.nats.push(await timed(() => nats.run(plan, { spread: 2 }), split));
    rates.pool.push(await timed(() => pool.run(plan), () => undefined));
  }
  const row = (what: string, list: number[]): void => {
    list.sort((a, b) => a - b);
    console.log(`${what.padEnd(52)} median ${list[Math.floor(list.length / 2)]!.toFixed(0).padStart(5)} MB/s   best ${list[list.length - 1]!.toFixed(0).padStart(5)} MB/s`);
  };
  console.log(`${MIB} MiB through one pipe (writer -> cat -> discard), ${ROUNDS} rounds:`);
  row('WorkerPoolExecutor (ring between 2 threads)', rates.pool);
  row('NatsExecutor, spread 2 (TCP between 2 workers)', rates.nats);
  await nats.close();
  await pool.close();
} finally {
  for (const child of workers) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  await Promise.all(workers.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : undefined)));
  await cluster.stop();
  rmSync(tmp, { recursive: true, force: true });
}
