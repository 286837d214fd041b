/**
 * Deferred teardown (src/runtime/teardown.ts): a thread that defers gets
 * the same outcome, its ended sandbox waits for finishSessionTeardown(),
 * and the next session releases a waiting one before it starts.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unicornEngine } from '../emulator/unicorn.js';
import { nativeEngine } from '../engines/native.js';
import { pendingTeardowns } from '../runtime/teardown.js';
import { deferSessionTeardown, finishSessionTeardown, Program } from './index.js';

const HELLO = join(import.meta.dirname, '..', '..', 'examples', 'hello.nexe');
const ENGINES = [
  { name: 'native' as const, skip: nativeEngine.unavailableReason() },
  { name: 'unicorn' as const, skip: unicornEngine.unavailableReason() },
];
for (const e of ENGINES) if (e.skip !== null) console.warn(`SKIPPED: deferred teardown on the ${e.name} engine: ${e.skip}`);

afterEach(() => deferSessionTeardown(false));

describe.each(ENGINES)('deferred teardown on the $name engine', ({ name, skip }) => {
  it.skipIf(skip !== null)('keeps one ended sandbox until finishSessionTeardown(), with the same outcome as at once', () => {
    const program = Program.load(HELLO, { engine: name });
    const atOnce = program.runSync({ engine: name });
    expect(pendingTeardowns()).toBe(0);
    deferSessionTeardown(true);
    const first = program.runSync({ engine: name });
    expect(pendingTeardowns()).toBe(1);
    /* the next session releases the waiting one before it starts, and then waits itself */
    const second = program.runSync({ engine: name });
    expect(pendingTeardowns()).toBe(1);
    finishSessionTeardown();
    expect(pendingTeardowns()).toBe(0);
    for (const outcome of [first, second]) {
      expect(outcome.exitState).toBe('ok');
      expect(outcome.stdout.equals(atOnce.stdout)).toBe(true);
      expect(outcome.etags).toEqual(atOnce.etags);
      expect(outcome.userReturnCode).toBe(atOnce.userReturnCode);
    }
    /* turning it off releases what waits */
    program.runSync({ engine: name });
    expect(pendingTeardowns()).toBe(1);
    deferSessionTeardown(false);
    expect(pendingTeardowns()).toBe(0);
  });
});
