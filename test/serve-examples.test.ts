/**
 * The examples of spec/serving.md end to end, built with `zerovm cc`:
 * the C word count (examples/wordcount: mappers over `*.txt` objects
 * connected to one reducer) on the server and with `zerovm job`, and the
 * Lua system image (examples/lua/build.sh) running scripts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './cli.js';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';
import { ci, warnIfSkipped, zerovmCc } from './toolchain/helpers.js';

const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';
let skip = warnIfSkipped('zerovm serve examples (word count, Lua image)');
if (!skip && !existsSync(LUA_SRC)) {
  if (ci) throw new Error(`Lua 5.2 sources missing at ${LUA_SRC} (Debian: librust-lua52-sys-dev)`);
  console.warn(`\n*** zerovm serve examples SKIPPED: Lua 5.2 sources missing at ${LUA_SRC} ***\n`);
  skip = true;
}

/** Texts with known words: book i has i copies of 'common', one 'onlyI', and 'Mixed' in two cases. */
function book(i: number): string {
  return `${'common '.repeat(i)}only${i}\nMixed mixed, MIXED!\n`;
}
const BOOKS = 5;

function expectedCounts(): string {
  const counts = new Map<string, number>();
  for (let i = 1; i <= BOOKS; i++) for (const w of book(i).toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([w, n]) => `${w} ${n}\n`)
    .join('');
}

describe.skipIf(skip)('zerovm serve examples', () => {
  let dir = '';
  let server: RunningServer;
  let base = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-examples-'));
    zerovmCc(['-O2', '-Wall', '-o', join(dir, 'mapper.nexe'), join(EXAMPLES, 'wordcount', 'mapper.c')]);
    zerovmCc(['-O2', '-Wall', '-o', join(dir, 'reducer.nexe'), join(EXAMPLES, 'wordcount', 'reducer.c')]);
    const lua = spawnSync('bash', [join(EXAMPLES, 'lua', 'build.sh'), join(dir, 'lua')], { encoding: 'utf8', timeout: 600_000 });
    if (lua.status !== 0) throw new Error(`examples/lua/build.sh failed:\n${lua.stderr}`);
    server = await startServer(['--store', join(dir, 'store'), '--workers', '2', '--sysimage', `lua=${join(dir, 'lua', 'lua.zapp')}`]);
    base = `${server.url}/v1/acct`;
    const put = (path: string, body: string | Buffer): Promise<Response> => fetch(`${base}${path}`, { method: 'PUT', body });
    for (const c of ['wordcount', 'books']) await put(`/${c}`, '');
    await put('/wordcount/mapper.nexe', readFileSync(join(dir, 'mapper.nexe')));
    await put('/wordcount/reducer.nexe', readFileSync(join(dir, 'reducer.nexe')));
    for (let i = 1; i <= BOOKS; i++) await put(`/books/book${i}.txt`, book(i));
    await put('/books/notes.md', 'not a .txt: no mapper reads this');
  }, 900_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts words with one mapper per *.txt object piped into one reducer', async () => {
    const res = await fetch(base, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: readFileSync(join(EXAMPLES, 'wordcount', 'job.json')) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-nexe-system')).toBe('map-1,map-2,map-3,map-4,map-5,reduce');
    expect(res.headers.get('x-nexe-status')).toBe('ok,ok,ok,ok,ok,ok');
    expect(await res.text()).toBe(expectedCounts());
    expect(await (await fetch(`${base}/wordcount/reducer.log`)).text()).toBe(`reducer: ${expectedCounts().split('\n').length - 1} words from ${BOOKS} mappers\n`);
  });

  it('runs a Lua script with the system image its #! line names, reading the object it is POSTed to', async () => {
    const script = readFileSync(join(EXAMPLES, 'lua', 'hello.lua'));
    const res = await fetch(`${base}/books/book2.txt`, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/x-lua' }, body: script });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello, zerovm serve from Lua 5.2\nthe object has 6 words\n');
    /* its LOCAL_* name the object: no warm start (each object would be a set-up of its own) */
    expect(res.headers.get('x-zerovm-warm')).toBeNull();
    const error = await fetch(base, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/x-lua' }, body: '#!file://lua:lua.nexe\nerror("boom")\n' });
    expect(error.headers.get('x-nexe-retcode')).toBe('1');
    expect(await error.text()).toBe('');
  });

  it('starts Lua scripts warm: the image\'s interpreter forks after its set-up, and later scripts start from that snapshot with their own input and output', async () => {
    const script = (n: number): string => `#!file://lua:lua.nexe\nlocal greet = require "greet"\ncount = (count or 0) + 1\nprint(greet.hello("request ${n}"), count, arg[0], io.read("*a"))\n`;
    const post = (n: number, body?: string): Promise<Response> =>
      fetch(base, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/x-lua', ...(body === undefined ? {} : { 'X-Zerovm-Source': `swift://~/scripts/s${n}.lua` }) }, ...(body === undefined ? { body: script(n) } : { body }) });
    const seen: string[] = [];
    const how: (string | null)[] = [];
    for (let n = 1; n <= 4; n++) {
      const res = await post(n);
      expect(res.status).toBe(200);
      seen.push(await res.text());
      how.push(res.headers.get('x-zerovm-warm'));
    }
    /* a global one request set is gone in the next: each starts from the set-up, not from the request before it */
    expect(seen).toEqual([1, 2, 3, 4].map((n) => `hello, request ${n} from Lua 5.2\t1\t/dev/script\t\n`));
    /* the pool's first meeting with the set-up key runs the set-up (one thread each at most), then requests start from its snapshot */
    expect(how.every((h) => h === 'set-up' || h === 'snapshot')).toBe(true);
    expect(how.filter((h) => h === 'snapshot').length).toBeGreaterThanOrEqual(2);
    /* a stored script with the request body as its stdin: warm too, and the body is that request's */
    await fetch(`${base}/scripts`, { method: 'PUT' });
    await fetch(`${base}/scripts/s5.lua`, { method: 'PUT', body: script(5) });
    const sourced = await post(5, 'the body');
    expect(await sourced.text()).toBe('hello, request 5 from Lua 5.2\t1\t/dev/script\tthe body\n');
    expect(sourced.headers.get('x-zerovm-warm')).toMatch(/^(set-up|snapshot)$/);
  });

  it('zerovm job runs the same job on the same store without a server and prints the response', async () => {
    const run = spawnSync(process.execPath, [BIN, 'job', join(EXAMPLES, 'wordcount', 'job.json'), '--store', join(dir, 'store'), '--account', 'acct', '--workers', '2'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const [head, body] = run.stdout.split('\n\n');
    expect(head).toMatch(/^HTTP\/1.1 200 OK\n/);
    expect(head).toContain('X-Nexe-Status: ok,ok,ok,ok,ok,ok');
    expect(body).toBe(expectedCounts());
    const refused = spawnSync(process.execPath, [BIN, 'job', join(EXAMPLES, 'wordcount', 'job.json'), '--store', join(dir, 'store'), '--account', 'acct', '--workers', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(refused.status).toBe(2);
    expect(refused.stdout).toMatch(/^HTTP\/1.1 400 Bad Request\n[\s\S]*connected jobs need worker threads/);
  });
});
