/**
 * The differential generator's own guarantees, checked without running
 * anything: calls end their bundle (so the masked return lands after them),
 * the flag tracking refuses a read of an undefined flag, a shrunk spec stays
 * a valid program, and the report masking hides only the CPU times.
 */
import fc from 'fast-check';
import { Decoder, DecoderOptions, FlowControl } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { Emitter, Labels, Choices } from './emitter.js';
import { r } from './forms.js';
import { generateProgram, programSpec } from './generator.js';
import { maskReport } from './harness.js';
import { branch, gpr, MULTIPLY, ZF } from './x86.js';

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
