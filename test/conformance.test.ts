/**
 * The conformance suite (conformance/) run through its runner, as users run
 * it: `zerovm conformance --engine E`, which drives `node bin/zerovm.js`
 * per case. Every case must pass on the native engine, and on the Unicorn
 * engine once src/emulator/unicorn.ts exists and the engine is available.
 * A deliberately wrong implementation must fail, with a readable diff.
 *
 * Engines that cannot run here are skipped with a loud reason locally and
 * fail under CI (CI=true), like the other engine tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeEngine } from '../src/engines/native.js';
import { loadSuite } from '../src/conformance/loader.js';
import { BIN, ROOT } from './cli.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-conformance-test-'));
const FULL_RUN_MS = 15 * 60_000;

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function conformance(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [BIN, 'conformance', ...args], { cwd: ROOT, encoding: 'utf8', timeout: FULL_RUN_MS, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Test and failure counts of a JUnit file written by the runner. */
function junitTotals(path: string): { tests: number; failures: number } {
  const m = /<testsuites [^>]*tests="(\d+)" failures="(\d+)"/.exec(readFileSync(path, 'utf8'));
  if (m === null) throw new Error(`${path} is not the runner's JUnit output`);
  return { tests: Number(m[1]), failures: Number(m[2]) };
}

const cases = loadSuite(join(ROOT, 'conformance'));
const sessionAreas = [...new Set(cases.filter((c) => c.kind === 'session').map((c) => c.area))];

/**
 * Runs the whole suite (or the given areas) on one engine and expects every
 * case to pass; cases of the `native-cpu` profile are skipped (reported, not
 * run) on an emulating engine.
 */
function expectAllPass(engine: string, areas?: readonly string[]): void {
  const junit = join(tmp, `${engine}.xml`);
  const r = conformance(['--engine', engine, '--quiet', '--junit', junit, '--work-dir', join(tmp, `work-${engine}`), ...(areas === undefined ? [] : ['--filter', areas.join(',')])]);
  expect(r.stderr).toBe('');
  expect(r.status, r.stdout).toBe(0);
  const totals = junitTotals(junit);
  const expected = areas === undefined ? cases.length : cases.filter((c) => areas.includes(c.area)).length;
  expect(totals).toEqual({ tests: expected, failures: 0 });
  const notRun = engine === 'unicorn' ? cases.filter((c) => c.profile === 'native-cpu' && (areas === undefined || areas.includes(c.area))).length : 0;
  expect(r.stdout).toMatch(new RegExp(`all ${expected - notRun} run cases passed`));
}

const nativeUnavailable = nativeEngine.unavailableReason();
if (nativeUnavailable !== null && !ci) console.warn(`\n*** conformance suite on the native engine SKIPPED: ${nativeUnavailable} ***\n`);

describe('the conformance suite on our engines', () => {
  it.skipIf(nativeUnavailable !== null && !ci)('native: every case passes (zerovm conformance --engine native)', () => {
    expectAllPass('native');
  }, FULL_RUN_MS);

  /*
   * Unicorn: run once the engine exists. Availability is asked of the
   * command line itself (a -F session), so this test needs no module of
   * the engine at compile time.
   */
  const unicornSource = existsSync(join(ROOT, 'src', 'emulator', 'unicorn.ts'));
  let unicornUnavailable: string | null = unicornSource ? null : 'src/emulator/unicorn.ts does not exist yet';
  if (unicornSource) {
    const manifest = join(tmp, 'probe.manifest');
    writeFileSync(
      manifest,
      [
        'Version = 20130611',
        `Program = ${join(ROOT, 'conformance', 'programs', 'exit42.nexe')}`,
        'Timeout = 10',
        'Memory = 33554432, 0',
        'Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0',
        'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 1, 1',
        'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1, 1',
        '',
      ].join('\n'),
    );
    const probe = spawnSync(process.execPath, [BIN, '--engine', 'unicorn', '-F', manifest], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status !== 0) unicornUnavailable = `zerovm --engine unicorn -F exits ${String(probe.status)}: ${(probe.stderr || probe.stdout).trim().split('\n')[0] ?? ''}`;
  }
  if (unicornUnavailable !== null && !ci) console.warn(`\n*** conformance suite on the unicorn engine SKIPPED: ${unicornUnavailable} ***\n`);

  it.skipIf(unicornUnavailable !== null && !ci)('unicorn: every session case passes (zerovm conformance --engine unicorn)', () => {
    expect(unicornUnavailable, 'CI runs the suite on both engines').toBeNull();
    expectAllPass('unicorn', sessionAreas);
  }, FULL_RUN_MS);
});

describe('the runner against a wrong implementation', () => {
  /*
   * A wrapper around our zerovm that lies: it adds 1 to the user return
   * code in the report and flips the first byte of the case's `out` file.
   */
  const liar = join(tmp, 'liar.mjs');
  writeFileSync(
    liar,
    `import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
const args = process.argv.slice(2);
const r = spawnSync(process.execPath, [${JSON.stringify(BIN)}, ...args], { encoding: 'utf8' });
const out = join(dirname(args[args.length - 1]), 'out');
if (existsSync(out)) { const b = readFileSync(out); if (b.length > 0) { b[0] ^= 1; writeFileSync(out, b); } }
const lines = r.stdout.split('\\n');
if (lines.length > 2) lines[2] = String(Number(lines[2]) + 1);
process.stdout.write(lines.join('\\n'));
process.exitCode = r.status ?? 1;
`,
  );

  it.skipIf(nativeUnavailable !== null && !ci)('fails, exit 1, with the differing fields and a line diff', () => {
    const r = conformance(['--impl', `${process.execPath} ${liar} {manifest}`, '--filter', 'trap/functions,state/registers', '--work-dir', join(tmp, 'work-liar')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL trap/functions');
    expect(r.stdout).toContain('report: user return code: expected 7, got "8"');
    expect(r.stdout).toContain('FAIL state/registers');
    expect(r.stdout).toContain('- 1: "rax 0000000000000000"');
    expect(r.stdout).toContain('+ 1: "sax 0000000000000000"');
    expect(r.stdout).toMatch(/2 of 2 run cases FAILED/);
    expect(r.stdout).toMatch(/^trap\s+1\s+0\s+1\s+0$/m);
  });

  it.skipIf(nativeUnavailable !== null && !ci)('an honest --impl template passes, and --tap prints TAP', () => {
    /* --unsafe: zerovm-ts runs the suite's -s case natively only when told it may (spec/runtime.md, Command lines) */
    const r = conformance(['--impl', `${process.execPath} ${BIN} --unsafe {options} {manifest}`, '--filter', 'cli,etags', '--tap', '--work-dir', join(tmp, 'work-tap')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('TAP version 13');
    expect(lines).toContain('ok 1 - cli/load-only - -F loads and validates, reports, and does not run the program');
    /* --impl runs the core profile only: this project's own etag pin is skipped */
    expect(r.stdout).toMatch(/^ok \d+ - etags\/memory-etag-value - .* # SKIP profile zerovm-ts/m);
    expect(r.stderr).toMatch(/all \d+ run cases passed/);
  });

  it('a bad command line exits 2 with the usage', () => {
    const r = conformance(['--impl', 'zerovm']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/must contain \{manifest\}/);
    expect(conformance(['--engine', 'native', '--impl', 'zerovm {manifest}']).stderr).toMatch(/cannot be combined/);
    expect(conformance(['--filter', 'no-such-area']).status).toBe(2);
    expect(conformance(['--help']).stdout).toMatch(/usage: zerovm conformance/);
  });
});
