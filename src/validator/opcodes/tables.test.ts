import { describe, expect, it } from 'vitest';
import { OPCODE_TABLES } from './index.js';
import { parseTable } from './grammar.js';
import { isCpuFeature } from '../features.js';

describe('opcode tables', () => {
  for (const [name, text] of OPCODE_TABLES) {
    it(`${name} parses and names only known CPU features`, () => {
      const forms = parseTable(name, text);
      for (const form of forms) {
        expect(isCpuFeature(form.feature), `${name}:${form.line} feature ${form.feature}`).toBe(true);
      }
    });
  }
});
