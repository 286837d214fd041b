/**
 * Conditional object requests end to end on the real server with the
 * directory store (spec/serving.md, "Conditional requests"): 304 and 412
 * on GET and HEAD, their order and how they combine with Range, PUT with
 * `If-None-Match: *` (also several at once: one wins), and curl's own
 * conditional GETs (`-z`, an If-None-Match header).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './serve-helpers.js';
import { ci } from './toolchain/helpers.js';

const haveCurl = spawnSync('curl', ['--version'], { encoding: 'utf8' }).status === 0;
if (!haveCurl) {
  if (ci) throw new Error('curl is missing (Debian: curl; .ci/run installs it)');
  console.warn('\n*** zerovm serve conditional GETs with curl SKIPPED: curl is missing (Debian: curl) ***\n');
}

const BODY = 'conditional bytes, 0123456789\n';
const ETAG = createHash('md5').update(BODY).digest('hex');
const OTHER = createHash('md5').update('other').digest('hex');

let dir = '';
let server: RunningServer;
let base = '';
/** The object's Last-Modified and X-Timestamp as the server gave them. */
let lastModified = '';
let xTimestamp = '';

const get = (headers: Record<string, string>, method = 'GET', path = '/data/obj'): Promise<Response> => fetch(`${base}${path}`, { method, headers });
const put = (path: string, body: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${base}${path}`, { method: 'PUT', body, headers });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-conditional-'));
  server = await startServer(['--store', join(dir, 'store'), '--workers', '1']);
  base = `${server.url}/v1/acct`;
  expect((await put('/data', '')).status).toBe(201);
  expect((await put('/data/obj', BODY, { 'Content-Type': 'text/x-cond', 'X-Object-Meta-Kind': 'test' })).status).toBe(201);
  const head = await get({}, 'HEAD');
  lastModified = head.headers.get('last-modified') ?? '';
  xTimestamp = head.headers.get('x-timestamp') ?? '';
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('conditional GET and HEAD', () => {
  it('send Last-Modified as the write time rounded up to the second (as Swift), and the same on PUT', () => {
    expect(Date.parse(lastModified) / 1000).toBe(Math.ceil(Number(xTimestamp)));
  });

  it('answer 304 without a body to If-None-Match naming the ETag, quoted or not, in a list, or *', async () => {
    for (const value of [`"${ETAG}"`, ETAG, `"${OTHER}", "${ETAG}"`, '*']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await get({ 'If-None-Match': value }, method);
        expect(res.status, `${method} ${value}`).toBe(304);
        expect(res.headers.get('etag')).toBe(ETAG);
        expect(res.headers.get('last-modified')).toBe(lastModified);
        expect(res.headers.get('content-type')).toBe('text/x-cond');
        expect(res.headers.get('x-object-meta-kind')).toBe('test');
        expect(res.headers.get('content-length')).toBeNull();
        expect(await res.text()).toBe('');
      }
    }
    const other = await get({ 'If-None-Match': `"${OTHER}"` });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe(BODY);
  });

  it('answer 412 with a message, the ETag and Last-Modified to If-Match not naming the ETag', async () => {
    const res = await get({ 'If-Match': `"${OTHER}"` });
    expect(res.status).toBe(412);
    expect(res.headers.get('etag')).toBe(ETAG);
    expect(res.headers.get('last-modified')).toBe(lastModified);
    expect(await res.text()).toMatch(/If-Match does not name the object's ETag/);
    expect((await get({ 'If-Match': `W/"${ETAG}"` }, 'HEAD')).status).toBe(412);
    for (const value of [`"${ETAG}"`, ETAG, '*']) {
      const ok = await get({ 'If-Match': value });
      expect(ok.status, value).toBe(200);
      expect(await ok.text()).toBe(BODY);
    }
  });

  it('compare If-Modified-Since and If-Unmodified-Since with Last-Modified in whole seconds', async () => {
    const before = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await get({ 'If-Modified-Since': lastModified })).status).toBe(304);
    const newer = await get({ 'If-Modified-Since': before });
    expect(newer.status).toBe(200);
    expect(await newer.text()).toBe(BODY);
    const changed = await get({ 'If-Unmodified-Since': before });
    expect(changed.status).toBe(412);
    expect(await changed.text()).toMatch(/modified after If-Unmodified-Since/);
    expect((await get({ 'If-Unmodified-Since': lastModified })).status).toBe(200);
    /* not a date: ignored */
    expect((await get({ 'If-Modified-Since': 'yesterday' })).status).toBe(200);
  });

  it('evaluate in RFC 7232 order: If-Match first; a date beside its tag header is ignored', async () => {
    expect((await get({ 'If-Match': `"${OTHER}"`, 'If-None-Match': `"${ETAG}"` })).status).toBe(412);
    expect((await get({ 'If-None-Match': `"${OTHER}"`, 'If-Modified-Since': lastModified })).status).toBe(200);
    expect((await get({ 'If-Match': `"${ETAG}"`, 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status).toBe(200);
  });

  it('decide before Range: 304 and 412 carry no range; a request they let through gets its 206', async () => {
    const notModified = await get({ 'If-None-Match': ETAG, Range: 'bytes=0-4' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('content-range')).toBeNull();
    const failed = await get({ 'If-Match': OTHER, Range: 'bytes=0-4' });
    expect(failed.status).toBe(412);
    expect(failed.headers.get('content-range')).toBeNull();
    const partial = await get({ 'If-Match': ETAG, 'If-Unmodified-Since': lastModified, Range: 'bytes=0-4', 'If-Range': lastModified });
    expect(partial.status).toBe(206);
    expect(await partial.text()).toBe(BODY.slice(0, 5));
  });

  it('on a missing object: 412 for If-Match: * (as Swift), else 404', async () => {
    expect((await get({ 'If-Match': '*' }, 'GET', '/data/missing')).status).toBe(412);
    expect((await get({ 'If-Match': `"${ETAG}"` }, 'GET', '/data/missing')).status).toBe(404);
    expect((await get({ 'If-None-Match': '*' }, 'HEAD', '/data/missing')).status).toBe(404);
  });

  it.skipIf(!haveCurl)("answer curl's conditional GETs: -z DATE and an If-None-Match header", () => {
    const since = spawnSync('curl', ['-sS', '-i', '-z', lastModified, `${base}/data/obj`], { encoding: 'utf8' });
    expect(since.stdout).toMatch(/^HTTP\/1.1 304 Not Modified\r\n/);
    expect(since.stdout).toMatch(new RegExp(`\\r\\nETag: ${ETAG}\\r\\n`));
    expect(since.stdout.endsWith('\r\n\r\n')).toBe(true);
    const tag = spawnSync('curl', ['-sS', '-H', `If-None-Match: "${OTHER}"`, '-w', '\n%{http_code}', `${base}/data/obj`], { encoding: 'utf8' });
    expect(tag.stdout).toBe(`${BODY}\n200`);
    const match = spawnSync('curl', ['-sS', '-H', `If-None-Match: "${ETAG}"`, '-w', '%{http_code}', `${base}/data/obj`], { encoding: 'utf8' });
    expect(match.stdout).toBe('304');
  });
});

describe('PUT with If-None-Match', () => {
  it('stores with * only when the object does not exist: 201, then 412 and the first version stays', async () => {
    const first = await put('/data/once', 'first', { 'If-None-Match': '*' });
    expect(first.status).toBe(201);
    const second = await put('/data/once', 'second', { 'If-None-Match': '*' });
    expect(second.status).toBe(412);
    expect(await second.text()).toMatch(/If-None-Match: \* stores the object only if it does not exist/);
    expect(await (await get({}, 'GET', '/data/once')).text()).toBe('first');
    /* without the header a PUT replaces, as before */
    expect((await put('/data/once', 'third')).status).toBe(201);
    expect(await (await get({}, 'GET', '/data/once')).text()).toBe('third');
  });

  it('refuses any If-None-Match other than * with 400, as Swift (nothing stored)', async () => {
    const res = await put('/data/tagged', 'x', { 'If-None-Match': `"${ETAG}"` });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/If-None-Match only supports \* on PUT/);
    expect((await get({}, 'HEAD', '/data/tagged')).status).toBe(404);
  });

  it('lets exactly one of several simultaneous creates win', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => `racer ${i} `.repeat(20_000));
    const answers = await Promise.all(bodies.map((b) => put('/data/race', b, { 'If-None-Match': '*' })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201), String(statuses)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412), String(statuses)).toHaveLength(bodies.length - 1);
    const winner = answers.find((a) => a.status === 201)!;
    const stored = await get({}, 'GET', '/data/race');
    expect(stored.headers.get('etag')).toBe(winner.headers.get('etag'));
    expect(bodies).toContain(await stored.text());
  });
});
