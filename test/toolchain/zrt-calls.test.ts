/**
 * zrt's descriptor and file-system calls beyond newlib's basic set (the
 * ones SQLite's unix VFS makes: pread/pwrite, fsync, ftruncate, fcntl,
 * ioctl, access, lstat, readlink, getcwd, the user ids, fchown, fchmod,
 * utimes, mkdir/rmdir, sleep): test/toolchain/zrt/file-calls.c calls each
 * one on an image file, a random read/write channel and a sequential
 * channel, and prints results and errno; the test checks every line
 * (toolchain/README.md, "The C library") and the channel's bytes after the
 * session. On every engine.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const skip = warnIfSkipped('zrt file calls');
const engines = engineCases('zrt file calls');

const EXPECTED = `getcwd = /
getcwd(small) = null Result too large
geteuid = 65534
open ro = 3
open ro O_RDWR = -1 Read-only file system
pread ro @6 = 5
  bytes: world
pread ro past end = 0
lseek ro (pread leaves it) = 0
pwrite ro = -1 Bad file number
ftruncate ro = -1 Read-only file system
fchmod ro = -1 Read-only file system
fcntl F_GETFL ro = 0
fcntl F_GETFD = 0
fcntl F_SETFD = 0
fcntl F_GETFD after = 1
fcntl F_SETLK = -1 Invalid argument
ioctl = -1 Not a character device
ioctl bad fd = -1 Bad file number
fsync ro = 0
fsync bad fd = -1 Bad file number
fcntl F_DUPFD 10 = 10
pread dup @0 = 5
access ro R_OK = 0
access ro W_OK = -1 Read-only file system
access missing = -1 No such file or directory
access rw R_OK|W_OK = 0
access /dev/out R_OK = -1 Permission denied
lstat ro = 0
  regular 1 size 12
lstat dir = 0
  dir 1
readlink ro = -1 Invalid argument
readlink missing = -1 No such file or directory
rmdir /data = -1 Read-only file system
rmdir missing = -1 No such file or directory
mkdir = -1 Function not implemented
utimes ro = -1 Read-only file system
utimes missing = -1 No such file or directory
open rw = 3
fcntl F_GETFL rw = 2
fstat rw = 0
  size 10
pwrite rw @8 = 4
fstat rw = 0
  size 12
lseek rw SEEK_END = 12
write rw = 2
fstat rw = 0
  size 14
ftruncate rw 20 = 0
fstat rw = 0
  size 20
ftruncate rw 20 again = 0
ftruncate rw 5 (shrink) = -1 Function not implemented
pread rw @6 = 8
  bytes: 67ABCDxy
pread rw at the end = 0
read rw at the end = 0
fsync rw = 0
fchown rw = -1 Not owner
pwrite sequential = -1 Illegal seek
pread sequential = -1 Illegal seek
sleep(3) left = 3
`;

describe.skipIf(skip)('zrt: the file calls SQLite needs', () => {
  let dir = '';
  let nexe = '';
  let image = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-zrt-calls-'));
    nexe = join(dir, 'file-calls.nexe');
    zerovmCc(['-O2', '-Wall', '-Werror', '-o', nexe, join(import.meta.dirname, 'zrt', 'file-calls.c')]);
    mkdirSync(join(dir, 'files', 'data'), { recursive: true });
    writeFileSync(join(dir, 'files', 'data', 'ro.txt'), 'hello world\n');
    image = join(dir, 'image.tar');
    const tar = spawnSync('tar', ['cf', image, '-C', join(dir, 'files'), '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(tar.stderr);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a program's own sleep(), access() and getcwd() win over zrt's (they are weak)", () => {
    const src = join(dir, 'own.c');
    writeFileSync(
      src,
      [
        '#include <stdio.h>',
        '#include <unistd.h>',
        'unsigned sleep(unsigned s) { return s + 40; }',
        'int access(const char *p, int m) { (void)p; return m + 7; }',
        'char *getcwd(char *b, size_t n) { (void)n; b[0] = 0x4f; b[1] = 0; return b; }',
        'int main(void) { char b[4]; printf("%u %d %s\\n", sleep(2), access("/", 1), getcwd(b, 4)); return 0; }',
      ].join('\n'),
    );
    const own = join(dir, 'own.nexe');
    zerovmCc(['-O2', '-o', own, src]);
    const engine = engines.find((e) => !e.skip);
    if (engine === undefined) return; // engineCases warned; CI fails in availabilityTests
    expect(runNexe(dir, own, { engine: engine.engine }).stdout).toBe('42 8 O\n');
  });

  for (const e of engines) {
    it.skipIf(e.skip)(`every call's result and errno (${e.name} engine)`, () => {
      const rw = join(dir, `rw-${e.name}.bin`);
      const out = join(dir, `out-${e.name}`);
      writeFileSync(rw, '0123456789');
      writeFileSync(out, '');
      const got = runNexe(dir, nexe, {
        image,
        engine: e.engine,
        channels: [
          { path: rw, alias: '/data/rw.bin', type: 3 },
          { path: out, alias: '/dev/out', type: 0, access: 'write' },
        ],
      });
      expect(got.exitState).toBe('ok');
      expect(got.stderr).toBe('');
      expect(got.stdout).toBe(EXPECTED);
      expect(got.code).toBe(0);
      expect(readFileSync(rw, 'latin1')).toBe('01234567ABCDxy\0\0\0\0\0\0');
    });
  }
});

availabilityTests(engines);
