/**
 * End-to-end: the original's command line `zerovm [options] MANIFEST`
 * through bin/zerovm.js. stdout of the program goes to a temp file named in
 * the manifest (channels refuse sockets, and spawnSync's pipes are sockets).
 * The runs that need an engine run on every engine (`--engine native` and
 * `--engine unicorn`, test/engine-matrix.ts), each skipped loudly when its
 * addon is not built and failing under CI=true; `auto`, the default, is
 * exercised by the runs without --engine.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, zerovm } from './cli.js';
import { availabilityTests, engineCases } from './engine-matrix.js';

const ENGINES = engineCases('zerovm MANIFEST / zerovm run end-to-end tests');
availabilityTests(ENGINES);
const noEngine = ENGINES.every((c) => c.skip);

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-e2e-'));
let counter = 0;
function manifest(program: string, header = 'Version = 20130611'): { path: string; out: string } {
  const n = counter++;
  const out = join(tmp, `out${n}`);
  const path = join(tmp, `m${n}.manifest`);
  writeFileSync(
    path,
    [
      header,
      `Program = ${program}`,
      'Timeout = 10',
      'Memory = 33554432, 0',
      'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
      `Channel = ${out}, /dev/stdout, 0, 0, 0, 0, 999, 999`,
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  return { path, out };
}

describe('zerovm MANIFEST (the original command line)', () => {
  it('a manifest error exits 14 with MANIFEST n: ...', () => {
    const m = manifest(join(ROOT, 'examples', 'hello.nexe'), 'Version = 1');
    const r = zerovm([m.path]);
    expect(r.status).toBe(14);
    expect(r.stdout.split('\n')[5]).toBe('MANIFEST 1: invalid manifest version');
  });

  it('a missing program exits 2', () => {
    const r = zerovm([manifest(join(tmp, 'absent.nexe')).path]);
    expect(r.status).toBe(2);
    expect(r.stdout.split('\n')[5]).toBe('program open error');
  });

  it('unsafe.nexe: validation failed, exit 8', () => {
    const r = zerovm([manifest(join(ROOT, 'examples', 'unsafe.nexe')).path]);
    expect(r.status).toBe(8);
    expect(r.stdout.split('\n').slice(0, 1)).toEqual(['1']);
    expect(r.stdout.split('\n')[5]).toBe('validation failed');
  });

  it('a bad command line prints the help and exits 22', () => {
    const r = zerovm(['-x', 'm.manifest']);
    expect(r.status).toBe(22);
    expect(r.stdout).toMatch(/usage: zerovm/);
  });

  it('an unknown --engine exits 22 and names the engines', () => {
    const r = zerovm(['--engine', 'bochs', 'm.manifest']);
    expect(r.status).toBe(22);
    expect(r.stderr).toBe("zerovm: unknown engine 'bochs' (native, unicorn, auto)\n");
    expect(zerovm(['-x']).stdout).toMatch(/--engine native\|unicorn\|auto/);
  });

  it.skipIf(noEngine)('without --engine (auto) hello runs', () => {
    const m = manifest(join(ROOT, 'examples', 'hello.nexe'));
    const r = zerovm([m.path]);
    expect([r.status, r.stderr, r.stdout.split('\n')[5]]).toEqual([0, '', 'ok']);
    expect(readFileSync(m.out, 'utf8')).toBe('hello, world\n');
  });
});

describe('zerovm run PROGRAM', () => {
  it('bad --channel and --env values exit 2 with a usage hint', () => {
    expect(zerovm(['run', '--channel', 'nonsense', 'examples/hello.nexe']).stderr).toMatch(/expected ALIAS=PATH/);
    expect(zerovm(['run', '--env', 'novalue', 'examples/hello.nexe']).status).toBe(2);
  });

  it('an unknown --engine exits 2', () => {
    const r = zerovm(['run', '--engine', 'bochs', 'examples/hello.nexe']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown engine 'bochs' \(native, unicorn, auto\)/);
  });

  it('a missing program exits 2 (ENOENT) with a message naming it', () => {
    const r = zerovm(['run', join(tmp, 'absent.nexe')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`zerovm run: cannot read the program ${join(tmp, 'absent.nexe')}: no such file\n`);
  });

  it('an invalid program exits 8 (ENOEXEC) with the validator\'s first errors', () => {
    const r = zerovm(['run', 'examples/unsafe.nexe']);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/^zerovm run: validation failed for the (native|unicorn) engine \(\d+ error\(s\)\): 0x[0-9a-f]+: /);
  });
});

for (const { name, skip } of ENGINES) {
  describe.skipIf(skip)(`${name} engine`, () => {
    it('hello prints "hello, world" into its stdout channel; ok, code 0', () => {
      const m = manifest(join(ROOT, 'examples', 'hello.nexe'));
      const r = zerovm(['--engine', name, m.path]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(readFileSync(m.out, 'utf8')).toBe('hello, world\n');
      const report = r.stdout.split('\n');
      expect(report.slice(0, 4)).toEqual(['0', '0', '0', 'disable']);
      expect(report[4]).toMatch(/ 0 0 1 13 0 0 0 0$/);
      expect(report[5]).toBe('ok');
    });

    it('-F -t 1 loads and stops; the report goes to the log (stderr with -v 1), joined with "; ", not to stdout', () => {
      const m = manifest(join(ROOT, 'examples', 'hello.nexe'));
      const quiet = zerovm(['--engine', name, '-F', '-t', '1', m.path]);
      expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, '', '']);
      const r = zerovm(['--engine', name, '-F', '-t', '1', '-v', '1', m.path]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^zerovm: 0; 0; 0; disable; .*; ok; ;$/m);
      expect(readFileSync(m.out, 'utf8')).toBe('');
    });

    it('-t 3 prefixes the report with its length; other modes print none; -t x is EFAULT with a report', () => {
      const m = manifest(join(ROOT, 'examples', 'hello.nexe'));
      const framed = zerovm(['--engine', name, '-F', '-t', '3', m.path]);
      expect(framed.status).toBe(0);
      const match = /^0x([0-9a-f]{6})/.exec(framed.stdout);
      expect(match).not.toBeNull();
      expect(Number.parseInt(match![1]!, 16)).toBe(Buffer.byteLength(framed.stdout) - 8);
      expect(framed.stdout.slice(8).split('\n').slice(0, 3)).toEqual(['0', '0', '0']);
      expect(zerovm(['--engine', name, '-F', '-t', '4', m.path]).stdout).toBe('');
      const bad = zerovm(['--engine', name, '-t', 'x', m.path]);
      expect(bad.status).toBe(14);
      expect(bad.stdout.split('\n')[0]).toBe('2');
      expect(bad.stdout.split('\n')[5]).toBe("MANIFEST 0: invalid numeric value 'x'");
    });

    it('zerovm run keeps what the shell redirected: stdout and stderr sharing one file (> out 2>&1), appending (>>)', () => {
      const out = join(tmp, `run-shared-${name}`);
      writeFileSync(out, 'before\n');
      const hello = join(ROOT, 'examples', 'hello.nexe');
      const command = `"${process.execPath}" "${BIN}" run --engine ${name} "${hello}" >> "${out}" 2>&1`;
      for (let i = 0; i < 2; i++) expect(spawnSync('sh', ['-c', command]).status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('before\nhello, world\nhello, world\n');
      const truncating = `"${process.execPath}" "${BIN}" run --engine ${name} "${hello}" > "${out}" 2>&1`;
      expect(spawnSync('sh', ['-c', truncating]).status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('hello, world\n');
    });

    it('runs hello with the host stdout (a file here) and exits with its code', () => {
      const out = join(tmp, `run-out-${name}`);
      const report = join(tmp, `run-report-${name}`);
      const fd = openSync(out, 'w');
      const errFd = openSync(join(tmp, `run-err-${name}`), 'w'); /* pipes are sockets, which channels refuse */
      const r = spawnSync(process.execPath, [BIN, 'run', '--engine', name, '--report', report, 'examples/hello.nexe', 'arg1'], {
        cwd: ROOT,
        stdio: ['ignore', fd, errFd],
        encoding: 'utf8',
        timeout: 60_000,
      });
      closeSync(fd);
      closeSync(errFd);
      expect(readFileSync(join(tmp, `run-err-${name}`), 'utf8')).toBe('');
      expect(r.status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('hello, world\n');
      expect(readFileSync(report, 'utf8').split('\n')[5]).toBe('ok');
    });

    it('--channel maps an extra file and --env reaches the nvram', () => {
      const input = join(tmp, 'input.txt');
      writeFileSync(input, 'one\ntwo\n');
      const out = join(tmp, `cat-out-${name}`);
      const fd = openSync(out, 'w');
      const inFd = openSync(input, 'r');
      const errFd = openSync(join(tmp, `cat-err-${name}`), 'w');
      const saved = join(tmp, `saved-${name}`);
      const r = spawnSync(process.execPath, [BIN, 'run', '--engine', name, '--save-dir', saved, '--env', 'GREETING=hi there', '--channel', `/dev/extra=${input}:ro`, 'examples/cat.nexe'], {
        cwd: ROOT,
        stdio: [inFd, fd, errFd],
        encoding: 'utf8',
        timeout: 60_000,
      });
      closeSync(fd);
      closeSync(inFd);
      closeSync(errFd);
      expect(readFileSync(join(tmp, `cat-err-${name}`), 'utf8')).toBe('');
      expect(r.status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('one\ntwo\n');
      expect(readFileSync(join(saved, 'manifest'), 'utf8')).toContain(`Channel = ${input}, /dev/extra, 1, 0,`);
      expect(readFileSync(join(saved, 'nvram'), 'utf8')).toContain('[env]\nname=GREETING,value=hi there');
    });

    it('works with socket stdio (Node child_process pipes)', () => {
      const hello = zerovm(['run', '--engine', name, 'examples/hello.nexe']);
      expect(hello.stderr).toBe('');
      expect([hello.status, hello.stdout]).toEqual([0, 'hello, world\n']);
      const wc = zerovm(['run', '--engine', name, 'examples/wc.nexe'], 'a\nbc\n');
      expect([wc.status, wc.stdout]).toEqual([0, '2 5\n']);
    });
  });
}
