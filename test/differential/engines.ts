/**
 * The engines a differential test can compare, each with the reason it
 * cannot run here (null when it can).
 *
 * Pipeline position: differential tests -> here -> src/engines/native.ts and
 * (when it exists) src/emulator/unicorn.ts.
 *
 * The Unicorn engine is imported dynamically and only if its module is
 * there, so these tests compile and run on a checkout without it; a module
 * that exists but does not export an Engine named `unicornEngine` is
 * reported as unavailable with that reason rather than crashing the suite.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nativeEngine } from '../../src/engines/native.js';
import type { Engine } from '../../src/runtime/engine.js';

export interface EngineUnderTest {
  readonly name: 'native' | 'unicorn';
  readonly engine: Engine | null;
  /** Why the engine cannot run here, or null. */
  readonly reason: string | null;
}

const UNICORN_MODULE = fileURLToPath(new URL('../../src/emulator/unicorn.ts', import.meta.url));

export function nativeUnderTest(): EngineUnderTest {
  const reason = nativeEngine.unavailableReason();
  return { name: 'native', engine: reason === null ? nativeEngine : null, reason };
}

function isEngine(value: unknown): value is Engine {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.unavailableReason === 'function' && typeof candidate.createSession === 'function';
}

export async function unicornUnderTest(): Promise<EngineUnderTest> {
  const unavailable = (reason: string): EngineUnderTest => ({ name: 'unicorn', engine: null, reason });
  if (!existsSync(UNICORN_MODULE)) return unavailable('src/emulator/unicorn.ts does not exist yet');
  let exported: unknown;
  try {
    const module = (await import(pathToFileURL(UNICORN_MODULE).href)) as Record<string, unknown>;
    exported = module.unicornEngine;
  } catch (error) {
    return unavailable(`src/emulator/unicorn.ts failed to load: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isEngine(exported)) return unavailable('src/emulator/unicorn.ts exports no Engine named unicornEngine');
  const reason = exported.unavailableReason();
  return reason === null ? { name: 'unicorn', engine: exported, reason: null } : unavailable(reason);
}
