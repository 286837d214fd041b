import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeName, NameError, checkName } from './names.js';
import { BodyTooLargeError, ObjectStore, StoreError } from './store.js';

let root = '';
let store: ObjectStore;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'zerovm-store-'));
  store = ObjectStore.open(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Every file under a directory, as paths relative to it. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** Names built to escape: dots, slashes, NULs, percent signs, long and non-ASCII runs. */
const hostile = fc.oneof(
  fc.constantFrom('.', '..', '../..', '/', '//', '%2e%2e', '.name', '#', '%', 'a/../../b', '..\\..', 'x\u0000y', 'é', '\u{1F600}', '-', 'CON'),
  fc.array(fc.constantFrom('..', '.', '/', 'a', '%', '#', '\\', 'é', '\u0000', ' ', '~'), { minLength: 1, maxLength: 40 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
);

describe('names', () => {
  it('encodes so that no name is a path, a dot file or too long', () => {
    fc.assert(
      fc.property(hostile, (name) => {
        const encoded = encodeName(name);
        expect(encoded).not.toContain('/');
        expect(encoded).not.toContain('\0');
        expect(encoded.startsWith('.')).toBe(false);
        expect(encoded.length).toBeLessThanOrEqual(200);
        expect(encoded.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct names distinct encodings', () => {
    fc.assert(fc.property(hostile, hostile, (a, b) => a === b || encodeName(a) !== encodeName(b)), { numRuns: 2000 });
  });

  it('refuses empty, NUL, over-long and slash-holding account names', () => {
    expect(() => checkName('account', '')).toThrow(NameError);
    expect(() => checkName('container', 'a/b')).toThrow(/contains '\/'/);
    expect(() => checkName('object', 'a\0b')).toThrow(/NUL/);
    expect(() => checkName('object', 'x'.repeat(1025))).toThrow(/at most 1024/);
    expect(() => checkName('object', 'a/b/../c')).not.toThrow();
  });
});

describe('ObjectStore', () => {
  it('keeps every hostile object name inside the store, and gets back what was put', () => {
    store.putContainer('acct', 'c');
    const real = realpathSync(root);
    fc.assert(
      fc.property(hostile, fc.uint8Array({ maxLength: 64 }), (name, bytes) => {
        let valid = true;
        try {
          checkName('object', name);
        } catch {
          valid = false;
        }
        if (!valid) {
          expect(() => store.putBytes('acct', 'c', name, bytes)).toThrow(NameError);
          return;
        }
        store.putBytes('acct', 'c', name, bytes, { contentType: 'text/x-test' });
        const got = store.stat('acct', 'c', name);
        expect(got?.name).toBe(name);
        expect(readFileSync(got!.dataPath)).toEqual(Buffer.from(bytes));
        expect(got?.etag).toBe(createHash('md5').update(bytes).digest('hex'));
        for (const file of walk(root)) expect(relative(real, realpathSync(file)).startsWith('..')).toBe(false);
        expect(store.deleteObject('acct', 'c', name)).toBe(true);
        expect(store.stat('acct', 'c', name)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(store.listContainer('acct', 'c')).toEqual([]);
    /* deleted objects leave no data behind */
    expect(readdirSync(join(root, 'data'))).toEqual([]);
  });

  it('keeps hostile container and account names apart and lists them by their real names', () => {
    const names = ['..', '.', 'a b', '%2e', '.zvm', 'é', 'x'.repeat(256)];
    for (const n of names) expect(store.putContainer('..', n)).toBe(true);
    expect(store.putContainer('..', '..')).toBe(false);
    const listed = store.listAccount('..').map((c) => c.name);
    expect(new Set(listed)).toEqual(new Set(names));
    expect(readdirSync(root).sort()).toEqual(['accounts', 'data', 'tmp']);
  });

  it('replaces an object atomically: the old data file is never written, only unlinked', () => {
    store.putContainer('a', 'c');
    store.putBytes('a', 'c', 'o', Buffer.from('old'));
    const before = store.stat('a', 'c', 'o')!;
    const held = store.linkInto(before, store.makeTempDir('job'), 'input');
    store.putBytes('a', 'c', 'o', Buffer.from('new contents'), { meta: { color: 'blue' } });
    const after = store.stat('a', 'c', 'o')!;
    expect(readFileSync(held, 'utf8')).toBe('old');
    expect(readFileSync(after.dataPath, 'utf8')).toBe('new contents');
    expect(after.meta).toEqual({ color: 'blue' });
    expect(after.size).toBe(12);
    expect(() => statSync(before.dataPath)).toThrow();
  });

  it('lists in UTF-8 byte order with prefix, marker and limit', () => {
    store.putContainer('a', 'c');
    for (const n of ['b', 'a/2', 'a/1', 'é', 'Z']) store.putBytes('a', 'c', n, Buffer.from(n));
    expect(store.listContainer('a', 'c')!.map((o) => o.name)).toEqual(['Z', 'a/1', 'a/2', 'b', 'é']);
    expect(store.listContainer('a', 'c', { prefix: 'a/' })!.map((o) => o.name)).toEqual(['a/1', 'a/2']);
    expect(store.listContainer('a', 'c', { marker: 'a/2', limit: 1 })!.map((o) => o.name)).toEqual(['b']);
    expect(store.listContainer('a', 'nope')).toBeUndefined();
  });

  it('refuses writes into a missing container and deletes only empty ones', async () => {
    expect(() => store.putBytes('a', 'missing', 'o', Buffer.from('x'))).toThrow(StoreError);
    store.putContainer('a', 'c');
    store.putBytes('a', 'c', 'o', Buffer.from('x'));
    expect(store.deleteContainer('a', 'c')).toBe('not-empty');
    store.deleteObject('a', 'c', 'o');
    expect(store.deleteContainer('a', 'c')).toBe('deleted');
    expect(store.deleteContainer('a', 'c')).toBe('missing');
    await expect(store.putStream('a', 'c', 'o', Readable.from([Buffer.from('x')]), { maxBytes: 10 })).rejects.toThrow(StoreError);
  });

  it('streams uploads with their MD5 and stops one past its limit without leaving a trace', async () => {
    store.putContainer('a', 'c');
    const info = await store.putStream('a', 'c', 'big', Readable.from([Buffer.alloc(5, 1), Buffer.alloc(5, 2)]), { maxBytes: 10, contentType: 'x/y' });
    expect(info.etag).toBe(createHash('md5').update(Buffer.concat([Buffer.alloc(5, 1), Buffer.alloc(5, 2)])).digest('hex'));
    await expect(store.putStream('a', 'c', 'big', Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), { maxBytes: 10 })).rejects.toThrow(BodyTooLargeError);
    expect(store.stat('a', 'c', 'big')?.contentType).toBe('x/y');
    const [own] = readdirSync(join(root, 'tmp'));
    expect(readdirSync(join(root, 'tmp', own!))).toEqual([]);
  });

  it('stores onlyIfAbsent (PUT with If-None-Match: *) only when there is no object, and leaves no trace when refused', async () => {
    store.putContainer('a', 'c');
    const first = await store.putStream('a', 'c', 'once', Readable.from([Buffer.from('first')]), { maxBytes: 10, onlyIfAbsent: true });
    const dataFiles = readdirSync(join(root, 'data')).sort();
    const refused = store.putStream('a', 'c', 'once', Readable.from([Buffer.from('second')]), { maxBytes: 10, onlyIfAbsent: true });
    await expect(refused).rejects.toThrow(StoreError);
    await expect(refused).rejects.toMatchObject({ reason: 'exists' });
    expect(store.stat('a', 'c', 'once')?.etag).toBe(first.etag);
    expect(readdirSync(join(root, 'data')).sort()).toEqual(dataFiles);
    const [own] = readdirSync(join(root, 'tmp'));
    expect(readdirSync(join(root, 'tmp', own!))).toEqual([]);
    /* once deleted, it may be created again */
    store.deleteObject('a', 'c', 'once');
    expect((await store.putStream('a', 'c', 'once', Readable.from([Buffer.from('third')]), { maxBytes: 10, onlyIfAbsent: true })).etag).toBe(createHash('md5').update('third').digest('hex'));
  });

  it("removes tmp/ folders of processes that are gone, never a running one's", () => {
    mkdirSync(join(root, 'tmp', '999999999-dead'));
    writeFileSync(join(root, 'tmp', '999999999-dead', 'upload-half'), 'half');
    const other = ObjectStore.open(root);
    other.makeTempDir('job');
    const entries = readdirSync(join(root, 'tmp'));
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.startsWith(`${process.pid}-`))).toBe(true);
  });
});

describe('records read again', () => {
  it('a replaced, deleted or recreated object is seen at once, although records are kept parsed between reads', () => {
    store.putContainer('a', 'c');
    /* same size each time, and many times within one millisecond: only the record's inode tells them apart */
    for (let i = 0; i < 50; i++) {
      const body = `v${i % 10}`;
      store.putBytes('a', 'c', 'o', Buffer.from(body), { contentType: `text/x-${i}` });
      const seen = store.stat('a', 'c', 'o');
      expect(seen?.etag).toBe(createHash('md5').update(body).digest('hex'));
      expect(seen?.contentType).toBe(`text/x-${i}`);
      expect(store.stat('a', 'c', 'o')?.contentType).toBe(`text/x-${i}`);
      if (i % 7 === 0) {
        expect(store.deleteObject('a', 'c', 'o')).toBe(true);
        expect(store.stat('a', 'c', 'o')).toBeUndefined();
      }
    }
  });
});
