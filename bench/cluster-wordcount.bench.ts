/**
 * Cluster word count and recovery benchmark: `npm run build`, then
 * `npx tsx bench/cluster-wordcount.bench.ts` (in `npm run bench`; needs
 * nats-server and `zerovm cc`, and says so and skips without them).
 *
 * A 3-node JetStream cluster on 127.0.0.1 (replicas 3) and 1, 2, then 3
 * `zerovm worker --slots 1` processes. examples/wordcount over OBJECTS text
 * objects (files of 16 KB) in two jobs: OBJECTS mapper sessions (each
 * reads one object, its /dev/out/reduce a buffer), then one reducer whose
 * /dev/in/map-N are the mappers' outputs. A connected map -> reduce group
 * runs whole on one worker (pipes between hosts are not in this branch), so
 * the map stage is what spreads. Reported: the median total of RUNS runs
 * after a warm-up, the ratios to one worker, the result checked equal to a
 * single-host WorkerPoolExecutor run; and the bytes moved between hosts:
 * blobs the front end put and workers fetched, task and result messages.
 *
 * Then the recovery time after kill -9 of one of two workers halfway
 * through the map stage, with ack waits of 30 s (the client's default),
 * 10 s (ours) and 3 s: the time from the kill to the job's end, beside an
 * undisturbed run.
 *
 * Knobs: ZEROVM_BENCH_WC_OBJECTS (default 200), ZEROVM_BENCH_RUNS (default 2),
 * ZEROVM_BENCH_DIRECT=0 (front ends with `direct: false`: every task
 * through the streams, spec/cluster.md "Direct dispatch"),
 * ZEROVM_BENCH_RECOVERY=0 (skip the kill -9 part).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { DEFAULT_ACK_WAIT_MS } from '../src/cluster/connection.js';
import { NatsExecutor } from '../src/cluster/executor.js';
import type { JobExecutor, JobPlan } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { natsServerUnavailable, startNatsCluster, type NatsCluster } from '../test/nats/cluster.js';
import { endWorker, spawnWorker, type WorkerProcess } from '../test/nats/workers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'wordcount', 'mapper.c')))!;
const OBJECTS = Number(process.env['ZEROVM_BENCH_WC_OBJECTS'] ?? 200) || 200;
const RUNS = Number(process.env['ZEROVM_BENCH_RUNS'] ?? 2) || 2;
const DIRECT = process.env['ZEROVM_BENCH_DIRECT'] !== '0';
const RECOVERY = process.env['ZEROVM_BENCH_RECOVERY'] !== '0';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Deterministic text: words from a small vocabulary, chosen by an LCG. */
function text(seed: number, bytes: number): string {
  const words = ['zero', 'vm', 'sandbox', 'channel', 'trap', 'nexe', 'validator', 'bundle', 'job', 'pipe', 'map', 'reduce', 'object', 'swift', 'cloud', `w${seed % 97}`];
  let x = seed;
  let out = '';
  while (out.length < bytes) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += words[x % words.length]! + (x % 11 === 0 ? '\n' : ' ');
  }
  return out;
}

interface Programs {
  readonly mapper: string;
  readonly reducer: string;
}

/** Map stage, then reduce stage; the reducer's stdout. */
async function wordCount(executor: JobExecutor, programs: Programs, objects: readonly string[]): Promise<string> {
  const mapPlan: JobPlan = { nodes: objects.map((file, i) => ({ name: `map-${i + 1}`, program: programs.mapper, stdin: { file }, channels: [{ alias: '/dev/out/reduce', output: 'buffer' }] })) };
  const mapped = await executor.run(mapPlan);
  const failed = mapped.nodes.find((n) => n.exitState !== 'ok');
  if (failed !== undefined) throw new Error(`mapper ${failed.name} failed: ${failed.exitState}`);
  const reduced = await executor.run({
    nodes: [{ name: 'reduce', program: programs.reducer, channels: mapped.nodes.map((n, i) => ({ alias: `/dev/in/map-${i + 1}`, input: { bytes: n.outputs['/dev/out/reduce'] ?? new Uint8Array(0) } })) }],
  });
  if (reduced.nodes[0]!.exitState !== 'ok') throw new Error(`the reducer failed: ${reduced.nodes[0]!.exitState}`);
  return Buffer.from(reduced.nodes[0]!.outputs['/dev/stdout']!).toString();
}

function startWorkers(cluster: NatsCluster, count: number, tag: string): Promise<WorkerProcess[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => spawnWorker(cluster.urls, `${tag}-w${i + 1}`, ['--user', cluster.user, '--slots', '1', '--replicas', '3'], { ZEROVM_NATS_PASSWORD: cluster.password })));
}

/** Ends the workers (SIGTERM: drain) and sums the blob bytes they report. */
async function stopWorkers(workers: readonly WorkerProcess[]): Promise<{ got: number; put: number }> {
  let got = 0;
  let put = 0;
  for (const worker of workers) {
    await endWorker(worker);
    const m = /blobs got (\d+) bytes, put (\d+) bytes/.exec(worker.log);
    got += Number(m?.[1] ?? 0);
    put += Number(m?.[2] ?? 0);
  }
  return { got, put };
}

const finished = (workers: readonly WorkerProcess[]): number => workers.reduce((n, w) => n + (w.log.match(/finished task/g)?.length ?? 0), 0);
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

async function main(): Promise<void> {
  const unavailable = natsServerUnavailable();
  if (unavailable !== null) {
    console.log(`cluster word count bench skipped: ${unavailable}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-cluster-wc-'));
  const programs: Programs = { mapper: join(dir, 'mapper.nexe'), reducer: join(dir, 'reducer.nexe') };
  try {
    for (const program of ['mapper', 'reducer'] as const) {
      execFileSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', '-O2', '-o', programs[program], join(ROOT, 'examples', 'wordcount', `${program}.c`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  } catch (error) {
    console.log(`cluster word count bench skipped: zerovm cc could not build the word count (${(error as Error).message.split('\n')[0]})`);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const objects: string[] = [];
  for (let i = 1; i <= OBJECTS; i++) {
    const path = join(dir, `book${i}.txt`);
    writeFileSync(path, text(i, 16 * 1024));
    objects.push(path);
  }
  const cluster = await startNatsCluster();
  const servers = cluster.urls.split(',');
  const credentials = { servers, user: cluster.user, password: cluster.password, replicas: 3 };
  /* task and result messages as they cross: their bytes */
  const spy = await connect({ servers, user: cluster.user, pass: cluster.password });
  const messageBytes = { task: 0, result: 0 };
  /* the shared queue, tasks sent to one worker, tasks offered directly (the answers to offers are a word each, not counted) */
  for (const subject of ['zerovm.task.>', 'zerovm.target.>', 'zerovm.direct.>']) spy.subscribe(subject, { callback: (_e, m) => void (messageBytes.task += m.data.length) });
  spy.subscribe('zerovm.result.>', { callback: (_e, m) => void (messageBytes.result += m.data.length) });
  await spy.flush();
  try {
    const pool = new WorkerPoolExecutor({ workers: 2 });
    await pool.warm();
    const reference = await wordCount(pool, programs, objects);
    const pooled: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      await wordCount(pool, programs, objects);
      pooled.push(performance.now() - started);
    }
    await pool.close();
    console.log(`word count, ${OBJECTS} objects of 16 KiB: ${OBJECTS} mapper sessions, then 1 reducer (median of ${RUNS} runs after a warm-up)`);
    console.log(`  single host, WorkerPoolExecutor with 2 threads: ${median(pooled).toFixed(0)} ms`);

    const front = await NatsExecutor.connect({ ...credentials, ackWaitMs: DEFAULT_ACK_WAIT_MS, direct: DIRECT });
    console.log(`  front end: ${DIRECT ? 'direct dispatch' : 'direct: false (every task through the streams)'}`);
    let oneWorker = 0;
    for (const count of [1, 2, 3]) {
      const workers = await startWorkers(cluster, count, `wc${count}`);
      const putBefore = front.bytesMoved.put;
      const messagesBefore = { ...messageBytes };
      /* the cold run: programs and objects travel to fresh workers */
      const coldStart = performance.now();
      if ((await wordCount(front, programs, objects)) !== reference) throw new Error(`the cluster's word count with ${count} worker(s) differs from the single host's`);
      const cold = performance.now() - coldStart;
      const coldMessages = { task: messageBytes.task - messagesBefore.task, result: messageBytes.result - messagesBefore.result };
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const started = performance.now();
        if ((await wordCount(front, programs, objects)) !== reference) throw new Error('a warm run differs');
        times.push(performance.now() - started);
      }
      const spread = workers.map((w) => w.log.match(/finished task/g)?.length ?? 0);
      const blobs = await stopWorkers(workers);
      const total = median(times);
      if (count === 1) oneWorker = total;
      console.log(
        `  ${count} worker${count === 1 ? ' ' : 's'} (1 slot each): ${total.toFixed(0)} ms, ratio to 1 worker ${(oneWorker / total).toFixed(2)}x; tasks per worker ${spread.join('/')}; the cold run ${cold.toFixed(0)} ms with task messages ${kib(coldMessages.task)} and result messages ${kib(coldMessages.result)}; blobs: front end put ${kib(front.bytesMoved.put - putBefore)}, workers fetched ${kib(blobs.got)} over all ${RUNS + 1} runs`,
      );
    }
    await front.close();

    /* recovery after kill -9 of one of two workers, halfway through the map stage */
    for (const ackWaitMs of RECOVERY ? [30_000, DEFAULT_ACK_WAIT_MS, 3000] : []) {
      const executor = await NatsExecutor.connect({ ...credentials, ackWaitMs, direct: DIRECT });
      const workers = await startWorkers(cluster, 2, `ack${ackWaitMs}`);
      await wordCount(executor, programs, objects);
      const undisturbedStart = performance.now();
      await wordCount(executor, programs, objects);
      const undisturbed = performance.now() - undisturbedStart;
      const before = finished(workers);
      const started = performance.now();
      const running = wordCount(executor, programs, objects);
      while (finished(workers) - before < OBJECTS / 2) await new Promise((r) => setTimeout(r, 2));
      const killedAt = performance.now();
      await endWorker(workers[0]!, 'SIGKILL');
      if ((await running) !== reference) throw new Error('the word count after a kill -9 differs');
      const ended = performance.now();
      await stopWorkers(workers.slice(1));
      console.log(
        `  kill -9 of 1 of 2 workers halfway, ack wait ${(ackWaitMs / 1000).toFixed(0)} s: job ${(ended - started).toFixed(0)} ms (undisturbed ${undisturbed.toFixed(0)} ms), kill to completion ${(ended - killedAt).toFixed(0)} ms; result identical`,
      );
      await executor.close();
    }
  } finally {
    await spy.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
