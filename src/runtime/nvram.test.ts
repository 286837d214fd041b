/**
 * Tests of the nvram text (nvram.ts): the exact text zvsh wrote, each
 * reading rule of ZRT, the values formatNvram refuses, and properties:
 * formatNvram -> parseNvram round-trips arguments, environment, mappings
 * and mounts; parseNvram never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatNvram, MAPPING_MODES, NvramError, parseNvram, type NvramInput } from './nvram.js';

describe('formatNvram: zvsh output', () => {
  it('writes the args section like zvsh', () => {
    expect(formatNvram({ args: ['prog', 'arg1', 'arg2'] })).toBe('[args]\nargs = prog arg1 arg2\n');
  });

  it('writes env, fstab, mapping and debug sections like zvsh, in its order', () => {
    const out = formatNvram({
      args: ['python', '/dev/1.test.py'],
      env: { HOME: '/home', LANG: 'C' },
      fstab: [{ channel: '/dev/1.python.tar', mountpoint: '/', access: 'ro', removable: false }],
      mappings: [{ channel: '/dev/stdin', mode: 'char' }, { channel: '/dev/stdout', mode: 'char' }],
      debugVerbosity: 4,
    });
    expect(out).toBe([
      '[args]', 'args = python /dev/1.test.py',
      '[env]', 'name=HOME,value=/home', 'name=LANG,value=C',
      '[fstab]', 'channel=/dev/1.python.tar,mountpoint=/,access=ro,removable=no',
      '[mapping]', 'channel=/dev/stdin,mode=char', 'channel=/dev/stdout,mode=char',
      '[debug]', 'verbosity=4', '',
    ].join('\n'));
  });

  it('escapes spaces and commas in arguments as zvsh did', () => {
    expect(formatNvram({ args: ['echo', 'hello world', 'a,b'] })).toBe('[args]\nargs = echo hello\\x20world a\\x2cb\n');
  });

  it('escapes what zvsh did not: # " backslash tab newline CR and other controls', () => {
    expect(formatNvram({ args: ['#1', '"q"', 'a\\b', 'x\ty', 'l1\nl2\r', '\x7f'] }))
      .toBe('[args]\nargs = \\x231 \\x22q\\x22 a\\x5cb x\\x09y l1\\x0al2\\x0d \\x7f\n');
  });

  it('escapes "[" and "]" (an unclosed "[" stopped ZRT\'s section scan)', () => {
    expect(formatNvram({ args: ['[x', 'y]'], env: { A: '[' } })).toBe('[args]\nargs = \\x5bx y\\x5d\n[env]\nname=A,value=\\x5b\n');
  });

  it('writes an empty argument as ""', () => {
    expect(formatNvram({ args: ['prog', '', 'x'] })).toBe('[args]\nargs = prog "" x\n');
  });

  it('escapes a comma in an env value, and blanks only at its ends', () => {
    expect(formatNvram({ args: ['p'], env: { A: 'x,y', B: ' in side ' } })).toBe('[args]\nargs = p\n[env]\nname=A,value=x\\x2cy\nname=B,value=\\x20in side\\x20\n');
  });

  it('writes the time section', () => {
    expect(formatNvram({ args: [], timeSeconds: 1337012520 })).toBe('[args]\nargs = \n[time]\nseconds=1337012520\n');
  });
});

describe('formatNvram: refuses what would not read back', () => {
  const cases: [string, NvramInput][] = [
    ['a NUL in an argument', { args: ['a\0b'] }],
    ['a lone surrogate in an argument', { args: ['\ud800'] }],
    ['a NUL in an env value', { args: [], env: { A: '\0' } }],
    ['an empty env name', { args: [], env: { '': 'x' } }],
    ['an env name with ","', { args: [], env: { 'A,B': 'x' } }],
    ['an env name with "="', { args: [], env: { 'A=B': 'x' } }],
    ['an env name with "#"', { args: [], env: { 'A#': 'x' } }],
    ['an env name with a blank at an end', { args: [], env: { 'A ': 'x' } }],
    ['a mapping channel with ","', { args: [], mappings: [{ channel: '/dev/a,b', mode: 'char' }] }],
    ['a mapping channel with "["', { args: [], mappings: [{ channel: '/dev/[a', mode: 'char' }] }],
    ['an fstab mount point with a newline', { args: [], fstab: [{ channel: '/dev/t', mountpoint: '/\n', access: 'ro', removable: false }] }],
    ['a fractional verbosity', { args: [], debugVerbosity: 1.5 }],
  ];
  it.each(cases)('%s', (_name, input) => {
    expect(() => formatNvram(input)).toThrow(NvramError);
  });
});

describe('parseNvram: ZRT rules', () => {
  it('reads what zvsh wrote (a real zvsh nvram)', () => {
    const nvram = parseNvram('[args]\nargs = syscalls\n[mapping]\nchannel=/dev/stdin,mode=char\nchannel=/dev/stdout,mode=char\nchannel=/dev/stderr,mode=char\n\n');
    expect(nvram).toEqual({
      args: ['syscalls'],
      env: {},
      fstab: [],
      mappings: [{ channel: '/dev/stdin', mode: 'char' }, { channel: '/dev/stdout', mode: 'char' }, { channel: '/dev/stderr', mode: 'char' }],
    });
  });

  it('reads a hand-written nvram with spaces, fstab, env, debug and out-of-order sections', () => {
    const nvram = parseNvram('\n[fstab]\nchannel=/dev/include.tar, mountpoint=/, access=ro, removable=yes\n[env]\nname=Node, value=1\n[debug]\nverbosity=4\n[args]\nargs=jit.nexe /dev/temp.c main\n');
    expect(nvram).toEqual({
      args: ['jit.nexe', '/dev/temp.c', 'main'],
      env: { Node: '1' },
      fstab: [{ channel: '/dev/include.tar', mountpoint: '/', access: 'ro', removable: true }],
      mappings: [],
      debugVerbosity: 4,
    });
  });

  it('decodes \\xHH escapes in arguments and env values, as bytes of UTF-8', () => {
    const nvram = parseNvram('[args]\nargs = a\\x20b \\xc3\\xa9t\\xC3\\xA9 \\x5cx41\n[env]\nname=A,value=x\\x2cy\n');
    expect(nvram.args).toEqual(['a b', 'été', '\\x41']);
    expect(nvram.env).toEqual({ A: 'x,y' });
  });

  it('leaves \\x without two hex digits alone (ZRT took any letters)', () => {
    expect(parseNvram('[args]\nargs = \\xzz \\x4 \\x\n').args).toEqual(['\\xzz', '\\x4', '\\x']);
  });

  it('does not decode escapes in env names or mapping channels', () => {
    const nvram = parseNvram('[env]\nname=A\\x20B,value=1\n[mapping]\nchannel=/dev/a\\x20b,mode=file\n');
    expect(nvram.env).toEqual({ 'A\\x20B': '1' });
    expect(nvram.mappings).toEqual([{ channel: '/dev/a\\x20b', mode: 'file' }]);
  });

  it('splits arguments on spaces and tabs; "..." quotes an argument', () => {
    expect(parseNvram('[args]\nargs = a\t b  "c d" "" "e"f g"h "unclosed x\n').args).toEqual(['a', 'b', 'c d', '', 'e', 'f', 'g"h', 'unclosed x']);
    expect(parseNvram('[args]\nargs = a "\n').args).toEqual(['a', '"']);
  });

  it('adds up several args records', () => {
    expect(parseNvram('[args]\nargs = a b\nargs = c\n').args).toEqual(['a', 'b', 'c']);
  });

  it('treats "#" as a comment to the line end', () => {
    const nvram = parseNvram('# header\n[env] # the environment\nname=A,value=1 # trailing\n#name=B,value=2\nname=C,value=3#x\n');
    expect(nvram.env).toEqual({ A: '1', C: '3' });
  });

  it('matches keys without regard to case, in any order; values keep their case', () => {
    expect(parseNvram('[env]\nVALUE=x,NAME=Y\n[mapping]\nMode=pipe,Channel=/dev/A\n')).toMatchObject({ env: { Y: 'x' }, mappings: [{ channel: '/dev/A', mode: 'pipe' }] });
  });

  it('completes a record when all its keys are seen; several records may share a line', () => {
    expect(parseNvram('[env]\nname=A,value=1,name=B,value=2\n').env).toEqual({ A: '1', B: '2' });
  });

  it('drops an incomplete record at the line end, but not after a comment', () => {
    expect(parseNvram('[env]\nname=A\nvalue=1\nname=B # note\nvalue=2\n').env).toEqual({ B: '2' });
  });

  it('ignores a repeated key within a record, unknown keys and items without "="', () => {
    expect(parseNvram('[env]\nname=A,name=B,colour=red,junk,value=1\n').env).toEqual({ A: '1' });
  });

  it('keeps the first of duplicate environment names', () => {
    expect(parseNvram('[env]\nname=A,value=1\nname=A,value=2\n').env).toEqual({ A: '1' });
  });

  it('ignores text before the first section, unknown sections and "[" not at a line start', () => {
    const nvram = parseNvram('args = lost\n[other]\nargs = lost too\n [args]\nargs = still lost\n[ args ]\nargs = found\n');
    expect(nvram.args).toEqual(['found']);
  });

  it('needs "]" on the header line', () => {
    expect(parseNvram('[args\n]\nargs = a\n').args).toEqual([]);
  });

  it('matches section names exactly (ZRT matched prefixes)', () => {
    expect(parseNvram('[arg]\nargs = a\n[argsx]\nargs = b\n').args).toEqual([]);
  });

  it('strips spaces, tabs and newlines but keeps CR', () => {
    expect(parseNvram('[args]\r\nargs = a b\r\n').args).toEqual(['a', 'b\r']);
  });

  it('drops mapping records with an unknown mode and fstab records with bad access or removable', () => {
    const nvram = parseNvram('[mapping]\nchannel=/dev/a,mode=CHAR\nchannel=/dev/b,mode=block\nchannel=/dev/c,mode=pipe\n[fstab]\nchannel=/dev/t,mountpoint=/,access=rw,removable=no\nchannel=/dev/u,mountpoint=/,access=wo,removable=maybe\n');
    expect(nvram.mappings).toEqual([{ channel: '/dev/c', mode: 'pipe' }]);
    expect(nvram.fstab).toEqual([]);
  });

  it('reads verbosity and time as integers, ignoring other text', () => {
    expect(parseNvram('[debug]\nverbosity=x\n[time]\nseconds=-5\n')).toMatchObject({ timeSeconds: -5 });
    expect(parseNvram('[debug]\nverbosity=x\n').debugVerbosity).toBeUndefined();
  });

  it('returns an empty value for empty text', () => {
    expect(parseNvram('')).toEqual({ args: [], env: {}, mappings: [], fstab: [] });
  });

  it('keeps an environment name "__proto__" as a plain entry', () => {
    const env = parseNvram('[env]\nname=__proto__,value=1\n').env;
    expect(Object.keys(env)).toEqual(['__proto__']);
    expect(env['__proto__']).toBe('1');
  });
});

// ---------------------------------------------------------------------------
// Properties

const RUNS = Math.max(1, Number(process.env.ZEROVM_PROPERTY_RUNS ?? 300) || 300);

/** Any well-formed text without NUL (what a C string can carry). */
const cText = fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/\0/g, '.'));
const printable = fc.oneof(cText, fc.string({ unit: fc.constantFrom(' ', ',', '#', '"', '\\', 'x', '2', 'c', '\t', '\n', '=', '[', ']', 'a'), maxLength: 12 }));
/** Raw fields: non-empty, no ',', '#', '=', '[', ']' or controls, no blank at the ends. */
const rawText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
  .map((s) => s.replace(/[\0-\x1f\x7f,#=[\]]/g, '_').replace(/^[ \t]+|[ \t]+$/g, ''))
  .filter((s) => s !== '');

describe('properties', () => {
  it('formatNvram -> parseNvram round-trips', () => {
    const input = fc.record({
      args: fc.array(printable, { maxLength: 8 }),
      env: fc.dictionary(rawText, printable, { maxKeys: 5 }),
      mappings: fc.array(fc.record({ channel: rawText, mode: fc.constantFrom(...MAPPING_MODES) }), { maxLength: 3 }),
      fstab: fc.array(fc.record({ channel: rawText, mountpoint: rawText, access: fc.constantFrom('ro' as const, 'wo' as const), removable: fc.boolean() }), { maxLength: 2 }),
      debugVerbosity: fc.option(fc.integer({ min: -10, max: 10 }), { nil: undefined }),
      timeSeconds: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
    });
    fc.assert(fc.property(input, (x) => {
      const back = parseNvram(formatNvram(x));
      expect(back.args).toEqual(x.args);
      expect({ ...back.env }).toEqual({ ...x.env });
      expect(back.mappings).toEqual(x.mappings);
      expect(back.fstab).toEqual(x.fstab);
      expect(back.debugVerbosity).toBe(x.debugVerbosity);
      expect(back.timeSeconds).toBe(x.timeSeconds);
    }), { numRuns: RUNS });
  });

  it('parseNvram never throws', () => {
    const line = fc.oneof(fc.constantFrom('[args]', '[env]', '[mapping]', '[fstab]', '[debug]', '[time]', '#', '"', 'args = ', 'name=a,value=b'), fc.string({ maxLength: 30 }));
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.lorem(), fc.array(line, { maxLength: 12 }).map((l) => l.join('\n')));
    fc.assert(fc.property(text, (t) => {
      expect(() => parseNvram(t)).not.toThrow();
    }), { numRuns: RUNS * 3 });
  });
});
