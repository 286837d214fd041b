/**
 * Proof of sameness, by property: generated sandboxed programs (generator.ts)
 * (a) all validate under the deterministic policy for baseline x86-64 +
 *     SSE2;
 * (b) run to their planned end on the native engine (TrapExit, or a
 *     deliberate fault after the dump: generator.ts Ending), and two runs
 *     give byte-identical stdout, report (CPU times aside) and etags,
 *     memory etag included;
 * (c) give byte-identical stdout, report and etags on the native and the
 *     Unicorn engines.
 * Shrunk counterexamples are kept in regressions.json and replayed below.
 * A longer hunt: ZEROVM_DIFFERENTIAL_RUNS=1000 npx vitest run test/differential
 * (fast-check prints the seed and the shrunk spec of a failure).
 *
 * An engine that cannot run here is skipped with a loud warning; under CI
 * (process.env.CI set) a missing engine fails instead, the Unicorn one
 * included (CI installs libunicorn-dev).
 *
 * Sizing (2 busy cores): about 10 ms per generated program to generate and
 * validate, 40-100 ms per session on either engine (most of it the 32 MiB
 * memory etag); numRuns keep the tests near 20 s, the file under 60 s with
 * vitest's global setup.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/runtime/engine.js';
import { validateNexe } from '../../src/validator/index.js';
import { buildNexe } from '../nexe-builder.js';
import { OUTPUT_SIZE } from './emitter.js';
import { nativeUnderTest, unicornUnderTest, type EngineUnderTest } from './engines.js';
import { endingOf, generateProgram, programSpec, type GeneratedProgram, type ProgramSpec } from './generator.js';
import { describeDump, difference, listing, observe, PREFERRED_BASE, type Observation } from './harness.js';

const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';
const native = nativeUnderTest();
const unicorn = await unicornUnderTest();
for (const e of [native, unicorn]) {
  if (e.reason !== null && !ci) console.warn(`\n*** differential tests on the ${e.name} engine SKIPPED: ${e.reason} ***\n`);
}
const skip = (...engines: EngineUnderTest[]): boolean => !ci && engines.some((e) => e.reason !== null);

/** ZEROVM_DIFFERENTIAL_RUNS=N runs N programs per engine property instead (a longer hunt for differences). */
const hunt = Number(process.env.ZEROVM_DIFFERENTIAL_RUNS ?? '') || 0;
const VALIDATE_RUNS = 200;
const NATIVE_RUNS = hunt || 30;
const CROSS_RUNS = hunt || 50;

const dir = mkdtempSync(join(tmpdir(), 'zerovm-differential-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Regression {
  readonly note: string;
  readonly spec: ProgramSpec;
  /** The program's text as hex, replayed byte for byte when present. */
  readonly text?: string;
  /** A documented engine difference (spec/runtime.md, Engines): the engines must still disagree on it. */
  readonly knownDifference?: boolean;
}
const regressions = (JSON.parse(readFileSync(new URL('./regressions.json', import.meta.url), 'utf8')) as { cases: Regression[] }).cases;

function fromText(spec: ProgramSpec, hex: string): GeneratedProgram {
  const text = Buffer.from(hex, 'hex');
  return { spec, ending: endingOf(spec), text, nexe: buildNexe(text) };
}

function required(e: EngineUnderTest): Engine {
  if (e.engine === null) throw new Error(`the ${e.name} engine is required under CI but unavailable: ${e.reason}`);
  return e.engine;
}

function context(program: GeneratedProgram): string {
  return `\nspec (add it to test/differential/regressions.json): ${JSON.stringify(program.spec)}\n${listing(program.text)}`;
}

function assertValid(program: GeneratedProgram): void {
  const outcome = validateNexe(program.nexe, { policy: 'deterministic', features: ['CMOV', 'SSE', 'SSE2'] });
  if (!outcome.ok) throw new Error(`generated nexe is malformed: ${outcome.error.message}${context(program)}`);
  const { errors } = outcome.value.result;
  if (errors.length > 0) {
    throw new Error(`generated program does not validate: ${errors.map((e) => `0x${e.address.toString(16)} ${e.message}`).join('; ')}${context(program)}`);
  }
}

/** The end a program must reach: TrapExit, or (after its dump) the signal of its deliberate fault. */
function endedAsPlanned(program: GeneratedProgram, o: Observation): boolean {
  if (o.stdout.length < OUTPUT_SIZE) return false;
  if (program.ending === 'exit') return o.exitCode === 0 && o.exitState === 'ok';
  const signal = program.ending === 'divide' ? 8 : 11;
  return o.exitCode === 4 && o.exitState.startsWith(`Signal ${signal} from untrusted code: Halting at 0x`);
}

function run(engine: EngineUnderTest, program: GeneratedProgram): Observation {
  const o = observe(required(engine), program.nexe, dir);
  if (!endedAsPlanned(program, o)) {
    const what = `exit ${o.exitCode} "${o.exitState}", ${o.stdout.length} bytes of stdout`;
    throw new Error(`generated program did not end as planned (${program.ending}) on ${engine.name}: ${what}${context(program)}`);
  }
  return o;
}

function assertSame(a: Observation, b: Observation, names: readonly [string, string], program: GeneratedProgram): void {
  const diff = difference(a, b, names, OUTPUT_SIZE);
  if (diff !== null) throw new Error(`${diff}${context(program)}`);
}

/** %r15 as the program saw it: engines must agree on the base for host addresses in registers and memory to compare. */
function base(o: Observation): bigint {
  return BigInt(`0x${describeDump(o.stdout, OUTPUT_SIZE).get('r15') ?? '0'}`);
}

function deterministic(program: GeneratedProgram): void {
  assertValid(program);
  const first = run(native, program);
  const second = run(native, program);
  assertSame(first, second, ['first run', 'second run'], program);
}

function same(program: GeneratedProgram): void {
  const a = run(native, program);
  const b = run(unicorn, program);
  if (base(a) !== PREFERRED_BASE || base(b) !== PREFERRED_BASE) {
    const bases = `native 0x${base(a).toString(16)}, unicorn 0x${base(b).toString(16)}`;
    throw new Error(
      `an engine did not place the sandbox at 0x${PREFERRED_BASE.toString(16)} (${bases}): host addresses in registers and memory cannot be compared`,
    );
  }
  assertSame(a, b, ['native', 'unicorn'], program);
}

describe('generated programs', () => {
  it('validate (deterministic policy, x86-64 + CMOV + SSE + SSE2)', () => {
    fc.assert(
      fc.property(programSpec(), (spec) => assertValid(generateProgram(spec))),
      { numRuns: VALIDATE_RUNS },
    );
  });

  it.skipIf(skip(native))('end as planned, and two native runs give identical stdout, report and etags', () => {
    fc.assert(
      fc.property(programSpec(), (spec) => deterministic(generateProgram(spec))),
      { numRuns: NATIVE_RUNS },
    );
  });

  it.skipIf(skip(native, unicorn))('give identical stdout, report and etags on native and unicorn', () => {
    fc.assert(
      fc.property(programSpec(), (spec) => {
        /* a misaligned SSE operand faults only natively: a known difference, tracked in regressions.json */
        fc.pre(endingOf(spec) !== 'misaligned');
        same(generateProgram(spec));
      }),
      { numRuns: CROSS_RUNS },
    );
  });
});

describe('regressions.json', () => {
  it('has cases', () => {
    expect(regressions.length).toBeGreaterThan(0);
  });

  regressions.forEach(({ note, spec, text, knownDifference }, n) => {
    const program = text === undefined ? generateProgram(spec) : fromText(spec, text);
    it.skipIf(skip(native))(`case ${n} (${note}): validates, deterministic on native`, () => deterministic(program));
    if (knownDifference === true) {
      /* documented in spec/runtime.md (Engines); when this starts to fail, the engines agree: drop the flag */
      it.skipIf(skip(native, unicorn))(`case ${n} (${note}): still a known difference, native != unicorn`, () => {
        expect(() => same(program)).toThrow(/native|unicorn/);
      });
    } else {
      it.skipIf(skip(native, unicorn))(`case ${n} (${note}): native = unicorn`, () => same(program));
    }
  });
});
