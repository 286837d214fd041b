/**
 * ProgramShelf: one Program per file while the file stays the same,
 * whatever path reaches it, and a new one as soon as the file changes,
 * also right after the same file was loaded (the shelf's shortcut for a
 * run of nodes of one program).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProgramShelf } from './run-node.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-shelf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('ProgramShelf', () => {
  it('gives the same Program for the same file, under any path, until the file changes', () => {
    const shelf = new ProgramShelf();
    const a = join(tmp, 'a.nexe');
    copyFileSync(HELLO, a);
    const first = shelf.load(a, undefined);
    expect(shelf.load(a, undefined)).toBe(first);
    /* another path to the same file (a server links each job's program) */
    const linked = join(tmp, 'linked.nexe');
    linkSync(a, linked);
    expect(shelf.load(linked, undefined)).toBe(first);
    expect(shelf.load(a, undefined)).toBe(first);
    /* another engine is another entry */
    const native = shelf.load(a, 'native');
    expect(native).not.toBe(first);
    expect(shelf.load(a, undefined)).toBe(first);

    /* rewritten in place, right after a load of it: new bytes */
    writeFileSync(a, readFileSync(CAT));
    const rewritten = shelf.load(a, undefined);
    expect(rewritten).not.toBe(first);
    expect(rewritten.hash).toBe(sha256(CAT));
    expect(shelf.load(a, undefined)).toBe(rewritten);

    /* the same size, only its time changed */
    utimesSync(a, new Date(), new Date(Date.now() + 5000));
    expect(shelf.load(a, undefined)).not.toBe(rewritten);

    /* replaced by a rename (another inode under the same path) */
    const next = join(tmp, 'next.nexe');
    copyFileSync(HELLO, next);
    const before = shelf.load(a, undefined);
    renameSync(next, a);
    const renamed = shelf.load(a, undefined);
    expect(renamed).not.toBe(before);
    expect(renamed.hash).toBe(sha256(HELLO));
  });

  it('says what is wrong with a path it cannot stat, every time', () => {
    const shelf = new ProgramShelf();
    const missing = join(tmp, 'missing.nexe');
    expect(() => shelf.load(missing, undefined)).toThrow(/missing\.nexe/);
    copyFileSync(HELLO, missing);
    const loaded = shelf.load(missing, undefined);
    rmSync(missing);
    expect(() => shelf.load(missing, undefined)).toThrow(/missing\.nexe/);
    copyFileSync(CAT, missing);
    expect(shelf.load(missing, undefined)).not.toBe(loaded);
  });
});
