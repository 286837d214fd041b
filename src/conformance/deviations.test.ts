/**
 * What the runner does with known deviations (of the original ZeroVM 2015
 * and of the reference validators), exact stdout expectations, and which
 * validator command runs a case, or why none can (conformance/README.md,
 * "Known deviations", "Validator cases"). The commands run are tiny shell
 * scripts: no engine is needed.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTemplate } from './command.js';
import { CaseFormatError, FORMAT_VERSION, parseCaseFile, type SessionCase, type ValidatorCase } from './format.js';
import type { RunSettings } from './outcome.js';
import { deviationReference, formatOutcome, formatSummary } from './results.js';
import { runSessionCase } from './session-case.js';
import { runValidatorCase, validatorCommand, type ValidatorCommands } from './validator-case.js';

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

describe('validator commands, and cases they cannot express', () => {
  const validatorCase = (policy: string, extra: Record<string, unknown> = {}): ValidatorCase =>
    parseCaseFile(
      { format: FORMAT_VERSION, area: 'v', cases: [{ kind: 'validator', id: 'v', title: 't', spec: 's', code: '90'.repeat(32), policy, expect: { valid: true, errors: [] }, ...extra }] },
      'v',
      'cases/v/x.json',
    )[0] as ValidatorCase;
  const template = (text: string) => parseTemplate(text, ['hex', 'raw', 'base', 'policy', 'features'], []);
  const any = (text: string): ValidatorCommands => ({ any: template(text), byPolicy: {} });

  it('{base} is substituted in every word that holds it', async () => {
    const { expandTemplate } = await import('./command.js');
    expect(expandTemplate(template('ncval --raw {raw} --base {base} at={base}'), { raw: '/r', base: '0x20000' })).toEqual(['ncval', '--raw', '/r', '--base', '0x20000', 'at=0x20000']);
  });

  it('a --validate-impl template without {policy} applies nacl only', () => {
    const ncval = any('ncval --raw {raw} --base {base}');
    expect(validatorCommand(ncval, validatorCase('nacl'))).toBe(ncval.any);
    expect(validatorCommand(ncval, validatorCase('deterministic'))).toMatch(/cannot select the deterministic policy .*--validate-impl-deterministic/);
    expect(validatorCommand(ncval, validatorCase('zerovm'))).toMatch(/cannot select the zerovm policy/);
  });

  it('a conditional selects its policy; a plain {policy} selects any', () => {
    const own = any('v {policy=deterministic?--deterministic} {raw}');
    expect(validatorCommand(own, validatorCase('deterministic'))).toBe(own.any);
    expect(validatorCommand(own, validatorCase('nacl'))).toBe(own.any);
    expect(validatorCommand(own, validatorCase('zerovm'))).toMatch(/zerovm/);
    const plain = any('v --policy {policy} {raw}');
    expect(validatorCommand(plain, validatorCase('zerovm'))).toBe(plain.any);
  });

  it('a per-policy command runs that policy\'s cases, before --validate-impl; a policy without a command is skipped', () => {
    const zvm = template('zvm-validate {raw} --base {base}');
    const ncval = template('ncval --raw {raw} --base {base}');
    const commands: ValidatorCommands = { any: ncval, byPolicy: { zerovm: zvm, deterministic: zvm } };
    expect(validatorCommand(commands, validatorCase('zerovm'))).toBe(zvm);
    expect(validatorCommand(commands, validatorCase('deterministic'))).toBe(zvm);
    expect(validatorCommand(commands, validatorCase('nacl'))).toBe(ncval);
    expect(validatorCommand({ any: undefined, byPolicy: { zerovm: zvm } }, validatorCase('nacl'))).toMatch(/no validator command for the nacl policy/);
  });

  it('a CPU feature set needs {features}', () => {
    expect(validatorCommand(any('v {raw}'), validatorCase('nacl', { features: '-AVX' }))).toMatch(/\{features\}/);
    expect(validatorCommand({ any: undefined, byPolicy: { nacl: template('v {raw}') } }, validatorCase('nacl', { features: '-AVX' }))).toMatch(/\{features\}/);
    expect(typeof validatorCommand(any('v --features={features} {raw}'), validatorCase('nacl', { features: '-AVX' }))).toBe('object');
  });
});

describe('known deviations of the reference validators', () => {
  /** A "validator" that calls every region valid. */
  const accepting = parseTemplate(`${printer('valid', 'Valid.\n')} {raw}`, ['raw'], []);
  const refused = (policy: string, deviation?: string): ValidatorCase =>
    parseCaseFile(
      {
        format: FORMAT_VERSION, area: 'v', cases: [{
          kind: 'validator', id: 'v', title: 't', spec: 's', code: policy === 'nacl' ? `0fa2${'90'.repeat(30)}` : '0fa2', policy, ...(deviation === undefined ? {} : { deviation }),
          expect: { valid: false, errors: ['0:nondeterministic-instruction'] },
        }],
      },
      'v',
      'cases/v/x.json',
    )[0] as ValidatorCase;

  it('a failing validator case with a deviation is reported as a deviation of its policy\'s reference', async () => {
    const outcome = await runValidatorCase(refused('deterministic', 'cpuid: accepted by ZeroVM 2015'), accepting, 'verdict', settings(true));
    expect(outcome.status).toBe('deviation');
    expect(formatOutcome(outcome)).toContain("known deviation of ZeroVM 2015's validator: cpuid: accepted by ZeroVM 2015");
    expect(formatSummary([outcome], 1)).toMatch(/all 1 run cases passed, 1 known deviation of ZeroVM 2015's validator/);
    expect(deviationReference(refused('nacl'))).toBe("NaCl's validator");
    expect(deviationReference(refused('zerovm'))).toBe("ZeroVM 2015's validator");
  });

  it('... as a failure for this implementation, and without a deviation', async () => {
    expect((await runValidatorCase(refused('deterministic', 'cpuid'), accepting, 'verdict', settings(false))).status).toBe('fail');
    expect((await runValidatorCase(refused('deterministic'), accepting, 'verdict', settings(true))).status).toBe('fail');
  });

  it('a deviation must say why', () => {
    expect(() => refused('zerovm', '')).toThrow(/say why the zerovm policy's reference validator/);
  });
});
