/**
 * NaCl's own validator test corpus as an oracle (optional: the corpus is
 * external data beside the checkout and is never copied here).
 *
 * Each case's bytes are padded with 0x90 to whole bundles and validated at
 * address 0 with every CPU feature, as NaCl's harness did. Agreement means:
 * the same verdict and the same errors at the same offsets (NaCl's message
 * for each of our rule ids is in src/validator/rules.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../src/validator/validate.js';

const CORPUS = join(import.meta.dirname, '..', '..', 'shared', 'nacl-validator-tests');

interface CorpusCase {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly expected: string[];
  readonly returnCode: number;
}

export function parseCorpusFile(name: string, text: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const sections = text.split(/^-{10,}\s*$/m);
  sections.forEach((section, index) => {
    let mode = '';
    const hex: string[] = [];
    const expected: string[] = [];
    let returnCode = -1;
    for (const line of section.split('\n')) {
      const header = /^@(\w+):/.exec(line);
      if (header) {
        mode = header[1] as string;
        continue;
      }
      if (mode === 'hex') {
        const content = line.replace(/#.*$/, '').replace(/\\\\/g, '').trim();
        if (content) hex.push(...content.split(/\s+/));
      } else if (mode === 'rdfa_output') {
        const rc = /return code:\s*(\d+)/.exec(line);
        if (rc) returnCode = Number(rc[1]);
        const err = /^\s*([0-9a-f]+): (.*)$/.exec(line);
        if (err && !line.includes('return code')) expected.push(`${parseInt(err[1] as string, 16)}: ${(err[2] as string).trim()}`);
      }
    }
    if (returnCode < 0) return;
    cases.push({ name: `${name}#${index + 1}`, bytes: Uint8Array.from(hex.map((h) => parseInt(h, 16))), expected: expected.sort(), returnCode });
  });
  return cases;
}

const available = existsSync(CORPUS);
if (!available) {
  console.warn(`\n*** SKIPPING NaCl corpus test: ${CORPUS} not found (it is external data beside the checkout) ***\n`);
}

describe.skipIf(!available)('NaCl validator corpus (external test data)', () => {
  const files = available ? readdirSync(CORPUS).filter((f) => f.endsWith('.test')).sort() : [];
  const cases = files.flatMap((f) => parseCorpusFile(f, readFileSync(join(CORPUS, f), 'utf8')));

  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(250);
  });

  for (const c of cases) {
    it(c.name, () => {
      const result = validate(c.bytes, { padByte: 0x90 });
      const got = result.errors.map((e) => `${e.offset}: ${e.nacl ?? e.rule}`).sort();
      expect({ verdict: result.valid ? 0 : 1, errors: got }).toEqual({ verdict: c.returnCode, errors: c.expected });
    });
  }
});
