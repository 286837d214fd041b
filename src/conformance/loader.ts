/**
 * Finds and reads the case files of a suite: every `cases/<area>/*.json`
 * under the suite root, checked by format.ts, ids unique per area.
 *
 * Pipeline position: runner.ts -> here -> format.ts; the selected cases
 * then go to session-case.ts / validator-case.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaseFormatError, parseCaseFile, type ConformanceCase, type Profile, type ValidatorCase } from './format.js';

/** Reads every case of the suite at `suiteRoot`, in area then file order. Throws CaseFormatError. */
export function loadSuite(suiteRoot: string): ConformanceCase[] {
  const casesDir = join(suiteRoot, 'cases');
  if (!existsSync(casesDir)) throw new CaseFormatError(`${casesDir}: no cases folder (is ${suiteRoot} a conformance suite?)`);
  const cases: ConformanceCase[] = [];
  const seen = new Map<string, string>();
  for (const area of readdirSync(casesDir).sort()) {
    const areaDir = join(casesDir, area);
    if (!statSync(areaDir).isDirectory()) continue;
    for (const name of readdirSync(areaDir).filter((f) => f.endsWith('.json')).sort()) {
      const file = `cases/${area}/${name}`;
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(join(areaDir, name), 'utf8'));
      } catch (error) {
        throw new CaseFormatError(`${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      }
      for (const c of parseCaseFile(value, area, file)) {
        const key = `${area}/${c.id}`;
        const other = seen.get(key);
        if (other !== undefined) throw new CaseFormatError(`${file}: case id ${c.id} is already used in ${other}`);
        seen.set(key, file);
        cases.push(c);
      }
    }
  }
  return cases;
}

/** The full name of a case: `<area>/<id>`. */
export function caseName(c: ConformanceCase): string {
  return `${c.area}/${c.id}`;
}

export interface Selection {
  /** Areas or case-name prefixes (`channels`, `trap/read-`); empty selects everything. */
  readonly filters: readonly string[];
  /** Profiles to run; the others are skipped. */
  readonly profiles: readonly Profile[];
  /** Run validator cases (false when the implementation has no validator command). */
  readonly validator: boolean;
  /** Why the validator command cannot run a validator case (a policy or feature set its template cannot express), if it cannot. */
  readonly validatorSkip?: (c: ValidatorCase) => string | undefined;
}

export type Selected = { readonly case: ConformanceCase; readonly skip: string | undefined };

/** Filtered cases, each with the reason it is skipped (profile, no validator) or undefined when it runs. */
export function selectCases(cases: readonly ConformanceCase[], selection: Selection): Selected[] {
  const matches = (c: ConformanceCase): boolean =>
    selection.filters.length === 0 || selection.filters.some((f) => c.area === f || caseName(c).startsWith(f));
  return cases.filter(matches).map((c) => {
    if (!selection.profiles.includes(c.profile)) {
      const skip =
        c.profile === 'native-cpu' && selection.profiles.includes('zerovm-ts')
          ? 'profile native-cpu: what an x86-64 CPU does when it runs the code directly, which this (emulating) engine does not reproduce'
          : `profile ${c.profile} not selected (--profile all runs it)`;
      return { case: c, skip };
    }
    if (c.kind === 'validator' && !selection.validator) return { case: c, skip: 'no validator command (--validate-impl)' };
    if (c.kind === 'validator') return { case: c, skip: selection.validatorSkip?.(c) };
    return { case: c, skip: undefined };
  });
}
