/**
 * `zerovm serve`: a client that goes away cancels its job (spec/serving.md,
 * "Serving cost"): the session ends and its thread serves the next request,
 * instead of running to the job's timeout. The server keeps one
 * cancellation per connection, shared by its keep-alive requests: checked
 * here for a connection's first request and for a later one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNexe } from './nexe-builder.js';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';

/** `jmp .`: an endless loop */
const LOOP = buildNexe('ebfe');
const HELLO = readFileSync(join(EXAMPLES, 'hello.nexe'));
const job = (program: string): string => JSON.stringify([{ name: 'n', exec: { path: `swift://~/bin/${program}` }, devices: [{ name: 'stdout' }] }]);

let dir = '';
let server: RunningServer;
let base: URL;

/** POSTs a job on `agent`'s connection; resolves with status and body, or never when `abortAfterMs` cuts it (then resolves 'cut'). */
function post(agent: Agent, program: string, abortAfterMs?: number): Promise<{ status: number; body: string } | 'cut'> {
  return new Promise((resolve, reject) => {
    const body = job(program);
    const req = request({ host: base.hostname, port: base.port, method: 'POST', path: '/v1/acct', agent, headers: { 'Content-Type': 'application/json', 'X-Zerovm-Execute': '1.0', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (error) => (abortAfterMs === undefined ? reject(error) : resolve('cut')));
    req.end(body);
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-cancel-'));
  /* one session thread and a long timeout: a loop that is not cancelled holds the thread for 20 s */
  server = await startServer(['--store', join(dir, 'store'), '--workers', '1', '--timeout', '20']);
  base = new URL(server.url);
  const put = (path: string, body: Uint8Array | string = ''): Promise<Response> => fetch(`${server.url}/v1/acct${path}`, { method: 'PUT', body: typeof body === 'string' ? body : Buffer.from(body) });
  expect((await put('/bin')).status).toBe(201);
  expect((await put('/bin/loop.nexe', LOOP)).status).toBe(201);
  expect((await put('/bin/hello.nexe', HELLO)).status).toBe(201);
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')('a client that goes away', () => {
  it("cancels its job, whether the connection's first request or a later keep-alive one", async () => {
    for (const earlier of [false, true]) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        if (earlier) expect(await post(agent, 'hello.nexe')).toEqual({ status: 200, body: 'hello, world\n' });
        const started = Date.now();
        expect(await post(agent, 'loop.nexe', 500)).toBe('cut');
        /* the only session thread is free again well before the loop's 20 s timeout */
        const other = new Agent({ keepAlive: false });
        expect(await post(other, 'hello.nexe')).toEqual({ status: 200, body: 'hello, world\n' });
        other.destroy();
        expect(Date.now() - started).toBeLessThan(12_000);
      } finally {
        agent.destroy();
      }
    }
  }, 120_000);
});
