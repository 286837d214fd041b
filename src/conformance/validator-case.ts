/**
 * Runs one validator case through the implementation's validate command
 * for the case's policy: the code region is written as hex text ({hex})
 * and raw bytes ({raw}), exactly the case's bytes, the command runs, and
 * its verdict (exit status 0 valid, 1 invalid) and errors are compared
 * with the case.
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
 * `zerovm validate --json` prints; without one, lines `<hex address>:
 * <message>` as NaCl's `ncval` prints them (its warnings are no errors).
 *
 * Which command runs a case (`ValidatorCommands`, conformance/README.md
 * "Against another implementation"): the one given for its policy
 * (`--validate-impl-<policy>`), else the one for any policy it can select
 * (`--validate-impl`); a case no command can express is skipped with the
 * reason.
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
 * The validator commands of a run. `any` (--validate-impl) runs the cases
 * of every policy its template can select: with `{policy}`, any; with
 * `{policy=NAME?...}`, NAME; and `nacl`, the policy a command applies when
 * it is told none. `byPolicy` (--validate-impl-<policy>) runs that
 * policy's cases, and comes first.
 */
export interface ValidatorCommands {
  readonly any: CommandTemplate | undefined;
  readonly byPolicy: Partial<Readonly<Record<ValidationPolicyName, CommandTemplate>>>;
}

/** The policy a validator command applies when its template does not select one. */
export const UNSELECTED_POLICY: ValidationPolicyName = 'nacl';

/**
 * The command that runs a case, or why none can: no command for its
 * policy, a template that cannot select the policy, or a CPU feature set
 * and a template without `{features}`.
 */
export function validatorCommand(commands: ValidatorCommands, c: ValidatorCase): CommandTemplate | string {
  const own = commands.byPolicy[c.policy];
  const template = own ?? commands.any;
  if (template === undefined) return `no validator command for the ${c.policy} policy (--validate-impl-${c.policy}, or --validate-impl with {policy})`;
  const { plain, tested } = placeholders(template);
  const selectable = own !== undefined || plain.has('policy') || tested.get('policy')?.has(c.policy) === true || c.policy === UNSELECTED_POLICY;
  if (!selectable) {
    return `the validator command cannot select the ${c.policy} policy (its template has no {policy} or {policy=${c.policy}?...}, so it applies ${UNSELECTED_POLICY}; --validate-impl-${c.policy} names a command for it)`;
  }
  if (c.features !== undefined && !plain.has('features')) return 'the validator command cannot be given a CPU feature set (its template has no {features})';
  return template;
}

export const VALIDATOR_DETAILS: readonly ValidatorDetail[] = ['verdict', 'offsets', 'rules'];

/** Hex text of a region: 16 bytes a line (the empty region: an empty file). */
export function hexText(code: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < code.length; i += 16) lines.push(`${Buffer.from(code.subarray(i, i + 16)).toString('hex').replace(/(..)(?!$)/g, '$1 ')}\n`);
  return lines.join('');
}

interface ReportedError {
  readonly offset: number;
  readonly rule: string | undefined;
}

/**
 * The errors an implementation reported on stdout: a JSON object's
 * `errors`, or else NaCl's listing (`   20000: unrecognized instruction`
 * lines, hex addresses, warnings left out); undefined when stdout holds
 * neither.
 */
export function reportedErrors(stdout: string, base: number): ReportedError[] | undefined {
  return jsonErrors(stdout, base) ?? listingErrors(stdout, base);
}

function jsonErrors(stdout: string, base: number): ReportedError[] | undefined {
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

/** `ncval`'s lines `<hex address>: <message>` before `Valid.` / `Invalid.`; a message starting with `warning` is not an error. */
function listingErrors(stdout: string, base: number): ReportedError[] | undefined {
  const lines = stdout.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  const verdict = lines[lines.length - 1];
  if (verdict !== 'Valid.' && verdict !== 'Invalid.') return undefined;
  const errors: ReportedError[] = [];
  for (const line of lines.slice(0, -1)) {
    const m = /^([0-9a-fA-F]+): (.*)$/.exec(line);
    if (m === null) return undefined;
    if (!(m[2] as string).startsWith('warning')) errors.push({ offset: parseInt(m[1] as string, 16) - base, rule: undefined });
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
      differences.push({ what: 'errors', expected: 'a JSON object with "errors" (or NaCl\'s listing) on stdout', actual: 'none (use --validator-detail verdict for a validator without one)' });
    } else {
      /* under `offsets` an offset counts once: one instruction breaking two rules is one error line for NaCl */
      const distinct = (list: readonly string[]): string[] => (detail === 'rules' ? [...list] : [...new Set(list)]);
      const expected = distinct(detail === 'rules' ? c.expect.errors : c.expect.errors.map((e) => e.slice(0, e.indexOf(':'))));
      const got = distinct(errors.map((e) => (detail === 'rules' ? `${e.offset}:${e.rule ?? '?'}` : String(e.offset))));
      const sort = (list: readonly string[]): string[] => [...list].sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
      if (sort(expected).join(' ') !== sort(got).join(' ')) {
        differences.push({ what: detail === 'rules' ? 'errors (offset:rule)' : 'error offsets', expected: sort(expected).join(' ') || '(none)', actual: sort(got).join(' ') || '(none)' });
      }
    }
  }
  const failed = differences.length > 0;
  const deviates = failed && c.deviation !== undefined && settings.allowDeviations;
  if ((!failed || deviates) && !settings.keep) rmSync(dir, { recursive: true, force: true });
  if (deviates) return { case: c, status: 'deviation', differences, command: argv.join(' '), milliseconds: Date.now() - started };
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
