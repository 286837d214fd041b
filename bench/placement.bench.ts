/**
 * Placement's cost per session: `npm run build`, then
 * `npx tsx bench/placement.bench.ts` (needs nats-server; not part of
 * `npm run bench`).
 *
 * A 3-node JetStream cluster on 127.0.0.1 (replicas 3), one
 * `zerovm worker --slots 2`, and two NatsExecutors: one with placement
 * (the worker holds hello.nexe after the warm-up, so every task is sent to
 * it alone and claimed in the claims bucket) and one without (the shared
 * work queue). The same one-node hello job runs on each in turn; the
 * median and p99 of each, and the difference of medians: what a targeted
 * task costs over a shared one (spec/cluster.md, "Placement").
 * Knob: ZEROVM_BENCH_ROUNDS (default 200).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsExecutor } from '../src/cluster/executor.js';
import type { JobPlan } from '../src/jobs/executor.js';
import { natsServerUnavailable, startNatsCluster } from '../test/nats/cluster.js';
import { endWorker, startWorker } from '../test/nats/workers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const ROUNDS = Math.max(20, Number(process.env['ZEROVM_BENCH_ROUNDS'] ?? 200) || 200);
const PLAN: JobPlan = { nodes: [{ name: 'hello', program: join(ROOT, 'examples', 'hello.nexe') }] };

const unavailable = natsServerUnavailable();
if (unavailable !== null) {
  console.log(`placement bench skipped: ${unavailable}`);
  process.exit(0);
}
const cluster = await startNatsCluster();
const workDir = join(cluster.nodes[0]!.storeDir, '..', 'worker');
/* two slots: the other front end's task, whose end this one learns from the registry a moment late, does not hide the free slot */
const worker = await startWorker(cluster, 'bench', ['--slots', '2'], workDir);
try {
  const connect = (placement: boolean): Promise<NatsExecutor> => NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3, placement });
  const executors = { placed: await connect(true), shared: await connect(false) };
  const times = { placed: [] as number[], shared: [] as number[] };
  const ranOn = new Set<string>();
  for (let i = 0; i < ROUNDS + 10; i++) {
    for (const what of ['placed', 'shared'] as const) {
      const start = process.hrtime.bigint();
      const result = await executors[what].run(PLAN);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.nodes[0]!.exitState !== 'ok') throw new Error(`hello did not run: ${result.nodes[0]!.exitState}`);
      if (i >= 10) times[what].push(ms);
    }
  }
  const targeted = (worker.log.match(/sent to this worker/g) ?? []).length;
  ranOn.add(worker.name);
  const row = (what: string, list: number[]): number => {
    list.sort((a, b) => a - b);
    const q = (p: number): number => list[Math.min(list.length - 1, Math.floor(p * list.length))]!;
    console.log(`${what.padEnd(40)} median ${q(0.5).toFixed(2).padStart(7)} ms   p99 ${q(0.99).toFixed(2).padStart(7)} ms`);
    return q(0.5);
  };
  console.log(`one-node hello job, ${ROUNDS} rounds each, interleaved (${targeted} tasks were sent to the worker alone):`);
  const shared = row('shared work queue (placement: false)', times.shared);
  const placed = row('sent to the worker holding the program', times.placed);
  console.log(`added by placement per session (difference of medians): ${(placed - shared).toFixed(2)} ms`);
  await executors.placed.close();
  await executors.shared.close();
} finally {
  await endWorker(worker);
  await cluster.stop();
}
