/**
 * `--engine native|unicorn|auto`: the name a user gives -> an Engine, or a
 * message saying why there is none.
 *
 * Pipeline position: the embedding API (src/api/) and the CLI (`zerovm
 * MANIFEST`, `zerovm run`) -> here -> the engines (src/engines/native.ts, src/emulator/unicorn.ts).
 *
 * - `auto` (the default) takes the native engine where it can run (x86-64
 *   Linux with its addon built), else the Unicorn engine, else no engine:
 *   then the message says what each one needs.
 * - `native` and `unicorn` name an engine whether or not it can run here;
 *   a session on an unavailable engine fails at its engine step with the
 *   engine's reason as exit state (EFAULT), as the original failed at its
 *   own platform checks.
 */
import { nativeEngine } from '../engines/native.js';
import { unicornEngine } from '../emulator/unicorn.js';
import type { Engine } from '../runtime/engine.js';
import { EngineUnavailableError, InvalidOptionError } from './errors.js';

export const ENGINE_NAMES = ['native', 'unicorn', 'auto'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export const DEFAULT_ENGINE: EngineName = 'auto';

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

/** The engine for `--engine NAME`, or a message saying why there is none. */
export function selectEngine(name: string, engines: { native: Engine; unicorn: Engine } = { native: nativeEngine, unicorn: unicornEngine }): Engine | string {
  if (!isEngineName(name)) return `unknown engine '${name}' (${ENGINE_NAMES.join(', ')})`;
  if (name !== 'auto') return engines[name];
  const nativeReason = engines.native.unavailableReason();
  if (nativeReason === null) return engines.native;
  const unicornReason = engines.unicorn.unavailableReason();
  if (unicornReason === null) return engines.unicorn;
  return `no engine can run here. native: ${nativeReason}. unicorn: ${unicornReason}`;
}

/** An engine by name (`auto`: native where it can run, else unicorn) or an Engine object. */
export type EngineChoice = 'native' | 'unicorn' | 'auto' | Engine;

/** The engine a choice names; throws when the name is unknown or the engine cannot run here. */
export function resolveEngine(choice: EngineChoice | string | undefined): Engine {
  if (typeof choice === 'object') return requireAvailable(choice);
  const name = choice ?? DEFAULT_ENGINE;
  const engine = selectEngine(name);
  if (typeof engine === 'string') {
    if (name === 'auto') throw new EngineUnavailableError('auto', engine);
    throw new InvalidOptionError('engine', engine);
  }
  return requireAvailable(engine);
}

function requireAvailable(engine: Engine): Engine {
  const reason = engine.unavailableReason();
  if (reason !== null) throw new EngineUnavailableError(engine.name, reason);
  return engine;
}
