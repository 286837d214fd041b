/**
 * End-to-end, through bin/zerovm.js: the command line's safety rules.
 *
 * - `zerovm WORD`: a word that is neither a command nor a file is an unknown
 *   command (`zerovm validate.` is a typo, not a manifest); a manifest
 *   file, whatever its name, still runs as the original's command line.
 * - Unvalidated code (`-s`, `--skip-validation`) runs on the native engine
 *   only with `--unsafe`, and then with a warning; on Unicorn it needs none
 *   (src/api/unvalidated.ts, spec/runtime.md "Command lines").
 * - `zerovm run`'s generated files (manifest, nvram) never overwrite a file
 *   of the session: a zapp's program named `nvram` or `manifest` runs, and a
 *   --save-dir holding the program is refused.
 *
 * conformance/programs/invalid.nexe fails validation (a `ret` it never
 * executes) and exits 7 when run unvalidated, so it is safe to run with -s.
 * Runs that need an engine are skipped loudly when it is not built, and fail
 * under CI=true (test/engine-matrix.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, zerovm, type CliRun } from './cli.js';
import { availabilityTests, engineCases } from './engine-matrix.js';

const ENGINES = engineCases('CLI safety end-to-end tests');
availabilityTests(ENGINES);
const [NATIVE, UNICORN] = ENGINES as [(typeof ENGINES)[0], (typeof ENGINES)[0]];

const HELLO = join(ROOT, 'examples', 'hello.nexe');
const INVALID = join(ROOT, 'conformance', 'programs', 'invalid.nexe');
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-safety-'));
let counter = 0;

/** A manifest for `program` in a fresh file, its stdout channel a file beside it. */
function manifest(program: string, header = 'Version = 20130611'): { path: string; out: string } {
  const n = counter++;
  const out = join(tmp, `out${n}`);
  const path = join(tmp, `m${n}.manifest`);
  const lines = [header, `Program = ${program}`, 'Timeout = 10', 'Memory = 33554432, 0'];
  lines.push('Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0', `Channel = ${out}, /dev/stdout, 0, 0, 0, 0, 999, 999`, 'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999', '');
  writeFileSync(path, lines.join('\n'));
  return { path, out };
}

/** `zerovm ARGS` run from `cwd`. */
function zerovmIn(cwd: string, args: readonly string[]): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The report's lines: validator state, daemon, user return code, etags, accounting, exit state. */
const report = (r: CliRun): string[] => r.stdout.split('\n');

describe('zerovm WORD: a command, else a manifest file, else an unknown command', () => {
  it('a word with a dot that is no command and no file is an unknown command, with the list of commands', () => {
    for (const word of ['validate.', 'run.', 'hello.manifest', 'x.y.z']) {
      const r = zerovmIn(tmp, [word]);
      expect(r.status, word).toBe(2);
      expect(r.stdout, word).toBe('');
      expect(r.stderr, word).toMatch(new RegExp(`^zerovm: unknown command '${word.replace(/\./g, '\\.')}'`));
      expect(r.stderr, word).toMatch(/zerovm validate \[options\] PROGRAM\.nexe/);
      expect(r.stderr, word).toMatch(/zerovm run /);
    }
  });

  it('a manifest file runs as the original command line: relative or absolute, with or without dots', () => {
    const dir = join(tmp, 'dispatch');
    mkdirSync(dir);
    const bad = manifest(HELLO, 'Version = 1');
    const names = ['plainmanifest', 'my.session.manifest', 'validate.'];
    for (const name of names) copyFileSync(bad.path, join(dir, name));
    /* no engine needed: a manifest error is reported before one is used */
    for (const args of [...names.map((n) => [n]), ['./plainmanifest'], [join(dir, 'my.session.manifest')], ['-P', 'validate.']]) {
      const r = zerovmIn(dir, args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.status, args.join(' ')).toBe(14);
      expect(r.stdout, args.join(' ')).toMatch(/MANIFEST 1: invalid manifest version/);
    }
  });

  it('a path (a word with a /) that does not exist is the session\'s to report, as the original did', () => {
    const r = zerovmIn(tmp, ['./absent.manifest']);
    expect(r.stderr).not.toMatch(/unknown command/);
    expect(report(r)[5]).toBe('manifest open error');
  });
});

describe('unvalidated code: -s and --skip-validation', () => {
  it('-s on the native engine is refused without --unsafe: exit 22, no report, a message naming --unsafe', () => {
    /* refused before the engine is used, so this holds whether or not the native addon is built */
    const m = manifest(INVALID);
    const r = zerovm(['--engine', 'native', '-s', m.path]);
    expect(r.status).toBe(22);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^zerovm: -s refused on the native engine: it would run the program unvalidated.*Add --unsafe .*--engine unicorn\n$/);
    expect(existsSync(m.out)).toBe(false);
  });

  it('--skip-validation on the native engine is refused without --unsafe: exit 2, a message naming --unsafe', () => {
    const r = zerovm(['run', '--engine', 'native', '--skip-validation', INVALID]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^zerovm run: --skip-validation refused on the native engine: .*Add --unsafe/);
  });

  it('-sF on the native engine needs no --unsafe: nothing runs', () => {
    const m = manifest(INVALID);
    const r = zerovm(['--engine', 'native', '-sF', m.path]);
    expect(r.stderr).not.toMatch(/refused/);
    if (NATIVE.skip) return;
    expect([r.status, report(r)[0], report(r)[5]]).toEqual([0, '2', 'ok']);
  });

  describe.skipIf(NATIVE.skip)('native engine, with --unsafe', () => {
    it('-s --unsafe runs the program unvalidated (validator state 2, its code 7) with a warning on stderr', () => {
      for (const args of [['--engine', 'native', '-s', '--unsafe'], ['--unsafe', '-s']]) {
        const m = manifest(INVALID);
        const r = zerovm([...args, m.path]);
        expect(r.stderr, args.join(' ')).toBe('zerovm: warning: -s --unsafe: the program runs unvalidated on the native engine; nothing keeps it inside its sandbox\n');
        expect([r.status, report(r)[0], report(r)[2], report(r)[5]], args.join(' ')).toEqual([0, '2', '7', 'ok']);
      }
    });

    it('run --skip-validation --unsafe runs it, with a warning on stderr', () => {
      const r = zerovm(['run', '--engine', 'native', '--skip-validation', '--unsafe', INVALID]);
      expect(r.stderr).toBe('zerovm run: warning: --skip-validation --unsafe: the program runs unvalidated on the native engine; nothing keeps it inside its sandbox\n');
      expect(r.status).toBe(7);
    });

    it('auto picks native here, so it is refused there too', () => {
      const r = zerovm(['run', '--skip-validation', INVALID]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/refused on the native engine/);
    });
  });

  describe.skipIf(UNICORN.skip)('unicorn engine: allowed, no --unsafe, no warning', () => {
    it('-s runs the program unvalidated', () => {
      const m = manifest(INVALID);
      const r = zerovm(['--engine', 'unicorn', '-s', m.path]);
      expect(r.stderr).toBe('');
      expect([r.status, report(r)[0], report(r)[2], report(r)[5]]).toEqual([0, '2', '7', 'ok']);
    });

    it('run --skip-validation runs it', () => {
      const r = zerovm(['run', '--engine', 'unicorn', '--skip-validation', INVALID]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(7);
    });
  });
});

describe("zerovm run: generated files never overwrite the session's own", () => {
  const anyEngine = ENGINES.find((c) => !c.skip);

  describe.skipIf(anyEngine === undefined)('a zapp whose program is named like a generated file', () => {
    for (const name of ['nvram', 'manifest']) {
      it(`a program named '${name}' runs (it is extracted beside, not under, the generated ${name})`, () => {
        const dir = join(tmp, `zapp-${name}`);
        mkdirSync(dir);
        const program = join(dir, name);
        copyFileSync(HELLO, program);
        const zapp = join(dir, 'app.zapp');
        expect(zerovm(['bundle', '-o', zapp, '--program', program]).status).toBe(0);
        const saved = join(dir, 'saved');
        const r = zerovm(['run', '--engine', anyEngine!.name, '--save-dir', saved, zapp, 'arg']);
        expect(r.stderr).toBe('');
        expect([r.status, r.stdout]).toEqual([0, 'hello, world\n']);
        expect(readFileSync(join(saved, 'zapp', name)).equals(readFileSync(HELLO))).toBe(true);
        expect(readFileSync(join(saved, 'nvram'), 'utf8')).toContain(`[args]\nargs = ${name} arg`);
        expect(readFileSync(join(saved, 'manifest'), 'utf8')).toContain(`Program = ${join(saved, 'zapp', name)}`);
      });
    }
  });

  it('--save-dir holding the program (named nvram) is refused, and the program is left as it was', () => {
    const dir = join(tmp, 'save-dir-clash');
    mkdirSync(dir);
    const program = join(dir, 'nvram');
    copyFileSync(HELLO, program);
    /* refused before the engine is used */
    const r = zerovm(['run', '--engine', 'native', '--save-dir', dir, program]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`zerovm run: zerovm run writes its nvram file to ${program}, which is one of the session's own files: choose another --save-dir\n`);
    expect(readFileSync(program).equals(readFileSync(HELLO))).toBe(true);
    expect(existsSync(join(dir, 'manifest'))).toBe(false);
  });

  it('--save-dir holding a --channel file named manifest is refused', () => {
    const dir = join(tmp, 'save-dir-channel');
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest'), 'data\n');
    const r = zerovm(['run', '--engine', 'native', '--save-dir', dir, '--channel', `/dev/input=${join(dir, 'manifest')}`, HELLO]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/writes its manifest file to .*choose another --save-dir/);
    expect(readFileSync(join(dir, 'manifest'), 'utf8')).toBe('data\n');
  });
});
