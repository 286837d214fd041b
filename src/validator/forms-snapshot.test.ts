/**
 * The precompiled opcode tables the command-line bundle carries
 * (forms-snapshot.ts): after a round trip through text they are the tables
 * compiled from the text tables, array for array and form for form, and a
 * snapshot that does not fit is refused with a message, never half used.
 */
import { describe, expect, it } from 'vitest';
import { compileForms, FORMS } from './forms.js';
import { deserializeCompiledForms, FormsSnapshotError, serializeCompiledForms } from './forms-snapshot.js';
import { allFormSpecs } from './opcodes/index.js';
import { POLICIES } from './policies.js';

describe('precompiled opcode tables', () => {
  const compiled = compileForms();
  const text = serializeCompiledForms(compiled);

  it('round-trip to the same arrays, per policy too, and the same forms', () => {
    const restored = deserializeCompiledForms(text, allFormSpecs);
    const { forms: _forms, policy: _policy, ...arrays } = compiled;
    for (const [name, array] of Object.entries(arrays)) {
      const copy = restored[name as keyof typeof arrays];
      expect(copy.constructor, name).toBe(array.constructor);
      expect(Array.from(copy), name).toEqual(Array.from(array));
    }
    for (const p of POLICIES) {
      expect(Array.from(restored.policy[p].flags), p).toEqual(Array.from(compiled.policy[p].flags));
      expect(Array.from(restored.policy[p].deny), p).toEqual(Array.from(compiled.policy[p].deny));
    }
    expect(restored.flags).toBe(restored.policy.nacl.flags);
    expect(restored.forms).toEqual(compiled.forms);
  });

  it('are what FORMS holds (this process compiled them on import)', () => {
    expect(serializeCompiledForms(FORMS)).toBe(text);
  });

  it('parse the forms only when they are read', () => {
    let parses = 0;
    const restored = deserializeCompiledForms(text, () => {
      parses++;
      return allFormSpecs();
    });
    expect(restored.candidates.length).toBe(compiled.candidates.length);
    expect(parses).toBe(0);
    expect(restored.forms.length).toBe(compiled.forms.length);
    expect(restored.forms.length).toBe(compiled.forms.length);
    expect(parses).toBe(1);
  });

  it('refuse a snapshot of other tables, or a damaged one', () => {
    const fewerForms = deserializeCompiledForms(text, () => allFormSpecs().slice(1));
    expect(() => fewerForms.forms).toThrow(FormsSnapshotError);
    expect(() => fewerForms.forms).toThrow(/rebuild with `npm run build`/);
    const snapshot = JSON.parse(text) as { arrays: Record<string, unknown>; formCount: number };
    const missing = structuredClone(snapshot);
    delete missing.arrays.operands;
    expect(() => deserializeCompiledForms(JSON.stringify(missing), allFormSpecs)).toThrow(/operands is missing/);
    const badType = structuredClone(snapshot);
    badType.arrays.prefix = ['Float64Array', ''];
    expect(() => deserializeCompiledForms(JSON.stringify(badType), allFormSpecs)).toThrow(/prefix is malformed/);
    const wrongCount = { ...snapshot, formCount: snapshot.formCount + 1 };
    expect(() => deserializeCompiledForms(JSON.stringify(wrongCount), allFormSpecs)).toThrow(FormsSnapshotError);
  });
});
