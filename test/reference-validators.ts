/**
 * The two originals' validators as a check on the test programs the engine
 * and differential tests run: a program a test runs as a session would must
 * pass both NaCl's `ncval` and ZeroVM 2015's `zvm-validate` (what a session
 * accepts is what both accept, cpuid aside: spec/validator.md, "The
 * policies"), and a program a test runs unvalidated, on purpose, must be
 * refused by at least one of them (else it should run validated).
 *
 * Pipeline position: test support. src/engines/native.test.ts,
 * src/emulator/unicorn.test.ts and test/differential/generator.test.ts ->
 * here -> src/validator/testing/oracles.ts (one batch process per
 * validator for all programs).
 *
 * The reference binaries are external, beside the checkout (or where
 * ZEROVM_REFERENCE points). Without them the checks are skipped with a loud
 * warning locally; under CI (CI=true or CI=1), which has them, their absence
 * fails the check instead.
 */
import { findReference, formatOracle, runOracle, type OracleVerdict } from '../src/validator/testing/oracles.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const reference = findReference();

/** Why the originals cannot be run here, or null. */
export const REFERENCE_MISSING: string | null =
  'missing' in reference ? `${reference.missing} not found (the reference binaries are external, beside the checkout; CI has them)` : null;

/** True when the checks against the originals are skipped (after saying so on stderr once per suite). */
export function skipReferenceChecks(suite: string): boolean {
  if (REFERENCE_MISSING === null || ci) return false;
  console.warn(`\n*** ${suite}: the check against NaCl's and ZeroVM 2015's validators is SKIPPED: ${REFERENCE_MISSING} ***\n`);
  return true;
}

/** A test program, by the name a failure message shows, and its code (padded with hlt to whole bundles). */
export interface NamedCode {
  readonly name: string;
  readonly code: Uint8Array;
}

/** Both originals' answers for one program. */
export interface Judged {
  readonly name: string;
  readonly ncval: OracleVerdict;
  readonly zvm: OracleVerdict;
}

/** Runs every program through both originals (one batch each, concurrently). */
export async function judge(programs: readonly NamedCode[]): Promise<Judged[]> {
  if ('missing' in reference) throw new Error(`the reference validators are required under CI: ${REFERENCE_MISSING ?? ''}`);
  const codes = programs.map((p) => p.code);
  const [ncval, zvm] = await Promise.all([runOracle(reference.paths, 'ncval', codes), runOracle(reference.paths, 'zvm-validate', codes)]);
  return programs.map((p, i) => ({ name: p.name, ncval: ncval[i]!, zvm: zvm[i]! }));
}

export function acceptedByBoth(j: Judged): boolean {
  return j.ncval.valid && j.zvm.valid;
}

/** "name: ncval: ...; zvm-validate: ..." for a failure message. */
export function describeJudged(j: Judged): string {
  return `${j.name}: ${formatOracle('ncval', j.ncval)}; ${formatOracle('zvm-validate', j.zvm)}`;
}

/**
 * The programs whose verdicts are not what the test says: those run
 * validated that an original refuses, those run unvalidated that both
 * accept. Empty when all is as claimed.
 */
export async function misclassified(validated: readonly NamedCode[], unvalidated: readonly NamedCode[]): Promise<string[]> {
  const judged = await judge([...validated, ...unvalidated]);
  return judged.flatMap((j, i) => {
    const runsValidated = i < validated.length;
    if (runsValidated === acceptedByBoth(j)) return [];
    return [`${runsValidated ? 'runs validated, but refused' : 'runs unvalidated, but both accept it'}: ${describeJudged(j)}`];
  });
}
