/**
 * The C library's build lock (libc.ts takeLock): one builder at a time,
 * and a lock left by a builder that died — with its pid, or, from older
 * versions, without one — never makes later builds wait forever.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { takeLock } from './libc.js';

describe('the C library build lock', () => {
  let dir = '';
  let lock = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-lock-'));
    lock = join(dir, 'key.lock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken with the holder pid already inside', () => {
    expect(takeLock(lock)).toBe(true);
    expect(readFileSync(join(lock, 'pid'), 'utf8')).toBe(String(process.pid));
  });

  it('is not taken while a live process holds it, and stays with that holder', () => {
    expect(takeLock(lock)).toBe(true);
    expect(takeLock(lock)).toBe(false);
    expect(readFileSync(join(lock, 'pid'), 'utf8')).toBe(String(process.pid));
  });

  it('left by a dead builder is removed, then taken', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), dead.stdout);
    expect(takeLock(lock)).toBe(false);
    expect(existsSync(lock)).toBe(false);
    expect(takeLock(lock)).toBe(true);
  });

  it('without a pid (a builder of an older version that died before writing it) is taken over', () => {
    mkdirSync(lock);
    expect(takeLock(lock)).toBe(true);
    expect(readFileSync(join(lock, 'pid'), 'utf8')).toBe(String(process.pid));
    // ... also when something else was left in it.
    rmSync(lock, { recursive: true });
    mkdirSync(lock);
    writeFileSync(join(lock, 'partial'), '');
    expect(takeLock(lock)).toBe(false);
    expect(takeLock(lock)).toBe(true);
  });
});
