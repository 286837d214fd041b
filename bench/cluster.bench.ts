/**
 * Cluster dispatch benchmark: `npm run build`, then
 * `npx tsx bench/cluster.bench.ts` (in `npm run bench`; needs
 * nats-server, and says so and skips without it).
 *
 * Starts a 3-node JetStream cluster on 127.0.0.1 (replicas 3), one
 * `zerovm worker --slots 1`, and two NatsExecutors: one as a front end
 * runs by default (a task goes directly to a free worker, spec/cluster.md
 * "Direct dispatch"), one with `direct: false` (every task through the
 * work-queue stream); and a WorkerPoolExecutor with one thread. Each runs
 * the same one-node hello job in turn, one after the other (rounds
 * interleaved so load falls on all alike), after a warm-up that caches the
 * program on the worker and validates it. The median and p99 of each job's
 * wall time, and the differences of medians: what going through NATS adds
 * per session (spec/cluster.md, "Measured"). Also the CPU time of this
 * process (pool thread and front ends) per job, less noisy than wall time
 * on a shared machine.
 * Knob: ZEROVM_BENCH_ROUNDS (default 200).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const result = await executor.run(PLAN);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  cpuMs.set(executor, (cpuMs.get(executor) ?? 0) + (used.user + used.system) / 1000);
  if (result.nodes[0]!.exitState !== 'ok') throw new Error(`hello did not run: ${result.nodes[0]!.exitState}`);
  return ms;
}

/** CPU time of a process so far, ns: the sum over its threads (Linux schedstat; 0 elsewhere). */
function cpuNs(pid: number): number {
  let total = 0;
  try {
    for (const thread of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* the thread ended meanwhile */
      }
    }
  } catch {
    return 0;
  }
  return total;
}

/** Messages the servers took in and sent out so far (their monitoring endpoint, summed). */
async function varz(ports: readonly number[]): Promise<{ in: number; out: number }> {
  let sum = { in: 0, out: 0 };
  for (const port of ports) {
    const stats = (await (await fetch(`http://127.0.0.1:${port}/varz`)).json()) as { in_msgs: number; out_msgs: number };
    sum = { in: sum.in + stats.in_msgs, out: sum.out + stats.out_msgs };
  }
  return sum;
}

/** This process's CPU time while each executor's jobs ran (ms, all rounds). */
const cpuMs = new Map<JobExecutor, number>();

const unavailable = natsServerUnavailable();
if (unavailable !== null) {
  console.log(`cluster bench skipped: ${unavailable}`);
  process.exit(0);
}
const cluster = await startNatsCluster();
const worker = spawn(process.execPath, [...(process.env['X_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/wprof'] : []), join(ROOT, 'bin', 'zerovm.js'), 'worker', '--nats', cluster.urls, '--user', cluster.user, '--slots', '1', '--replicas', '3'], {
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
  const connection = { servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3 };
  const nats = await NatsExecutor.connect(connection);
  const queued = await NatsExecutor.connect({ ...connection, direct: false });
  const pool = new WorkerPoolExecutor({ workers: 1 });
  await pool.warm();
  const executors: [string, JobExecutor][] = [
    ['WorkerPoolExecutor (1 thread)', pool],
    ['NatsExecutor, direct (3 servers R3; 1 worker, 1 slot)', nats],
    ['NatsExecutor, direct: false (stream only)', queued],
  ];
  for (let i = 0; i < 10; i++) for (const [, executor] of executors) await timeJob(executor);
  cpuMs.clear();
  const times = executors.map(() => [] as number[]);
  for (let i = 0; i < ROUNDS; i++) for (const [k, [, executor]] of executors.entries()) times[k]!.push(await timeJob(executor));
  console.log(`one-node hello job, ${ROUNDS} rounds, one after the other:`);
  const medians = executors.map(([what, executor], k) => {
    const list = times[k]!.sort((a, b) => a - b);
    console.log(`${what.padEnd(54)} median ${quantile(list, 0.5).toFixed(2).padStart(6)} ms   p99 ${quantile(list, 0.99).toFixed(2).padStart(6)} ms   this process's CPU ${((cpuMs.get(executor) ?? 0) / ROUNDS).toFixed(2)} ms/job`);
    return quantile(list, 0.5);
  });
  console.log(`added per session (difference of medians): direct ${(medians[1]! - medians[0]!).toFixed(2)} ms, stream only ${(medians[2]! - medians[0]!).toFixed(2)} ms (target <= 2 ms)`);
  /*
   * CPU per job of every process (each mode's jobs alone, one after the
   * other): on a machine shared with other work this is steadier than wall
   * time, and on 2 cores it is what a session's latency is made of.
   */
  const pids: [string, number][] = [
    ['front end + pool (this process)', process.pid],
    ['worker', worker.pid!],
    ...cluster.nodes.map((node, i): [string, number] => [`nats-server ${i + 1}`, node.process!.pid!]),
  ];
  const cpuRounds = Math.max(50, Math.floor(ROUNDS / 2));
  console.log(`CPU per job, ms (${cpuRounds} jobs of each mode in a row):`);
  console.log(`${''.padEnd(54)} ${pids.map(([what]) => what.replace(' (this process)', '').padStart(16)).join('')}   total`);
  const messages: string[] = [];
  for (const [what, executor] of executors) {
    const before = pids.map(([, pid]) => cpuNs(pid));
    const varzBefore = await varz(cluster.nodes.map((n) => n.monitorPort));
    for (let i = 0; i < cpuRounds; i++) await timeJob(executor);
    const used = pids.map(([, pid], k) => (cpuNs(pid) - before[k]!) / 1e6 / cpuRounds);
    const varzAfter = await varz(cluster.nodes.map((n) => n.monitorPort));
    console.log(`${what.padEnd(54)} ${used.map((ms) => ms.toFixed(2).padStart(16)).join('')}   ${used.reduce((a, b) => a + b, 0).toFixed(2)}`);
    messages.push(`${what.padEnd(54)} ${((varzAfter.in - varzBefore.in) / cpuRounds).toFixed(1).padStart(6)} in, ${((varzAfter.out - varzBefore.out) / cpuRounds).toFixed(1).padStart(6)} out`);
  }
  console.log('messages per job, summed over the 3 servers (clients and routes):');
  for (const line of messages) console.log(line);
  const counts = nats.directCounts;
  console.log(`direct front end: ${counts.accepted} of ${counts.offered + counts.notOffered} tasks taken directly (${counts.refused} refused, ${counts.notOffered} not offered: no worker seemed free)`);
  await nats.close();
  await queued.close();
  await pool.close();
} finally {
  if (worker.pid !== undefined && worker.exitCode === null) {
    const exited = new Promise((r) => worker.once('exit', r));
    process.kill(worker.pid, 'SIGTERM');
    await exited;
  }
  await cluster.stop();
}
