/**
 * Placement, the worker registry, `zerovm cluster status` and replication
 * on a real 3-node nats-server cluster (replicas 3) with `zerovm worker`
 * processes on 127.0.0.1, ended by pid (spec/cluster.md, "Placement",
 * "Worker registry", "Status", "Replication").
 *
 * Which worker runs a task first is JetStream's choice; the tests make the
 * caches differ the honest way: two long nodes of one job run at once on
 * two one-slot workers, each reading its own 300 KB input file, so each
 * worker caches a different object.
 *
 * The forced mismatch of replication: one worker's cached copy of an
 * input is corrupted on its disk (the fault replication exists to catch;
 * the cache is checked against the hash when fetched, not on every use),
 * so that worker's copy of the node reads other bytes and its etags
 * differ. No test-only switch of the worker is involved. The same
 * corrupted copy makes the copies of a replicated connected group disagree.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCluster, type ClusterConnection } from '../../src/cluster/connection.js';
import { NatsExecutor } from '../../src/cluster/executor.js';
import { blobPrefix, openPlacementStores, parseWorkerEntry, workerToken, type PlacementStores } from '../../src/cluster/registry.js';
import type { ClusterStatus } from '../../src/cluster/status.js';
import type { JobPlan, NodeResult } from '../../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../../src/jobs/pool.js';
import { natsServerUnavailable, startNatsCluster, type NatsCluster } from './cluster.js';
import { alive as isRunning, endWorker, startWorker, waitForLog, type WorkerProcess } from './workers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'zerovm.js');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const LOOP = join(ROOT, 'examples', 'loop.nexe');
const WC = join(ROOT, 'examples', 'wc.nexe');

const CI = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const unavailable = natsServerUnavailable();
const skip = unavailable !== null && !CI;
if (skip) console.warn(`\n*** NATS placement tests SKIPPED: ${unavailable} ***\n`);

const HEARTBEAT_MS = 1000; /* a worker is counted dead after 3 missed plus 1 s: 300 ms left too little margin when test files share 2 cores */
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const text = (node: NodeResult, alias = '/dev/stdout'): string => Buffer.from(node.outputs[alias] ?? new Uint8Array(0)).toString();

/** 300 KB that differ per seed (more than a program: placement weighs bytes). */
function objectBytes(seed: number): Buffer {
  const bytes = Buffer.alloc(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 32 + ((i * 7919 + seed * 104_729) % 95);
  return bytes;
}

describe.skipIf(skip)('placement, registry, status and replication on a 3-node JetStream cluster', () => {
  let cluster: NatsCluster;
  let executor: NatsExecutor;
  let conn: ClusterConnection;
  let stores: PlacementStores;
  const workers: WorkerProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-placement-test-'));
  const files = [1, 2, 3, 4, 5].map((seed) => {
    const path = join(tmp, `object-${seed}.txt`);
    const bytes = objectBytes(seed);
    writeFileSync(path, bytes);
    return { path, bytes, blob: sha256(bytes) };
  });
  const [f1, f2, f3, f4, f5] = files as [(typeof files)[0], (typeof files)[0], (typeof files)[0], (typeof files)[0], (typeof files)[0]];
  /** The workers left alive after the kill test: the survivor and a new one. */
  const live: string[] = [];

  const start = async (name: string): Promise<WorkerProcess> => {
    const worker = await startWorker(cluster, name, ['--heartbeat', String(HEARTBEAT_MS)], join(tmp, `work-${name}`));
    workers.push(worker);
    return worker;
  };
  const byName = (name: string): WorkerProcess => workers.find((w) => w.name === name)!;

  /**
   * Two long nodes at once on the two one-slot workers, each reading its
   * own object: afterwards each worker holds a different object. Returns
   * the workers that ran them.
   */
  const split = async (a: (typeof files)[0], b: (typeof files)[0]): Promise<[string, string]> => {
    const result = await executor.run({
      nodes: [
        { name: 'loop-a', program: LOOP, stdin: { file: a.path } },
        { name: 'loop-b', program: LOOP, stdin: { file: b.path } },
      ],
    });
    const [x, y] = result.nodes.map((n) => n.ranOn!) as [string, string];
    expect(new Set([x, y]).size).toBe(2);
    await cached(x, [a.blob]);
    await cached(y, [b.blob]);
    return [x, y];
  };

  /** Until the registry says `worker` caches every blob of `blobs` (and the front end's watch has had time to see it). */
  const cached = async (worker: string, blobs: readonly string[]): Promise<void> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const entry = await stores.registry.get(workerToken(worker));
      const parsed = entry?.operation === 'PUT' ? parseWorkerEntry(entry.string()) : undefined;
      if (parsed !== undefined && blobs.every((b) => parsed.blobs.includes(blobPrefix(b)))) break;
      if (Date.now() > deadline) throw new Error(`the registry never showed ${worker} caching ${blobs.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
  };

  beforeAll(async () => {
    cluster = await startNatsCluster();
    const servers = cluster.urls.split(',');
    executor = await NatsExecutor.connect({ servers, user: cluster.user, password: cluster.password, replicas: 3, ackWaitMs: 2000, maxDeliver: 5 });
    conn = await openCluster({ servers, user: cluster.user, password: cluster.password, replicas: 3 });
    stores = await openPlacementStores(conn, 3);
    await Promise.all([start('w1'), start('w2')]);
  });

  afterAll(async () => {
    for (const worker of workers) await endWorker(worker);
    await executor?.close();
    await conn?.close();
    await cluster?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs a node where its input object is cached, and attach chooses which object counts', async () => {
    const [holderOf1, holderOf2] = await split(f1, f2);

    /* cat.nexe is cached nowhere yet: the input decides */
    const b = await executor.run({ nodes: [{ name: 'cat', program: CAT, stdin: { file: f2.path } }] });
    expect(b.nodes[0]!.ranOn).toBe(holderOf2);
    expect(text(b.nodes[0]!)).toBe(f2.bytes.toString());
    /* the 300 KB input outweighs the 5 KB program the other worker now holds */
    const c = await executor.run({ nodes: [{ name: 'cat', program: CAT, stdin: { file: f1.path } }] });
    expect(c.nodes[0]!.ranOn).toBe(holderOf1);
    await cached(holderOf1, [sha256(readFileSync(CAT))]);

    /*
     * stdin is the first readable object (the job above went where f1 is);
     * attach names another. (Whichever worker runs it caches both inputs,
     * so the run without attach is the one above, not a second run here.)
     */
    const attached = await executor.run({ nodes: [{ name: 'cat', program: CAT, stdin: { file: f1.path }, channels: [{ alias: '/dev/input', input: { file: f2.path } }], attach: '/dev/input' }] });
    expect(attached.nodes[0]!.ranOn).toBe(holderOf2);
  });

  it('runs jobs whose program one worker has cached on that worker', async () => {
    const first = await executor.run({ nodes: [{ name: 'hello', program: HELLO }] });
    const holder = first.nodes[0]!.ranOn!;
    await cached(holder, [sha256(readFileSync(HELLO))]);
    const ranOn: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await executor.run({ nodes: [{ name: 'hello', program: HELLO }] });
      expect(text(result.nodes[0]!)).toBe('hello, world\n');
      ranOn.push(result.nodes[0]!.ranOn!);
    }
    expect(ranOn).toEqual(ranOn.map(() => holder));
  });

  it('runs the nodes of a job with the same location on one worker', async () => {
    const [holderOf4, holderOf5] = await split(f4, f5);
    const result = await executor.run({
      nodes: [
        { name: 'a', program: CAT, stdin: { file: f4.path }, location: 'here' },
        /* alone, this one would go where f5 is cached */
        { name: 'b', program: CAT, stdin: { file: f5.path }, location: 'here' },
        { name: 'c', program: CAT, stdin: { bytes: Buffer.from('c') }, location: 'here' },
      ],
    });
    expect(holderOf5).not.toBe(holderOf4);
    expect(result.nodes.map((n) => n.ranOn)).toEqual([holderOf4, holderOf4, holderOf4]);
    expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok', 'ok']);
  });

  it('sends the task of a preferred worker killed (SIGKILL) in the middle of it to another worker; the result is identical', async () => {
    const plan: JobPlan = { nodes: [{ name: 'loop', program: LOOP, stdin: { file: f1.path }, etags: true }] };
    const pool = new WorkerPoolExecutor({ workers: 1 });
    const undisturbed = await pool.run(plan).finally(() => pool.close());
    const from = new Map(workers.map((w) => [w, w.log.length]));
    /* through the targeted stream, not offered directly (direct dispatch, which a free worker would get, has its own kill test in cluster-executor.test.ts) */
    const running = executor.run(plan, { direct: false });
    /* both hold loop.nexe and f1: placement picks one, and sends the task to it alone */
    let victim: WorkerProcess | undefined;
    while (victim === undefined) {
      victim = workers.find((w) => w.log.slice(from.get(w)).includes('running task'));
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(victim.log.slice(from.get(victim))).toMatch(/running task \S+ \(1 node, delivery 1, sent to this worker\)/);
    await endWorker(victim, 'SIGKILL');
    const killedAt = Date.now();
    const result = await running;
    const survivor = workers.find((w) => w !== victim)!;
    live.push(survivor.name);
    expect(result.nodes[0]!.ranOn).toBe(survivor.name);
    /* it came back through the shared queue */
    expect(survivor.log.slice(from.get(survivor))).toMatch(/running task \S+ \(1 node, delivery 1\)/);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
    expect(text(result.nodes[0]!)).toBe('1da147d5dcc32800\n');
    expect(result.nodes[0]!.etags).toEqual(undisturbed.nodes[0]!.etags);
    expect(result.nodes[0]!.exitCode).toBe(undisturbed.nodes[0]!.exitCode);
  });

  it('zerovm cluster status lists workers, slots, running and draining, and the queued and running sessions', async () => {
    await start('w3');
    live.push('w3');
    const survivor = byName(live[0]!);
    const killed = workers.find((w) => !isRunning(w))!.name;
    const from = survivor.log.length;
    /* a long node on the survivor (the only worker holding loop.nexe), observed while it runs */
    const running = executor.run({ nodes: [{ name: 'loop', program: LOOP, stdin: { file: f2.path } }] });
    await waitForLog(survivor, 'running task', from);
    const env = { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password };
    const json = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--nats', cluster.urls, '--user', cluster.user, '--json'], { env, encoding: 'utf8' });
    expect(json.status, json.stderr).toBe(0);
    const status = JSON.parse(json.stdout) as ClusterStatus;
    const alive = status.workers.filter((w) => w.alive);
    expect(alive.map((w) => w.name).sort()).toEqual([...live].sort());
    expect(alive.every((w) => w.slots === 1 && !w.draining)).toBe(true);
    expect(status.workers.find((w) => w.name === survivor.name)!.running).toBe(1);
    expect(status.workers.find((w) => w.name === 'w3')!.running).toBe(0);
    expect(status.total.running).toBe(1);
    expect(status.total.queued).toBe(0);
    /* the killed worker's entry stays until the registry's TTL, marked silent */
    expect(status.workers.find((w) => w.name === killed)?.alive).toBe(false);
    const plain = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--nats', cluster.urls, '--user', cluster.user], { env, encoding: 'utf8' });
    expect(plain.stdout).toMatch(/^workers: 2 live, 2 slots, 1 running$/m);
    expect(plain.stdout).toMatch(new RegExp(`^  ${killed} .* silent `, 'm'));
    expect(plain.stdout).toMatch(/^sessions running: 1 /m);
    await running;
    const wrong = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--nats', cluster.urls, '--user', cluster.user], { env: { ...env, ZEROVM_NATS_PASSWORD: 'wrong' }, encoding: 'utf8' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/refused the credentials/);
  });

  it('shows a draining worker as draining', async () => {
    const drainer = await start('w4');
    const from = drainer.log.length;
    /* two long nodes per live one-slot worker: w4 gets one of them (with one each, a worker done
       with its own could take the shared one before a freshly started w4 pulled it) */
    const others = workers.filter((w) => isRunning(w) && w !== drainer);
    const loops = executor.run({ nodes: [...others, drainer, ...others, drainer].map((_, i) => ({ name: `loop-${i}`, program: LOOP })) });
    await waitForLog(drainer, 'running task', from);
    process.kill(drainer.child.pid!, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    let draining = false;
    while (!draining && Date.now() < deadline) {
      const entry = await stores.registry.get(workerToken('w4'));
      draining = entry?.operation === 'PUT' && parseWorkerEntry(entry.string())?.draining === true;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(draining, drainer.log).toBe(true);
    const result = await loops;
    expect(result.nodes.map((n) => n.exitState)).toEqual(result.nodes.map(() => 'ok'));
    await new Promise<void>((r) => (isRunning(drainer) ? drainer.child.once('exit', () => r()) : r()));
    /* a worker that stopped cleanly removes its entry */
    expect((await stores.registry.get(workerToken('w4')))?.operation ?? 'gone').not.toBe('PUT');
  });

  it('runs the copies of a replicate: 2 node on different workers and returns one result when they agree', async () => {
    const output = join(tmp, 'replicated.txt');
    const result = await executor.run({ nodes: [{ name: 'copy', program: CAT, stdin: { file: f3.path }, stdout: { file: output }, replicate: 2 }] });
    const node = result.nodes[0]!;
    expect(node.ok).toBe(true);
    expect(node.ranOn!.split(',').sort()).toEqual([...live].sort());
    expect(node.etags.length).toBeGreaterThan(0);
    /* the memory etag is compared too: the same on both workers (taken as at ZeroVM's sandbox base) */
    expect(node.etags.map((e) => e.alias)).toContain('/dev/memory');
    expect(existsSync(output) && readFileSync(output).equals(f3.bytes)).toBe(true);
  });

  it('fails a replicated node whose copies disagree (one worker\'s cached input corrupted on disk), writing no output', async () => {
    const cachedCopy = join(tmp, 'work-w3', 'blobs', f3.blob);
    expect(existsSync(cachedCopy)).toBe(true);
    chmodSync(cachedCopy, 0o644);
    const corrupted = Buffer.from(f3.bytes);
    corrupted[1000] = corrupted[1000]! ^ 0x01;
    writeFileSync(cachedCopy, corrupted);
    const output = join(tmp, 'mismatch.txt');
    const result = await executor.run({ nodes: [{ name: 'copy', program: CAT, stdin: { file: f3.path }, stdout: { file: output }, replicate: 2 }] });
    const node = result.nodes[0]!;
    expect(node.ok).toBe(false);
    expect(node.error?.kind).toBe('ReplicaMismatch');
    expect(node.exitState).toMatch(/the 2 copies of node 'copy' \(replicate: 2\) disagree/);
    expect(node.exitState).toMatch(/etag of \/dev\/stdin: /);
    expect(node.exitState).toContain('w3');
    expect(node.ranOn!.split(',').sort()).toEqual([...live].sort());
    expect(existsSync(output)).toBe(false);
  });

  it('replicates a connected group whole, one copy per worker, and compares every node', async () => {
    const group = (input: string, output: string): JobPlan => ({
      nodes: [
        { name: 'source', program: CAT, stdin: { file: input }, stdout: { pipe: 'p' }, replicate: 2 },
        { name: 'count', program: WC, stdin: { pipe: 'p' }, stdout: { file: output }, replicate: 2 },
      ],
      pipes: [{ id: 'p', from: 'source', to: 'count' }],
    });
    const agreed = join(tmp, 'group-agreed.txt');
    const result = await executor.run(group(f4.path, agreed));
    for (const node of result.nodes) {
      expect(node.ok, node.exitState).toBe(true);
      expect(node.ranOn!.split(',').sort()).toEqual([...live].sort());
    }
    expect(result.nodes[0]!.etags.map((e) => e.alias)).toContain('/dev/memory');
    expect(readFileSync(agreed, 'utf8')).toBe(`0 ${f4.bytes.length}\n`);
    /* w3's cached copy of f3 is corrupted (the test above): the copies of the group disagree */
    const withheld = join(tmp, 'group-mismatch.txt');
    const mismatch = await executor.run(group(f3.path, withheld));
    for (const node of mismatch.nodes) {
      expect(node.error?.kind).toBe('ReplicaMismatch');
      expect(node.exitState).toMatch(/the 2 copies of the connected group 'source', 'count' \(replicate: 2\) disagree/);
      expect(node.exitState).toContain("node 'source' etag of /dev/stdin: ");
    }
    expect(existsSync(withheld)).toBe(false);
    /* a group whose nodes ask for different numbers of copies is refused before anything runs */
    const uneven = group(f4.path, agreed);
    await expect(executor.run({ ...uneven, nodes: [uneven.nodes[0]!, { ...uneven.nodes[1]!, replicate: 1 }] })).rejects.toThrow(/ask for different replicate values/);
  });

  it('sends a copy whose worker is killed (SIGKILL) to a third worker, never to the other copy\'s', async () => {
    await start('w5');
    live.push('w5');
    const from = new Map(workers.map((w) => [w, w.log.length]));
    const running = executor.run({ nodes: [{ name: 'twice', program: LOOP, replicate: 2 }] });
    const copyRunners = async (): Promise<WorkerProcess[]> => {
      for (;;) {
        const runners = workers.filter((w) => isRunning(w) && /running task \S+\.r\d/.test(w.log.slice(from.get(w))));
        if (runners.length === 2) return runners;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const [victim, other] = await copyRunners();
    await endWorker(victim!, 'SIGKILL');
    live.splice(live.indexOf(victim!.name), 1);
    const third = live.find((name) => name !== other!.name)!;
    const node = (await running).nodes[0]!;
    expect(node.ok).toBe(true);
    expect(text(node)).toBe('1da147d5dcc32800\n');
    expect(node.ranOn!.split(',').sort()).toEqual([other!.name, third].sort());
  });

  it('refuses replicate: 3 with only two live workers, with a clear status', async () => {
    const result = await executor.run({ nodes: [{ name: 'three', program: HELLO, replicate: 3 }] });
    expect(result.nodes[0]!.error?.kind).toBe('ReplicationUnavailable');
    expect(result.nodes[0]!.exitState).toMatch(/replicate: 3, which runs each copy on a different worker, but 2 live workers are registered/);
  });
});
