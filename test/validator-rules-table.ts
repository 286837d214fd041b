/**
 * The parser of the per-rule test tables, shared by the rule test and the
 * differential test that runs the tables against the reference validators:
 *
 * - test/validator-rules.txt: the `nacl` and `deterministic` cases (its
 *   format is documented at its top); the conformance suite's validator
 *   cases are generated from it;
 * - test/validator-rules-zerovm.txt: the `zerovm` cases, in the same format
 *   except that the region is exactly the bytes given (`-` for none), as
 *   the zerovm policy reads a region (a file of its own for that reason).
 *
 * The conformance suite's validator cases are generated from both
 * (conformance/tools/generate.ts), each line's deviation included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES } from '../src/validator/rules.js';
import type { ValidationPolicy } from '../src/validator/validate.js';
import { parseFeatureList, type CpuFeature } from '../src/validator/features.js';
import { KNOWN_DEVIATIONS } from '../src/validator/testing/deviations.js';

export const RULE_TABLE = join(import.meta.dirname, 'validator-rules.txt');
export const ZEROVM_RULE_TABLE = join(import.meta.dirname, 'validator-rules-zerovm.txt');
const BUNDLE = 32;

export interface RuleCase {
  /** 1-based line number in the table. */
  readonly line: number;
  readonly topic: string;
  /** The topic's name: the part before the first '/' or ':'. */
  readonly subject: string;
  readonly verdict: 'accept' | 'reject';
  /** The bytes of the line, as written. */
  readonly bytes: Uint8Array;
  /** The region validated: `bytes` padded with nops to whole bundles (validator-rules.txt), or exactly `bytes` (validator-rules-zerovm.txt). */
  readonly region: Uint8Array;
  /** Which table the line is in, for messages: `validator-rules.txt:12`. */
  readonly where: string;
  /** Sorted `offset:rule` strings; empty for accept. */
  readonly expected: readonly string[];
  readonly comment: string;
  readonly policy: ValidationPolicy;
  readonly features: Set<CpuFeature> | undefined;
  /** The feature options as written (`-AVX`, `SSE,SSE2`), undefined for every feature. */
  readonly featureList: string | undefined;
  readonly base: number;
  /** The deviation the comment names (`deviation=<id>`): the reference validator of the line's policy gives the other verdict. */
  readonly deviation: ReferenceDeviation | undefined;
}

/**
 * Why the reference validator of a policy (`ncval` for nacl, `zvm-validate`
 * for zerovm and deterministic) gives another verdict than ours on a line:
 * the deliberate deviations of spec/validator.md "Where we differ"
 * (src/validator/testing/deviations.ts), and `cpuid`, the one instruction
 * the deterministic policy refuses beyond ZeroVM 2015's rules ("The
 * policies").
 */
export interface ReferenceDeviation {
  readonly id: string;
  /** The policies whose reference it concerns (deterministic inherits zerovm's). */
  readonly policies: readonly ValidationPolicy[];
  /** What it is, in words, with the spec section that documents it. */
  readonly reason: string;
}

export const REFERENCE_DEVIATIONS: readonly ReferenceDeviation[] = [
  ...KNOWN_DEVIATIONS.map((d) => ({
    id: d.id,
    policies: d.policies.includes('zerovm') ? [...d.policies, 'deterministic' as const] : d.policies,
    reason: `${d.id}: ${d.summary} (${d.spec})`,
  })),
  {
    id: 'cpuid',
    policies: ['deterministic'],
    reason: 'cpuid: ZeroVM 2015 accepts it; the deterministic policy refuses it, its answer differing between machines and between our engines (validator.md#policies)',
  },
];

function parseHex(text: string, where: string, emptyAllowed: boolean): Uint8Array {
  if (emptyAllowed && text === '-') return new Uint8Array(0);
  const bytes: number[] = [];
  for (const token of text.split(/[\s;]+/).filter((t) => t.length > 0)) {
    const m = /^([0-9a-fA-F]{2})(?:\*(\d+))?$/.exec(token);
    if (!m) throw new Error(`${where}: '${token}' is not a hex byte (or XX*N)`);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < count; i++) bytes.push(parseInt(m[1] as string, 16));
  }
  if (bytes.length === 0) throw new Error(`${where}: no bytes`);
  return Uint8Array.from(bytes);
}

/** How a table reads: its name, the policy of a line without a policy part, and whether regions are padded. */
export interface TableKind {
  readonly name: string;
  readonly defaultPolicy: ValidationPolicy;
  /** Pad each line's bytes with nops to whole bundles (otherwise the region is exactly the bytes, `-` for none). */
  readonly padded: boolean;
}

export const MAIN_TABLE: TableKind = { name: 'validator-rules.txt', defaultPolicy: 'nacl', padded: true };
export const ZEROVM_TABLE: TableKind = { name: 'validator-rules-zerovm.txt', defaultPolicy: 'zerovm', padded: false };

/** Parses a table; throws on any malformed line, naming it. */
export function parseRuleTable(text: string, kind: TableKind = MAIN_TABLE): RuleCase[] {
  const cases: RuleCase[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const where = `${kind.name}:${line}`;
    const content = raw.trim();
    if (content.length === 0 || content.startsWith('#')) return;
    const columns = content.split('|').map((c) => c.trim());
    if (columns.length < 5) throw new Error(`${where}: expected 5 columns separated by '|'`);
    const [topic, verdict, hex, expectedText] = columns as [string, string, string, string];
    const comment = columns.slice(4).join('|');
    if (verdict !== 'accept' && verdict !== 'reject') throw new Error(`${where}: verdict must be accept or reject, not '${verdict}'`);
    if (comment.length === 0) throw new Error(`${where}: the comment (assembly) is missing`);
    const expected = expectedText === '-' ? [] : expectedText.split(/\s+/);
    if ((verdict === 'accept') !== (expected.length === 0)) {
      throw new Error(`${where}: an accepting line expects '-', a rejecting line at least one error`);
    }
    for (const e of expected) {
      const m = /^(\d+):([a-z0-9-]+)$/.exec(e);
      if (!m || !(m[2] as string in RULES)) throw new Error(`${where}: '${e}' is not offset:rule-id with a rule id of rules.ts`);
    }
    const [path = '', options = ''] = topic.split(':', 2);
    const subject = path.split('/')[0] as string;
    const policy: ValidationPolicy = path.split('/').includes('deterministic') ? 'deterministic' : kind.defaultPolicy;
    let base = 0;
    const featureItems: string[] = [];
    for (const option of options.split(',').map((o) => o.trim()).filter((o) => o.length > 0)) {
      if (option.startsWith('base=')) base = Number(option.slice(5));
      else featureItems.push(option);
    }
    let features: Set<CpuFeature> | undefined;
    if (featureItems.length > 0) {
      const parsed = parseFeatureList(featureItems.join(','));
      if (typeof parsed === 'string') throw new Error(`${where}: ${parsed}`);
      features = parsed;
    }
    const named = /deviation=([a-z0-9-]+)/.exec(comment)?.[1];
    const deviation = named === undefined ? undefined : REFERENCE_DEVIATIONS.find((d) => d.id === named);
    if (named !== undefined && (deviation === undefined || !deviation.policies.includes(policy))) {
      throw new Error(`${where}: deviation=${named} is not a deviation of the ${policy} policy's reference (known: ${REFERENCE_DEVIATIONS.filter((d) => d.policies.includes(policy)).map((d) => d.id).join(', ')})`);
    }
    const bytes = parseHex(hex, where, !kind.padded);
    cases.push({
      line, topic, subject, verdict, bytes, region: kind.padded ? padWithNops(bytes) : bytes, where, expected: [...expected].sort(), comment, policy, features,
      featureList: featureItems.length > 0 ? featureItems.join(',') : undefined, base, deviation,
    });
  });
  return cases;
}

/** Pads with nops to whole bundles, as the table's format prescribes. */
export function padWithNops(bytes: Uint8Array): Uint8Array {
  const size = Math.ceil(bytes.length / BUNDLE) * BUNDLE;
  const padded = new Uint8Array(size).fill(0x90);
  padded.set(bytes);
  return padded;
}


/** The cases of test/validator-rules.txt and test/validator-rules-zerovm.txt. */
export function ruleTableCases(): RuleCase[] {
  return [...parseRuleTable(readFileSync(RULE_TABLE, 'utf8')), ...parseRuleTable(readFileSync(ZEROVM_RULE_TABLE, 'utf8'), ZEROVM_TABLE)];
}
