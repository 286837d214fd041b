/**
 * The engines an end-to-end suite runs every case on (style note 14: one
 * test file, many implementations, the engine's name in the test name).
 *
 * Pipeline position: test/examples-run.test.ts, test/cli-session.test.ts ->
 * here -> src/engines/native.ts, src/emulator/unicorn.ts.
 *
 * An engine that cannot run here is skipped with a loud warning locally;
 * under CI (CI=true or CI=1) it is not skipped, and `availabilityTests`
 * fails for it, so a CI machine missing libunicorn or a C++ toolchain cannot
 * pass by running nothing.
 */
import { describe, expect, it } from 'vitest';
import { unicornEngine } from '../src/emulator/unicorn.js';
import { nativeEngine } from '../src/engines/native.js';
import type { Engine } from '../src/runtime/engine.js';

export const CI = process.env.CI === 'true' || process.env.CI === '1';

export interface EngineCase {
  readonly name: 'native' | 'unicorn';
  readonly engine: Engine;
  /** Why the engine cannot run here, or null. */
  readonly unavailable: string | null;
  /** Whether the suite's cases are skipped for this engine. */
  readonly skip: boolean;
}

/** Every engine, each with its availability; warns once per suite for the ones skipped. */
export function engineCases(suite: string): EngineCase[] {
  return [nativeEngine, unicornEngine].map((engine) => {
    const unavailable = engine.unavailableReason();
    const skip = unavailable !== null && !CI;
    if (skip) console.warn(`\n*** ${suite} on the ${engine.name} engine SKIPPED: ${unavailable} ***\n`);
    return { name: engine.name, engine, unavailable, skip };
  });
}

/** Under CI, one failing test per engine that cannot run. */
export function availabilityTests(cases: readonly EngineCase[]): void {
  describe.runIf(CI)('engines available (CI)', () => {
    for (const c of cases) {
      it(`the ${c.name} engine can run`, () => {
        expect(c.unavailable).toBeNull();
      });
    }
  });
}
