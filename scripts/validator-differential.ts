/**
 * Exploration tool for the validator's differential tests: runs one
 * generator family against a reference validator and prints the
 * disagreements grouped into classes (largest first), a few examples each.
 *
 *   npx tsx scripts/validator-differential.ts [--family NAME[,NAME...]|all] [--count N]
 *       [--seed S] [--policy nacl|zerovm|nacl,zerovm] [--examples K] [--chunk N]
 *
 * With two policies every record is judged under both (one generation, both
 * oracles at once), as in the test.
 *
 * The test (test/validator-oracles.test.ts) runs the same families with a
 * fixed budget; this script is for the long runs that find new classes.
 */
import { decodeInstruction } from '../src/validator/index.js';
import type { ValidationPolicy } from '../src/validator/validate.js';
import { GENERATOR_FAMILIES, familyRecords } from '../src/validator/testing/families.js';
import { isValidationPolicy } from '../src/validator/policies.js';
import {
  describeDisagreement, differentialPolicies, explainDisagreements, findReference, firstOracleOffset, isOracleWarning, padRecord, type Disagreement,
} from '../src/validator/testing/oracles.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const familyName = option('family', 'all');
const count = Number(option('count', '100000'));
const seed = Number(option('seed', String(Date.now() >>> 0))) >>> 0;
const policies = option('policy', 'nacl').split(',').filter((p): p is ValidationPolicy => {
  if (!isValidationPolicy(p)) throw new Error(`unknown policy ${p}`);
  return true;
});
const examples = Number(option('examples', '3'));
const chunk = Number(option('chunk', '250000'));

const reference = findReference();
if ('missing' in reference) {
  console.error(`reference validators not found: ${reference.missing}`);
  process.exit(2);
}

function classOf(d: Disagreement): string {
  const code = padRecord(d.bytes);
  const at = (offset: number): string => {
    if (offset >= code.length) return 'end';
    const insn = decodeInstruction(code, offset);
    return insn.ok ? insn.mnemonic : 'undecodable';
  };
  const ours = [...new Set(d.ours.errors.map((e) => `${e.rule}@${at(e.offset)}`))].sort().join(',');
  const theirs = d.oracle.errors === null ? 'invalid' : [...new Set(d.oracle.errors.filter((e) => !isOracleWarning(e)).map((e) => `${e.message}@${at(e.offset)}`))].sort().join(',');
  const first = firstOracleOffset(d.oracle);
  const order = d.kind === 'offset' ? ((d.ours.errors[0]?.offset ?? 0) < (first ?? 0) ? ' (ours earlier)' : ' (ours later)') : '';
  return `${d.kind}${order}: ours=[${ours || 'valid'}] oracle=[${theirs || 'valid'}]`;
}

const families = familyName === 'all' ? GENERATOR_FAMILIES.map((f) => f.name) : familyName.split(',');
console.log(`seed ${seed}, policies ${policies.join(', ')}, ${count} records per family: ${families.join(', ')}`);
const started = performance.now();
const classes = new Map<string, Disagreement[]>();
const total = new Map<ValidationPolicy, number>();
let disagreeing = 0;
for (const name of families) {
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const records = familyRecords(name, (seed + done) >>> 0, n);
    for (const run of await differentialPolicies(reference.paths, policies, records)) {
      total.set(run.policy, (total.get(run.policy) ?? 0) + run.cases);
      disagreeing += run.disagreements.length;
      for (const d of run.disagreements) {
        const key = `[${name}] ${d.policy} ${classOf(d)}`;
        const list = classes.get(key) ?? [];
        list.push(d);
        classes.set(key, list);
      }
      console.log(`  ${name} ${run.policy}: ${done + n}/${count} (oracle ${run.oracleMs.toFixed(0)} ms, ours ${run.oursMs.toFixed(0)} ms, ${run.disagreements.length} disagreements)`);
    }
  }
}
const sorted = [...classes.entries()].sort((a, b) => b[1].length - a[1].length);
// Which classes the known deviations explain (one more oracle run per class, on its examples).
for (const [key, list] of sorted) {
  const sample = list.slice(0, Math.max(examples, 20));
  const { explained, unexplained } = await explainDisagreements(reference.paths, sample);
  const why = unexplained.length === 0 ? `explained by ${[...explained.keys()].join(', ')}` : `${unexplained.length} of ${sample.length} sampled UNEXPLAINED`;
  console.log(`\n=== ${list.length} x ${key} — ${why}`);
  for (const d of list.slice(0, examples)) console.log(describeDisagreement(d));
}
const seconds = (performance.now() - started) / 1000;
console.log(`\n${[...total].map(([p, n]) => `${p}: ${n} cases`).join(', ')}; ${disagreeing} disagreements in ${classes.size} classes (seed ${seed}, ${seconds.toFixed(0)} s)`);
