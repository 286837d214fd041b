/**
 * `--engine native|unicorn|auto` (src/api/engine-choice.ts), with stand-in
 * engines whose availability the test sets.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../runtime/engine.js';
import { DEFAULT_ENGINE, ENGINE_NAMES, isEngineName, selectEngine } from './engine-choice.js';

function engine(name: 'native' | 'unicorn', reason: string | null): Engine {
  return {
    name,
    unavailableReason: () => reason,
    createSession: () => {
      throw new Error('not used');
    },
  };
}

describe('selectEngine', () => {
  it('auto takes the native engine where it can run', () => {
    const native = engine('native', null);
    expect(selectEngine('auto', { native, unicorn: engine('unicorn', null) })).toBe(native);
  });

  it('auto takes the unicorn engine where the native one cannot run', () => {
    const unicorn = engine('unicorn', null);
    expect(selectEngine('auto', { native: engine('native', 'x86-64 Linux only'), unicorn })).toBe(unicorn);
  });

  it('auto with no engine says what each one needs', () => {
    const message = selectEngine('auto', { native: engine('native', 'x86-64 Linux only'), unicorn: engine('unicorn', 'install libunicorn') });
    expect(message).toBe('no engine can run here. native: x86-64 Linux only. unicorn: install libunicorn');
  });

  it('an engine named explicitly is taken as it is (the session reports why it cannot run)', () => {
    const native = engine('native', 'not built');
    const unicorn = engine('unicorn', 'not built');
    expect(selectEngine('native', { native, unicorn })).toBe(native);
    expect(selectEngine('unicorn', { native, unicorn })).toBe(unicorn);
  });

  it('refuses other names, listing the known ones', () => {
    expect(selectEngine('qemu')).toBe("unknown engine 'qemu' (native, unicorn, auto)");
    expect(ENGINE_NAMES.every(isEngineName)).toBe(true);
    expect(isEngineName('Native')).toBe(false);
    expect(DEFAULT_ENGINE).toBe('auto');
  });
});
