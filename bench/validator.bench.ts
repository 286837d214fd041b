/**
 * Validator throughput benchmark: `npx tsx bench/validator.bench.ts`.
 *
 * Datasets:
 * (a) the benchmark corpus — gcc's cc1 text made NaCl-valid (external data
 *     beside the checkout, decompressed in-process with `xz -dc`, never
 *     copied into the repository), repeated to 32 MiB. It must validate
 *     with zero errors; if not, the first errors are printed (that is a
 *     finding). In the same child process, right after our runs, NaCl's own
 *     validator measures the same bytes (`ncval --raw FILE --bench`, the
 *     reference binary, when it is there), and the report gives our
 *     throughput as a ratio of NaCl's.
 * (b) 16 MiB from `generateValidRegion()` (src/validator/testing).
 * (c) a real program's text: the nexe named by ZEROVM_BENCH_NEXE, through
 *     `validateNexe()` when that module exists.
 * (d) the corpus of (a) under the `deterministic` policy, the one sessions
 *     apply (ZeroVM 2015's rules: its string sandboxing and region model).
 * (a)-(c) use the default `nacl` policy.
 *
 * Each figure is the median of >= 5 runs; a run repeats validate() until at
 * least 1 s has passed (after one untimed warm-up call). MB = 10^6 bytes.
 * Each dataset runs in its own child process (same node flags); "rss delta"
 * is the largest resident-set growth seen during its runs, relative to just
 * before its first validate() call (input loaded).
 *
 * Knobs: ZEROVM_BENCH_RUNS (default 5, minimum 5), ZEROVM_BENCH_MIN_MS
 * (default 1000), ZEROVM_BENCH_NEXE, ZEROVM_BENCH_CORPUS (path of the .xz);
 * ZEROVM_BENCH_ONLY=a|b|c|d is the child-process mode (one JSON line).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { validate, type ValidationPolicy, type ValidationResult } from '../src/validator/validate.js';
import { generateValidRegion } from '../src/validator/testing/generator.js';
import { findReference } from '../src/validator/testing/oracles.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUNS = Math.max(5, Number(process.env.ZEROVM_BENCH_RUNS ?? 5) || 5);
const MIN_MS = Math.max(1, Number(process.env.ZEROVM_BENCH_MIN_MS ?? 1000) || 1000);
const MiB = 1 << 20;

/** The shared corpus sits beside the checkout; from dist/bench it is one level further up. */
function findCorpus(): string | null {
  if (process.env.ZEROVM_BENCH_CORPUS) return process.env.ZEROVM_BENCH_CORPUS;
  for (const up of ['..', join('..', '..')]) {
    const candidate = join(HERE, up, '..', 'shared', 'bench', 'cc1-bundles.bin.xz');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

interface Measurement {
  readonly name: string;
  readonly bytes: number;
  readonly mbps: number[];
  readonly rssDelta: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `once` (which validates `bytes` bytes) RUNS times for >= MIN_MS each. */
function measure(name: string, bytes: number, once: () => void): Measurement {
  const rssBefore = process.memoryUsage().rss;
  once(); // warm-up (JIT, lazily built tables)
  let rssMax = process.memoryUsage().rss;
  const mbps: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsedMs = 0;
    do {
      once();
      calls++;
      elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    } while (elapsedMs < MIN_MS);
    mbps.push((bytes * calls) / 1e6 / (elapsedMs / 1000));
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  return { name, bytes, mbps, rssDelta: rssMax - rssBefore };
}

function repeatTo(chunk: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let pos = 0; pos < size; pos += chunk.length) out.set(chunk.subarray(0, Math.min(chunk.length, size - pos)), pos);
  return out;
}

function describeErrors(result: ValidationResult, code: Uint8Array, limit = 10): string {
  return result.errors
    .slice(0, limit)
    .map((e) => {
      const bytes = Array.from(code.subarray(e.offset, e.offset + 12), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return `    0x${e.offset.toString(16)}: ${e.rule} — ${e.message}  [${bytes}]`;
    })
    .join('\n');
}

type DatasetId = 'a' | 'b' | 'c' | 'd';

interface DatasetOutcome {
  readonly measurement: Measurement | null;
  readonly notes: readonly string[];
  /** Median MB/s on the cc1 corpus, for the ratio line. */
  readonly cc1?: number;
  /** NaCl's validator on the same bytes in the same process: median MB/s, or why not measured. */
  readonly ncval?: number | string;
}

/**
 * `ncval --raw FILE --bench --bytes N --reps R` on `code` (NaCl's validator
 * in loader mode, as NaCl's loader runs it); returns its median MB/s.
 */
function measureNcval(code: Uint8Array): number | string {
  const reference = findReference();
  if ('missing' in reference) return `skipped: the reference validator is not there (${reference.missing})`;
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-'));
  try {
    const file = join(dir, 'region.bin');
    writeFileSync(file, code);
    const out = execFileSync(reference.paths.ncval, ['--raw', file, '--bench', '--bytes', String(code.length), '--reps', String(RUNS)], { encoding: 'utf8' });
    const median = /median ([\d.]+) MB\/s/.exec(out);
    if (!/verdict=VALID/.test(out) || median === null) return `skipped: unexpected ncval output: ${out.trim().split('\n').pop() ?? ''}`;
    return Number(median[1]);
  } catch (error) {
    return `skipped: ncval failed: ${String(error).split('\n')[0] ?? ''}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- (a), (d) cc1 corpus ---------------------------------------------------------------------
function runCc1(policy: ValidationPolicy): DatasetOutcome {
  const id = policy === 'nacl' ? '(a)' : '(d)';
  const notes: string[] = [];
  const corpus = findCorpus();
  if (corpus === null) return { measurement: null, notes: [`${id} skipped: the benchmark corpus (cc1-bundles.bin.xz, beside the checkout) was not found`] };
  let raw: Buffer;
  try {
    raw = execFileSync('xz', ['-dc', corpus], { maxBuffer: 256 * MiB });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { measurement: null, notes: [`${id} skipped: cannot run xz -dc ${corpus} (${code === 'ENOENT' ? 'xz is not installed' : String(error)})`] };
  }
  const chunk = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  if (chunk.length % 32 !== 0) notes.push(`${id} note: corpus is ${chunk.length} bytes, not whole bundles`);
  const code = repeatTo(chunk, 32 * MiB);
  const check = validate(code, { policy });
  if (!check.valid) notes.push(`${id} FINDING: the cc1 corpus must validate but has ${check.errors.length} errors; first ones:\n${describeErrors(check, code)}`);
  const m = measure(`${id} cc1 corpus x${(code.length / chunk.length).toFixed(2)}${policy === 'nacl' ? '' : `, ${policy} policy`}`, code.length, () => {
    validate(code, { policy });
  });
  if (policy !== 'nacl') return { measurement: m, notes };
  return { measurement: m, notes, cc1: median(m.mbps), ncval: measureNcval(code) };
}

// ---- (b) generated region -----------------------------------------------------------------
function runGenerated(): DatasetOutcome {
  const notes: string[] = [];
  const t0 = performance.now();
  const code = generateValidRegion(16 * MiB, 1);
  const genMs = performance.now() - t0;
  const check = validate(code);
  if (!check.valid) notes.push(`(b) FINDING: generated region has ${check.errors.length} errors:\n${describeErrors(check, code)}`);
  notes.push(`(b) generateValidRegion(16 MiB) took ${genMs.toFixed(0)} ms (256 KiB distinct, repeated)`);
  const m = measure('(b) generated region', code.length, () => {
    validate(code);
  });
  return { measurement: m, notes };
}

// ---- (c) a real program --------------------------------------------------------------------
type NexeValidator = (bytes: Uint8Array) => unknown;

async function loadValidateNexe(): Promise<NexeValidator | null> {
  for (const spec of ['../src/validator/nexe.js', '../src/validator/validate-nexe.js']) {
    try {
      const mod: unknown = await import(spec);
      const fn = (mod as { validateNexe?: unknown }).validateNexe;
      if (typeof fn === 'function') return fn as NexeValidator;
    } catch {
      // not there (yet)
    }
  }
  return null;
}

/** Finds the ValidationResult in whatever validateNexe returns ({ok, value: {result}} today). */
function nexeResult(outcome: unknown): ValidationResult | string {
  const o = outcome as { ok?: boolean; error?: unknown; value?: { result?: ValidationResult }; result?: ValidationResult; errors?: unknown };
  if (o.ok === false) return String(o.error);
  const r = o.value?.result ?? o.result ?? (Array.isArray(o.errors) ? (outcome as ValidationResult) : undefined);
  return r ?? 'unrecognised validateNexe() result';
}

async function runNexe(): Promise<DatasetOutcome> {
  const nexePath = process.env.ZEROVM_BENCH_NEXE;
  if (!nexePath) return { measurement: null, notes: ['(c) skipped: set ZEROVM_BENCH_NEXE=path/to/program.nexe'] };
  if (!existsSync(nexePath)) return { measurement: null, notes: [`(c) skipped: ${nexePath} does not exist`] };
  const validateNexe = await loadValidateNexe();
  if (validateNexe === null) return { measurement: null, notes: ['(c) skipped: src/validator/nexe.ts (validateNexe) does not exist yet'] };
  const file = new Uint8Array(readFileSync(nexePath));
  const first = nexeResult(validateNexe(file));
  if (typeof first === 'string') return { measurement: null, notes: [`(c) skipped: ${nexePath} is not a usable nexe: ${first}`] };
  const notes = first.valid ? [] : [`(c) note: ${nexePath} has ${first.errors.length} validation errors (measured anyway)`];
  const m = measure(`(c) ${nexePath.split('/').pop() ?? nexePath} text`, first.size, () => {
    validateNexe(file);
  });
  return { measurement: m, notes };
}

async function runDataset(id: DatasetId): Promise<DatasetOutcome> {
  return id === 'a' ? runCc1('nacl') : id === 'b' ? runGenerated() : id === 'c' ? runNexe() : runCc1('deterministic');
}

/**
 * Runs one dataset in a fresh child process (same node flags, so it works
 * under tsx and compiled), so that its rss delta is not hidden by memory an
 * earlier dataset left behind. Falls back to running it here.
 */
async function runIsolated(id: DatasetId): Promise<DatasetOutcome> {
  const script = process.argv[1];
  if (script === undefined) return runDataset(id);
  try {
    const out = execFileSync(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, ZEROVM_BENCH_ONLY: id },
      encoding: 'utf8',
      maxBuffer: 16 * MiB,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    if (line === undefined) throw new Error('no result line');
    return JSON.parse(line.slice(RESULT_PREFIX.length)) as DatasetOutcome;
  } catch (error) {
    const outcome = await runDataset(id);
    return { ...outcome, notes: [`(${id}) note: ran in-process (child failed: ${String(error).split('\n')[0] ?? ''})`, ...outcome.notes] };
  }
}

const RESULT_PREFIX = 'ZEROVM_BENCH_RESULT ';
const only = process.env.ZEROVM_BENCH_ONLY;

if (only === 'a' || only === 'b' || only === 'c' || only === 'd') {
  // Child mode: one dataset, one machine-readable line.
  console.log(RESULT_PREFIX + JSON.stringify(await runDataset(only)));
} else {
  const outcomes: DatasetOutcome[] = [];
  for (const id of ['a', 'b', 'c', 'd'] as const) outcomes.push(await runIsolated(id));
  report(outcomes);
}

// ---- report -------------------------------------------------------------------------------
function report(outcomes: readonly DatasetOutcome[]): void {
  const results = outcomes.flatMap((o) => (o.measurement ? [o.measurement] : []));
  const fmtBytes = (n: number): string => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  const header = ['dataset', 'size', 'median MB/s', 'min', 'max', 'runs', 'rss delta'];
  const rows = results.map((m) => [
    m.name,
    fmtBytes(m.bytes),
    median(m.mbps).toFixed(1),
    Math.min(...m.mbps).toFixed(1),
    Math.max(...m.mbps).toFixed(1),
    String(m.mbps.length),
    `${(m.rssDelta / MiB).toFixed(1)} MiB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');

  console.log(`Validator throughput (node ${process.version}; median of ${RUNS} runs of >= ${MIN_MS} ms; MB = 10^6 bytes; one process per dataset)`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
  const a = outcomes.find((o) => o.cc1 !== undefined);
  if (a?.cc1 !== undefined) {
    if (typeof a.ncval === 'number') {
      console.log(`NaCl's validator (ncval --bench, loader mode) on the same (a) bytes, same process, right after ours: median ${a.ncval.toFixed(1)} MB/s.`);
      console.log(`Ratio on (a): ours ${a.cc1.toFixed(1)} MB/s / NaCl ${a.ncval.toFixed(1)} MB/s = ${(a.cc1 / a.ncval).toFixed(2)} (${((a.cc1 / a.ncval) * 100).toFixed(0)}% of NaCl's C validator).`);
    } else {
      console.log(`Ratio against NaCl's validator on (a): ${a.ncval ?? 'skipped: not measured'}`);
    }
  }
  for (const o of outcomes) for (const n of o.notes) console.log(n);
}
