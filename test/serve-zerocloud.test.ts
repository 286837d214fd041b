/**
 * The parts of ZeroCloud's API beyond the common requests, end to end on
 * the real server (spec/serving.md): Range GETs on objects (fetch and
 * curl), device modes as a C program's fstat() sees them, LOCAL_*
 * variables in a C program's environment, the /open/ URL form, and
 * scripts whose first line is `#! IMAGE PATH` or `#! /CONTAINER/OBJECT`.
 * The C programs are built with `zerovm cc`; without the toolchain their
 * cases are skipped with a loud reason (never under CI).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTar } from '../src/zapp/tar.js';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';
import { ci, warnIfSkipped, zerovmCc } from './toolchain/helpers.js';

const noC = warnIfSkipped('zerovm serve: device modes and LOCAL_* variables (C programs)');
const haveCurl = spawnSync('curl', ['--version'], { encoding: 'utf8' }).status === 0;
if (!haveCurl) {
  if (ci) throw new Error('curl is missing (Debian: curl; .ci/run installs it)');
  console.warn('\n*** zerovm serve Range GET with curl SKIPPED: curl is missing (Debian: curl) ***\n');
}

const C_PROGRAMS: Record<string, string> = {
  /* the environment, one variable a line */
  'env.c': `#include <stdio.h>
extern char **environ;
int main(void) {
  for (char **e = environ; *e != NULL; e++) puts(*e);
  return 0;
}
`,
  /* what fstat() says the standard channels and each named channel are */
  'stat.c': `#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
static char kind(int fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return '-';
  return S_ISREG(st.st_mode) ? 'f' : S_ISCHR(st.st_mode) ? 'c' : S_ISFIFO(st.st_mode) ? 'p' : S_ISBLK(st.st_mode) ? 'b' : '?';
}
int main(int argc, char **argv) {
  char line[256];
  int n = snprintf(line, sizeof line, "stdin %c stdout %c stderr %c", kind(0), kind(1), kind(2));
  for (int i = 1; i < argc; i++) n += snprintf(line + n, sizeof line - n, " %s %c", argv[i], kind(open(argv[i], O_RDONLY)));
  puts(line);
  return 0;
}
`,
  /* its arguments, one a line */
  'args.c': `#include <stdio.h>
int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) puts(argv[i]);
  return 0;
}
`,
};

/** 100 bytes whose every offset is visible: 00010203...99 cut to 100 characters. */
const DIGITS = Array.from({ length: 50 }, (_, i) => String(i).padStart(2, '0')).join('');

let dir = '';
let server: RunningServer;
let base = '';

async function put(path: string, body: string | Uint8Array = '', headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${base}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : Buffer.from(body), headers });
  expect(res.status, `PUT ${path}`).toBeLessThan(300);
  return res;
}

async function runJob(nodes: unknown): Promise<Response> {
  return fetch(base, { method: 'POST', body: JSON.stringify(nodes), headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' } });
}

async function script(text: string, path = ''): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', body: text, headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'text/x-script' } });
}

/** The LOCAL_* lines of env.nexe's output, as a record. */
function locals(output: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('LOCAL_') && eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return vars;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zerovm-serve-zerocloud-'));
  const members = [
    { path: 'wc.nexe', type: 'file' as const, data: readFileSync(join(EXAMPLES, 'wc.nexe')) },
    { path: 'bin/cat.nexe', type: 'file' as const, data: readFileSync(join(EXAMPLES, 'cat.nexe')) },
  ];
  if (!noC) {
    for (const [file, source] of Object.entries(C_PROGRAMS)) {
      writeFileSync(join(dir, file), source);
      const nexe = file.replace(/\.c$/, '.nexe');
      zerovmCc(['-O2', '-o', join(dir, nexe), join(dir, file)]);
      members.push({ path: nexe, type: 'file', data: readFileSync(join(dir, nexe)) });
    }
  }
  const tools = join(dir, 'tools.tar');
  writeFileSync(tools, writeTar(members));
  server = await startServer(['--store', join(dir, 'store'), '--workers', '2', '--sysimage', `tools=${tools}`, '--timeout', '10']);
  base = `${server.url}/v1/acct`;
  for (const c of ['bin', 'data', 'out', '.zvm']) await put(`/${c}`);
  await put('/bin/hello.nexe', readFileSync(join(EXAMPLES, 'hello.nexe')), { 'Content-Type': 'application/x-nexe' });
  await put('/bin/wc.nexe', readFileSync(join(EXAMPLES, 'wc.nexe')));
  await put('/bin/cat.nexe', readFileSync(join(EXAMPLES, 'cat.nexe')));
  if (!noC) for (const p of ['env', 'stat', 'args']) await put(`/bin/${p}.nexe`, readFileSync(join(dir, `${p}.nexe`)));
  await put('/data/digits', DIGITS, { 'Content-Type': 'text/x-digits', 'X-Object-Meta-Kind': 'numbers' });
  await put('/data/doc.txt', 'one\ntwo\n', { 'Content-Type': 'text/x-doc', 'X-Object-Meta-Color': 'blue' });
}, 300_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Range GETs', () => {
  const get = (range: string, extra: Record<string, string> = {}): Promise<Response> => fetch(`${base}/data/digits`, { headers: { Range: range, ...extra } });

  it('answer one range with 206, Content-Range and exactly its bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 10],
      ['bytes=90-', 90, 100],
      ['bytes=-5', 95, 100],
      ['bytes=95-200', 95, 100],
      ['bytes=-500', 0, 100],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(range);
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end - 1}/100`);
      expect(res.headers.get('content-length'), range).toBe(String(end - start));
      expect(res.headers.get('content-type')).toBe('text/x-digits');
      expect(res.headers.get('etag')).toBe(createHash('md5').update(DIGITS).digest('hex'));
      expect(await res.text(), range).toBe(DIGITS.slice(start, end));
    }
  });

  it('answer 416 with bytes */LENGTH and a message when no range is within the object', async () => {
    for (const range of ['bytes=100-', 'bytes=200-300', 'bytes=-0']) {
      const res = await get(range);
      expect(res.status, range).toBe(416);
      expect(res.headers.get('content-range')).toBe('bytes */100');
      expect(await res.text()).toMatch(/within the object's 100 bytes/);
    }
    const egregious = await get('bytes=0-50,1-50,2-50');
    expect(egregious.status).toBe(416);
    expect(await egregious.text()).toMatch(/overlapping ranges; ask for fewer/);
  });

  it('answer the whole object (200) for a malformed Range or an If-Range that does not match', async () => {
    for (const [range, extra] of [['bytes=5-2', {}], ['lines=1-2', {}], ['bytes=0-1', { 'If-Range': '"0000"' }]] as const) {
      const res = await get(range, extra);
      expect(res.status, range).toBe(200);
      expect(await res.text()).toBe(DIGITS);
    }
    const etag = createHash('md5').update(DIGITS).digest('hex');
    expect((await get('bytes=0-1', { 'If-Range': `"${etag}"` })).status).toBe(206);
  });

  it('answer several ranges as multipart/byteranges in the order asked', async () => {
    const res = await get('bytes=10-12,0-1');
    expect(res.status).toBe(206);
    const type = res.headers.get('content-type') ?? '';
    const boundary = /^multipart\/byteranges; boundary=(\w+)$/.exec(type)?.[1];
    expect(boundary, type).toBeDefined();
    const body = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(body).toBe(
      `--${boundary}\r\nContent-Type: text/x-digits\r\nContent-Range: bytes 10-12/100\r\n\r\n${DIGITS.slice(10, 13)}` +
        `\r\n--${boundary}\r\nContent-Type: text/x-digits\r\nContent-Range: bytes 0-1/100\r\n\r\n${DIGITS.slice(0, 2)}\r\n--${boundary}--\r\n`,
    );
  });

  it('leave HEAD with the headers of a GET without Range', async () => {
    const head = await fetch(`${base}/data/digits`, { method: 'HEAD', headers: { Range: 'bytes=0-9' } });
    const whole = await fetch(`${base}/data/digits`);
    await whole.arrayBuffer();
    expect(head.status).toBe(200);
    for (const name of ['content-type', 'content-length', 'etag', 'last-modified', 'x-timestamp', 'accept-ranges', 'x-object-meta-kind']) {
      expect(head.headers.get(name), name).toBe(whole.headers.get(name));
    }
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.headers.get('content-range')).toBeNull();
  });

  it.skipIf(!haveCurl)('serve curl -r (one range, and several)', () => {
    const one = spawnSync('curl', ['-sS', '-r', '20-29', '-w', '\n%{http_code}', `${base}/data/digits`], { encoding: 'utf8' });
    expect(one.stdout).toBe(`${DIGITS.slice(20, 30)}\n206`);
    const many = spawnSync('curl', ['-sS', '-i', '-r', '0-1,98-', `${base}/data/digits`], { encoding: 'utf8' });
    expect(many.stdout).toMatch(/^HTTP\/1.1 206 Partial Content\r\n/);
    expect(many.stdout).toMatch(/\r\nContent-Range: bytes 0-1\/100\r\n\r\n00\r\n/);
    expect(many.stdout).toMatch(/\r\nContent-Range: bytes 98-99\/100\r\n\r\n49\r\n--\w+--\r\n$/);
  });
});

describe('the /open/ URL form of open/1.0', () => {
  it('runs a nexe object, with ?args and ?content_type', async () => {
    const res = await fetch(`${server.url}/open/acct/bin/hello.nexe?content_type=text/x-hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello, world\n');
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    expect(res.headers.get('content-type')).toBe('text/x-hello');
  });

  it("runs the application registered for the object's content type, as the header does", async () => {
    const template = [{ name: 'show', exec: { path: 'swift://~/bin/cat.nexe' }, devices: [{ name: 'stdin', path: 'swift://~{.object_path}' }, { name: 'stdout', content_type: '{.type=text/plain}' }] }];
    await put('/.zvm/text/x-doc/config', JSON.stringify(template), { 'Content-Type': 'application/json' });
    const viaUrl = await fetch(`${server.url}/open/acct/data/doc.txt?type=text/x-shown`);
    expect(viaUrl.status).toBe(200);
    expect(await viaUrl.text()).toBe('one\ntwo\n');
    expect(viaUrl.headers.get('content-type')).toBe('text/x-shown');
    const viaHeader = await fetch(`${base}/data/doc.txt?type=text/x-shown`, { headers: { 'X-Zerovm-Execute': 'open/1.0' } });
    expect(await viaHeader.text()).toBe('one\ntwo\n');
  });

  it("fills templates written as ZeroCloud's code did: {.object_path} as the whole path", async () => {
    await put('/data/raw.log', 'a\nb\nc\n', { 'Content-Type': 'text/x-log' });
    const template = [{ name: 'count', exec: { path: '/bin/wc.nexe' }, devices: [{ name: 'stdin', path: '{.object_path}' }, { name: 'stdout' }] }];
    await put('/.zvm/text/x-log/config', JSON.stringify(template), { 'Content-Type': 'application/json' });
    const res = await fetch(`${server.url}/open/acct/data/raw.log`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('3 6\n');
  });

  it('runs a zapp object (a tar with boot/system.map) as its own job, and a tar without one by its type', async () => {
    const systemMap = [{ name: 'zapp', exec: { path: 'bin/cat.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/data/doc.txt' }, { name: 'stdout', content_type: 'text/x-from-zapp' }] }];
    const zapp = writeTar([
      { path: 'boot/system.map', type: 'file', data: Buffer.from(JSON.stringify(systemMap)) },
      { path: 'bin/cat.nexe', type: 'file', data: readFileSync(join(EXAMPLES, 'cat.nexe')) },
    ]);
    await put('/bin/show.zapp', zapp, { 'Content-Type': 'application/x-tar' });
    const res = await fetch(`${server.url}/open/acct/bin/show.zapp`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/x-from-zapp');
    expect(await res.text()).toBe('one\ntwo\n');
    await put('/bin/plain.tar', writeTar([{ path: 'readme', type: 'file', data: Buffer.from('no job here') }]), { 'Content-Type': 'application/x-tar' });
    const plain = await fetch(`${server.url}/open/acct/bin/plain.tar`);
    expect(plain.status).toBe(404);
    expect(await plain.text()).toMatch(/no application is registered for application\/x-tar/);
  });

  it('refuses other methods, other execute headers and paths that name no object, saying what to do', async () => {
    const post = await fetch(`${server.url}/open/acct/bin/hello.nexe`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(await post.text()).toMatch(/GET \/open\/ACCOUNT\/CONTAINER\/OBJECT runs the application/);
    const conflicting = await fetch(`${server.url}/open/acct/bin/hello.nexe`, { headers: { 'X-Zerovm-Execute': '1.0' } });
    expect(conflicting.status).toBe(400);
    expect(await conflicting.text()).toMatch(/leave the header out/);
    const noObject = await fetch(`${server.url}/open/acct/bin`);
    expect(noObject.status).toBe(400);
    expect(await noObject.text()).toMatch(/GET \/open\/ACCOUNT\/CONTAINER\/OBJECT/);
    const unknown = await fetch(`${server.url}/open/acct/data/digits`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toMatch(/no application is registered for text\/x-digits/);
    expect((await fetch(`${server.url}/v2/acct/data/digits`)).status).toBe(404);
  });
});

describe('scripts named #! IMAGE PATH and #! /CONTAINER/OBJECT', () => {
  it('runs the interpreter in each form, on the object POSTed to', async () => {
    for (const line of ['#! tools wc.nexe', '#!tools /wc.nexe', '#! wc.nexe', '#! /bin/wc.nexe', '#!file://tools:wc.nexe']) {
      const res = await script(`${line}\nthe script itself\n`, '/data/doc.txt');
      expect(res.status, line).toBe(200);
      expect(res.headers.get('x-nexe-status'), line).toBe('ok');
      expect(await res.text(), line).toBe('2 8\n');
    }
  });

  it('finds a program below a directory of the image', async () => {
    const res = await script('#! tools bin/cat.nexe\n', '/data/doc.txt');
    expect(await res.text()).toBe('one\ntwo\n');
  });

  it('refuses an unknown image (400) and a program the image lacks (404), without host paths', async () => {
    const unknown = await script('#! python bin/python\n');
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toMatch(/the image 'python', which is not a system image \(this server has tools\)/);
    const missing = await script('#! tools nothere.nexe\n');
    expect(missing.status).toBe(404);
    const text = await missing.text();
    expect(text).toMatch(/system image 'tools' has no file 'nothere.nexe'/);
    expect(text).not.toContain(dir);
  });

  it.skipIf(noC)('passes the words after the path as arguments, the script last', async () => {
    const res = await script('#! tools args.nexe -e "x y"\n');
    expect(await res.text()).toBe('script\n-e\n"x\ny"\n/dev/script\n');
  });
});

describe.skipIf(noC)('device modes: what fstat() says', () => {
  it('follows each device mode; without one, standard channels and files keep their defaults', async () => {
    const res = await runJob([
      {
        name: 'stat',
        exec: { path: 'swift://~/bin/stat.nexe', args: '/dev/input /dev/script /dev/output' },
        devices: [
          { name: 'stdin', path: 'swift://~/data/doc.txt', mode: 'char' },
          { name: 'stdout', mode: 'file' },
          { name: 'input', path: 'swift://~/data/digits', mode: 'pipe' },
          { name: 'script', path: 'swift://~/data/doc.txt' },
          { name: 'output', path: 'swift://~/out/unused', mode: 'block' },
        ],
      },
    ]);
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    expect(await res.text()).toBe('stdin c stdout f stderr c /dev/input p /dev/script f /dev/output f\n');
    const plain = await runJob([{ name: 'stat', exec: { path: 'swift://~/bin/stat.nexe', args: '/dev/input' }, devices: [{ name: 'stdin', path: 'swift://~/data/doc.txt' }, { name: 'stdout' }, { name: 'input', path: 'swift://~/data/digits' }] }]);
    expect(await plain.text()).toBe('stdin f stdout p stderr c /dev/input f\n');
  });

  it('refuses a mode that is not one of file, char, pipe, block, and one on the image', async () => {
    const bad = await runJob([{ name: 's', exec: { path: 'swift://~/bin/stat.nexe' }, devices: [{ name: 'stdout', mode: 'socket' }] }]);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/devices\[0\]\.mode: 'socket' is not one of file, char, pipe, block/);
    const image = await runJob([{ name: 's', exec: { path: 'swift://~/bin/stat.nexe' }, devices: [{ name: 'image', path: 'swift://~/data/doc.txt', mode: 'file' }] }]);
    expect(image.status).toBe(400);
  });
});

describe.skipIf(noC)('LOCAL_* variables in the environment', () => {
  it("describe the object the node reads: its length, type, etag, timestamp and metadata", async () => {
    const head = await fetch(`${base}/data/doc.txt`, { method: 'HEAD' });
    const res = await runJob([{ name: 'env', exec: { path: 'swift://~/bin/env.nexe', env: { LOCAL_OBJECT: 'forged' } }, devices: [{ name: 'stdin', path: 'swift://~/data/doc.txt' }, { name: 'stdout' }] }]);
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    expect(locals(await res.text())).toEqual({
      LOCAL_CONTENT_LENGTH: '8',
      LOCAL_CONTENT_TYPE: 'text/x-doc',
      LOCAL_HTTP_ETAG: head.headers.get('etag'),
      LOCAL_HTTP_X_TIMESTAMP: head.headers.get('x-timestamp'),
      LOCAL_HTTP_X_OBJECT_META_COLOR: 'blue',
      LOCAL_DOCUMENT_ROOT: '/dev/stdin',
      LOCAL_OBJECT: 'on',
      LOCAL_PATH_INFO: '/acct/data/doc.txt',
    });
  });

  it('describe the object the node writes, and are absent when it has none', async () => {
    const res = await runJob([{ name: 'env', exec: { path: 'swift://~/bin/env.nexe' }, devices: [{ name: 'stdout', path: 'swift://~/out/env.txt', content_type: 'text/x-env', meta: { Stage: 'one' } }] }]);
    expect(res.headers.get('x-nexe-status')).toBe('ok');
    const written = await (await fetch(`${base}/out/env.txt`)).text();
    expect(locals(written)).toEqual({ LOCAL_CONTENT_TYPE: 'text/x-env', LOCAL_HTTP_X_OBJECT_META_STAGE: 'one', LOCAL_DOCUMENT_ROOT: '/dev/stdout', LOCAL_OBJECT: 'on', LOCAL_PATH_INFO: '/acct/out/env.txt' });
    const none = await runJob([{ name: 'env', exec: { path: 'swift://~/bin/env.nexe' }, devices: [{ name: 'stdout' }] }]);
    expect(locals(await none.text())).toEqual({});
  });

  it('follow attach, and reach a script POSTed to an object', async () => {
    const attached = await runJob([{ name: 'env', exec: { path: 'swift://~/bin/env.nexe' }, attach: 'input', devices: [{ name: 'stdin', path: 'swift://~/data/doc.txt' }, { name: 'input', path: 'swift://~/data/digits' }, { name: 'stdout' }] }]);
    expect(locals(await attached.text())).toMatchObject({ LOCAL_DOCUMENT_ROOT: '/dev/input', LOCAL_PATH_INFO: '/acct/data/digits', LOCAL_CONTENT_LENGTH: '100', LOCAL_HTTP_X_OBJECT_META_KIND: 'numbers' });
    const fromScript = await script('#! tools env.nexe\n', '/data/digits');
    expect(locals(await fromScript.text())).toMatchObject({ LOCAL_DOCUMENT_ROOT: '/dev/stdin', LOCAL_PATH_INFO: '/acct/data/digits', LOCAL_CONTENT_TYPE: 'text/x-digits' });
  });
});
