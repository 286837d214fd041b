/**
 * `zerovm serve` end to end (spec/serving.md): the real server as users
 * start it, driven with fetch. Programs are the assembly examples
 * (examples/*.nexe), so no toolchain is needed here; the C word count and
 * the Lua image are in serve-examples.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTar } from '../src/zapp/tar.js';
import { buildNexe } from './nexe-builder.js';
import { engineCases } from './engine-matrix.js';
import { BIN } from './cli.js';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';

const HELLO = readFileSync(join(EXAMPLES, 'hello.nexe'));
const CAT = readFileSync(join(EXAMPLES, 'cat.nexe'));
const WC = readFileSync(join(EXAMPLES, 'wc.nexe'));
/** `jmp .`: an endless loop (loop.nexe ends in about a second natively, before a timeout) */
const LOOP = buildNexe('ebfe');

let dir = '';
let store = '';
let server: RunningServer;
let base = '';

async function put(path: string, body: string | Uint8Array = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : Buffer.from(body), headers });
}

async function execute(body: string | Uint8Array, contentType: string, headers: Record<string, string> = {}, path = ''): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': contentType, ...headers } });
}

function job(nodes: unknown): string {
  return JSON.stringify(nodes);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-'));
  store = join(dir, 'store');
  /* a system image of tools: scripts name it with #!file://tools:wc.nexe */
  const tools = join(dir, 'tools.tar');
  writeFileSync(tools, writeTar([{ path: 'wc.nexe', type: 'file', data: WC }, { path: 'cat.nexe', type: 'file', data: CAT }]));
  server = await startServer(['--store', store, '--workers', '2', '--sysimage', `tools=${tools}`, '--timeout', '3', '--max-nodes', '8', '--max-body', '1000000', '--max-output', '100000']);
  base = `${server.url}/v1/acct`;
  for (const c of ['bin', 'data', 'out']) expect((await put(`/${c}`)).status).toBe(201);
  await put('/bin/hello.nexe', HELLO, { 'Content-Type': 'application/x-nexe' });
  await put('/bin/cat.nexe', CAT);
  await put('/bin/wc.nexe', WC);
  await put('/bin/loop.nexe', LOOP);
  for (let i = 1; i <= 3; i++) await put(`/data/part${i}.txt`, 'x\n'.repeat(i), { 'Content-Type': 'text/plain' });
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('objects', () => {
  it('stores and returns an object with its type, metadata and MD5 etag', async () => {
    const body = 'some bytes\n';
    const created = await put('/data/obj', body, { 'Content-Type': 'text/x-mine', 'X-Object-Meta-Color': 'blue' });
    expect(created.status).toBe(201);
    const md5 = createHash('md5').update(body).digest('hex');
    expect(created.headers.get('etag')).toBe(md5);
    const got = await fetch(`${base}/data/obj`);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(body);
    expect(got.headers.get('content-type')).toBe('text/x-mine');
    expect(got.headers.get('x-object-meta-color')).toBe('blue');
    expect(got.headers.get('etag')).toBe(md5);
    const head = await fetch(`${base}/data/obj`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(body.length));
  });

  it('lists containers as text and JSON, and accounts', async () => {
    const text = await (await fetch(`${base}/data?prefix=part`)).text();
    expect(text).toBe('part1.txt\npart2.txt\npart3.txt\n');
    const json = (await (await fetch(`${base}/data?format=json&prefix=part2`)).json()) as { name: string; bytes: number; hash: string; content_type: string }[];
    expect(json).toEqual([expect.objectContaining({ name: 'part2.txt', bytes: 4, hash: createHash('md5').update('x\nx\n').digest('hex'), content_type: 'text/plain' })]);
    expect(await (await fetch(base)).text()).toContain('bin\n');
  });

  it('keeps names with dots, slashes and escapes inside the store', async () => {
    const name = encodeURIComponent('../../../etc/x y') ;
    expect((await put(`/data/${name}`, 'inside')).status).toBe(201);
    expect(await (await fetch(`${base}/data/${name}`)).text()).toBe('inside');
    expect((await fetch(`${server.url}/v1/${encodeURIComponent('..')}/data/x`)).status).toBe(404);
    expect((await put(`/${encodeURIComponent('a/b')}`)).status).toBe(400);
  });

  it('answers 404, 409 and 422 as Swift does', async () => {
    expect((await fetch(`${base}/data/none`)).status).toBe(404);
    expect((await put('/nocontainer/x', 'x')).status).toBe(404);
    expect((await fetch(`${base}/data`, { method: 'DELETE' })).status).toBe(409);
    expect((await put('/data/bad', 'abc', { ETag: '0'.repeat(32) })).status).toBe(422);
    expect((await fetch(`${base}/data/bad`)).status).toBe(404);
    await put('/empty');
    expect((await fetch(`${base}/empty`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/empty`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/data/obj`, { method: 'PATCH' })).status).toBe(405);
  });

  it('refuses a body over --max-body with 413', async () => {
    expect((await put('/data/huge', Buffer.alloc(1_000_001))).status).toBe(413);
    expect((await fetch(`${base}/data/huge`)).status).toBe(404);
  });
});

describe('execution', () => {
  it('runs a job description and answers with its output and X-Nexe-* headers', async () => {
    const res = await execute(job([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout', content_type: 'text/x-greeting', meta: { who: 'world' } }] }]), 'application/json');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello, world\n');
    expect(res.headers.get('content-type')).toBe('text/x-greeting');
    expect(res.headers.get('x-object-meta-who')).toBe('world');
    expect(res.headers.get('x-nexe-system')).toBe('hello');
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    expect(res.headers.get('x-nexe-retcode')).toBe('0');
    expect(res.headers.get('x-nexe-validation')).toBe('0');
    expect(res.headers.get('x-nexe-etag')).toBe('disabled');
    expect(res.headers.get('x-nexe-cdr-line')).toMatch(/^\d+\.\d{3}, \d+\.\d{3}, \d+\.\d\d \d+\.\d\d( \d+){8}$/);
  });

  it('expands a wildcard into one node per object and writes their outputs as objects', async () => {
    const res = await execute(
      job([{ name: 'wc', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/part*.txt' }, { name: 'stdout', path: 'swift://~/out/count*.txt', content_type: 'text/plain', meta: { by: 'wc' } }] }]),
      'application/json',
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-system')).toBe('wc-1,wc-2,wc-3');
    expect(res.headers.get('x-nexe-status')).toBe('ok,ok,ok');
    for (let i = 1; i <= 3; i++) {
      const out = await fetch(`${base}/out/count${i}.txt`);
      expect(await out.text()).toBe(`${i} ${2 * i}\n`);
      expect(out.headers.get('x-object-meta-by')).toBe('wc');
    }
  });

  it('runs a job stored as an object (X-Zerovm-Source), the body feeding the readable device without a path', async () => {
    await put('/bin/count.json', job([{ name: 'count', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin' }, { name: 'stdout' }] }]), { 'Content-Type': 'application/json' });
    const res = await execute('one\ntwo\nthree\n', 'text/plain', { 'X-Zerovm-Source': 'swift://~/bin/count.json' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('3 14\n');
  });

  it('runs an image whose boot/system.map is the job and whose program is a member', async () => {
    const map = job([{ name: 'img', exec: { path: 'hello.nexe' }, devices: [{ name: 'stdout' }] }]);
    const tar = writeTar([
      { path: 'boot/system.map', type: 'file', data: Buffer.from(map) },
      { path: 'hello.nexe', type: 'file', data: HELLO },
    ]);
    const res = await execute(tar, 'application/x-tar');
    expect(await res.text()).toBe('hello, world\n');
    const noMap = await execute(writeTar([{ path: 'x', type: 'file', data: Buffer.from('x') }]), 'application/x-tar');
    expect(noMap.status).toBe(400);
    expect(await noMap.text()).toMatch(/no boot\/system.map/);
    expect((await execute(Buffer.alloc(700, 7), 'application/x-tar')).status).toBe(400);
  });

  it("runs a script with the system image program its '#!' line names, on the object it is POSTed to", async () => {
    const res = await execute('#!file://tools:wc.nexe\nthe script itself\n', 'text/x-script', {}, '/data/part3.txt');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('3 6\n');
    const bad = await execute('echo no shebang', 'text/x-script');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/#!/);
    expect((await execute('#!file://nosuch:x.nexe\n', 'text/x-script')).status).toBe(400);
  });

  it('runs the application registered in .zvm for an object GET with open/1.0', async () => {
    await put('/.zvm');
    const template = job([{ name: 'open', exec: { path: 'swift://~/bin/wc.nexe', args: '{.mode=lines}' }, devices: [{ name: 'stdin', path: 'swift://~{.object_path}' }, { name: 'stdout', content_type: 'text/x-count' }] }]);
    await put('/.zvm/text/plain/config', template, { 'Content-Type': 'application/json' });
    const res = await fetch(`${base}/data/part2.txt`, { headers: { 'X-Zerovm-Execute': 'open/1.0' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/x-count');
    expect(await res.text()).toBe('2 4\n');
    const nexe = await fetch(`${base}/bin/hello.nexe`, { headers: { 'X-Zerovm-Execute': 'open/1.0' } });
    expect(await nexe.text()).toBe('hello, world\n');
    const unregistered = await fetch(`${base}/bin/count.json`, { headers: { 'X-Zerovm-Execute': 'open/1.0' } });
    expect(unregistered.status).toBe(404);
    expect(await unregistered.text()).toMatch(/no application is registered for application\/json/);
  });

  it('parses a message/cgi output into response headers and body', async () => {
    await put('/data/page.cgi', 'Content-Type: text/html\r\nX-Object-Meta-Kind: page\r\n\r\n<b>hi</b>');
    const res = await execute(job([{ name: 'cgi', exec: { path: 'swift://~/bin/cat.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/page.cgi' }, { name: 'stdout', content_type: 'message/cgi' }] }]), 'application/json');
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('x-object-meta-kind')).toBe('page');
    expect(await res.text()).toBe('<b>hi</b>');
  });

  it('runs a connected job on the worker pool (data through the pipes: the word count of serve-examples.test.ts)', async () => {
    const res = await execute(
      job([
        { name: 'first', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }], connect: ['second'] },
        { name: 'second', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] },
      ]),
      'application/json',
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-system')).toBe('first,second');
    expect(await res.text()).toBe('hello, world\nhello, world\n');
  });
});

describe('limits and errors', () => {
  it('answers malformed requests with 4xx and a message, never a host path', async () => {
    const cases: [Promise<Response>, number, RegExp][] = [
      [execute('{', 'application/json'), 400, /not JSON/],
      [execute(job([{ name: 'x', exec: { path: 'swift://~/bin/none.nexe' } }]), 'application/json'), 404, /swift:\/\/acct\/bin\/none.nexe does not exist/],
      [execute(job([{ name: 'x', exec: { path: 'swift://~/bin/hello.nexe' }, count: 9 }]), 'application/json'), 400, /at most 8 per job \(--max-nodes\)/],
      [execute(job([{ name: 'x', exec: { path: 'swift://~/bin/hello.nexe' } }]), 'application/json', { 'X-Zerovm-Execute': '2.0' }), 400, /X-Zerovm-Execute/],
      [execute('x'.repeat(70_000), 'application/json'), 413, /larger than 65536/],
      [fetch(`${base}/data/x`, { headers: { 'X-Big': 'x'.repeat(20_000) } }), 431, /^/],
    ];
    for (const [response, status, message] of cases) {
      const res = await response;
      expect(res.status).toBe(status);
      const text = await res.text();
      expect(text).toMatch(message);
      expect(text).not.toContain(store);
      expect(text).not.toContain(tmpdir());
    }
  });

  it('reports a program that does not validate in X-Nexe-Status and X-Nexe-Error without host paths', async () => {
    await put('/bin/bogus.nexe', 'not an ELF file at all');
    const res = await execute(job([{ name: 'bad', exec: { path: 'swift://~/bin/bogus.nexe' }, devices: [{ name: 'stdout' }] }]), 'application/json');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-status')).toBe('ZeroVM did not run');
    const error = res.headers.get('x-nexe-error') ?? '';
    expect(error).toMatch(/^bad: not a ZeroVM program/);
    expect(error).not.toContain(store);
  });

  it('cuts an output flood at --max-output: the session gets a write error, the server keeps its memory', async () => {
    await put('/data/flood', Buffer.alloc(300_000, 0x61));
    const res = await execute(job([{ name: 'flood', exec: { path: 'swift://~/bin/cat.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/flood' }, { name: 'stdout' }] }]), 'application/json');
    expect(res.status).toBe(200);
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBeLessThanOrEqual(100_000);
    expect(res.headers.get('x-nexe-retcode')).toBe('1');
  });

  it('ends an endless loop by its timeout while other requests are answered', async () => {
    const started = Date.now();
    const looping = execute(job([{ name: 'spin', exec: { path: 'swift://~/bin/loop.nexe' }, devices: [{ name: 'stdout' }] }]), 'application/json');
    const hello = await execute(job([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]), 'application/json');
    expect(await hello.text()).toBe('hello, world\n');
    const res = await looping;
    expect(res.headers.get('x-nexe-status')).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('zerovm job', () => {
  it('runs a job on the store the server uses, its --body feeding the readable device without a path', () => {
    const description = join(dir, 'count.json');
    writeFileSync(description, job([{ name: 'count', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin' }, { name: 'stdout' }] }]));
    const body = join(dir, 'body.txt');
    writeFileSync(body, 'one\ntwo\n');
    const run = spawnSync(process.execPath, [BIN, 'job', description, '--store', store, '--account', 'acct', '--workers', '0', '--body', body], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^HTTP\/1.1 200 OK\nContent-Type: text\/plain\n/);
    expect(run.stdout).toContain('\nX-Nexe-Status: ok\n');
    expect(run.stdout.endsWith('\n\n2 8\n')).toBe(true);
    const missing = spawnSync(process.execPath, [BIN, 'job', description, '--store', store, '--account', 'nobody', '--workers', '0', '--body', body], { encoding: 'utf8', timeout: 60_000 });
    expect(missing.status).toBe(2);
    expect(missing.stdout).toMatch(/^HTTP\/1.1 404 Not Found\n[\s\S]*swift:\/\/nobody\/bin\/wc.nexe does not exist/);
  });
});

describe('engines', () => {
  for (const c of engineCases('zerovm serve')) {
    it.skipIf(c.skip)(`runs a job with --engine ${c.name}`, async () => {
      const s = await startServer(['--store', join(dir, `engine-${c.name}`), '--workers', '1', '--engine', c.name]);
      try {
        const b = `${s.url}/v1/a`;
        await fetch(`${b}/bin`, { method: 'PUT' });
        await fetch(`${b}/bin/wc.nexe`, { method: 'PUT', body: WC });
        const res = await fetch(b, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: job([{ name: 'wc', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdout' }] }]) });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-nexe-status')).toBe('ok');
        expect(await res.text()).toBe('0 0\n');
      } finally {
        await s.stop();
      }
    });
  }
});

describe('authentication and shutdown', () => {
  it('requires X-Auth-Token when started with --auth-token', async () => {
    const guarded = await startServer(['--store', join(dir, 'guarded'), '--workers', '0', '--auth-token', 's3cret']);
    try {
      expect((await fetch(`${guarded.url}/v1/a`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/v1/a`, { headers: { 'X-Auth-Token': 'wrong' } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/v1/a/c`, { method: 'PUT', headers: { 'X-Auth-Token': 's3cret' } })).status).toBe(201);
    } finally {
      await guarded.stop();
    }
  });

  it('drains on SIGTERM: the running request finishes, then the server exits 0', async () => {
    const draining = await startServer(['--store', join(dir, 'draining'), '--workers', '1', '--timeout', '2']);
    const b = `${draining.url}/v1/a`;
    await fetch(`${b}/bin`, { method: 'PUT' });
    await fetch(`${b}/bin/loop.nexe`, { method: 'PUT', body: LOOP });
    const running = fetch(b, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: job([{ name: 'spin', exec: { path: 'swift://~/bin/loop.nexe' } }]) });
    await new Promise((r) => setTimeout(r, 500));
    const code = draining.stop();
    const res = await running;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-status')).toMatch(/timeout/i);
    expect(await code).toBe(0);
    await expect(fetch(`${b}/bin`)).rejects.toThrow();
  });
});
