import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMAT_VERSION, type ConformanceCase } from './format.js';
import { caseName, loadSuite, selectCases } from './loader.js';
import type { CaseOutcome } from './outcome.js';
import { formatJunit, formatOutcome, formatSummary, formatTap } from './results.js';

const SUITE = join(import.meta.dirname, '..', '..', 'conformance');

function tempSuite(files: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'zerovm-conformance-loader-'));
  for (const [path, value] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), typeof value === 'string' ? value : JSON.stringify(value));
  }
  return root;
}

const ONE = { id: 'one', title: 't', spec: 'runtime.md#trap', manifest: [], expect: { exitCode: 5 } };

describe('loadSuite', () => {
  it('reads the committed suite: cases in every area, unique names', () => {
    const cases = loadSuite(SUITE);
    const names = cases.map(caseName);
    expect(new Set(names).size).toBe(names.length);
    const areas = new Set(cases.map((c) => c.area));
    for (const area of ['validator', 'elf', 'manifest', 'state', 'trap', 'channels', 'etags', 'jail', 'faults', 'determinism', 'cli']) expect(areas.has(area), area).toBe(true);
    expect(cases.length).toBeGreaterThan(400);
  });

  it('names the file of a malformed case and refuses ids used twice in an area', () => {
    expect(() => loadSuite(tempSuite({ 'cases/a/x.json': '{ nope' }))).toThrow(/cases\/a\/x\.json: not valid JSON/);
    const twice = tempSuite({
      'cases/a/x.json': { format: FORMAT_VERSION, area: 'a', cases: [ONE] },
      'cases/a/y.json': { format: FORMAT_VERSION, area: 'a', cases: [ONE] },
    });
    expect(() => loadSuite(twice)).toThrow(/cases\/a\/y\.json: case id one is already used in cases\/a\/x\.json/);
    expect(() => loadSuite(join(tmpdir(), 'no-such-suite-here'))).toThrow(/no cases folder/);
  });
});

describe('selectCases', () => {
  const suite = tempSuite({
    'cases/a/x.json': { format: FORMAT_VERSION, area: 'a', cases: [ONE, { ...ONE, id: 'two', profile: 'zerovm-ts' }] },
    'cases/b/x.json': { format: FORMAT_VERSION, area: 'b', cases: [{ kind: 'validator', id: 'v', title: 't', spec: 's', code: '90'.repeat(32), expect: { valid: true, errors: [] } }] },
  });
  const cases = loadSuite(suite);

  it('filters by area and by name prefix', () => {
    const names = (filters: string[]): string[] => selectCases(cases, { filters, profiles: ['core', 'zerovm-ts'], validator: true }).map((s) => caseName(s.case));
    expect(names([])).toEqual(['a/one', 'a/two', 'b/v']);
    expect(names(['b'])).toEqual(['b/v']);
    expect(names(['a/tw'])).toEqual(['a/two']);
  });

  it('skips other profiles and validator cases without a validator, saying why', () => {
    const selected = selectCases(cases, { filters: [], profiles: ['core'], validator: false });
    expect(selected.map((s) => s.skip)).toEqual([undefined, expect.stringMatching(/profile zerovm-ts/), expect.stringMatching(/no validator/)]);
  });

  it('results: summary per area, JUnit and TAP', () => {
    const outcome = (c: ConformanceCase, status: CaseOutcome['status']): CaseOutcome => ({
      case: c,
      status,
      differences: status === 'fail' ? [{ what: 'exit code', expected: '5', actual: '0', detail: ['- a', '+ <b>'] }] : [],
      milliseconds: 12,
      ...(status === 'skip' ? { skipReason: 'why' } : {}),
    });
    const outcomes = [outcome(cases[0] as ConformanceCase, 'fail'), outcome(cases[1] as ConformanceCase, 'pass'), outcome(cases[2] as ConformanceCase, 'skip')];
    const summary = formatSummary(outcomes, 1.5);
    expect(summary).toMatch(/^a\s+2\s+1\s+1\s+0$/m);
    expect(summary).toMatch(/^total\s+3\s+1\s+1\s+1$/m);
    expect(summary).toMatch(/1 of 2 run cases FAILED in 1\.5 s/);
    expect(formatOutcome(outcomes[0] as CaseOutcome)).toMatch(/^FAIL a\/one — t \[runtime\.md#trap\]\n {4}exit code: expected 5, got 0\n {6}- a\n/);
    const junit = formatJunit(outcomes, 1.5);
    expect(junit).toMatch(/<testsuite name="a" tests="2" failures="1" skipped="0"/);
    expect(junit).toContain('&lt;b&gt;');
    expect(junit).toMatch(/<skipped message="why"\/>/);
    const tap = formatTap(outcomes).split('\n');
    expect(tap.slice(0, 3)).toEqual(['TAP version 13', '1..3', 'not ok 1 - a/one - t']);
    expect(tap).toContain('ok 2 - a/two - t');
    expect(tap).toContain('ok 3 - b/v - t # SKIP why');
  });
});
