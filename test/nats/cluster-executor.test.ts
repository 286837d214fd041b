/**
 * NatsExecutor and `zerovm worker` on a real 3-node nats-server cluster with
 * JetStream (replicas 3) and two worker processes, all on 127.0.0.1 and
 * ended by pid (spec/cluster.md, "Tests"): independent nodes spread over
 * both workers, results byte-identical to the single-host
 * WorkerPoolExecutor, files in and out through blobs, a connected group on
 * one worker, a worker killed (SIGKILL) in the middle of a node whose task
 * is redelivered, and a wrong password.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsConnectError } from '../../src/cluster/connection.js';
import { NatsExecutor } from '../../src/cluster/executor.js';
import type { JobPlan, NodeResult } from '../../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../../src/jobs/pool.js';
import { natsServerUnavailable, startNatsCluster, type NatsCluster } from './cluster.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'zerovm.js');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const WC = join(ROOT, 'examples', 'wc.nexe');
/** About a second or more of pure computation: long enough to kill its worker in the middle. */
const LOOP = join(ROOT, 'examples', 'loop.nexe');

const CI = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const unavailable = natsServerUnavailable();
const skip = unavailable !== null && !CI;
if (skip) console.warn(`\n*** NATS cluster executor tests SKIPPED: ${unavailable} ***\n`);

/** Ack wait of the tests' consumer: a killed worker's task is handed on after this. */
const ACK_WAIT_MS = 2000;

interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  log: string;
}

function startWorker(cluster: NatsCluster, name: string, password = cluster.password): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--nats', cluster.urls, '--user', cluster.user, '--name', name, '--slots', '1', '--replicas', '3'], {
    env: { ...process.env, ZEROVM_NATS_PASSWORD: password },
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

async function endWorker(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = worker;
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  await exited;
}

/** A result without what differs between runs by nature: CPU seconds and where it ran. */
function comparable(node: NodeResult): unknown {
  const { ranOn: _ranOn, accounting, report, ...rest } = node;
  const lines = report.split('\n');
  if (lines[4] !== undefined) lines[4] = lines[4].split(' ').slice(2).join(' ');
  return { ...rest, report: lines.join('\n'), accounting: { ...accounting, sysSeconds: 0, userSeconds: 0 }, outputs: Object.fromEntries(Object.entries(node.outputs).map(([alias, bytes]) => [alias, Buffer.from(bytes).toString('hex')])) };
}

const text = (node: NodeResult, alias = '/dev/stdout'): string => Buffer.from(node.outputs[alias] ?? new Uint8Array(0)).toString();

describe.skipIf(skip)('NatsExecutor on a 3-node JetStream cluster with 2 workers', () => {
  let cluster: NatsCluster;
  let executor: NatsExecutor;
  let pool: WorkerPoolExecutor;
  const workers: WorkerProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-cluster-test-'));

  beforeAll(async () => {
    cluster = await startNatsCluster();
    executor = await NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3, ackWaitMs: ACK_WAIT_MS, maxDeliver: 5 });
    workers.push(...(await Promise.all([startWorker(cluster, 'w1'), startWorker(cluster, 'w2')])));
    /*
     * One thread, as each worker (--slots 1) has: on the native engine the
     * /dev/memory etag of a session on a pool's second thread differs from
     * the first thread's (a known determinism bug of the native engine,
     * spec/cluster.md "Not done yet"), so the reference runs where the
     * workers run.
     */
    pool = new WorkerPoolExecutor({ workers: 1 });
  });

  afterAll(async () => {
    for (const worker of workers) await endWorker(worker);
    await executor?.close();
    await pool?.close();
    await cluster?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('spreads independent nodes over both workers, each result saying where it ran, byte-identical to the pool', async () => {
    const plan: JobPlan = {
      nodes: [
        ...Array.from({ length: 16 }, (_, i) => ({ name: `cat-${i}`, program: CAT, stdin: { bytes: Buffer.from(`input ${i} `.repeat(i + 1)) }, etags: true })),
        { name: 'hello', program: HELLO },
        { name: 'wc', program: WC, stdin: { bytes: Buffer.from('one two\nthree\n') } },
      ],
    };
    const [remote, local] = await Promise.all([executor.run(plan), pool.run(plan)]);
    expect(remote.nodes.map((n) => n.exitState)).toEqual(plan.nodes.map(() => 'ok'));
    expect(text(remote.nodes[3]!)).toBe('input 3 '.repeat(4));
    expect(new Set(remote.nodes.map((n) => n.ranOn))).toEqual(new Set(['w1', 'w2']));
    expect(remote.nodes.map(comparable)).toEqual(local.nodes.map(comparable));
    expect(local.nodes.every((n) => n.ranOn === undefined)).toBe(true);
  });

  it('reads input files and writes output files on the front end, never sending a path', async () => {
    const input = join(tmp, 'words.txt');
    writeFileSync(input, 'alpha beta\ngamma\n');
    const output = join(tmp, 'copy.txt');
    /* every task message, as published */
    const watcher = await connect({ servers: cluster.urls.split(','), user: cluster.user, pass: cluster.password });
    const tasks: string[] = [];
    /* the shared queue's subjects, those of tasks sent to one worker (placement), and those of tasks offered to one directly */
    for (const subject of ['zerovm.task.>', 'zerovm.target.>', 'zerovm.direct.>']) watcher.subscribe(subject, { callback: (_error, message) => void tasks.push(message.string()) });
    await watcher.flush();
    try {
      const result = await executor.run({ nodes: [{ name: 'copy', program: CAT, stdin: { file: input }, stdout: { file: output } }] });
      expect(result.nodes[0]!.exitState).toBe('ok');
      expect(readFileSync(output, 'utf8')).toBe('alpha beta\ngamma\n');
    } finally {
      await watcher.close();
    }
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).not.toContain(tmp);
    expect(tasks[0]).not.toContain(ROOT);
    expect(JSON.parse(tasks[0]!).nodes[0]).toMatchObject({ name: 'copy', argv0: 'cat.nexe', program: { blob: expect.stringMatching(/^[0-9a-f]{64}$/) }, stdin: { blob: expect.stringMatching(/^[0-9a-f]{64}$/) }, stdout: 'file' });
  });

  it('offers a task to a free worker directly and takes its result with a receipt: nothing is written to the results bucket', async () => {
    const spy = await connect({ servers: cluster.urls.split(','), user: cluster.user, pass: cluster.password });
    const stored: string[] = [];
    /* a KV put is a publish on the bucket's subject; a worker that did not get its receipt announces what it stored */
    for (const subject of ['$KV.zerovm-results.>', 'zerovm.stored.>']) spy.subscribe(subject, { callback: (_error, message) => void stored.push(message.subject) });
    await spy.flush();
    const before = executor.directCounts;
    try {
      const result = await executor.run({ nodes: [{ name: 'hello', program: HELLO }] });
      expect(text(result.nodes[0]!)).toMatch(/hello/i);
      await new Promise((r) => setTimeout(r, 1500)); /* longer than a worker waits for a receipt */
    } finally {
      await spy.close();
    }
    const after = executor.directCounts;
    expect(after.accepted - before.accepted).toBe(1);
    expect(after.offered - before.offered).toBe(1);
    expect(stored).toEqual([]);
  });

  it('returns outputs larger than a result entry carries through the blob bucket', async () => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const output = join(tmp, 'big.bin');
    const plan: JobPlan = {
      nodes: [
        { name: 'to-buffer', program: CAT, stdin: { bytes: big } },
        { name: 'to-file', program: CAT, stdin: { bytes: big }, stdout: { file: output } },
      ],
    };
    const moved = executor.bytesMoved.got;
    const result = await executor.run(plan);
    expect(Buffer.from(result.nodes[0]!.outputs['/dev/stdout']!).equals(big)).toBe(true);
    expect(readFileSync(output).equals(big)).toBe(true);
    expect(executor.bytesMoved.got - moved).toBe(2 * big.length);
  });

  it('runs a connected group whole on one worker (hello | wc)', async () => {
    const plan: JobPlan = {
      nodes: [
        { name: 'hello', program: HELLO, stdout: { pipe: 'p' } },
        { name: 'wc', program: WC, stdin: { pipe: 'p' } },
      ],
      pipes: [{ id: 'p', from: 'hello', to: 'wc' }],
    };
    const [remote, local] = await Promise.all([executor.run(plan), pool.run(plan)]);
    expect(text(remote.nodes[1]!)).toBe('1 13\n');
    expect(remote.nodes[0]!.ranOn).toBe(remote.nodes[1]!.ranOn);
    expect(remote.nodes.map(comparable)).toEqual(local.nodes.map(comparable));
  });

  it('refuses a wrong password with a message that says so', async () => {
    await expect(NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: 'wrong' })).rejects.toThrow(NatsConnectError);
    await expect(NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: 'wrong' })).rejects.toThrow(/refused the credentials of user 'zerovm'/);
    await expect(startWorker(cluster, 'w-bad', 'wrong')).rejects.toThrow(/exited \(1\)[\s\S]*refused the credentials/);
  });

  it('hands the task of a worker killed (SIGKILL) in the middle of a node to the other; the result is identical to an undisturbed run', async () => {
    const plan: JobPlan = { nodes: [{ name: 'loop', program: LOOP, etags: true }] };
    const undisturbed = await pool.run(plan);
    const before = new Map(workers.map((w) => [w, w.log.length]));
    /* through the work queue only: JetStream's redelivery is what this tests (direct dispatch has a test of its own) */
    const running = executor.run(plan, { direct: false });
    /* the worker that took the task says so; kill it before it can finish */
    let victim: WorkerProcess | undefined;
    while (victim === undefined) {
      victim = workers.find((w) => w.log.slice(before.get(w)).includes('running task'));
      await new Promise((r) => setTimeout(r, 10));
    }
    await endWorker(victim, 'SIGKILL');
    const killedAt = Date.now();
    const result = await running;
    const survivor = workers.find((w) => w !== victim)!;
    expect(result.nodes[0]!.ranOn).toBe(survivor.name);
    expect(survivor.log.slice(before.get(survivor))).toMatch(/running task \S+ \(1 node, delivery 2\)/);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(ACK_WAIT_MS - 500);
    expect(result.nodes.map(comparable)).toEqual(undisturbed.nodes.map(comparable));
    expect(text(result.nodes[0]!)).toBe('1da147d5dcc32800\n');
  });

  it('queues the task a worker took directly when that worker is killed (SIGKILL) in the middle of it; the result is identical to an undisturbed run', async () => {
    workers.push(await startWorker(cluster, 'w5'));
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(live.length).toBe(2);
    const plan: JobPlan = { nodes: [{ name: 'loop', program: LOOP, etags: true }] };
    const undisturbed = await pool.run(plan);
    const before = new Map(live.map((w) => [w, w.log.length]));
    const offered = executor.directCounts.accepted;
    const running = executor.run(plan);
    let victim: WorkerProcess | undefined;
    while (victim === undefined) {
      victim = live.find((w) => w.log.slice(before.get(w)).includes('running task'));
      await new Promise((r) => setTimeout(r, 10));
    }
    /* a free worker took it directly: no stream message, no JetStream redelivery behind it */
    expect(victim.log.slice(before.get(victim))).toMatch(/running task \S+ \(1 node, offered directly\)/);
    expect(executor.directCounts.accepted).toBe(offered + 1);
    await endWorker(victim, 'SIGKILL');
    const killedAt = Date.now();
    const result = await running;
    const survivor = live.find((w) => w !== victim)!;
    expect(result.nodes[0]!.ranOn).toBe(survivor.name);
    /* the front end heard nothing of it for the ack wait and queued it: the survivor's first delivery */
    expect(survivor.log.slice(before.get(survivor))).toMatch(/running task \S+ \(1 node, delivery 1\)/);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(ACK_WAIT_MS - 500);
    expect(result.nodes.map(comparable)).toEqual(undisturbed.nodes.map(comparable));
    expect(text(result.nodes[0]!)).toBe('1da147d5dcc32800\n');
  });

  it('drains on SIGTERM: a worker finishes the task it holds, delivers its result, and exits 0', async () => {
    workers.push(await startWorker(cluster, 'w3'));
    const before = new Map(workers.map((w) => [w, w.log.length]));
    const running = executor.run({ nodes: [{ name: 'loop', program: LOOP }] });
    let taker: WorkerProcess | undefined;
    while (taker === undefined) {
      taker = workers.find((w) => w.child.exitCode === null && w.child.signalCode === null && w.log.slice(before.get(w)).includes('running task'));
      await new Promise((r) => setTimeout(r, 10));
    }
    const exited = new Promise<number | null>((r) => taker.child.once('exit', (code) => r(code)));
    process.kill(taker.child.pid!, 'SIGTERM');
    const result = await running;
    expect(result.nodes[0]!.ranOn).toBe(taker.name);
    expect(text(result.nodes[0]!)).toBe('1da147d5dcc32800\n');
    expect(await exited).toBe(0);
    expect(taker.log).toMatch(/draining[\s\S]*stopped after \d+ task/);
  });

  it('gives up on a task delivered max-deliver times without an ack, failing its nodes with a clear status', async () => {
    /* JetStream notices the spent deliveries when a worker asks for the next task: two workers, one to kill and one that pulls */
    workers.push(await startWorker(cluster, 'w4'));
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(live.length).toBe(2);
    /* one delivery only: the front end sets the shared consumer */
    const strict = await NatsExecutor.connect({ servers: cluster.urls.split(','), user: cluster.user, password: cluster.password, replicas: 3, ackWaitMs: ACK_WAIT_MS, maxDeliver: 1 });
    try {
      const before = new Map(live.map((w) => [w, w.log.length]));
      const running = strict.run({ nodes: [{ name: 'loop', program: LOOP }] }, { direct: false });
      let taker: WorkerProcess | undefined;
      while (taker === undefined) {
        taker = live.find((w) => w.log.slice(before.get(w)).includes('running task'));
        await new Promise((r) => setTimeout(r, 10));
      }
      await endWorker(taker, 'SIGKILL');
      const result = await running;
      expect(result.nodes[0]!.ok).toBe(false);
      expect(result.nodes[0]!.error?.kind).toBe('MaxDeliveries');
      expect(result.nodes[0]!.exitState).toMatch(/delivered 1 times and no worker finished it/);
    } finally {
      await strict.close();
    }
  });
});
