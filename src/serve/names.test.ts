import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkName, checkNameBytes, encodeName, encodeNameBytes, NAME_LIMITS, type NameKind } from './names.js';

/** Names near the fast paths' edges: kept characters, a leading '.', '/', NUL, non-ASCII, lone surrogates, lengths around the limits. */
const nameChar = fc.oneof(
  fc.constantFrom('a', 'Z', '0', '_', '-', '.', '/', '\0', '%', ' ', '\x7f', '\x01', 'é', '€', '😀', '\ud800'),
  fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme-ascii' }),
);
const names = fc.oneof(
  fc.array(nameChar, { maxLength: 12 }).map((cs) => cs.join('')),
  fc.tuple(fc.constantFrom('a', '.', 'é'), fc.integer({ min: 195, max: 260 })).map(([c, n]) => c.repeat(n)),
  fc.integer({ min: 1020, max: 1030 }).map((n) => 'b'.repeat(n)),
);

function outcome(check: () => void): string {
  try {
    check();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('names: the fast paths agree with the byte-by-byte rules', () => {
  it('encodeName equals its byte-by-byte encoding for any name', () => {
    fc.assert(
      fc.property(names, (name) => {
        expect(encodeName(name)).toBe(encodeNameBytes(name));
      }),
      { numRuns: 3000 },
    );
  });

  it('checkName accepts and refuses (with the same message) what the byte-by-byte checks do', () => {
    const kinds = Object.keys(NAME_LIMITS) as NameKind[];
    fc.assert(
      fc.property(fc.constantFrom(...kinds), names, (kind, name) => {
        expect(outcome(() => checkName(kind, name))).toBe(outcome(() => checkNameBytes(kind, name)));
      }),
      { numRuns: 3000 },
    );
  });

  it('a name of kept characters is its own file name; one starting with a dot is not', () => {
    expect(encodeName('hello.nexe')).toBe('hello.nexe');
    expect(encodeName('.hidden')).toBe('%2Ehidden');
    expect(() => checkName('container', 'a/b')).toThrow("the container name contains '/'");
  });
});
