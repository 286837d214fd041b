/**
 * The opcode tables parse, name known CPU features, and every form points
 * at the line of its source file it was written on (`file:line` is what
 * `decodeInstruction().form` and the disassembler print).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPCODE_TABLES } from './index.js';
import { attributesUnder, parseTable, TableSyntaxError, type OpcodeTable } from './grammar.js';
import { isCpuFeature } from '../features.js';

describe('opcode tables', () => {
  for (const table of OPCODE_TABLES) {
    it(`${table.file} parses and names only known CPU features`, () => {
      for (const form of parseTable(table)) {
        expect(isCpuFeature(form.feature), `${form.file}:${form.line} feature ${form.feature}`).toBe(true);
      }
    });

    it(`${table.file}: every form names the source line it was written on`, () => {
      const source = readFileSync(join(import.meta.dirname, table.file), 'utf8').split('\n');
      expect(source[table.line - 1], `${table.file}:${table.line} opens the table`).toContain('String.raw`');
      for (const form of parseTable(table)) {
        const [encoding = '', instruction = ''] = (source[form.line - 1] ?? '').split('|');
        const written = instruction.trim().split(/\s/)[0] ?? '';
        const expected = encoding.includes('+cc') ? form.mnemonic.replace(/(o|no|b|ae|e|ne|be|a|s|ns|p|np|l|ge|le|g)$/, 'cc') : form.mnemonic;
        expect(written, `${form.file}:${form.line}`).toBe(expected);
      }
    });
  }
});

describe('table grammar', () => {
  const table = (text: string): OpcodeTable => ({ name: 't', file: 't.ts', line: 10, text });

  it('expands a 128/256 line into one form per vector length, with a feature per length', () => {
    const forms = parseTable(table('\nVEX.128/256.66.0F.WIG 58 /r | vaddpd =Vx, Hx, Wx | AVX/AVX2 |'));
    expect(forms.map((f) => [f.vexL, f.feature, f.line])).toEqual([[0, 'AVX', 11], [1, 'AVX2', 11]]);
  });

  it('refuses dq/qq sizes on a 128/256 line', () => {
    expect(() => parseTable(table('VEX.128/256.66.0F.WIG 58 /r | vaddpd =Vdq, Hx, Wx | AVX |'))).toThrow(TableSyntaxError);
  });

  it('resolves policy-qualified attributes through the policies a policy extends', () => {
    const [form] = parseTable(table('0F AE /7 | clflush M | CLFLUSH | nacl:deny=unknown zerovm:allow nacl:zx zerovm:-zx'));
    if (form === undefined) throw new Error('no form');
    expect(form.deny).toBeNull();
    expect(attributesUnder(form, 'nacl')).toEqual({ attributes: new Set(['zx']), deny: 'unknown' });
    expect(attributesUnder(form, 'zerovm')).toEqual({ attributes: new Set(), deny: null });
    // deterministic extends zerovm, which extends nacl.
    expect(attributesUnder(form, 'deterministic')).toEqual({ attributes: new Set(), deny: null });
  });

  it('gives every line the table\'s own attributes, which the line\'s override', () => {
    const forms = parseTable({ ...table('C5 /r | a Gv, Ev | - |\nC6 /r | b Gv, Ev | - | zerovm:allow deny=legacy'), attributes: 'zerovm:deny=novex zx' });
    const [a, b] = forms.map((f) => [attributesUnder(f, 'nacl'), attributesUnder(f, 'zerovm')]);
    expect(a).toEqual([{ attributes: new Set(['zx']), deny: null }, { attributes: new Set(['zx']), deny: 'novex' }]);
    expect(b).toEqual([{ attributes: new Set(['zx']), deny: 'legacy' }, { attributes: new Set(['zx']), deny: null }]);
  });

  it('refuses unknown policies and qualified structural attributes', () => {
    expect(() => parseTable(table('90 | nop | - | strict:deny=legacy'))).toThrow(/unknown policy/);
    expect(() => parseTable(table('00 /r | add &Eb, Gb | - | nacl:lock'))).toThrow(/decoder/);
    expect(() => parseTable(table('90 | nop | - | allow'))).toThrow(/needs a policy/);
  });
});
