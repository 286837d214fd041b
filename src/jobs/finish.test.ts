import { describe, expect, it } from 'vitest';
import { parseMessage, Scrubber } from './finish.js';

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
