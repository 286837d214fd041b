/**
 * `zerovm serve` under abuse (spec/serving.md, "Limits"): hostile jobs end
 * only themselves while the same server answers others. Endless loops and
 * output floods are in serve.test.ts; here are forks of forks, a deadlocked
 * connected job, jobs of a thousand nodes, and malformed descriptions and
 * paths. The real server, driven with fetch; programs are the assembly
 * examples and the conformance driver (a script of trap calls on stdin).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';

const HELLO = readFileSync(join(EXAMPLES, 'hello.nexe'));
const DRIVER = readFileSync(join(ROOT, 'conformance', 'programs', 'driver.nexe'));
const FN = { Read: 0x64616552n, Exit: 0x74697845n, Fork: 0x6b726f46n } as const;
const HEAP = 0x40000;
/** The first channel after stdin, stdout and stderr: a node's only /dev/in/* when it has one pipe each way (aliases sorted). */
const FIRST_PIPE = 3;

/** One 48-byte driver record. */
function rec(fn: keyof typeof FN, ...args: number[]): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(FN[fn], 0);
  args.forEach((a, i) => b.writeBigUInt64LE(BigInt(a), 16 + 8 * i));
  return b;
}

let dir = '';
let server: RunningServer;
let base = '';

/** Threads of the server process now (Linux). */
function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${server.process.pid}/status`, 'utf8'))![1]);
}

async function run(description: unknown): Promise<Response> {
  return fetch(base, { method: 'POST', body: JSON.stringify(description), headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' } });
}

async function hello(): Promise<void> {
  const res = await run([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('hello, world\n');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-hostile-'));
  server = await startServer(['--store', join(dir, 'store'), '--workers', '2', '--timeout', '3', '--max-nodes', '1000']);
  base = `${server.url}/v1/acct`;
  const put = (path: string, body: Uint8Array | string = ''): Promise<Response> => fetch(`${base}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : Buffer.from(body) });
  for (const c of ['bin', 'data']) expect((await put(`/${c}`)).status).toBe(201);
  await put('/bin/hello.nexe', HELLO);
  await put('/bin/driver.nexe', DRIVER);
  /* 5 000 TrapForks in a row, then TrapExit(0) */
  await put('/data/forks', Buffer.concat([...Array.from({ length: 5000 }, () => rec('Fork')), rec('Exit', 0)]));
  await put('/data/read-first-pipe', rec('Read', FIRST_PIPE, HEAP, 8, 0));
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')('hostile jobs end only themselves', () => {
  it('a program calling TrapFork thousands of times ends with its own status, and the server answers others meanwhile', async () => {
    await hello(); /* the pool's threads are up */
    const before = threads();
    const forking = run([{ name: 'forks', exec: { path: 'swift://~/bin/driver.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/forks' }, { name: 'stdout' }] }]);
    for (let i = 0; i < 5; i++) await hello();
    const res = await forking;
    expect(res.status).toBe(200);
    /* each TrapFork without a Job returns at once (spec/runtime.md); it must neither start processes nor threads */
    expect(res.headers.get('x-nexe-status')).toMatch(/^(ok|.*timeout.*)$/i);
    /* libuv's pool may start its threads meanwhile (4): nothing per fork */
    expect(threads()).toBeLessThanOrEqual(before + 4);
    await hello();
  });

  it('a connected job that deadlocks (each node reads the other first) ends by a timeout that says what the node waited on', async () => {
    const started = Date.now();
    const deadlocked = run([
      { name: 'a', exec: { path: 'swift://~/bin/driver.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/read-first-pipe' }, { name: 'stdout' }], connect: ['b'] },
      { name: 'b', exec: { path: 'swift://~/bin/driver.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/read-first-pipe' }, { name: 'stdout' }], connect: ['a'] },
    ]);
    /* both workers are held by the deadlock: another request waits for them, and is answered once it ends */
    const other = hello();
    const res = await deadlocked;
    await other;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-system')).toBe('a,b');
    const statuses = (res.headers.get('x-nexe-status') ?? '').split(',');
    expect(statuses).toHaveLength(2);
    /*
     * the first node whose timeout passes ends, closing its pipe ends; the
     * other then reads the end of its data and ends on its own (or its own
     * timeout passes too, on a loaded machine)
     */
    const timedOut = statuses.flatMap((status, i) => (/timeout/i.test(status) ? ['ab'[i]!] : []));
    expect(timedOut.length).toBeGreaterThanOrEqual(1);
    const error = res.headers.get('x-nexe-error') ?? '';
    const waited = { a: "a: timed out while waiting for data on /dev/in/b (pipe 'b>a')", b: "b: timed out while waiting for data on /dev/in/a (pipe 'a>b')" };
    /* the first to time out was blocked on its pipe (a second may time out just after reading the end of its data) */
    expect(timedOut.some((node) => error.includes(waited[node as 'a' | 'b']))).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a job of 1 000 nodes within --max-nodes runs on the pool without more threads; one past it is refused naming the limit', async () => {
    const before = threads();
    const res = await run([{ name: 'h', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }], count: 1000 }]);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello, world\n'.repeat(1000));
    /* the X-Nexe-* headers list the first nodes that fit in 10 KiB (clients refuse more than 16 KiB of headers) */
    expect(res.headers.get('x-nexe-nodes')).toBe('1000');
    const statuses = (res.headers.get('x-nexe-status') ?? '').split(',');
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.pop()).toBe('...');
    expect(new Set(statuses)).toEqual(new Set(['ok']));
    expect((res.headers.get('x-nexe-system') ?? '').split(',').slice(0, 2)).toEqual(['h-1', 'h-2']);
    expect(threads()).toBeLessThanOrEqual(before + 4);
    for (const count of [1001, 1e15]) {
      const refused = await run([{ name: 'h', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }], count }]);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/at most 1000 per job \(--max-nodes\)/);
    }
  });

  it('connected jobs too large to run at once are refused before anything runs, without taking the host', async () => {
    const cases: [unknown, RegExp][] = [
      /* 1 000 nodes each connected to the 999 others: 999 000 pipes */
      [[{ name: 'mesh', exec: { path: 'swift://~/bin/hello.nexe' }, count: 1000, connect: ['mesh'] }], /connects more than 1024 pipes/],
      /* 999 mappers into one reducer: one group of 1 000 sessions that must run at the same time */
      [[{ name: 'm', exec: { path: 'swift://~/bin/hello.nexe' }, count: 999, connect: ['r'] }, { name: 'r', exec: { path: 'swift://~/bin/hello.nexe' } }], /at most 64 sessions at once/],
    ];
    for (const [description, message] of cases) {
      const started = Date.now();
      const res = await run(description);
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).toMatch(message);
      expect(text).not.toContain(dir);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    await hello();
  });
});

describe('malformed requests get a 4xx with a message, never a host path', () => {
  it('descriptions, paths and images', async () => {
    const post = (body: string | Buffer, type: string): Promise<Response> => fetch(base, { method: 'POST', body, headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': type } });
    const node = (extra: Record<string, unknown>): string => JSON.stringify([{ name: 'x', exec: { path: 'swift://~/bin/hello.nexe' }, ...extra }]);
    const cases: [Promise<Response>, number, RegExp][] = [
      [post('{}', 'application/json'), 400, /./],
      [post('[1]', 'application/json'), 400, /./],
      [post('[]', 'application/json'), 400, /./],
      [post(node({ exec: { path: 'http://example.com/x.nexe' } }), 'application/json'), 400, /swift:\/\/~\/CONTAINER\/OBJECT/],
      [post(node({ devices: [{ name: 'stdin', path: 'swift://~/data' }] }), 'application/json'), 400, /needs an account, a container and an object/],
      [post(node({ devices: [{ name: 'stdin', path: 'swift://~/data/%zz' }] }), 'application/json'), 400, /malformed %-escape/],
      [post(node({ devices: [{ name: 'stdin', path: 'swift://~/da*/x' }] }), 'application/json'), 400, /wildcards are allowed in object names only/],
      [post(node({ devices: [{ name: 'stdin', path: 'swift://~/data/..%2F..%2Fetc%2Fpasswd' }] }), 'application/json'), 404, /does not exist/],
      [post(node({ devices: [{ name: 'nosuch' }] }), 'application/json'), 400, /'nosuch' is not a device/],
      [post(node({ connect: ['nobody'] }), 'application/json'), 400, /not a node of this job/],
      [post(Buffer.alloc(1536, 0x41), 'application/x-tar'), 400, /./],
      [fetch(`${server.url}/v1/acct/${'%'}`, { method: 'GET' }), 400, /malformed %-escape/],
    ];
    for (const [response, status, message] of cases) {
      const res = await response;
      const text = await res.text();
      expect(res.status, text).toBe(status);
      expect(text).toMatch(message);
      expect(text).not.toContain(dir);
      expect(text).not.toContain(tmpdir());
    }
    await hello();
  });
});
