/**
 * The conformance suite's core profile against the originals (the prebuilt
 * binaries beside the checkout): every session case passes on ZeroVM 2015,
 * every validator case on the reference validator of its policy (NaCl's
 * `ncval` for nacl, to the error offsets; ZeroVM 2015's `zvm-validate`,
 * which prints no offsets, for zerovm and deterministic, to the verdict),
 * except the cases marked as known deviations, which the runner must report
 * as such, by name, and nothing else. This is what makes the suite a
 * statement of what the originals do rather than of what we believe they
 * do.
 *
 * Run whenever ../shared/reference exists (CI has it); skipped loudly
 * otherwise. Under CI an original that is present but cannot start fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuite } from '../src/conformance/loader.js';
import { BIN, ROOT } from './cli.js';
import { CI, NACL_VALIDATOR, ORIGINAL_VALIDATOR, ORIGINAL_ZEROVM, originalValidatorsUnavailable, originalZerovmUnavailable, REFERENCE } from './original-zerovm.js';

const present = existsSync(REFERENCE);
const unavailable = originalZerovmUnavailable();
const skip = !present || (unavailable !== null && !CI);
if (skip) console.warn(`\n*** conformance suite against the original ZeroVM 2015 SKIPPED: ${unavailable ?? 'no reference'} ***\n`);

const cases = loadSuite(join(ROOT, 'conformance'));
const sessionAreas = [...new Set(cases.filter((c) => c.kind === 'session').map((c) => c.area))];
const deviations = cases.filter((c) => c.kind === 'session' && c.profile === 'core' && c.deviation !== undefined).map((c) => `${c.area}/${c.id}`);

describe.skipIf(skip)('the conformance suite against the original ZeroVM 2015', () => {
  it('every core session case passes, but the known deviations, which are reported as such', () => {
    expect(unavailable, 'CI installs libglib2.0-0 and libzmq5 for the original').toBeNull();
    const tmp = mkdtempSync(join(tmpdir(), 'zerovm-conformance-reference-'));
    const junit = join(tmp, 'reference.xml');
    const r = spawnSync(
      process.execPath,
      [BIN, 'conformance', '--impl', `${ORIGINAL_ZEROVM} {options} {manifest}`, '--filter', sessionAreas.join(','), '--junit', junit, '--work-dir', join(tmp, 'work')],
      { cwd: ROOT, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(r.status, r.stdout.split('\n').filter((l) => l.startsWith('FAIL') || l.startsWith('    ')).slice(0, 60).join('\n')).toBe(0);
    const reported = [...r.stdout.matchAll(/^dev {2}(\S+) /gm)].map((m) => m[1]);
    expect(reported.sort()).toEqual([...deviations].sort());
    for (const name of deviations) expect(r.stdout).toMatch(new RegExp(`^dev {2}${name} [^\\n]*\\n {4}known deviation of ZeroVM 2015: \\S`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`all \\d+ run cases passed, ${deviations.length} known deviations of ZeroVM 2015`));
    expect(readFileSync(junit, 'utf8')).toMatch(/failures="0"/);
  }, 600_000);
});

const validatorsUnavailable = originalValidatorsUnavailable();
const skipValidators = !present || (validatorsUnavailable !== null && !CI);
if (skipValidators) console.warn(`\n*** conformance validator cases against NaCl's and ZeroVM 2015's validators SKIPPED: ${validatorsUnavailable ?? 'no reference'} ***\n`);

/** A validator case's name, and who its deviation is of. */
function validatorDeviations(reference: 'nacl' | 'zerovm'): string[] {
  return cases
    .filter((c) => c.kind === 'validator' && c.profile === 'core' && c.features === undefined && c.deviation !== undefined && (reference === 'nacl') === (c.policy === 'nacl'))
    .map((c) => `${c.area}/${c.id}`);
}

describe.skipIf(skipValidators)("the conformance suite's validator cases against the originals' validators", () => {
  /** Runs the validator area with the given validator options; the cases with a CPU feature set are skipped (neither original takes one). */
  function run(options: readonly string[]): { stdout: string; status: number | null; reported: string[] } {
    const tmp = mkdtempSync(join(tmpdir(), 'zerovm-conformance-validators-'));
    const r = spawnSync(process.execPath, [BIN, 'conformance', '--impl', 'true {manifest}', '--filter', 'validator', ...options, '--work-dir', join(tmp, 'work')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout: r.stdout, status: r.status, reported: [...r.stdout.matchAll(/^dev {2}(\S+) /gm)].map((m) => m[1] as string).sort() };
  }
  const failures = (stdout: string): string => stdout.split('\n').filter((l) => l.startsWith('FAIL') || l.startsWith('    ')).slice(0, 60).join('\n');

  it("the nacl cases: NaCl's ncval gives each verdict and error offset, but the known deviations", () => {
    expect(validatorsUnavailable).toBeNull();
    const r = run(['--validate-impl-nacl', `${NACL_VALIDATOR} --raw {raw} --base {base}`, '--validator-detail', 'offsets']);
    expect(r.status, failures(r.stdout)).toBe(0);
    expect(r.reported).toEqual(validatorDeviations('nacl').sort());
    expect(r.reported.length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^all [1-9]\d+ run cases passed, \d+ known deviations? of NaCl's validator/m);
  }, 300_000);

  it("the zerovm and deterministic cases: ZeroVM 2015's zvm-validate gives each verdict, but the known deviations (cpuid for deterministic)", () => {
    expect(validatorsUnavailable).toBeNull();
    const command = `${ORIGINAL_VALIDATOR} {raw} --base {base}`;
    const r = run(['--validate-impl-zerovm', command, '--validate-impl-deterministic', command, '--validator-detail', 'verdict']);
    expect(r.status, failures(r.stdout)).toBe(0);
    expect(r.reported).toEqual(validatorDeviations('zerovm').sort());
    expect(r.stdout).toMatch(/^all [1-9]\d+ run cases passed, \d+ known deviations? of ZeroVM 2015's validator/m);
  }, 300_000);
});
