/**
 * End-to-end, through bin/zerovm.js: the command line's safety rules.
 *
 * - `zerovm WORD`: a word that is neither a command nor a file is an unknown
 *   command (`zerovm validate.` is a typo, not a manifest); a manifest
 *   file, whatever its name, still runs as the original's command line.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, type CliRun } from './cli.js';

const HELLO = join(ROOT, 'examples', 'hello.nexe');
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
    for (const args of [...names.map((n) => [n]), ['./plainmanifest'], [join(dir, 'my.session.manifest')], ['-t', '1', 'validate.']]) {
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

