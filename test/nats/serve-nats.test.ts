/**
 * `zerovm serve --nats` end to end (spec/cluster.md, "Serving from the
 * cluster"): a real 3-node nats-server cluster with JetStream (replicas 3),
 * two `zerovm worker` processes and two front ends, all on 127.0.0.1 and
 * ended by pid. Objects (PUT/GET/HEAD/DELETE, listings), jobs reading and
 * writing objects, a wildcard job, the C word count over many objects
 * byte-identical to the single-host server's response, two front ends
 * seeing each other's objects and jobs, and the front end's own deadline
 * when no worker is left.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_BUCKET, type JobRecord } from '../../src/cluster/job-records.js';
import { TASK_STREAM } from '../../src/cluster/protocol.js';
import { writeTar } from '../../src/zapp/tar.js';
import { BIN } from '../cli.js';
import { EXAMPLES, startServer, type RunningServer } from '../serve-helpers.js';
import { warnIfSkipped, zerovmCc } from '../toolchain/helpers.js';
import { natsServerUnavailable, startNatsCluster, type NatsCluster } from './cluster.js';

const HELLO = readFileSync(join(EXAMPLES, 'hello.nexe'));
const WC = readFileSync(join(EXAMPLES, 'wc.nexe'));
const CAT = readFileSync(join(EXAMPLES, 'cat.nexe'));
/** About a second or more of pure computation. */
const LOOP = readFileSync(join(EXAMPLES, 'loop.nexe'));

const CI = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const unavailable = natsServerUnavailable();
const skip = unavailable !== null && !CI;
if (skip) console.warn(`\n*** zerovm serve --nats tests SKIPPED: ${unavailable} ***\n`);
/** The word count needs `zerovm cc` (clang, lld); without it that one test is skipped (loudly, by the helper). */
const noToolchain = skip || warnIfSkipped('zerovm serve --nats word count');

/** Seconds a front end waits for a worker to take a task (the last test has none). */
const PICKUP_S = 2;

/** Texts with known words: book i has i copies of 'common', one 'onlyI', and 'Mixed' in three cases. */
function book(i: number): string {
  return `${'common '.repeat(i)}only${i}\nMixed mixed, MIXED!\n`;
}
const BOOKS = 24;

interface WorkerProcess {
  readonly child: ChildProcess;
  log: string;
}

function startWorker(cluster: NatsCluster, name: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--nats', cluster.urls, '--user', cluster.user, '--name', name, '--slots', '2', '--replicas', '3'], {
    env: { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker: WorkerProcess = { child, log: '' };
  return new Promise((resolveReady, rejectReady) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      worker.log += chunk.toString();
      if (worker.log.includes(': ready (')) resolveReady(worker);
    });
    child.once('exit', (code) => rejectReady(new Error(`worker ${name} exited (${code}) before it was ready:\n${worker.log}`)));
  });
}

async function endWorker(worker: WorkerProcess): Promise<void> {
  const { child } = worker;
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

function client(base: string): { put: (path: string, body?: string | Uint8Array, headers?: Record<string, string>) => Promise<Response>; execute: (body: string, path?: string) => Promise<Response> } {
  return {
    put: (path, body = '', headers = {}) => fetch(`${base}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : Buffer.from(body), headers }),
    execute: (body, path = '') => fetch(`${base}${path}`, { method: 'POST', body, headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' } }),
  };
}

describe.skipIf(skip)('zerovm serve --nats: 3 NATS servers, 2 workers, 2 front ends', () => {
  let cluster: NatsCluster;
  const workers: WorkerProcess[] = [];
  let frontA: RunningServer;
  let frontB: RunningServer;
  let a: ReturnType<typeof client>;
  let b: ReturnType<typeof client>;
  let baseA = '';
  let baseB = '';
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-serve-nats-'));

  beforeAll(async () => {
    cluster = await startNatsCluster();
    workers.push(...(await Promise.all([startWorker(cluster, 'w1'), startWorker(cluster, 'w2')])));
    /* startServer's child inherits the environment: the password never appears on a command line */
    process.env['ZEROVM_NATS_PASSWORD'] = cluster.password;
    /* what a front end killed with SIGKILL left: removed by the next one */
    mkdirSync(join(tmp, 'scratch', 'zerovm-serve-2147483646-gone', 'job-x'), { recursive: true });
    const args = ['--nats', cluster.urls, '--nats-user', cluster.user, '--nats-replicas', '3', '--store', join(tmp, 'scratch'), '--timeout', '30', '--pickup-timeout', String(PICKUP_S), '--max-body', '1000000'];
    [frontA, frontB] = await Promise.all([startServer(args), startServer(args)]);
    delete process.env['ZEROVM_NATS_PASSWORD'];
    baseA = `${frontA.url}/v1/acct`;
    baseB = `${frontB.url}/v1/acct`;
    a = client(baseA);
    b = client(baseB);
    for (const c of ['bin', 'data', 'out']) expect((await a.put(`/${c}`)).status).toBe(201);
    expect((await b.put('/bin')).status).toBe(202);
    await a.put('/bin/hello.nexe', HELLO, { 'Content-Type': 'application/x-nexe' });
    await a.put('/bin/wc.nexe', WC);
    await a.put('/bin/cat.nexe', CAT);
    for (let i = 1; i <= 3; i++) await a.put(`/data/part${i}.txt`, 'x\n'.repeat(i), { 'Content-Type': 'text/plain' });
  }, 120_000);

  afterAll(async () => {
    await frontA?.stop();
    await frontB?.stop();
    for (const worker of workers) await endWorker(worker);
    await cluster?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('stores an object with its type, metadata and MD5 etag; GET, HEAD and DELETE through either front end', async () => {
    const body = 'some bytes\n';
    const md5 = createHash('md5').update(body).digest('hex');
    const created = await a.put('/data/obj', body, { 'Content-Type': 'text/x-mine', 'X-Object-Meta-Color': 'blue' });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe(md5);
    for (const base of [baseA, baseB]) {
      const got = await fetch(`${base}/data/obj`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe(body);
      expect(got.headers.get('content-type')).toBe('text/x-mine');
      expect(got.headers.get('x-object-meta-color')).toBe('blue');
      expect(got.headers.get('etag')).toBe(md5);
      expect(got.headers.get('last-modified')).toBe(created.headers.get('last-modified'));
      const head = await fetch(`${base}/data/obj`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(body.length));
    }
    /* replaced through B: A reads the new version whole */
    const bigger = Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    expect((await b.put('/data/obj', bigger)).status).toBe(201);
    expect(await (await fetch(`${baseA}/data/obj`)).text()).toBe(bigger);
    /* Range GETs read the object's chunks (128 KiB each) and cut them: a range across a chunk's end, a suffix */
    for (const [range, start, end] of [['bytes=131000-131171', 131_000, 131_172], ['bytes=-5', 299_995, 300_000]] as const) {
      const part = await fetch(`${baseA}/data/obj`, { headers: { Range: range } });
      expect([part.status, part.headers.get('content-range'), await part.text()]).toEqual([206, `bytes ${start}-${end - 1}/300000`, bigger.slice(start, end)]);
    }
    expect((await fetch(`${baseB}/data/obj`, { headers: { Range: 'bytes=300000-' } })).status).toBe(416);
    /* an empty object has no chunk at all */
    expect((await b.put('/data/empty', '')).status).toBe(201);
    const empty = await fetch(`${baseA}/data/empty`);
    expect([empty.status, empty.headers.get('content-length'), await empty.text(), empty.headers.get('etag')]).toEqual([200, '0', '', createHash('md5').digest('hex')]);
    expect((await fetch(`${baseA}/data/empty`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${baseB}/data/obj`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${baseA}/data/obj`)).status).toBe(404);
    expect((await fetch(`${baseA}/data/obj`, { method: 'DELETE' })).status).toBe(404);
  });

  it("keeps its scratch space (job directories, uploads) in a directory of its own under --store, and removes what dead front ends left", () => {
    const entries = readdirSync(join(tmp, 'scratch'));
    expect(entries).toHaveLength(2);
    for (const front of [frontA, frontB]) expect(entries.some((e) => e.startsWith(`zerovm-serve-${front.process.pid}-`))).toBe(true);
  });

  it('lists containers as text and JSON with prefix, marker and limit, and the account', async () => {
    expect(await (await fetch(`${baseB}/data?prefix=part`)).text()).toBe('part1.txt\npart2.txt\npart3.txt\n');
    expect(await (await fetch(`${baseB}/data?marker=part1.txt&limit=1`)).text()).toBe('part2.txt\n');
    const json = (await (await fetch(`${baseA}/data?format=json&prefix=part2`)).json()) as { name: string; bytes: number; hash: string; content_type: string }[];
    expect(json).toEqual([expect.objectContaining({ name: 'part2.txt', bytes: 4, hash: createHash('md5').update('x\nx\n').digest('hex'), content_type: 'text/plain' })]);
    const head = await fetch(`${baseA}/data`, { method: 'HEAD' });
    expect(head.headers.get('x-container-object-count')).toBe('3');
    expect(head.headers.get('x-container-bytes-used')).toBe(String(2 + 4 + 6));
    expect(await (await fetch(baseB)).text()).toBe('bin\ndata\nout\n');
  });

  it('keeps any Swift name apart (bucket names are hashes) and answers 404, 409 and 422 as Swift does', async () => {
    const odd = encodeURIComponent('a container: with spaces, ümlauts.');
    expect((await fetch(`${baseA}/${odd}`, { method: 'PUT' })).status).toBe(201);
    const name = encodeURIComponent('../../../etc/x y');
    expect((await a.put(`/${odd}/${name}`, 'inside')).status).toBe(201);
    expect(await (await fetch(`${baseB}/${odd}/${name}`)).text()).toBe('inside');
    expect(await (await fetch(baseA)).text()).toContain('a container: with spaces, ümlauts.\n');
    expect((await fetch(`${baseA}/${odd}`, { method: 'DELETE' })).status).toBe(409);
    expect((await fetch(`${baseA}/${odd}/${name}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${baseB}/${odd}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${baseA}/${odd}`, { method: 'HEAD' })).status).toBe(404);
    expect((await a.put('/nocontainer/x', 'x')).status).toBe(404);
    expect((await a.put('/data/bad', 'abc', { ETag: '0'.repeat(32) })).status).toBe(422);
    expect((await fetch(`${baseA}/data/bad`)).status).toBe(404);
    expect((await a.put('/data/huge', Buffer.alloc(1_000_001))).status).toBe(413);
  });

  it('answers conditional requests as the directory store does; If-None-Match: * creates once across front ends (spec/serving.md, "Conditional requests")', async () => {
    expect((await a.put('/cond')).status).toBe(201);
    const created = await a.put('/cond/obj', 'first', { 'If-None-Match': '*' });
    expect(created.status).toBe(201);
    expect((await b.put('/cond/obj', 'second', { 'If-None-Match': '*' })).status).toBe(412);
    expect((await b.put('/cond/obj', 'x', { 'If-None-Match': '"abc"' })).status).toBe(400);
    const etag = created.headers.get('etag') ?? '';
    const lastModified = created.headers.get('last-modified') ?? '';
    const notModified = await fetch(`${baseB}/cond/obj`, { headers: { 'If-None-Match': `"${etag}"` } });
    expect([notModified.status, notModified.headers.get('etag'), notModified.headers.get('last-modified'), await notModified.text()]).toEqual([304, etag, lastModified, '']);
    expect((await fetch(`${baseB}/cond/obj`, { method: 'HEAD', headers: { 'If-Modified-Since': lastModified } })).status).toBe(304);
    expect((await fetch(`${baseA}/cond/obj`, { headers: { 'If-Match': '"0000"' } })).status).toBe(412);
    expect(await (await fetch(`${baseA}/cond/obj`, { headers: { 'If-Match': etag } })).text()).toBe('first');
    /* a deleted object can be created again */
    expect((await fetch(`${baseA}/cond/obj`, { method: 'DELETE' })).status).toBe(204);
    expect((await b.put('/cond/obj', 'again', { 'If-None-Match': '*' })).status).toBe(201);
    /* creates racing through both front ends: JetStream's expected sequence lets one win */
    const racers = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).put('/cond/race', `racer ${i}`, { 'If-None-Match': '*' }));
    const statuses = (await Promise.all(racers)).map((r) => r.status).sort();
    expect(statuses).toEqual([201, 412, 412, 412, 412, 412]);
    for (const name of ['obj', 'race']) expect((await fetch(`${baseA}/cond/${name}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${baseA}/cond`, { method: 'DELETE' })).status).toBe(204);
  });

  it('runs a job on a worker: its program and input are objects, its output becomes an object the other front end reads', async () => {
    const res = await a.execute(JSON.stringify([{ name: 'count', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/part3.txt' }, { name: 'stdout', path: 'swift://~/out/count.txt', content_type: 'text/x-count', meta: { by: 'wc' } }] }]));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    const out = await fetch(`${baseB}/out/count.txt`);
    expect(await out.text()).toBe('3 6\n');
    expect(out.headers.get('content-type')).toBe('text/x-count');
    expect(out.headers.get('x-object-meta-by')).toBe('wc');
    expect(out.headers.get('etag')).toBe(createHash('md5').update('3 6\n').digest('hex'));
    const hello = await b.execute(JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]));
    expect(await hello.text()).toBe('hello, world\n');
  });

  it('answers 400 to a bad spread (our extension of the description), naming the node and field', async () => {
    for (const [spread, message] of [
      [0, /node 'hello'\.spread: must be a whole number, at least 1/],
      [1000, /node 'hello'\.spread: this server splits a group into at most 256 parts/],
      ['2', /node 'hello'\.spread: must be a whole number/],
    ] as const) {
      const res = await a.execute(JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }], spread }]));
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(message);
    }
  });

  it('expands a wildcard into one node per object, run on the workers, their outputs written as objects', async () => {
    const res = await b.execute(JSON.stringify([{ name: 'wc', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/part*.txt' }, { name: 'stdout', path: 'swift://~/out/count*.txt', content_type: 'text/plain' }] }]));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-system')).toBe('wc-1,wc-2,wc-3');
    expect(res.headers.get('x-nexe-status')).toBe('ok,ok,ok');
    for (let i = 1; i <= 3; i++) expect(await (await fetch(`${baseA}/out/count${i}.txt`)).text()).toBe(`${i} ${2 * i}\n`);
  });

  it('keeps a record of each job in KV that any front end or tool can read', async () => {
    /* a job on front end A too (the wildcard job ran on B) */
    expect((await a.execute(JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]))).status).toBe(200);
    const nc = await connect({ servers: cluster.urls.split(','), user: cluster.user, pass: cluster.password });
    try {
      const bucket = await new Kvm(nc).open(JOB_BUCKET);
      const records: JobRecord[] = [];
      for await (const key of await bucket.keys()) {
        const entry = await bucket.get(key);
        if (entry !== null && entry.operation === 'PUT') records.push(entry.json<JobRecord>());
      }
      const wildcard = records.find((r) => r.nodes.join(',') === 'wc-1,wc-2,wc-3');
      expect(wildcard).toMatchObject({ account: 'acct', status: 'done', end: { httpStatus: 200, statuses: ['ok', 'ok', 'ok'] } });
      expect(wildcard!.end!.ranOn.every((w) => w === 'w1' || w === 'w2')).toBe(true);
      expect(new Set(records.map((r) => r.frontEnd)).size).toBe(2);
    } finally {
      await nc.close();
    }
  });

  it('runs a stored job (X-Zerovm-Source), an open/1.0 application and a POSTed image through the cluster', async () => {
    await a.put('/bin/count.json', JSON.stringify([{ name: 'count', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin' }, { name: 'stdout' }] }]), { 'Content-Type': 'application/json' });
    const stored = await fetch(baseB, { method: 'POST', body: 'one\ntwo\nthree\n', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'text/plain', 'X-Zerovm-Source': 'swift://~/bin/count.json' } });
    expect(stored.status).toBe(200);
    expect(await stored.text()).toBe('3 14\n');
    await b.put('/.zvm');
    await b.put('/.zvm/text/plain/config', JSON.stringify([{ name: 'open', exec: { path: 'swift://~/bin/wc.nexe' }, devices: [{ name: 'stdin', path: 'swift://~{.object_path}' }, { name: 'stdout', content_type: 'text/x-count' }] }]), { 'Content-Type': 'application/json' });
    const opened = await fetch(`${baseA}/data/part2.txt`, { headers: { 'X-Zerovm-Execute': 'open/1.0' } });
    expect(opened.headers.get('content-type')).toBe('text/x-count');
    expect(await opened.text()).toBe('2 4\n');
    const tar = writeTar([
      { path: 'boot/system.map', type: 'file', data: Buffer.from(JSON.stringify([{ name: 'img', exec: { path: 'hello.nexe' }, devices: [{ name: 'stdout' }] }])) },
      { path: 'hello.nexe', type: 'file', data: HELLO },
    ]);
    const image = await fetch(baseA, { method: 'POST', body: Buffer.from(tar), headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/x-tar' } });
    expect(await image.text()).toBe('hello, world\n');
  });

  it('parses a message/cgi output into the object it writes (content type and metadata from its header)', async () => {
    await a.put('/data/page.cgi', 'Content-Type: text/html\r\nX-Object-Meta-Kind: page\r\n\r\n<b>hi</b>');
    const res = await b.execute(JSON.stringify([{ name: 'cgi', exec: { path: 'swift://~/bin/cat.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/page.cgi' }, { name: 'stdout', path: 'swift://~/out/page.html', content_type: 'message/cgi' }] }]));
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    const page = await fetch(`${baseA}/out/page.html`);
    expect(page.headers.get('content-type')).toBe('text/html');
    expect(page.headers.get('x-object-meta-kind')).toBe('page');
    expect(await page.text()).toBe('<b>hi</b>');
  });

  it('refuses a wrong NATS password, a missing system image (before connecting) and options that need --nats without it, with a message and exit status 2', () => {
    const wrong = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--nats', cluster.urls, '--nats-user', cluster.user], { env: { ...process.env, ZEROVM_NATS_PASSWORD: 'not-the-password' }, encoding: 'utf8', timeout: 30_000 });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/refused the credentials of user 'zerovm'.*ZEROVM_NATS_PASSWORD/);
    const badImage = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--nats', cluster.urls, '--nats-user', cluster.user, '--sysimage', 'tools=/no/such.zapp'], { env: { ...process.env, ZEROVM_NATS_PASSWORD: cluster.password }, encoding: 'utf8', timeout: 30_000 });
    expect(badImage.status).toBe(2);
    expect(badImage.stderr).toMatch(/--sysimage 'tools=\/no\/such.zapp': no such file such.zapp/);
    const alone = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--pickup-timeout', '3'], { encoding: 'utf8', timeout: 30_000 });
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/--pickup-timeout goes with --nats/);
  });

  it.skipIf(noToolchain)(
    'counts words over many objects (mappers piped into a reducer) byte-identical to the single-host server',
    async () => {
      const dir = join(tmp, 'wordcount');
      mkdirSync(dir, { recursive: true });
      zerovmCc(['-O2', '-Wall', '-o', join(dir, 'mapper.nexe'), join(EXAMPLES, 'wordcount', 'mapper.c')]);
      zerovmCc(['-O2', '-Wall', '-o', join(dir, 'reducer.nexe'), join(EXAMPLES, 'wordcount', 'reducer.c')]);
      const single = await startServer(['--store', join(dir, 'store'), '--workers', '2']);
      try {
        const bases = [`${single.url}/v1/acct`, baseA];
        for (const base of bases) {
          const put = (path: string, body: string | Buffer): Promise<Response> => fetch(`${base}${path}`, { method: 'PUT', body });
          for (const c of ['wordcount', 'books']) await put(`/${c}`, '');
          await put('/wordcount/mapper.nexe', readFileSync(join(dir, 'mapper.nexe')));
          await put('/wordcount/reducer.nexe', readFileSync(join(dir, 'reducer.nexe')));
          for (let i = 1; i <= BOOKS; i++) await put(`/books/book${i}.txt`, book(i));
          await put('/books/notes.md', 'not a .txt: no mapper reads this');
        }
        const job = readFileSync(join(EXAMPLES, 'wordcount', 'job.json'));
        const [one, many] = await Promise.all(bases.map((base) => fetch(base, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: job })));
        const [oneBody, manyBody] = [Buffer.from(await one!.arrayBuffer()), Buffer.from(await many!.arrayBuffer())];
        expect(many!.status).toBe(one!.status);
        expect(manyBody.equals(oneBody)).toBe(true);
        expect(oneBody.toString()).toContain(`common ${(BOOKS * (BOOKS + 1)) / 2}\n`);
        for (const header of ['content-type', 'etag', 'x-nexe-system', 'x-nexe-status', 'x-nexe-retcode', 'x-nexe-validation']) expect(many!.headers.get(header)).toBe(one!.headers.get(header));
        expect(many!.headers.get('x-nexe-status')).toBe(Array(BOOKS + 1).fill('ok').join(','));
        const [oneLog, manyLog] = await Promise.all(bases.map(async (base) => (await fetch(`${base}/wordcount/reducer.log`)).text()));
        expect(manyLog).toBe(oneLog);
        expect(manyLog).toMatch(new RegExp(`from ${BOOKS} mappers`));
        /* `spread` (our extension of the description): the connected group split into 2 parts (on one 2-slot worker or both), the same bytes */
        const before = workers.map((w) => w.log.length);
        const spreadJob = (JSON.parse(job.toString()) as Record<string, unknown>[]).map((node) => (node['name'] === 'reduce' ? { ...node, spread: 2 } : node));
        const spread = await fetch(baseA, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: JSON.stringify(spreadJob) });
        expect(Buffer.from(await spread.arrayBuffer()).equals(oneBody)).toBe(true);
        expect(spread.headers.get('x-nexe-status')).toBe(one!.headers.get('x-nexe-status'));
        const ran = workers.map((w, i) => w.log.slice(before[i]));
        for (const part of ['p0', 'p1']) expect(ran.some((log) => new RegExp(`running task \\S+\\.a1\\.${part} `).test(log)), ran.join('\n')).toBe(true);
        expect(ran.some((log) => /running task \S+\.a1\.p2 /.test(log))).toBe(false);
      } finally {
        await single.stop();
      }
    },
    900_000,
  );

  it(`waits past --pickup-timeout (${PICKUP_S} s) while every worker is busy: a job of more long nodes than slots finishes`, async () => {
    await a.put('/bin/loop.nexe', LOOP);
    const started = Date.now();
    const res = await a.execute(JSON.stringify([{ name: 'loop', count: 10, exec: { path: 'swift://~/bin/loop.nexe' }, devices: [{ name: 'stdout' }] }]));
    const seconds = (Date.now() - started) / 1000;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-status')).toBe(Array(10).fill('ok').join(','));
    /* 10 nodes of a second or more on 4 slots (2 workers x 2): three rounds, so the last tasks waited for a worker longer than the pickup deadline */
    expect(seconds).toBeGreaterThan(PICKUP_S);
  }, 120_000);

  it(`answers 503 when no worker takes a job within --pickup-timeout (${PICKUP_S} s), and serves objects still`, async () => {
    for (const worker of workers) await endWorker(worker);
    const started = Date.now();
    const res = await a.execute(JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]));
    const waited = (Date.now() - started) / 1000;
    expect(res.status).toBe(503);
    expect(res.headers.get('x-nexe-status')).toBe(`no worker took the task within ${PICKUP_S} s (no \`zerovm worker\` is connected to this cluster)`);
    expect(waited).toBeGreaterThanOrEqual(PICKUP_S - 0.1);
    expect(waited).toBeLessThan(PICKUP_S + 5);
    expect(await (await fetch(`${baseB}/data/part1.txt`)).text()).toBe('x\n');
    /* the withdrawn task is gone from the work queue: a worker started now never runs it */
    const nc = await connect({ servers: cluster.urls.split(','), user: cluster.user, pass: cluster.password });
    try {
      expect((await (await jetstreamManager(nc)).streams.info(TASK_STREAM)).state.messages).toBe(0);
    } finally {
      await nc.close();
    }
    const late = await startWorker(cluster, 'w3');
    workers.push(late);
    const hello = await b.execute(JSON.stringify([{ name: 'hello', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]));
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe('hello, world\n');
  }, 60_000);
});
