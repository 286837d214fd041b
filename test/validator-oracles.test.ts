/**
 * Differential tests of the validator against the reference validators,
 * through their batch modes: NaCl's `ncval` judges the `nacl` policy
 * (verdict and first error offset), ZeroVM 2015's `zvm-validate` the
 * `zerovm` policy (verdict only: it prints nothing else).
 *
 * - the generator families (src/validator/testing/families.ts): at least a
 *   million generated cases per run, each judged under every policy of
 *   DIFFERENTIAL_POLICIES (generated once, both oracles running at once),
 *   zero disagreements on the verdict and, where the oracle prints offsets,
 *   on the first error's offset. Known, documented deviations
 *   (testing/deviations.ts) are explained away by rewriting the record into
 *   what the oracle believes and checking that we then agree; anything else
 *   fails the test with the bytes, our listing, our errors, the oracle's
 *   answer, and a ready-to-paste regression line;
 * - the fixed regression cases (test/validator-oracle-regressions.txt),
 *   against our validator always and against the oracle when present;
 * - every `nacl` line of test/validator-rules.txt and every `zerovm` line of
 *   test/validator-rules-zerovm.txt, against the policy's oracle (a line
 *   naming a deviation must disagree exactly as that deviation explains).
 *
 * The reference binaries are external, beside the checkout (or where
 * ZEROVM_REFERENCE points); without them the oracle parts are skipped with a
 * warning naming the missing path. CI has them.
 *
 * Knobs: ZEROVM_DIFFERENTIAL_SEED (default: a fresh seed, printed),
 * ZEROVM_DIFFERENTIAL_CASES (default 1 100 000 per policy, split over the
 * families by SHARE). The corpus family needs the benchmark corpus (also
 * beside the checkout) and xz; without them its share goes to the other
 * families (with a warning).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ValidationPolicy } from '../src/validator/validate.js';
import { GENERATOR_FAMILIES } from '../src/validator/testing/families.js';
import { loadCorpus } from '../src/validator/testing/corpus.js';
import { KNOWN_DEVIATIONS, deviationById } from '../src/validator/testing/deviations.js';
import {
  batchFile, compareVerdicts, describeDisagreement, differential, differentialPolicies, explainDisagreements, findReference, firstOracleOffset, formatOracle,
  parseAnswer, POLICY_ORACLES, runOracle, validateRecord, type Disagreement, type OracleVerdict,
} from '../src/validator/testing/oracles.js';
import { formatRegression, parseRegressions } from '../src/validator/testing/regressions.js';
import { seedFromEnvironment } from '../src/validator/testing/prng.js';
import { ruleTableCases } from './validator-rules-table.js';

/** The policies whose oracle the generated cases are compared with. */
const DIFFERENTIAL_POLICIES: readonly ValidationPolicy[] = ['nacl', 'zerovm'];

const REGRESSIONS = join(import.meta.dirname, 'validator-oracle-regressions.txt');
const CASES = Math.max(1, Number(process.env.ZEROVM_DIFFERENTIAL_CASES ?? 1_100_000) || 1_100_000);
/** Records per oracle run: large enough to amortise the process, small enough to keep memory modest. */
const CHUNK = 200_000;
/** How the budget is split over the families (relative weights). */
const SHARE: Readonly<Record<string, number>> = { sweep: 26, forms: 18, sequences: 24, corpus: 12, strings: 10, classes: 5, regions: 5 };

const reference = findReference();
if ('missing' in reference) {
  console.warn(`\n*** SKIPPING the validator's differential tests against the reference validators: ${reference.missing} not found (the reference binaries are external, beside the checkout; CI has them) ***\n`);
}

describe('oracle harness (no reference needed)', () => {
  it('writes batch records as [u32 LE length][bytes], padded with hlt to whole bundles for ncval only', () => {
    const file = batchFile('ncval', [Uint8Array.from([0x90]), new Uint8Array(0)]);
    expect(file.readUInt32LE(0)).toBe(32);
    expect(file[4]).toBe(0x90);
    expect(file[5]).toBe(0xf4);
    expect(file.readUInt32LE(36)).toBe(0);
    expect(file.length).toBe(40);
    const zvm = batchFile('zvm-validate', [Uint8Array.from([0x90]), new Uint8Array(0)]);
    expect([...zvm]).toEqual([1, 0, 0, 0, 0x90, 0, 0, 0, 0]);
  });

  it('parses both oracles\' answers; warnings are not errors', () => {
    expect(parseAnswer('V')).toEqual({ valid: true, errors: [] });
    expect(parseAnswer('I')).toEqual({ valid: false, errors: null });
    const a = parseAnswer('I\t0:warning - bad call alignment|1c:unrecognized instruction|0:bad jump target');
    expect(a.errors).toEqual([
      { offset: 0, message: 'warning - bad call alignment' }, { offset: 0x1c, message: 'unrecognized instruction' }, { offset: 0, message: 'bad jump target' },
    ]);
    expect(firstOracleOffset(a)).toBe(0);
    expect(firstOracleOffset(parseAnswer('I\t0:warning - bad call alignment|1c:unrecognized instruction'))).toBe(0x1c);
    expect(() => parseAnswer('X')).toThrow(/unexpected/);
  });

  it('compares verdicts, and first offsets only where the oracle has them', () => {
    const ours = validateRecord(Uint8Array.from([0x90, 0xc3]), 'nacl'); // ret at 1
    const nacl = POLICY_ORACLES.nacl;
    const zerovm = POLICY_ORACLES.zerovm;
    if (nacl === null || zerovm === null) throw new Error('no oracle');
    expect(compareVerdicts(nacl, ours, parseAnswer('I\t1:unrecognized instruction'))).toBeNull();
    expect(compareVerdicts(nacl, ours, parseAnswer('I\t0:unrecognized instruction'))).toBe('offset');
    expect(compareVerdicts(nacl, ours, parseAnswer('V'))).toBe('verdict');
    expect(compareVerdicts(zerovm, ours, parseAnswer('I'))).toBeNull();
  });

  it('every known deviation is documented in spec/validator.md and rewrites only what it is about', () => {
    const spec = readFileSync(join(import.meta.dirname, '..', 'spec', 'validator.md'), 'utf8');
    for (const d of KNOWN_DEVIATIONS) {
      expect(spec, d.id).toContain(`deviation \`${d.id}\``);
      expect(d.rewrite(Uint8Array.from([0x89, 0xc0, 0x90]))).toBeNull();
    }
    expect(deviationById('rex-nop')?.rewrite(Uint8Array.from([0x40, 0x90, 0x48, 0x90, 0x41, 0x90]))).toEqual(Uint8Array.from([0x89, 0xc0, 0x48, 0x90, 0x41, 0x90]));
  });

  it('the regression cases are what our validator says (their meaning without the oracle)', () => {
    const cases = parseRegressions(readFileSync(REGRESSIONS, 'utf8'), 'validator-oracle-regressions.txt');
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const wrong = cases.flatMap((c) => {
      const ours = validateRecord(c.bytes, c.policy);
      const first = ours.errors[0]?.offset ?? null;
      const role = POLICY_ORACLES[c.policy];
      const firstMatters = role !== null && role.comparesOffsets;
      return ours.valid === c.valid && (!firstMatters || first === c.firstOffset) ? [] : [`line ${c.line}: expected ${c.valid ? 'valid' : `invalid at ${c.firstOffset}`}, got ${ours.valid ? 'valid' : `invalid at ${first}`} (${c.note})`];
    });
    expect(wrong).toEqual([]);
  });
});

describe.skipIf('missing' in reference)('validator against the reference validators', () => {
  const paths = 'paths' in reference ? reference.paths : null;

  it('the regression cases agree with the oracle (deviations disagree exactly as documented)', async () => {
    if (paths === null) return;
    const cases = parseRegressions(readFileSync(REGRESSIONS, 'utf8'), 'validator-oracle-regressions.txt');
    const problems: string[] = [];
    for (const policy of new Set(cases.map((c) => c.policy))) {
      const role = POLICY_ORACLES[policy];
      if (role === null) continue;
      const mine = cases.filter((c) => c.policy === policy);
      const verdicts = await runOracle(paths, role.oracle, mine.map((c) => c.bytes));
      for (const [i, c] of mine.entries()) {
        const oracle = verdicts[i] as OracleVerdict;
        const agrees = oracle.valid === c.valid && (!role.comparesOffsets || firstOracleOffset(oracle) === c.firstOffset);
        if (c.deviation === null) {
          if (!agrees) problems.push(`line ${c.line}: ${formatOracle(role.oracle, oracle)} (${c.note})`);
          continue;
        }
        const deviation = deviationById(c.deviation);
        const rewritten = deviation?.rewrite(c.bytes) ?? null;
        if (agrees || rewritten === null) problems.push(`line ${c.line}: deviation ${c.deviation} does not explain this case (${c.note})`);
        else {
          const [again] = await runOracle(paths, role.oracle, [rewritten]);
          if (compareVerdicts(role, validateRecord(rewritten, policy), again as OracleVerdict) !== null) problems.push(`line ${c.line}: rewritten by ${c.deviation}, still disagrees`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  for (const policy of DIFFERENTIAL_POLICIES) {
    it(`the rule tables' ${policy} lines agree with ${POLICY_ORACLES[policy]?.oracle ?? '?'} (deviations disagree exactly as documented)`, async () => {
      if (paths === null) return;
      const cases = ruleTableCases().filter((c) => c.policy === policy && c.base === 0 && c.features === undefined);
      const run = await differential(paths, policy, cases.map((c) => c.region));
      const { explained, unexplained } = await explainDisagreements(paths, run.disagreements);
      expect(unexplained.map((d) => `${(cases[d.index] as { where: string }).where}\n${describeDisagreement(d)}`)).toEqual([]);
      // A line that names a deviation must be one the oracle disagrees with, explained by that deviation.
      const byIndex = new Map([...explained].flatMap(([id, list]) => list.map((d) => [d.index, id] as const)));
      const named = cases.flatMap((c, i) => {
        const id = /deviation=([a-z0-9-]+)/.exec(c.comment)?.[1];
        return id === undefined || byIndex.get(i) === id ? [] : [`${c.where}: names deviation ${id}, but ${byIndex.get(i) ?? 'the oracle agrees'}`];
      });
      expect(named).toEqual([]);
    });
  }

  it(`generated cases: zero disagreements under each of ${DIFFERENTIAL_POLICIES.join(', ')} with its reference validator`, async () => {
    if (paths === null) return;
    const seed = seedFromEnvironment();
    const corpus = loadCorpus();
    const families = GENERATOR_FAMILIES.filter((f) => f.name !== 'corpus' || typeof corpus !== 'string');
    if (typeof corpus === 'string') console.warn(`*** the corpus family is skipped: ${corpus}; its share goes to the other families ***`);
    const weight = families.reduce((sum, f) => sum + (SHARE[f.name] ?? 1), 0);
    const started = performance.now();
    const cases = new Map<ValidationPolicy, number>(DIFFERENTIAL_POLICIES.map((p) => [p, 0]));
    const disagreements: { family: string; d: Disagreement }[] = [];
    const lines: string[] = [];
    let generationMs = 0;
    let oursMs = 0;
    for (const [k, family] of families.entries()) {
      const budget = Math.ceil((CASES * (SHARE[family.name] ?? 1)) / weight);
      for (let done = 0; done < budget; done += CHUNK) {
        const chunkSeed = (seed + k * 0x9e3779b1 + done) >>> 0;
        const t = performance.now();
        const records = family.generate(chunkSeed, Math.min(CHUNK, budget - done));
        generationMs += performance.now() - t;
        // The same records are judged under every policy, by each policy's oracle.
        for (const run of await differentialPolicies(paths, DIFFERENTIAL_POLICIES, records)) {
          cases.set(run.policy, (cases.get(run.policy) ?? 0) + run.cases);
          oursMs += run.oursMs;
          for (const d of run.disagreements) disagreements.push({ family: `${family.name} (chunk seed ${chunkSeed}, record ${d.index})`, d });
        }
      }
      lines.push(`${family.name}: ${budget}`);
    }
    const { explained, unexplained } = await explainDisagreements(paths, disagreements.map((x) => x.d));
    const seconds = (performance.now() - started) / 1000;
    const perPolicy = DIFFERENTIAL_POLICIES.map((p) => {
      const mine = disagreements.filter((x) => x.d.policy === p).length;
      return `${p} (${POLICY_ORACLES[p]?.oracle ?? '?'}): ${cases.get(p) ?? 0} cases, ${mine} disagreements, ${mine - unexplained.filter((d) => d.policy === p).length} explained`;
    });
    console.info(`differential: seed ${seed}, ${seconds.toFixed(1)} s (generation ${(generationMs / 1000).toFixed(1)} s, our validator ${(oursMs / 1000).toFixed(1)} s); ` +
      `cases per family: ${lines.join(', ')}; ${perPolicy.join('; ')}` +
      `${[...explained].map(([id, list]) => ` (${id}: ${list.length})`).join('')}`);
    for (const p of DIFFERENTIAL_POLICIES) expect(cases.get(p), p).toBeGreaterThanOrEqual(Math.min(CASES, 1_000_000));
    const report = unexplained.slice(0, 10).map((d) => {
      const family = disagreements.find((x) => x.d === d)?.family ?? '?';
      return `${describeDisagreement(d)}\n  found by ${family}, seed ${seed}\n  regression line: ${formatRegression(d, `found by the ${family.split(' ')[0] ?? ''} family`)}`;
    });
    if (unexplained.length > 0) console.error(`${unexplained.length} unexplained disagreements (seed ${seed}); the first ones:\n\n${report.join('\n\n')}`);
    expect(unexplained.length, `unexplained disagreements (seed ${seed}; replay with ZEROVM_DIFFERENTIAL_SEED=${seed})`).toBe(0);
  }, 600_000);
});
