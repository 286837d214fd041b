/**
 * Cluster dispatch benchmark: `npm run build`, then
 * `npx tsx bench/cluster.bench.ts` (in `npm run bench`; needs
 * nats-server, and says so and skips without it).
 *
 * Starts a 3-node JetStream cluster on 127.0.0.1 (replicas 3), one
 * `zerovm worker --slots 1`, and a NatsExecutor; and a WorkerPoolExecutor
 * with one thread. Each runs the same one-node hello job in turn, one
 * after the other (rounds interleaved so load falls on both alike), after
 * a warm-up that caches the program on the worker and validates it. The
 * median and p99 of each job's wall time, and the difference of medians:
 * what going through NATS adds per session (spec/cluster.md, "Measured").
 * Knob: ZEROVM_BENCH_ROUNDS (default 200).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsExecutor } from '../src/cluster/executor.js';
import type { JobExecutor, JobPlan } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { natsServerUnavailable, startNatsCluster } from '../test/nats/cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const ROUNDS = Math.max(20, Number(process.env['ZEROVM_BENCH_ROUNDS'] ?? 200) || 200);
const PLAN: JobPlan = { nodes: [{ name: 'hello', program: join(ROOT, 'examples', 'hello.nexe') }] };

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function timeJob(executor: JobExecutor): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await executor.run(PLAN);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.nodes[0]!.exitState !== 'ok') throw new Error(`hello did not run: ${result.nodes[0]!.exitState}`);
  return ms;
}

const unavailable = natsServerUnavailable();
if (unavailable !== null) {
  console.log(`cluster bench skipped: ${unavailable}`);
  process.exit(0);
}
const cluster = await startNatsCluster();
const worker = spawn(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'worker', '--nats', cluster.urls, '--user', cluster.user, '--slots', '1', '--replicas', '3'], {
  env: { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password },
  stdio: ['ignore', 'ignore', 'pipe'],
});
try {
  await new Promise<void>((resolveReady, rejectReady) => {
    let log = '';
    worker.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(': ready (')) resolveReady();
    });
    worker.once('exit', (code) => rejectReady(new Error(`the worker exited (${code}):\n${log}`)));
  });
  const nats = await NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3 });
  const pool = new WorkerPoolExecutor({ workers: 1 });
  await pool.warm();
  for (let i = 0; i < 10; i++) {
    await timeJob(nats);
    await timeJob(pool);
  }
  const times = { nats: [] as number[], pool: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    times.nats.push(await timeJob(nats));
    times.pool.push(await timeJob(pool));
  }
  const row = (what: string, list: number[]): number => {
    list.sort((a, b) => a - b);
    console.log(`${what.padEnd(44)} median ${quantile(list, 0.5).toFixed(2).padStart(7)} ms   p99 ${quantile(list, 0.99).toFixed(2).padStart(7)} ms`);
    return quantile(list, 0.5);
  };
  console.log(`one-node hello job, ${ROUNDS} rounds, one after the other:`);
  const pooled = row('WorkerPoolExecutor (1 thread)', times.pool);
  const remote = row('NatsExecutor (3 servers, R3; 1 worker, 1 slot)', times.nats);
  console.log(`added by NATS per session (difference of medians): ${(remote - pooled).toFixed(2)} ms (target <= 2 ms)`);
  await nats.close();
  await pool.close();
} finally {
  if (worker.pid !== undefined && worker.exitCode === null) {
    const exited = new Promise((r) => worker.once('exit', r));
    process.kill(worker.pid, 'SIGTERM');
    await exited;
  }
  await cluster.stop();
}
