/**
 * Printing results: one line per case (with the differences under a
 * failure), the summary table per area, and the machine-readable forms
 * (JUnit XML, TAP version 13).
 *
 * Pipeline position: runner.ts collects outcomes -> here -> stdout or a
 * file.
 */
import type { Difference } from './compare.js';
import type { ConformanceCase } from './format.js';
import { caseName } from './loader.js';
import type { CaseOutcome } from './outcome.js';

function differenceLines(d: Difference): string[] {
  return [`${d.what}: expected ${d.expected}, got ${d.actual}`, ...(d.detail ?? []).map((line) => `  ${line}`)];
}

/** Everything about one outcome a person needs: status, name, title, and for a failure what differed and how to rerun it. */
export function formatOutcome(outcome: CaseOutcome): string {
  const c = outcome.case;
  const mark = { pass: 'ok  ', skip: 'skip', deviation: 'dev ', fail: 'FAIL' }[outcome.status];
  const head = `${mark} ${caseName(c)} — ${c.title} [${c.spec}]`;
  if (outcome.status === 'skip') return `${head} (${outcome.skipReason ?? 'skipped'})\n`;
  if (outcome.status === 'pass') return `${head}\n`;
  if (outcome.status === 'deviation') return `${head}\n    ${knownDeviation(outcome)}\n`;
  const lines = [head, ...outcome.differences.flatMap(differenceLines)];
  if (outcome.command !== undefined) lines.push(`command: ${outcome.command}`);
  if (outcome.kept !== undefined) lines.push(`files: ${outcome.kept}`);
  if (outcome.stderr !== undefined) lines.push('stderr:', ...outcome.stderr.split('\n').map((l) => `  ${l}`));
  return `${lines[0]}\n${lines.slice(1).map((l) => `    ${l}`).join('\n')}\n`;
}

/**
 * Whose behaviour a case's `deviation` describes: the original ZeroVM 2015
 * (session cases), or the reference validator of a validator case's
 * policy (NaCl's for nacl, ZeroVM 2015's for zerovm and deterministic).
 */
export function deviationReference(c: ConformanceCase): string {
  if (c.kind === 'session') return 'ZeroVM 2015';
  return c.policy === 'nacl' ? "NaCl's validator" : "ZeroVM 2015's validator";
}

/** "known deviation of <reference>: <why>", as every output format prints it. */
function knownDeviation(outcome: CaseOutcome): string {
  return `known deviation of ${deviationReference(outcome.case)}: ${outcome.case.deviation ?? ''}`;
}

/** ", 6 known deviations of ZeroVM 2015, 1 known deviation of NaCl's validator" (empty without any). */
function deviationCounts(outcomes: readonly CaseOutcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) if (o.status === 'deviation') counts.set(deviationReference(o.case), (counts.get(deviationReference(o.case)) ?? 0) + 1);
  return [...counts].map(([reference, n]) => `, ${n} known deviation${n === 1 ? '' : 's'} of ${reference}`).join('');
}

export interface AreaSummary {
  readonly area: string;
  readonly cases: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Failed as the reference they name fails them (known deviations). */
  readonly deviations: number;
}

export function summarize(outcomes: readonly CaseOutcome[]): AreaSummary[] {
  const areas = new Map<string, { cases: number; passed: number; failed: number; skipped: number; deviations: number }>();
  for (const o of outcomes) {
    const row = areas.get(o.case.area) ?? { cases: 0, passed: 0, failed: 0, skipped: 0, deviations: 0 };
    row.cases++;
    if (o.status === 'pass') row.passed++;
    else if (o.status === 'fail') row.failed++;
    else if (o.status === 'deviation') row.deviations++;
    else row.skipped++;
    areas.set(o.case.area, row);
  }
  return [...areas.entries()].map(([area, row]) => ({ area, ...row }));
}

/** The summary table: one row per area and a total. */
export function formatSummary(outcomes: readonly CaseOutcome[], seconds: number): string {
  const rows = summarize(outcomes);
  const total = rows.reduce(
    (t, r) => ({ area: 'total', cases: t.cases + r.cases, passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped, deviations: t.deviations + r.deviations }),
    { area: 'total', cases: 0, passed: 0, failed: 0, skipped: 0, deviations: 0 },
  );
  const withDeviations = total.deviations > 0;
  const width = Math.max(5, ...rows.map((r) => r.area.length));
  const line = (r: AreaSummary): string =>
    `${r.area.padEnd(width)}  ${String(r.cases).padStart(5)}  ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${String(r.skipped).padStart(7)}${withDeviations ? `  ${String(r.deviations).padStart(9)}` : ''}`;
  const header = `${'area'.padEnd(width)}  ${'cases'.padStart(5)}  ${'passed'.padStart(6)}  ${'failed'.padStart(6)}  ${'skipped'.padStart(7)}${withDeviations ? `  ${'deviation'.padStart(9)}` : ''}`;
  const rule = '-'.repeat(header.length);
  const run = total.passed + total.failed + total.deviations;
  const deviations = deviationCounts(outcomes);
  const verdict = total.failed === 0 ? `all ${run} run cases passed${deviations}` : `${total.failed} of ${run} run cases FAILED${deviations}`;
  return [header, rule, ...rows.map(line), rule, line(total), '', `${verdict} in ${seconds.toFixed(1)} s`, ''].join('\n');
}

function xml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '') /* XML 1.0 forbids these characters */
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML: one testsuite per area, one testcase per case. */
export function formatJunit(outcomes: readonly CaseOutcome[], seconds: number): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const rows = summarize(outcomes);
  const failures = rows.reduce((n, r) => n + r.failed, 0);
  out.push(`<testsuites name="zerovm-conformance" tests="${outcomes.length}" failures="${failures}" time="${seconds.toFixed(3)}">`);
  for (const row of rows) {
    const inArea = outcomes.filter((o) => o.case.area === row.area);
    const time = inArea.reduce((t, o) => t + o.milliseconds, 0) / 1000;
    out.push(`  <testsuite name="${xml(row.area)}" tests="${row.cases}" failures="${row.failed}" skipped="${row.skipped + row.deviations}" time="${time.toFixed(3)}">`);
    for (const o of inArea) {
      const open = `    <testcase classname="conformance.${xml(row.area)}" name="${xml(`${o.case.id} — ${o.case.title}`)}" time="${(o.milliseconds / 1000).toFixed(3)}"`;
      if (o.status === 'pass') out.push(`${open}/>`);
      else if (o.status === 'skip') out.push(`${open}><skipped message="${xml(o.skipReason ?? '')}"/></testcase>`);
      else if (o.status === 'deviation') out.push(`${open}><skipped message="${xml(knownDeviation(o))}"/></testcase>`);
      else {
        const first = o.differences[0];
        const message = first === undefined ? 'failed' : `${first.what}: expected ${first.expected}, got ${first.actual}`;
        out.push(`${open}><failure message="${xml(message)}">${xml(formatOutcome(o))}</failure></testcase>`);
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

/** TAP version 13: one test point per case, failures with a YAML block. */
export function formatTap(outcomes: readonly CaseOutcome[]): string {
  const out = ['TAP version 13', `1..${outcomes.length}`];
  outcomes.forEach((o, i) => {
    const name = `${caseName(o.case)} - ${o.case.title}`.replace(/#/g, '\\#');
    if (o.status === 'pass') out.push(`ok ${i + 1} - ${name}`);
    else if (o.status === 'skip') out.push(`ok ${i + 1} - ${name} # SKIP ${o.skipReason ?? ''}`);
    else if (o.status === 'deviation') out.push(`ok ${i + 1} - ${name} # SKIP ${knownDeviation(o).replace(/#/g, '\\#')}`);
    else {
      out.push(`not ok ${i + 1} - ${name}`, '  ---', `  spec: ${JSON.stringify(o.case.spec)}`, '  differences:');
      for (const d of o.differences) {
        out.push(`    - what: ${JSON.stringify(d.what)}`, `      expected: ${JSON.stringify(d.expected)}`, `      actual: ${JSON.stringify(d.actual)}`);
        if (d.detail !== undefined) out.push('      detail: |', ...d.detail.map((l) => `        ${l}`));
      }
      if (o.command !== undefined) out.push(`  command: ${JSON.stringify(o.command)}`);
      out.push('  ...');
    }
  });
  out.push('');
  return out.join('\n');
}
