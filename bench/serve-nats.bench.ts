/**
 * `zerovm serve --nats` against the single-host server: `npm run build`,
 * then `npx tsx bench/serve-nats.bench.ts` (needs nats-server; not part of
 * `npm run bench`, which runs on machines without it).
 *
 * Starts a 3-node JetStream cluster on 127.0.0.1 (replicas 3), one
 * `zerovm worker --slots 1` and a front end with --nats; and a single-host
 * `zerovm serve --workers 1`. Each answers the same requests in turn
 * (rounds interleaved so load falls on both alike): PUT of a 1 KiB object,
 * GET of it, a container listing of 100 objects, and a one-node hello job
 * whose program is an object. Prints the median and p99 of each in ms
 * (spec/cluster.md, "Serving from the cluster"). Knob: ZEROVM_BENCH_ROUNDS
 * (default 100).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { natsServerUnavailable, startNatsCluster } from '../test/nats/cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'hello.nexe')))!;
const BIN = join(ROOT, 'bin', 'zerovm.js');
const ROUNDS = Math.max(10, Number(process.env['ZEROVM_BENCH_ROUNDS'] ?? 100) || 100);
const HELLO_JOB = JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]);

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function started(child: ChildProcess, pattern: RegExp, stream: 'stdout' | 'stderr'): Promise<RegExpExecArray> {
  let text = '';
  return new Promise((resolveStart, reject) => {
    child[stream]!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = pattern.exec(text);
      if (m) resolveStart(m);
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before starting:\n${text}`)));
  });
}

async function startServe(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const m = await started(child, /listening on (http:\/\/\S+)/, 'stdout');
  return { child, base: `${m[1]}/v1/bench` };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

async function timed(request: () => Promise<Response>, expect: number): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await request();
  await res.arrayBuffer();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status !== expect) throw new Error(`status ${res.status}, expected ${expect}`);
  return ms;
}

const unavailable = natsServerUnavailable();
if (unavailable !== null) {
  console.log(`serve --nats bench skipped: ${unavailable}`);
  process.exit(0);
}
const scratch = mkdtempSync(join(tmpdir(), 'zerovm-serve-nats-bench-'));
const cluster = await startNatsCluster();
const env = { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password };
const worker = spawn(process.execPath, [BIN, 'worker', '--nats', cluster.urls, '--user', cluster.user, '--slots', '1', '--replicas', '3'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
const children: ChildProcess[] = [worker];
try {
  await started(worker, /: ready \(/, 'stderr');
  const nats = await startServe(['--nats', cluster.urls, '--nats-user', cluster.user, '--nats-replicas', '3'], env);
  children.push(nats.child);
  const single = await startServe(['--store', join(scratch, 'store'), '--workers', '1']);
  children.push(single.child);
  const servers = [
    { name: 'single host', base: single.base },
    { name: 'serve --nats', base: nats.base },
  ];
  const body = Buffer.alloc(1024, 'x');
  for (const { base } of servers) {
    for (const c of ['bin', 'data', 'many']) await fetch(`${base}/${c}`, { method: 'PUT' });
    await fetch(`${base}/bin/hello.nexe`, { method: 'PUT', body: readFileSync(join(ROOT, 'examples', 'hello.nexe')) });
    for (let i = 0; i < 100; i++) await fetch(`${base}/many/o${i}`, { method: 'PUT', body: 'x' });
    /* warm-up: the worker caches and validates the program */
    for (let i = 0; i < 5; i++) await fetch(base, { method: 'POST', body: HELLO_JOB, headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' } });
  }
  const kinds = {
    'PUT 1 KiB': (base: string, i: number) => timed(() => fetch(`${base}/data/o${i}`, { method: 'PUT', body }), 201),
    'GET 1 KiB': (base: string, i: number) => timed(() => fetch(`${base}/data/o${i}`), 200),
    'list 100': (base: string) => timed(() => fetch(`${base}/many?format=json`), 200),
    'hello job': (base: string) => timed(() => fetch(base, { method: 'POST', body: HELLO_JOB, headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' } }), 200),
  } as const;
  const times = new Map<string, number[]>();
  for (let i = 0; i < ROUNDS; i++) {
    for (const [kind, run] of Object.entries(kinds)) {
      for (const server of servers) {
        const key = `${kind}\0${server.name}`;
        const list = times.get(key) ?? [];
        list.push(await run(server.base, i));
        times.set(key, list);
      }
    }
  }
  console.log(`zerovm serve --nats vs single host: ${ROUNDS} rounds, ms (median / p99)`);
  for (const kind of Object.keys(kinds)) {
    const cells = servers.map((server) => {
      const sorted = [...times.get(`${kind}\0${server.name}`)!].sort((x, y) => x - y);
      return `${server.name} ${quantile(sorted, 0.5).toFixed(2)} / ${quantile(sorted, 0.99).toFixed(2)}`;
    });
    console.log(`  ${kind.padEnd(10)} ${cells.join('   ')}`);
  }
} finally {
  for (const child of children.reverse()) await stop(child);
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}
