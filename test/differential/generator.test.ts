/**
 * The differential generator's own guarantees, checked without running
 * anything: calls end their bundle (so the masked return lands after them),
 * the flag tracking refuses a read of an undefined flag, a shrunk spec stays
 * a valid program, the report masking hides only the CPU times, and the
 * programs are ones a session accepts: both original validators (NaCl's and
 * ZeroVM 2015's) accept every generated program and every regressions.json
 * text (checked when the reference binaries are present; skipped loudly
 * otherwise), and none uses cpuid, which both accept but a session refuses.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Code, Decoder, DecoderOptions, FlowControl } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { acceptedByBoth, describeJudged, judge, skipReferenceChecks } from '../reference-validators.js';
import { Emitter, Labels, Choices } from './emitter.js';
import { r } from './forms.js';
import { generateProgram, programSpec, type ProgramSpec } from './generator.js';
import { listing, maskReport } from './harness.js';
import { branch, gpr, MULTIPLY, ZF } from './x86.js';

/** Programs checked against the original validators per run (one batch process each). */
const ORACLE_RUNS = 150;

const regressions = (JSON.parse(readFileSync(new URL('./regressions.json', import.meta.url), 'utf8')) as { cases: { note: string; spec: ProgramSpec; text?: string }[] }).cases;

/** Every instruction of `text` (at 0x20000) by iced's Code. */
function codes(text: Uint8Array): Code[] {
  const decoder = new Decoder(64, text, DecoderOptions.None);
  decoder.ip = 0x20000n;
  const out: Code[] = [];
  try {
    while (decoder.canDecode) {
      const i = decoder.decode();
      out.push(i.code);
      i.free();
    }
  } finally {
    decoder.free();
  }
  return out;
}

describe('generator', () => {
  it('ends every call at a bundle boundary', () => {
    fc.assert(
      fc.property(programSpec(), (spec) => {
        const { text } = generateProgram(spec);
        const decoder = new Decoder(64, text, DecoderOptions.None);
        decoder.ip = 0x20000n;
        try {
          while (decoder.canDecode) {
            const i = decoder.decode();
            const call = i.flowControl === FlowControl.Call || i.flowControl === FlowControl.IndirectCall;
            const end = Number(i.nextIP);
            i.free();
            if (call) expect(end % 32, `call ending at 0x${end.toString(16)}`).toBe(0);
          }
        } finally {
          decoder.free();
        }
      }),
      { numRuns: 50 },
    );
  });

  it('generates the empty program and the all-zero words', () => {
    for (const spec of [
      { seed: 0, main: [], functions: [] },
      { seed: 0, main: [[0]], functions: [[[0]]] },
    ]) {
      expect(generateProgram(spec).text.length % 32).toBe(0);
    }
  });

  it('refuses an instruction that reads a flag left undefined', () => {
    const e = new Emitter(new Labels(), false);
    e.emit(r('Mul_rm64', gpr(0, 64), MULTIPLY));
    expect(() => e.emit(branch('Je_rel32_64', 'x', ZF))).toThrow(/reads flags 0x40/);
    e.need(ZF, new Choices([]));
    expect(() => e.emit(branch('Je_rel32_64', 'x', ZF))).not.toThrow();
  });
});

describe('maskReport', () => {
  it('hides the two CPU times and nothing else', () => {
    const report = '0\n0\n7\n/dev/stdout 00ff\n0.01 0.25 1 2 3 4 0 0 0 0\nok\n\n';
    expect(maskReport(report)).toBe('0\n0\n7\n/dev/stdout 00ff\n- - 1 2 3 4 0 0 0 0\nok\n\n');
  });
});

describe('generated programs, as a session sees them', () => {
  it('never use cpuid (both originals accept it; a session refuses it)', () => {
    fc.assert(
      fc.property(programSpec(), (spec) => {
        expect(codes(generateProgram(spec).text)).not.toContain(Code.Cpuid);
      }),
      { numRuns: 50 },
    );
  });

  it.skipIf(skipReferenceChecks('differential generator'))('pass NaCl\'s and ZeroVM 2015\'s validators, and so do regressions.json\'s texts', async () => {
    const seed = Number(process.env.ZEROVM_GENERATOR_SEED ?? '') || Math.floor(Math.random() * 2 ** 31);
    const specs = fc.sample(programSpec(), { numRuns: ORACLE_RUNS, seed });
    const programs = [
      ...specs.map((spec, n) => ({ name: `generated #${n} ${JSON.stringify(spec)}`, code: generateProgram(spec).text })),
      ...regressions.map(({ note, spec, text }, n) => ({
        name: `regressions.json case ${n} (${note})`,
        code: text === undefined ? generateProgram(spec).text : Buffer.from(text, 'hex'),
      })),
    ];
    const refused = (await judge(programs)).flatMap((j, n) => (acceptedByBoth(j) ? [] : [`${describeJudged(j)}\n${listing(programs[n]!.code)}`]));
    expect(refused, `seed ${seed} (ZEROVM_GENERATOR_SEED=${seed} repeats it)`).toEqual([]);
  });
});
