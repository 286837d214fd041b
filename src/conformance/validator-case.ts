/**
 * Runs one validator case through the implementation's validate command:
 * the code region is written as hex text ({hex}) and raw bytes ({raw}),
 * the command runs, and its verdict (exit status 0 valid, 1 invalid) and
 * errors are compared with the case.
 *
 * Pipeline position: runner.ts -> here -> command.ts -> compare.ts ->
 * outcome.ts.
 *
 * How much is compared (`ValidatorDetail`, conformance/README.md):
 * `verdict` only the exit status; `offsets` also the sorted error offsets;
 * `rules` also each error's rule id (this project's ids, spec/validator.md
 * "Rule ids"). Offsets and rules come from a JSON object on stdout,
 * `{"errors": [{"offset": n, "rule": "id"}, ...]}` (`address` minus the
 * region's base stands in for a missing `offset`), which is what
 * `zerovm validate --json` prints.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandTemplate, runCommand, type CommandTemplate } from './command.js';
import type { Difference } from './compare.js';
import type { ValidationPolicyName, ValidatorCase } from './format.js';
import type { CaseOutcome, RunSettings } from './outcome.js';

export type ValidatorDetail = 'verdict' | 'offsets' | 'rules';

/** Placeholder names a template word holds (`{name}` and `{name=value?text}`), with the values it tests. */
function placeholders(template: CommandTemplate): { plain: Set<string>; tested: Map<string, Set<string>> } {
  const plain = new Set<string>();
  const tested = new Map<string, Set<string>>();
  for (const word of template.words) {
    for (const m of word.matchAll(/\{([a-z]+)(?:=([^?}]*)\?[^}]*)?\}/g)) {
      const name = m[1] as string;
      if (m[2] === undefined) plain.add(name);
      else tested.set(name, (tested.get(name) ?? new Set()).add(m[2]));
    }
  }
  return { plain, tested };
}

/**
 * Why a validator command cannot run a case, or undefined when it can: a
 * policy the template cannot select (it has no `{policy}`, no
 * `{policy=NAME?...}` for the case's policy, and the case's policy is not
 * the one the command applies by default, `defaultPolicy`), or a CPU
 * feature set it cannot pass (no `{features}`).
 */
export function inexpressible(template: CommandTemplate, c: ValidatorCase, defaultPolicy: ValidationPolicyName): string | undefined {
  const { plain, tested } = placeholders(template);
  const conditions = tested.get('policy');
  const selectable = plain.has('policy') || conditions?.has(c.policy) === true;
  if (!selectable && c.policy !== defaultPolicy) {
    return `the validator command cannot select the ${c.policy} policy (its template has no {policy} or {policy=${c.policy}?...}; --validator-policy names the policy it applies otherwise: ${defaultPolicy})`;
  }
  if (c.features !== undefined && !plain.has('features')) return `the validator command cannot be given a CPU feature set (its template has no {features})`;
  return undefined;
}
export const VALIDATOR_DETAILS: readonly ValidatorDetail[] = ['verdict', 'offsets', 'rules'];

/** Hex text of a region: 16 bytes a line. */
export function hexText(code: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < code.length; i += 16) lines.push(Buffer.from(code.subarray(i, i + 16)).toString('hex').replace(/(..)(?!$)/g, '$1 '));
  return `${lines.join('\n')}\n`;
}

interface ReportedError {
  readonly offset: number;
  readonly rule: string | undefined;
}

/** The errors of a JSON report on stdout, or undefined when stdout holds none. */
export function reportedErrors(stdout: string, base: number): ReportedError[] | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(stdout.slice(start));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { errors?: unknown }).errors)) return undefined;
  const errors: ReportedError[] = [];
  for (const item of (value as { errors: unknown[] }).errors) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { offset, address, rule } = item as { offset?: unknown; address?: unknown; rule?: unknown };
    const at = typeof offset === 'number' ? offset : typeof address === 'number' ? address - base : undefined;
    if (at === undefined) return undefined;
    errors.push({ offset: at, rule: typeof rule === 'string' ? rule : undefined });
  }
  return errors;
}

export async function runValidatorCase(c: ValidatorCase, template: CommandTemplate, detail: ValidatorDetail, settings: RunSettings): Promise<CaseOutcome> {
  const started = Date.now();
  const dir = mkdtempSync(join(settings.workDir, `${c.area}-${c.id}-`));
  const hex = join(dir, 'code.hex');
  const raw = join(dir, 'code.bin');
  writeFileSync(hex, hexText(c.code));
  writeFileSync(raw, c.code);
  const argv = expandTemplate(template, { hex, raw, base: `0x${c.base.toString(16)}`, policy: c.policy, features: c.features ?? '' });
  const result = await runCommand(argv, { cwd: settings.cwd, timeoutMs: settings.timeoutMs });
  const differences: Difference[] = [];
  const expectedStatus = c.expect.valid ? 0 : 1;
  if (result.spawnError !== undefined) differences.push({ what: 'command', expected: 'the validator to start', actual: result.spawnError });
  else if (result.timedOut) differences.push({ what: 'command', expected: `an exit within ${settings.timeoutMs / 1000} s`, actual: 'still running; killed' });
  else if (result.status !== expectedStatus) {
    const actual = result.status === 0 ? '0 (valid)' : result.status === 1 ? '1 (invalid)' : `${String(result.status ?? result.signal)} (neither 0 valid nor 1 invalid)`;
    differences.push({ what: 'verdict', expected: c.expect.valid ? '0 (valid)' : `1 (invalid: ${c.expect.errors.join(' ')})`, actual });
  }
  if (differences.length === 0 && detail !== 'verdict') {
    const errors = reportedErrors(result.stdout, c.base);
    if (errors === undefined) {
      differences.push({ what: 'errors', expected: 'a JSON object with "errors" on stdout', actual: 'none (use --validator-detail verdict for a validator without one)' });
    } else {
      const expected = detail === 'rules' ? c.expect.errors : c.expect.errors.map((e) => e.slice(0, e.indexOf(':')));
      const got = errors.map((e) => (detail === 'rules' ? `${e.offset}:${e.rule ?? '?'}` : String(e.offset)));
      const sort = (list: readonly string[]): string[] => [...list].sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
      if (sort(expected).join(' ') !== sort(got).join(' ')) {
        differences.push({ what: detail === 'rules' ? 'errors (offset:rule)' : 'error offsets', expected: sort(expected).join(' ') || '(none)', actual: sort(got).join(' ') || '(none)' });
      }
    }
  }
  const failed = differences.length > 0;
  if (!failed && !settings.keep) rmSync(dir, { recursive: true, force: true });
  return {
    case: c,
    status: failed ? 'fail' : 'pass',
    differences,
    command: argv.join(' '),
    ...(failed || settings.keep ? { kept: dir } : {}),
    ...(failed && result.stderr.length > 0 ? { stderr: result.stderr.split('\n').slice(0, 6).join('\n') } : {}),
    milliseconds: Date.now() - started,
  };
}
