import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectStore } from '../serve/store.js';
import { compileJob } from './compile.js';
import { parseJobDescription } from './description.js';
import { finishJob, parseMessage, Scrubber } from './finish.js';
import { failedNode } from './run-node.js';

describe('message/http and message/cgi outputs', () => {
  it('takes Content-Type and X-Object-Meta-* from a CGI header block and keeps the body', () => {
    const parsed = parseMessage(Buffer.from('Content-Type: text/html\r\nX-Object-Meta-Color: blue\r\nStatus: 200 OK\r\n\r\n<p>hi</p>'), 'cgi');
    expect(parsed).toEqual({ contentType: 'text/html', meta: { color: 'blue' }, body: Buffer.from('<p>hi</p>') });
  });

  it('skips an NPH status line, and accepts bare newlines', () => {
    const parsed = parseMessage(Buffer.from('HTTP/1.1 200 OK\nContent-Type: application/json\n\n{}'), 'http');
    expect(parsed.contentType).toBe('application/json');
    expect(parsed.body.toString()).toBe('{}');
  });

  it('keeps an output without a header block whole', () => {
    for (const text of ['just text, no blank line', 'not a header\n\nbody']) expect(parseMessage(Buffer.from(text), 'cgi')).toEqual({ meta: {}, body: Buffer.from(text) });
    expect(parseMessage(Buffer.from('Content-Type: x/y\n\nb'), 'http').body.toString()).toBe('Content-Type: x/y\n\nb');
  });
});

describe('Scrubber', () => {
  it('shows host paths as the names the user gave, and hides other server files', () => {
    const s = new Scrubber(new Map([['/srv/store/tmp/1/job-x/in-1', 'swift://a/c/o']]), ['/srv/store']);
    expect(s.scrub("cannot open /srv/store/tmp/1/job-x/in-1: no such file; also '/srv/store/data/abc'")).toBe("cannot open swift://a/c/o: no such file; also '<server file>'");
  });
});

describe('finishJob', () => {
  /* a real store and compiled job; the results are the plain data an executor returns */
  it('commits outputs of nodes that ended ok (parsed, at least min_size), none of failed ones, and aggregates headers', () => {
    const root = mkdtempSync(join(tmpdir(), 'zerovm-finish-'));
    try {
      const store = ObjectStore.open(root);
      store.putContainer('a', 'bin');
      store.putBytes('a', 'bin', 'p', Buffer.from('program'));
      store.putContainer('a', 'out');
      const description = parseJobDescription(
        JSON.stringify([
          { name: 'ok', exec: { path: 'swift://~/bin/p' }, devices: [{ name: 'stdout', path: 'swift://~/out/page', content_type: 'message/http' }, { name: 'stderr', path: 'swift://~/out/small', min_size: 10 }, { name: 'output' }] },
          { name: 'bad', exec: { path: 'swift://~/bin/p' }, devices: [{ name: 'stdout', path: 'swift://~/out/never' }] },
        ]),
        [],
        { maxNodes: 10 },
      );
      const job = compileJob(description, { account: 'a', storage: store, dir: store.acquireJobDir(), sysimages: new Map(), maxNodes: 10 });
      const [page, small, never] = job.outputs;
      writeFileSync(page!.file, 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Object-Meta-Lang: en\r\n\r\n<p>page</p>');
      writeFileSync(small!.file, 'short');
      writeFileSync(never!.file, 'half-done');
      const none = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };
      const ran = {
        name: 'ok',
        report: '',
        exitCode: 0,
        ok: true,
        engine: 'native',
        etags: [{ alias: '/dev/stdout', digest: 'ab' }],
        outputs: { '/dev/output': Buffer.from('response body') },
        validatorState: 0 as const,
        daemonState: 0 as const,
        userReturnCode: 3,
        accounting: { sysSeconds: 0.01, userSeconds: 0.02, local: { gets: 1, getBytes: 2, puts: 3, putBytes: 4 }, network: none },
        exitState: 'ok',
        seconds: 0.5,
      };
      const response = finishJob(job, { nodes: [ran, failedNode('bad', 'ValidationFailedError', `validation failed for ${root}/data/x`)] }, store, 1.25, new Scrubber(job.shownAs, [root]));
      expect(store.stat('a', 'out', 'page')).toMatchObject({ contentType: 'text/html', meta: { lang: 'en' }, size: 11 });
      expect(store.stat('a', 'out', 'small')).toBeUndefined();
      expect(store.stat('a', 'out', 'never')).toBeUndefined();
      expect(response.body.toString()).toBe('response body');
      const headers = Object.fromEntries(response.headers);
      expect(headers['X-Nexe-System']).toBe('ok,bad');
      expect(headers['X-Nexe-Status']).toBe('ok,ZeroVM did not run');
      expect(headers['X-Nexe-Retcode']).toBe('3,0');
      expect(headers['X-Nexe-Etag']).toBe('/dev/stdout ab,disabled');
      expect(headers['X-Nexe-Validation']).toBe('0,2');
      expect(headers['X-Nexe-Cdr-Line']).toBe('1.250, 0.500, 0.01 0.02 1 2 3 4 0 0 0 0, 1.250, 0.00 0.00 0 0 0 0 0 0 0 0');
      expect(headers['X-Nexe-Error']).toBe('bad: validation failed for <server file>');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
