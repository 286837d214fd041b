/**
 * The runtime equals the original ZeroVM 2015, by property: generated
 * sessions (sessions.ts: manifests with random channel sets, aliases,
 * types, limits, files, etag flags and memory sizes, and trap scripts for
 * the conformance suite's driver) run on the original binary and on both
 * our engines; the exit code, the report (CPU times and the memory etag's
 * value aside) and every file of the session's folder must be the same,
 * byte for byte. A difference prints the manifest, the script and every
 * implementation's outputs; once understood and fixed it goes into
 * regressions.json, which is replayed first.
 *
 * Size: SESSIONS generated sessions per run (ZEROVM_RUNTIME_DIFFERENTIAL_RUNS=N
 * for a longer hunt), each on the original (a process) and on the native
 * and Unicorn engines (in this process).
 *
 * Runs when ../shared/reference exists (CI has it); skipped loudly
 * otherwise. Under CI an original or an engine that cannot run fails.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { unicornEngine } from '../../src/emulator/unicorn.js';
import { nativeEngine } from '../../src/engines/native.js';
import { CI, ORIGINAL_ZEROVM, originalZerovmUnavailable, REFERENCE } from '../original-zerovm.js';
import { describeSession, differences, runOriginal, runOurs, sessionGen, withoutDeviations, type Outcome, type SessionGen } from './sessions.js';

const SESSIONS = Number(process.env.ZEROVM_RUNTIME_DIFFERENTIAL_RUNS ?? '') || 200;
const present = existsSync(REFERENCE);
const unavailable = originalZerovmUnavailable();
const engines = [nativeEngine, unicornEngine].map((engine) => ({ engine, reason: engine.unavailableReason() }));
const skip = !present || (!CI && (unavailable !== null || engines.some((e) => e.reason !== null)));
if (skip) {
  const why = unavailable ?? engines.find((e) => e.reason !== null)?.reason ?? 'no reference';
  console.warn(`\n*** runtime differential tests against the original ZeroVM 2015 SKIPPED: ${why} ***\n`);
}

const work = mkdtempSync(join(tmpdir(), 'zerovm-runtime-differential-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;

/** Runs one session everywhere; returns the differences, described for a person, or an empty list. */
function compare(gen: SessionGen): string[] {
  const n = counter++;
  const originalDir = join(work, `${n}-original`);
  const original = runOriginal(ORIGINAL_ZEROVM, gen, originalDir);
  const outcomes: Record<string, Outcome> = { original };
  const found: string[] = [];
  for (const { engine } of engines) {
    const dir = join(work, `${n}-${engine.name}`);
    const ours = runOurs(engine, gen, dir);
    outcomes[engine.name] = ours;
    for (const d of differences(original, originalDir, ours, dir)) found.push(`${engine.name}: ${d}`);
  }
  if (found.length > 0) return [...found, '', describeSession(gen, originalDir, outcomes)];
  for (const name of ['original', ...engines.map((e) => e.engine.name)]) rmSync(join(work, `${n}-${name}`), { recursive: true, force: true });
  return [];
}

interface Regression {
  readonly note: string;
  readonly spec: SessionGen;
}

const regressions = JSON.parse(readFileSync(join(import.meta.dirname, 'regressions.json'), 'utf8')) as Regression[];

describe('the session generator', () => {
  it('keeps a read of the script channel (0) only when it takes whole 48-byte records, which leaves the records after it whole', () => {
    const read = (size: number) => ({ fn: 'Read' as const, args: ['0', '262144', String(size), '0'] });
    expect(withoutDeviations([read(1), read(47), read(49)])).toEqual([]);
    expect(withoutDeviations([read(0), read(-1), read(48), read(96)])).toEqual([read(0), read(-1), read(48), read(96)]);
    expect(withoutDeviations([{ fn: 'Read', args: ['1', '262144', '1', '0'] }])).toHaveLength(1);
  });
});

describe.skipIf(skip)('the runtime against the original ZeroVM 2015', () => {
  it('the original and the engines can run', () => {
    expect(unavailable).toBeNull();
    for (const e of engines) expect(e.reason, e.engine.name).toBeNull();
  });

  it.each(regressions.map((r) => [r.note, r.spec] as const))('regression: %s', (_note, spec) => {
    expect(compare(spec).join('\n')).toBe('');
  });

  it(`${SESSIONS} generated sessions: the same exit code, report and files on the original, native and Unicorn`, () => {
    const started = Date.now();
    fc.assert(
      fc.property(sessionGen, (gen) => {
        const found = compare(gen);
        if (found.length > 0) throw new Error(`the runtime differs from the original ZeroVM 2015:\n${found.join('\n')}`);
      }),
      { numRuns: SESSIONS, endOnFailure: true },
    );
    console.log(`runtime differential: ${SESSIONS} sessions on the original and both engines in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 900_000);
});
