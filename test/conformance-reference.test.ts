/**
 * The conformance suite's core profile against the original ZeroVM 2015
 * (the prebuilt binary beside the checkout): every session case passes,
 * except the cases marked as known deviations of ZeroVM 2015, which the
 * runner must report as such, by name, and nothing else. This is what makes
 * the suite a statement of what the original does rather than of what we
 * believe it does.
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
import { CI, ORIGINAL_ZEROVM, originalZerovmUnavailable, REFERENCE } from './original-zerovm.js';

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
