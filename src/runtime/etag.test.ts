/** Etags: streaming SHA-1 equal to the one-shot digest; the memory etag. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MEMORY_ETAG_ALIAS, memoryEtag, memoryEtagEntry, StreamingEtag } from './etag.js';

const sha1 = (data: Uint8Array | string): string => createHash('sha1').update(data).digest('hex');

describe('StreamingEtag', () => {
  it('an empty stream has the SHA-1 of nothing', () => {
    expect(new StreamingEtag().digest()).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  });

  it('chunks hash like the concatenated data, in lower-case hex', () => {
    const etag = new StreamingEtag();
    etag.update(Buffer.from('hello '));
    etag.update(new Uint8Array(0));
    etag.update(Buffer.from('world'));
    expect(etag.digest()).toBe(sha1('hello world'));
    expect(etag.digest()).toMatch(/^[0-9a-f]{40}$/);
    expect(etag.length).toBe(11);
  });

  it('taking a digest does not end the stream', () => {
    const etag = new StreamingEtag();
    etag.update(Buffer.from('ab'));
    expect(etag.digest()).toBe(sha1('ab'));
    etag.update(Buffer.from('c'));
    expect(etag.digest()).toBe(sha1('abc'));
  });

  it('hashes views that alias a larger buffer (sandbox memory) without copying them first', () => {
    const sandbox = new Uint8Array(new SharedArrayBuffer(64));
    sandbox.set(Buffer.from('xxpayloadxx'));
    const etag = new StreamingEtag();
    etag.update(sandbox.subarray(2, 9));
    expect(etag.digest()).toBe(sha1('payload'));
  });
});

describe('memory etag', () => {
  it('is the SHA-1 of the readable regions in the order given', () => {
    const regions = [Buffer.from('text'), Buffer.from('data'), Buffer.from('stack')];
    expect(memoryEtag(regions)).toBe(sha1('textdatastack'));
    expect(memoryEtagEntry(() => regions)).toEqual({ alias: MEMORY_ETAG_ALIAS, digest: sha1('textdatastack') });
    expect(MEMORY_ETAG_ALIAS).toBe('/dev/memory');
  });
});
