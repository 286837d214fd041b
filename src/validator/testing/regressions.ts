/**
 * The fixed regression cases of the differential tests: every disagreement
 * the generators found, kept as one line of a text table
 * (test/validator-oracle-regressions.txt) and checked on every run against
 * our validator (so it means something without the reference binaries)
 * and, when they are there, against the policy's oracle.
 *
 * Pipeline position: test support only.
 *
 * Format: one case per line, five columns separated by `|`:
 *
 *     <policy> | <valid|invalid> | <first error offset, decimal, or -> | <hex bytes> | <note>
 *
 * - policy: a validation policy with an oracle (oracles.ts, POLICY_ORACLES).
 * - verdict and first offset: the expected answer, which is the oracle's;
 *   the offset is `-` for valid cases and for oracles that print no offsets
 *   (zvm-validate).
 * - hex: the record, spaces allowed, `-` for the empty record; given to
 *   each oracle as the differential tests give it (oracles.ts: padded with
 *   hlt to whole bundles for ncval, unchanged for zvm-validate).
 * - note: what the case is about. `deviation=<id>` marks a case where we
 *   differ from the oracle on purpose (deviations.ts): the expected answer
 *   is then ours, and the oracle must disagree exactly as that deviation
 *   explains.
 * `#` starts a comment line.
 */
import { isValidationPolicy, type ValidationPolicy } from '../policies.js';
import { firstOracleOffset, hexOf, POLICY_ORACLES, type Disagreement } from './oracles.js';

export interface RegressionCase {
  /** 1-based line in the file. */
  readonly line: number;
  readonly policy: ValidationPolicy;
  readonly valid: boolean;
  /** Expected first error offset, or null (valid, or offsets not compared). */
  readonly firstOffset: number | null;
  readonly bytes: Uint8Array;
  readonly note: string;
  /** The deviation this case documents, or null. */
  readonly deviation: string | null;
}

function parseHex(text: string, where: string): Uint8Array {
  if (text === '-') return new Uint8Array(0);
  const compact = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(compact)) throw new Error(`${where}: '${text}' is not hex bytes`);
  return Uint8Array.from(compact.match(/../g) as string[], (h) => parseInt(h, 16));
}

/** Parses the regression table; throws on a malformed line, naming it. */
export function parseRegressions(text: string, file = 'regressions'): RegressionCase[] {
  const cases: RegressionCase[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const where = `${file}:${line}`;
    const content = raw.trim();
    if (content.length === 0 || content.startsWith('#')) return;
    const columns = content.split('|').map((c) => c.trim());
    if (columns.length < 5) throw new Error(`${where}: expected 5 columns separated by '|'`);
    const [policy, verdict, first, hex] = columns as [string, string, string, string];
    const note = columns.slice(4).join('|');
    if (!isValidationPolicy(policy) || POLICY_ORACLES[policy] === null) throw new Error(`${where}: '${policy}' is not a policy with an oracle`);
    if (verdict !== 'valid' && verdict !== 'invalid') throw new Error(`${where}: verdict must be valid or invalid`);
    if (first !== '-' && !/^\d+$/.test(first)) throw new Error(`${where}: first offset must be a decimal number or -`);
    if (verdict === 'valid' && first !== '-') throw new Error(`${where}: a valid case has no first offset`);
    const deviation = /deviation=([a-z0-9-]+)/.exec(note)?.[1] ?? null;
    cases.push({ line, policy, valid: verdict === 'valid', firstOffset: first === '-' ? null : Number(first), bytes: parseHex(hex, where), note, deviation });
  });
  return cases;
}

/** A ready-to-paste line for a disagreement: the oracle's answer is the expected one. */
export function formatRegression(d: Disagreement, note: string): string {
  const role = POLICY_ORACLES[d.policy];
  const first = d.oracle.valid || role === null || !role.comparesOffsets ? null : firstOracleOffset(d.oracle);
  return `${d.policy} | ${d.oracle.valid ? 'valid' : 'invalid'} | ${first ?? '-'} | ${hexOf(d.bytes)} | ${note}`;
}
