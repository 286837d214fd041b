/**
 * The reference validators as oracles: run NaCl's `ncval` and ZeroVM 2015's
 * `zvm-validate` on many code regions in one process each, and compare
 * their answers with ours.
 *
 * Pipeline position: test and benchmark support only (kept out of the
 * published build with the rest of testing/). The differential test
 * (test/validator-oracles.test.ts), the exploration script
 * (scripts/validator-differential.ts) and the benchmark use it.
 *
 * The reference binaries are external, kept outside the repository beside
 * the checkout (`referenceDirectory()`; ZEROVM_REFERENCE overrides it).
 * Nothing here copies them; `findReference()` says which file is missing
 * when they are absent, and callers skip with that reason.
 *
 * Batch protocol (both oracles): a file of records `[u32 LE length][bytes]`,
 * one answer line per record, in order. `ncval --batch` answers `V` or
 * `I<TAB><hexoff>:<msg>|<hexoff>:<msg>...`; `zvm-validate --batch` answers
 * `V` or `I` only. A record is one code region, given to our validator as
 * it is. ncval's batch mode refuses every region that is not whole bundles,
 * so its records are padded with hlt (F4) to whole 32-byte bundles, which
 * is exactly how `validate()` pads under the `nacl` policy; zvm-validate
 * gets the record unchanged, since ZeroVM's regions are exactly their
 * bytes (the `exact` region model of the `zerovm` policy).
 *
 * Policies map to oracles (`POLICY_ORACLES`): `nacl` is judged by ncval
 * (verdict and first error offset), `zerovm` by zvm-validate (verdict only:
 * it prints no offsets), `deterministic` by none (it is ours: zerovm plus
 * the `nondet` forms rejected).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disassemble, renderListing } from '../disasm.js';
import { KNOWN_DEVIATIONS, type KnownDeviation } from './deviations.js';
import { BUNDLE_SIZE, padToBundles, validate, type ValidationPolicy, type ValidationResult } from '../validate.js';

export type OracleName = 'ncval' | 'zvm-validate';

/** Which oracle judges each policy, and what it can tell. */
export interface OracleRole {
  readonly oracle: OracleName;
  /** True when the oracle reports error offsets (then the first offsets must agree too). */
  readonly comparesOffsets: boolean;
}

export const POLICY_ORACLES: Readonly<Record<ValidationPolicy, OracleRole | null>> = {
  nacl: { oracle: 'ncval', comparesOffsets: true },
  zerovm: { oracle: 'zvm-validate', comparesOffsets: false },
  deterministic: null,
};

/** Where the reference binaries are. */
export interface ReferencePaths {
  readonly root: string;
  readonly ncval: string;
  readonly zvmValidate: string;
}

/** The repository root: the nearest directory above this module with a package.json. */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'validator'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above src/validator/testing');
    dir = up;
  }
}

/** Where the reference binaries are expected: the shared folder beside the checkout, or ZEROVM_REFERENCE. */
export function referenceDirectory(): string {
  return process.env.ZEROVM_REFERENCE ?? resolve(repositoryRoot(), '..', 'shared', 'reference');
}

/** The reference binaries, or null (with the path that is missing) when they are not there. */
export function findReference(): { paths: ReferencePaths } | { missing: string } {
  const root = referenceDirectory();
  const ncval = join(root, 'nacl-validator', 'bin', 'ncval');
  const zvmValidate = join(root, 'zerovm-2015', 'bin', 'zvm-validate');
  for (const path of [ncval, zvmValidate]) if (!existsSync(path)) return { missing: path };
  return { paths: { root, ncval, zvmValidate } };
}

/** One error as an oracle printed it. */
export interface OracleError {
  readonly offset: number;
  readonly message: string;
}

/** An oracle's answer for one record. */
export interface OracleVerdict {
  readonly valid: boolean;
  /** The errors in the order printed; null when the oracle prints none (zvm-validate). */
  readonly errors: readonly OracleError[] | null;
}

/**
 * ncval also lists warnings (`warning - bad call alignment`: a call that
 * does not end at a bundle end) with the errors of an invalid region; they
 * never make a region invalid, so they are not errors for the comparison.
 */
export function isOracleWarning(e: OracleError): boolean {
  return e.message.startsWith('warning');
}

/** Lowest error offset of an answer (warnings aside), or null (valid, or no offsets known). */
export function firstOracleOffset(verdict: OracleVerdict): number | null {
  if (verdict.valid || verdict.errors === null) return null;
  let first = Infinity;
  for (const e of verdict.errors) if (!isOracleWarning(e) && e.offset < first) first = e.offset;
  return Number.isFinite(first) ? first : null;
}

/** Pads a record as `validate()` does under `nacl` (hlt to whole bundles; an empty record stays empty). */
export function padRecord(bytes: Uint8Array): Uint8Array {
  return padToBundles(bytes, 0xf4);
}

/** What `oracle` is given for a record: ncval whole bundles (`padRecord`), zvm-validate the record itself. */
export function oracleInput(oracle: OracleName, bytes: Uint8Array): Uint8Array {
  return oracle === 'ncval' ? padRecord(bytes) : bytes;
}

/** The batch file of `records` for `oracle` (each as `oracleInput` makes it). */
export function batchFile(oracle: OracleName, records: readonly Uint8Array[]): Buffer {
  let size = 0;
  const padded = records.map((r) => {
    const p = oracleInput(oracle, r);
    size += 4 + p.length;
    return p;
  });
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const p of padded) {
    out.writeUInt32LE(p.length, pos);
    out.set(p, pos + 4);
    pos += 4 + p.length;
  }
  return out;
}

/** Parses one answer line of `ncval --batch` or `zvm-validate --batch`. */
export function parseAnswer(line: string): OracleVerdict {
  if (line === 'V') return { valid: true, errors: [] };
  if (line === 'I') return { valid: false, errors: null };
  if (line.startsWith('I\t')) {
    const errors = line.slice(2).split('|').map((item): OracleError => {
      const colon = item.indexOf(':');
      const offset = parseInt(item.slice(0, colon), 16);
      if (colon < 1 || !Number.isFinite(offset)) throw new Error(`oracle answer item '${item}' is not <hexoff>:<message>`);
      return { offset, message: item.slice(colon + 1) };
    });
    return { valid: false, errors };
  }
  throw new Error(`unexpected oracle answer line '${line}'`);
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      // Both oracles exit 0 in batch mode whatever the verdicts; anything else is a failure to run.
      if (code === 0) resolvePromise(Buffer.concat(out).toString('latin1'));
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 2000)}`));
    });
  });
}

/**
 * Runs `oracle` once on all `records` (one batch file, one process) and
 * returns one verdict per record. Asynchronous, so callers can validate
 * with our validator while the oracle runs on the other core.
 */
export async function runOracle(paths: ReferencePaths, oracle: OracleName, records: readonly Uint8Array[]): Promise<OracleVerdict[]> {
  if (records.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-oracle-'));
  try {
    const file = join(dir, 'batch.bin');
    writeFileSync(file, batchFile(oracle, records));
    const text = oracle === 'ncval' ? await run(paths.ncval, ['--batch', file]) : await run(paths.zvmValidate, [file, '--batch']);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (lines.length !== records.length) throw new Error(`${oracle} answered ${lines.length} lines for ${records.length} records`);
    return lines.map(parseAnswer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our answer, reduced to what is compared. */
export interface OurVerdict {
  readonly valid: boolean;
  /** Offset of our first error, or null when valid. */
  readonly firstOffset: number | null;
}

export function ourVerdict(result: ValidationResult): OurVerdict {
  return { valid: result.valid, firstOffset: result.errors.length === 0 ? null : (result.errors[0] as { offset: number }).offset };
}

/**
 * Validates one record as the policy's oracle sees it: under `nacl`
 * `validate()` pads with hlt as ncval's records are padded; under `zerovm`
 * the region is exactly the record, as for zvm-validate.
 */
export function validateRecord(bytes: Uint8Array, policy: ValidationPolicy): ValidationResult {
  return validate(bytes, { policy });
}

/** A record on which we and the oracle of `policy` disagree. */
export interface Disagreement {
  readonly index: number;
  readonly bytes: Uint8Array;
  readonly policy: ValidationPolicy;
  readonly ours: ValidationResult;
  readonly oracle: OracleVerdict;
  /** `verdict` (valid vs invalid) or `offset` (both invalid, different first offsets). */
  readonly kind: 'verdict' | 'offset';
}

/** Compares our result with the oracle's for one record; null when they agree. */
export function compareVerdicts(role: OracleRole, ours: ValidationResult, oracle: OracleVerdict): 'verdict' | 'offset' | null {
  if (ours.valid !== oracle.valid) return 'verdict';
  if (!role.comparesOffsets || ours.valid) return null;
  const theirs = firstOracleOffset(oracle);
  return theirs === null || theirs === ourVerdict(ours).firstOffset ? null : 'offset';
}

export interface DifferentialRun {
  readonly policy: ValidationPolicy;
  readonly cases: number;
  readonly disagreements: readonly Disagreement[];
  /** Milliseconds spent in the oracle process (wall) and in our validator. */
  readonly oracleMs: number;
  readonly oursMs: number;
}

/** Our verdicts on many records, compactly: validity and the first error's offset (-1 when valid). */
interface OurVerdicts {
  readonly valid: Uint8Array;
  readonly first: Int32Array;
}

function ourVerdicts(records: readonly Uint8Array[], policy: ValidationPolicy): OurVerdicts {
  const valid = new Uint8Array(records.length);
  const first = new Int32Array(records.length);
  records.forEach((r, i) => {
    const result = validateRecord(r, policy);
    valid[i] = result.valid ? 1 : 0;
    first[i] = result.errors[0]?.offset ?? -1;
  });
  return { valid, first };
}

/** Whether our verdict `i` and the oracle's differ, as compareVerdicts decides. */
function differs(role: OracleRole, ours: OurVerdicts, i: number, oracle: OracleVerdict): boolean {
  if ((ours.valid[i] === 1) !== oracle.valid) return true;
  if (!role.comparesOffsets || oracle.valid) return false;
  const theirs = firstOracleOffset(oracle);
  return theirs !== null && theirs !== ours.first[i];
}

/**
 * Runs `records` through the oracle of each of `policies` and through our
 * validator under each (concurrently: the oracles are child processes,
 * started first, while ours runs here) and returns every disagreement, one
 * run per policy. Throws when a policy has no oracle.
 */
export async function differentialPolicies(paths: ReferencePaths, policies: readonly ValidationPolicy[], records: readonly Uint8Array[]): Promise<DifferentialRun[]> {
  const started = performance.now();
  const pending = policies.map((policy) => {
    const role = POLICY_ORACLES[policy];
    if (role === null) throw new Error(`policy ${policy} has no oracle`);
    return runOracle(paths, role.oracle, records).then((verdicts) => ({ verdicts, ms: performance.now() - started }));
  });
  // Let the children start before the CPU-bound loops below.
  await new Promise((r) => setImmediate(r));
  const runs: DifferentialRun[] = [];
  for (const [k, policy] of policies.entries()) {
    const role = POLICY_ORACLES[policy] as OracleRole;
    const t = performance.now();
    const ours = ourVerdicts(records, policy);
    const oursMs = performance.now() - t;
    const { verdicts, ms } = await (pending[k] as Promise<{ verdicts: OracleVerdict[]; ms: number }>);
    const disagreements: Disagreement[] = [];
    for (let i = 0; i < records.length; i++) {
      const oracle = verdicts[i] as OracleVerdict;
      if (!differs(role, ours, i, oracle)) continue;
      const bytes = records[i] as Uint8Array;
      const result = validateRecord(bytes, policy);
      disagreements.push({ index: i, bytes, policy, ours: result, oracle, kind: compareVerdicts(role, result, oracle) ?? 'verdict' });
    }
    runs.push({ policy, cases: records.length, disagreements, oracleMs: ms, oursMs });
  }
  return runs;
}

/** `differentialPolicies` for one policy. */
export async function differential(paths: ReferencePaths, policy: ValidationPolicy, records: readonly Uint8Array[]): Promise<DifferentialRun> {
  const [run] = await differentialPolicies(paths, [policy], records);
  return run as DifferentialRun;
}

export const hexOf = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The oracle's answer as one line (what it printed, offsets in hex). */
export function formatOracle(oracle: OracleName, verdict: OracleVerdict): string {
  if (verdict.valid) return `${oracle}: valid`;
  if (verdict.errors === null) return `${oracle}: invalid`;
  return `${oracle}: invalid: ${verdict.errors.map((e) => `0x${e.offset.toString(16)} ${e.message}`).join('; ')}`;
}

/**
 * Everything a reader needs to see why we disagree: the bytes (hex), our
 * disassembly with our errors inline, and the oracle's answer.
 */
export function describeDisagreement(d: Disagreement): string {
  const role = POLICY_ORACLES[d.policy];
  const listing = renderListing(disassemble(d.bytes, { policy: d.policy }));
  const ours = d.ours.valid ? 'valid' : `invalid: ${d.ours.errors.map((e) => `0x${e.offset.toString(16)} ${e.rule}`).join('; ')}`;
  return [
    `${d.kind} disagreement, policy ${d.policy}, record ${d.index}`,
    `  bytes: ${hexOf(d.bytes)}`,
    `  ours: ${ours}`,
    `  ${role === null ? 'no oracle' : formatOracle(role.oracle, d.oracle)}`,
    ...listing.split('\n').map((l) => `  | ${l}`),
  ].join('\n');
}

/** The bundle size the batch records are padded to. */
export const RECORD_GRANULE = BUNDLE_SIZE;

/** Disagreements split into those a known deviation explains and the rest. */
export interface Explained {
  readonly explained: ReadonlyMap<string, readonly Disagreement[]>;
  readonly unexplained: readonly Disagreement[];
}

/**
 * Sorts disagreements into those explained by a known deviation (the
 * rewritten record makes us and the oracle agree: one more oracle run for
 * all of them) and the unexplained ones, which are bugs.
 */
export async function explainDisagreements(paths: ReferencePaths, disagreements: readonly Disagreement[]): Promise<Explained> {
  const tries: { d: Disagreement; deviation: KnownDeviation; bytes: Uint8Array }[] = [];
  for (const d of disagreements) {
    for (const deviation of KNOWN_DEVIATIONS) {
      if (!deviation.policies.includes(d.policy)) continue;
      const rewritten = deviation.rewrite(d.bytes);
      if (rewritten !== null) tries.push({ d, deviation, bytes: rewritten });
    }
  }
  const explained = new Map<string, Disagreement[]>();
  const done = new Set<Disagreement>();
  for (const policy of new Set(tries.map((t) => t.d.policy))) {
    const role = POLICY_ORACLES[policy];
    if (role === null) continue;
    const mine = tries.filter((t) => t.d.policy === policy);
    const verdicts = await runOracle(paths, role.oracle, mine.map((t) => t.bytes));
    mine.forEach((t, i) => {
      if (done.has(t.d)) return;
      if (compareVerdicts(role, validateRecord(t.bytes, policy), verdicts[i] as OracleVerdict) !== null) return;
      done.add(t.d);
      const list = explained.get(t.deviation.id) ?? [];
      list.push(t.d);
      explained.set(t.deviation.id, list);
    });
  }
  return { explained, unexplained: disagreements.filter((d) => !done.has(d)) };
}
