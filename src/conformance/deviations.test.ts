/**
 * What the runner does with the original's known deviations, exact
 * stdout expectations, and validator templates that cannot express a case
 * (conformance/README.md, "Known deviations of ZeroVM 2015", "Validator
 * cases"). The commands run are tiny shell scripts: no engine is needed.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTemplate } from './command.js';
import { CaseFormatError, FORMAT_VERSION, parseCaseFile, type SessionCase, type ValidatorCase } from './format.js';
import type { RunSettings } from './outcome.js';
import { formatOutcome, formatSummary } from './results.js';
import { runSessionCase } from './session-case.js';
import { inexpressible } from './validator-case.js';

const REPORT = '0\n0\n42\ndisable\n0.00 0.00 0 0 0 0 0 0 0 0\nok\n\n';

function sessionCase(extra: Record<string, unknown>, expect: Record<string, unknown>): SessionCase {
  const [c] = parseCaseFile(
    { format: FORMAT_VERSION, area: 'a', cases: [{ id: 'c', title: 'a case', spec: 'runtime.md#trap', manifest: ['Version = 20130611'], expect, ...extra }] },
    'a',
    'cases/a/x.json',
  );
  return c as SessionCase;
}

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-deviations-'));
/** An "implementation" that prints `stdout` and exits 0, whatever the manifest. */
function printer(name: string, stdout: string): string {
  const path = join(tmp, name);
  writeFileSync(path, `#!/bin/sh\nprintf '%s' '${stdout.replace(/'/g, "'\\''")}'\n`);
  chmodSync(path, 0o755);
  return path;
}

function settings(allowDeviations: boolean): RunSettings {
  const workDir = join(tmp, `work-${String(allowDeviations)}`);
  mkdirSync(workDir, { recursive: true });
  return { suiteRoot: tmp, workDir, cwd: tmp, strict: false, timeoutMs: 10_000, keep: false, allowDeviations };
}

describe('known deviations of ZeroVM 2015', () => {
  const deviating = sessionCase({ deviation: 'the original printed 43' }, { exitCode: 0, report: { userReturnCode: 43 } });

  it('a failing case with a deviation is reported as such for another implementation', async () => {
    const outcome = await runSessionCase(deviating, parseTemplate(`${printer('p42', REPORT)} {manifest}`, ['manifest'], ['manifest']), settings(true));
    expect(outcome.status).toBe('deviation');
    expect(formatOutcome(outcome)).toContain('known deviation of ZeroVM 2015: the original printed 43');
    expect(formatSummary([outcome], 1)).toMatch(/all 1 run cases passed, 1 known deviation of ZeroVM 2015/);
  });

  it('... and as a failure for this implementation', async () => {
    const outcome = await runSessionCase(deviating, parseTemplate(`${printer('p42b', REPORT)} {manifest}`, ['manifest'], ['manifest']), settings(false));
    expect(outcome.status).toBe('fail');
  });

  it('a deviation must say why', () => {
    expect(() => sessionCase({ deviation: ' ' }, { exitCode: 0 })).toThrow(CaseFormatError);
  });
});

describe('expect.stdout', () => {
  it('compares the whole of stdout', async () => {
    const c = sessionCase({}, { exitCode: 0, stdout: '' });
    const quiet = await runSessionCase(c, parseTemplate(`${printer('quiet', '')} {manifest}`, ['manifest'], ['manifest']), settings(false));
    expect(quiet.status).toBe('pass');
    const loud = await runSessionCase(c, parseTemplate(`${printer('loud', REPORT)} {manifest}`, ['manifest'], ['manifest']), settings(false));
    expect(loud.status).toBe('fail');
    expect(loud.differences[0]?.what).toBe('stdout');
  });
});

describe('validator templates that cannot express a case', () => {
  const validatorCase = (policy: string, features?: string): ValidatorCase =>
    parseCaseFile(
      { format: FORMAT_VERSION, area: 'v', cases: [{ kind: 'validator', id: 'v', title: 't', spec: 's', code: '90'.repeat(32), policy, ...(features === undefined ? {} : { features }), expect: { valid: true, errors: [] } }] },
      'v',
      'cases/v/x.json',
    )[0] as ValidatorCase;
  const template = (text: string) => parseTemplate(text, ['hex', 'raw', 'base', 'policy', 'features'], []);

  it('{base} is substituted in every word that holds it', async () => {
    const { expandTemplate } = await import('./command.js');
    expect(expandTemplate(template('ncval --raw {raw} --base {base} at={base}'), { raw: '/r', base: '0x20000' })).toEqual(['ncval', '--raw', '/r', '--base', '0x20000', 'at=0x20000']);
  });

  it('a template without {policy} applies the default policy only', () => {
    const ncval = template('ncval --raw {raw} --base {base}');
    expect(inexpressible(ncval, validatorCase('nacl'), 'nacl')).toBeUndefined();
    expect(inexpressible(ncval, validatorCase('deterministic'), 'nacl')).toMatch(/cannot select the deterministic policy/);
    expect(inexpressible(ncval, validatorCase('zerovm'), 'zerovm')).toBeUndefined();
  });

  it('a conditional selects its policy; a plain {policy} selects any', () => {
    const own = template('v {policy=deterministic?--deterministic} {raw}');
    expect(inexpressible(own, validatorCase('deterministic'), 'nacl')).toBeUndefined();
    expect(inexpressible(own, validatorCase('nacl'), 'nacl')).toBeUndefined();
    expect(inexpressible(own, validatorCase('zerovm'), 'nacl')).toMatch(/zerovm/);
    expect(inexpressible(template('v --policy {policy} {raw}'), validatorCase('zerovm'), 'nacl')).toBeUndefined();
  });

  it('a CPU feature set needs {features}', () => {
    expect(inexpressible(template('v {raw}'), validatorCase('nacl', '-AVX'), 'nacl')).toMatch(/\{features\}/);
    expect(inexpressible(template('v --features={features} {raw}'), validatorCase('nacl', '-AVX'), 'nacl')).toBeUndefined();
  });
});
