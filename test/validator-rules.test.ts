/**
 * Runs the per-rule test table test/validator-rules.txt (the executable half
 * of spec/validator.md) against our validator.
 *
 * Each line of the table is one test: its bytes are padded with 0x90 to whole
 * 32-byte bundles and validated as one region (at offset 0 unless the topic
 * says `base=`), with every CPU feature unless the topic lists features, under
 * the `deterministic` policy when the topic has a `/deterministic` part and
 * the `nacl` policy otherwise. The sorted `offset:rule` list must equal the
 * expected one exactly. The format is documented at the top of the table.
 *
 * Coverage tests: every rule id of RULES has at least one accepting and one
 * rejecting line, and every `deny=` reason used by the opcode tables is
 * exercised by at least one rejecting line. Drift tests: spec/validator.md has
 * the anchor each rule's `spec` field points to, and its rule-id table states
 * each rule's fatality, message and NaCl message as rules.ts does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../src/validator/validate.js';
import { RULES, RULE_IDS, type RuleId } from '../src/validator/rules.js';
import { allFormSpecs } from '../src/validator/opcodes/index.js';
import { ruleTableCases } from './validator-rules-table.js';

const SPEC = join(import.meta.dirname, '..', 'spec', 'validator.md');

const cases = ruleTableCases();

describe('validator rule table (test/validator-rules.txt)', () => {
  for (const c of cases) {
    it(`${c.where}: ${c.topic} — ${c.comment}`, () => {
      const result = validate(c.region, { policy: c.policy, features: c.features, base: c.base });
      const got = result.errors.map((e) => `${e.offset}:${e.rule}`).sort();
      expect(got).toEqual(c.expected);
      expect(result.valid).toBe(c.verdict === 'accept');
    });
  }
});

describe('validator rule table coverage', () => {
  it('has a reasonable number of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(120);
  });

  it('every rule id has an accepting and a rejecting line', () => {
    const accepting = new Set<string>();
    const rejecting = new Set<string>();
    for (const c of cases) {
      if (c.verdict === 'accept') accepting.add(c.subject);
      else {
        rejecting.add(c.subject);
        for (const e of c.expected) rejecting.add(e.slice(e.indexOf(':') + 1));
      }
    }
    const missing: string[] = [];
    for (const id of RULE_IDS as RuleId[]) {
      if (!accepting.has(id)) missing.push(`${id}: no accepting line (topic '${id}...')`);
      if (!rejecting.has(id)) missing.push(`${id}: no rejecting line`);
    }
    expect(missing).toEqual([]);
  });

  it('every deny= reason of the opcode tables is exercised by a rejecting line', () => {
    const used = new Set<string>();
    for (const form of allFormSpecs()) if (form.deny !== null) used.add(form.deny);
    const missing = [...used].filter((key) => !cases.some((c) => c.verdict === 'reject' &&
      (c.comment.includes(`deny=${key})`) || c.comment.includes(`deny=${key} `) || c.comment.endsWith(`deny=${key}`) ||
        c.topic.split(/[/:]/).includes(key))));
    expect(missing).toEqual([]);
  });
});

describe('spec/validator.md agrees with rules.ts', () => {
  const spec = readFileSync(SPEC, 'utf8');

  it('has the anchor of every rule', () => {
    const missing = RULE_IDS.filter((id) => !spec.includes(`<a id="${RULES[id].spec.slice(1)}"></a>`));
    expect(missing).toEqual([]);
  });

  it('states every rule id with its fatality, message and NaCl message', () => {
    const rows = new Map<string, string[]>();
    for (const line of spec.split('\n')) {
      const m = /^\| `([a-z0-9-]+)` \|(.*)\|\s*$/.exec(line);
      if (m) rows.set(m[1] as string, (m[2] as string).split('|').map((c) => c.trim()));
    }
    for (const id of RULE_IDS) {
      const info = RULES[id];
      const row = rows.get(id);
      expect(row, `row for ${id}`).toBeDefined();
      const [fatal, , message, nacl] = row as [string, string, string, string];
      expect(fatal, `${id}: fatal`).toBe(info.fatal ? 'yes' : 'no');
      expect(message, `${id}: message`).toBe(info.message);
      if (info.nacl === null) expect(nacl.startsWith('—'), `${id}: NaCl message`).toBe(true);
      else expect(nacl, `${id}: NaCl message`).toBe(info.nacl);
    }
  });
});
