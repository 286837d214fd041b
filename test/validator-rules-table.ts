/**
 * The parser of test/validator-rules.txt (the per-rule test table; its
 * format is documented at the top of the table), shared by the rule test
 * and the differential test that runs the table against NaCl's validator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES } from '../src/validator/rules.js';
import type { ValidationPolicy } from '../src/validator/validate.js';
import { parseFeatureList, type CpuFeature } from '../src/validator/features.js';

export const RULE_TABLE = join(import.meta.dirname, 'validator-rules.txt');
const BUNDLE = 32;

export interface RuleCase {
  /** 1-based line number in the table. */
  readonly line: number;
  readonly topic: string;
  /** The topic's name: the part before the first '/' or ':'. */
  readonly subject: string;
  readonly verdict: 'accept' | 'reject';
  readonly bytes: Uint8Array;
  /** Sorted `offset:rule` strings; empty for accept. */
  readonly expected: readonly string[];
  readonly comment: string;
  readonly policy: ValidationPolicy;
  readonly features: Set<CpuFeature> | undefined;
  readonly base: number;
}

function parseHex(text: string, where: string): Uint8Array {
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

/** Parses the table; throws on any malformed line, naming it. */
export function parseRuleTable(text: string): RuleCase[] {
  const cases: RuleCase[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const where = `validator-rules.txt:${line}`;
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
    const policy: ValidationPolicy = path.split('/').includes('deterministic') ? 'deterministic' : 'nacl';
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
    cases.push({
      line, topic, subject, verdict, bytes: parseHex(hex, where), expected: [...expected].sort(), comment, policy, features, base,
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


/** The cases of test/validator-rules.txt. */
export function ruleTableCases(): RuleCase[] {
  return parseRuleTable(readFileSync(RULE_TABLE, 'utf8'));
}
