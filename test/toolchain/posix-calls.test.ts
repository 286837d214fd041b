/**
 * End to end: the POSIX calls zrt answers beyond read and write
 * (test/toolchain/c/posix-calls.c, built with `zerovm cc`), in a session
 * with a random-access read/write channel, a sequential one, a tar image at
 * '/', an nvram [time] and LANG naming a locale that does not exist, on
 * every engine. Each result follows from the session's set-up: the file
 * the program wrote through dup'd descriptors is checked after the session
 * too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ROOT, runNexe, warnIfSkipped, zerovmCc, type ExtraChannel } from './helpers.js';

const skip = warnIfSkipped('POSIX calls of the C library');
const engines = engineCases('POSIX calls of the C library');

/** What the program prints on stdout, up to the point where it moves fd 1 onto stderr. */
const STDOUT = `fstat stdin: fifo
fstat stdout: fifo
fstat /dev/data: regular
fstat /dev/seq: fifo
stat /dev/data: regular 10
stat /notes.txt: regular 13
stat /sub: directory 0
stat /: directory 0
stat /missing: No such file or directory
isatty stdin: 0 Not a character device
isatty /dev/data: 0
isatty 42: 0 Bad file number
F_GETFL stdin: 0
F_GETFL stdout: 1
F_GETFL /dev/data: 2
F_GETFD: 0
F_SETFD: 0
F_GETFD after: 1
F_SETFL O_NONBLOCK: -1 Invalid argument
fcntl bad fd: -1 Bad file number
write: 2
dup: 5
F_GETFD of the dup: 0
lseek dup SEEK_CUR: 2
write dup: 2
lseek SEEK_CUR: 4
F_SETFL O_APPEND: 0
F_GETFL has O_APPEND: 1
lseek SEEK_SET 0: 0
append write: 3
lseek SEEK_END: 13
F_DUPFD 20: 20
close original: 0
pread through F_DUPFD's copy: 13
contents: abcd456789XYZ
dup2 to 7: 7
dup2 onto itself: 7
dup2 bad: -1 Bad file number
lseek stdin: -1 Illegal seek
lseek image SEEK_END: 13
`;

/** ... and on stderr, which fd 1 is from then on. */
const STDERR = `dup2 stderr onto stdout: 1
to stderr through fd 1
getcwd: /
chdir sub: 0
getcwd: /sub
getcwd(NULL, 0): /sub
getcwd small: NULL Result too large
relative open: deep line
chdir ..: 0
chdir /notes.txt: -1 Not a directory
chdir /missing: -1 No such file or directory
getcwd: /
time: 1700000000 gettimeofday: 1700000000.000000 utc: 2023-11-14 22:13:20
locale at start: C
setlocale "POSIX": C, now C
setlocale "C": C, now C
setlocale "de_DE.UTF-8": NULL, now C
setlocale "": C, now C
decimal point: . 3.50
`;

describe.skipIf(skip)('zrt: descriptors, stat modes, working directory, clock, locale', () => {
  let dir = '';
  let nexe = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-posix-calls-'));
    nexe = join(dir, 'posix-calls.nexe');
    zerovmCc(['-O2', '-Wall', '-Werror', '-o', nexe, join(ROOT, 'test', 'toolchain', 'c', 'posix-calls.c')]);
    mkdirSync(join(dir, 'files', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'files', 'notes.txt'), 'first\nsecond\n');
    writeFileSync(join(dir, 'files', 'sub', 'deeper.txt'), 'deep line\n');
    // No directory entries: /sub is a directory because a member lies under it.
    const tar = spawnSync('tar', ['cf', join(dir, 'files.tar'), '-C', join(dir, 'files'), 'notes.txt', 'sub/deeper.txt'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(tar.stderr);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const session = (engine: (typeof engines)[number]['engine'], stdio: 'pipe' | 'char') => {
    writeFileSync(join(dir, 'data.bin'), '0123456789');
    writeFileSync(join(dir, 'seq.bin'), '');
    const channels: ExtraChannel[] = [
      { path: join(dir, 'data.bin'), alias: '/dev/data', type: 3 },
      { path: join(dir, 'seq.bin'), alias: '/dev/seq', type: 0, access: 'read' },
    ];
    return runNexe(dir, nexe, { engine, stdio, channels, image: join(dir, 'files.tar'), timeSeconds: 1_700_000_000, env: { LANG: 'de_DE.UTF-8' } });
  };

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      it('every call answers as the session set-up implies', () => {
        const r = session(e.engine, 'pipe');
        expect(r.exitState).toBe('ok');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(STDOUT);
        expect(r.stderr).toBe(STDERR);
        // Writes through the descriptor, its dup and its F_DUPFD copy, the last one appending.
        expect(readFileSync(join(dir, 'data.bin'), 'utf8')).toBe('abcd456789XYZ');
      });
      it('standard channels mapped as char devices are terminals', () => {
        const r = session(e.engine, 'char');
        expect(r.code).toBe(0);
        const expected = STDOUT.replace('fstat stdin: fifo\nfstat stdout: fifo', 'fstat stdin: char\nfstat stdout: char').replace('isatty stdin: 0 Not a character device', 'isatty stdin: 1 Success');
        expect(r.stdout).toBe(expected);
      });
    });
  }
  describe.skipIf(engines.every((e) => e.skip))('zerovm run --time', () => {
    const zerovmRun = (args: readonly string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'run', ...args], { encoding: 'utf8', input: '' });
    it('sets the clock time() and gettimeofday() read; without it the clock reads 0', () => {
      // Without /dev/data and the image the program's other answers differ; its clock line is on stderr.
      const clockLine = (stderr: string): string | undefined => stderr.split('\n').find((l) => l.startsWith('time: '));
      const set = zerovmRun(['--time', '1700000000', nexe]);
      expect(set.status).toBe(0);
      expect(clockLine(set.stderr)).toBe('time: 1700000000 gettimeofday: 1700000000.000000 utc: 2023-11-14 22:13:20');
      const unset = zerovmRun([nexe]);
      expect(clockLine(unset.stderr)).toBe('time: 0 gettimeofday: 0.000000 utc: 1970-01-01 00:00:00');
    });
    it('refuses a clock that is not whole seconds', () => {
      const r = zerovmRun(['--time', 'yesterday', nexe]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--time 'yesterday': expected whole seconds since 1970/);
    });
  });
  availabilityTests(engines);
});
