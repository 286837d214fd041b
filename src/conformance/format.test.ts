import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaseFormatError, encodeTrapScript, FORMAT_VERSION, parseCaseFile, TRAP_WORDS, type SessionCase, type ValidatorCase } from './format.js';

function file(cases: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { format: FORMAT_VERSION, area: 'a', cases, ...extra };
}

const SESSION = {
  id: 's1',
  title: 'a session',
  spec: 'runtime.md#trap',
  program: 'programs/driver.nexe',
  manifest: ['Version = 20130611', { repeat: 2, text: 'X = {i}' }],
  files: { script: { traps: [['Read', 3, '0x40000', -1, '0x100000000']] }, code: { hex: 'b8 2a', size: 4, fill: 'f4' } },
  expect: { exitCode: 0, report: { exitState: { class: 'signal', signal: 11 }, etags: '/dev/stdout * /dev/memory *', accounting: '* * 1 2 3 4 0 0 0 0' }, files: { out: { lines: ['1', '2'] } } },
};

const VALIDATOR = { kind: 'validator', id: 'v1', title: 'nops', spec: 'validator.md#r-bundles', code: '90'.repeat(32), expect: { valid: true, errors: [] } };

function parse(value: unknown): ReturnType<typeof parseCaseFile> {
  return parseCaseFile(value, 'a', 'cases/a/x.json');
}

describe('parseCaseFile', () => {
  it('reads a session case: files, manifest lines, expectations', () => {
    const [c] = parse(file([SESSION])) as [SessionCase];
    expect(c.kind).toBe('session');
    expect(c.profile).toBe('core');
    expect(c.runs).toBe(1);
    expect(c.manifest).toEqual([{ text: 'Version = 20130611' }, { repeat: 2, text: 'X = {i}' }]);
    const code = c.files.get('code');
    expect(code).toEqual({ kind: 'bytes', bytes: Uint8Array.from([0xb8, 0x2a, 0xf4, 0xf4]) });
    const script = c.files.get('script');
    expect(script?.kind).toBe('bytes');
    const bytes = (script as { bytes: Uint8Array }).bytes;
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(48);
    expect(view.getBigUint64(0, true)).toBe(TRAP_WORDS.Read);
    expect(view.getBigUint64(8, true)).toBe(0n);
    expect(view.getBigUint64(16, true)).toBe(3n);
    expect(view.getBigUint64(32, true)).toBe(2n ** 64n - 1n);
    expect(view.getBigUint64(40, true)).toBe(2n ** 32n);
    expect(c.expect.report?.exitState).toEqual({ kind: 'signal', signal: 11, reference: undefined });
    expect(c.expect.files.get('out')).toEqual({ kind: 'bytes', bytes: new TextEncoder().encode('1\n2\n'), text: true });
  });

  it('reads a validator case and sorts its errors', () => {
    const [c] = parse(file([{ ...VALIDATOR, expect: { valid: false, errors: ['3:b-rule', '0:a-rule'] }, policy: 'deterministic', base: 0x20000 }])) as [ValidatorCase];
    expect(c.kind).toBe('validator');
    expect(c.policy).toBe('deterministic');
    expect(c.base).toBe(0x20000);
    expect(c.expect.errors).toEqual(['0:a-rule', '3:b-rule']);
  });

  it('reads a region as its bytes: whole bundles under nacl, any length (none too) under zerovm and deterministic; a deviation', () => {
    const [zerovm, empty, deterministic] = parse(file([
      { ...VALIDATOR, id: 'z', code: '0fa2', policy: 'zerovm' },
      { ...VALIDATOR, id: 'e', code: '', policy: 'zerovm', expect: { valid: false, errors: ['0:empty-code-region'] } },
      { ...VALIDATOR, id: 'd', code: '0fa2', policy: 'deterministic', deviation: 'cpuid: ZeroVM 2015 accepts it', expect: { valid: false, errors: ['0:nondeterministic-instruction'] } },
    ])) as [ValidatorCase, ValidatorCase, ValidatorCase];
    expect(zerovm.code).toEqual(Uint8Array.from([0x0f, 0xa2]));
    expect(zerovm.deviation).toBeUndefined();
    expect(empty.code.length).toBe(0);
    expect(deterministic.deviation).toBe('cpuid: ZeroVM 2015 accepts it');
  });

  it('takes spec and profile defaults from the file', () => {
    const { spec: _spec, ...noSpec } = SESSION;
    const [c] = parse(file([noSpec], { spec: 'runtime.md#channels', profile: 'zerovm-ts' }));
    expect(c?.spec).toBe('runtime.md#channels');
    expect(c?.profile).toBe('zerovm-ts');
  });

  const refusals: [string, unknown, RegExp][] = [
    ['another format version', { ...(file([SESSION]) as object), format: 'zerovm-conformance/2' }, /format: expected "zerovm-conformance\/1"/],
    ['an area that is not the folder', file([SESSION], { area: 'b' }), /area: must be "a"/],
    ['an unknown field', file([{ ...SESSION, extra: 1 }]), /unknown field/],
    ['a duplicate id', file([SESSION, SESSION]), /duplicate id/],
    ['a case without spec', file([{ ...SESSION, spec: undefined }]), /names the spec section/],
    ['bad hex', file([{ ...SESSION, files: { x: { hex: 'zz' } } }]), /hex bytes/],
    ['content longer than size', file([{ ...SESSION, files: { x: { hex: 'aabbcc', size: 2 } } }]), /more than size/],
    ['a trap record with 6 items', file([{ ...SESSION, files: { x: { traps: [['Read', 1, 2, 3, 4, 5]] } } }]), /trap record/],
    ['a number outside 64 bits', file([{ ...SESSION, files: { x: { traps: [['Read', '0x10000000000000000']] } } }]), /64-bit/],
    ['a file name with ..', file([{ ...SESSION, files: { '../x': { text: '' } } }]), /relative paths/],
    ['etags that are not pairs', file([{ ...SESSION, expect: { exitCode: 0, report: { etags: '/dev/stdout' } } }]), /etags/],
    ['accounting without ten tokens', file([{ ...SESSION, expect: { exitCode: 0, report: { accounting: '* *' } } }]), /ten tokens/],
    ['a nacl region that is not whole bundles', file([{ ...VALIDATOR, code: '90' }]), /nacl region must be whole 32-byte bundles/],
    ['an empty nacl region', file([{ ...VALIDATOR, code: '', policy: 'nacl' }]), /nacl region must be whole 32-byte bundles/],
    ['a blank deviation', file([{ ...VALIDATOR, deviation: ' ' }]), /deviation: say why/],
    ['a valid region with errors', file([{ ...VALIDATOR, expect: { valid: true, errors: ['0:x'] } }]), /no errors/],
    ['an unknown exit state class', file([{ ...SESSION, expect: { exitCode: 0, report: { exitState: { class: 'crash' } } } }]), /"signal", "timeout" or "failure"/],
  ];
  for (const [what, value, message] of refusals) {
    it(`refuses ${what}, naming the file and the field`, () => {
      expect(() => parse(value)).toThrow(CaseFormatError);
      expect(() => parse(value)).toThrow(message);
      expect(() => parse(value)).toThrow(/cases\/a\/x\.json/);
    });
  }
});

describe('encodeTrapScript', () => {
  it('writes each argument as its uint64 value, whether given as a number, a decimal or a 0x string', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), { minLength: 4, maxLength: 4 }), fc.boolean(), (args, hex) => {
        const written = args.map((n) => (Number.isSafeInteger(Number(n)) && !hex ? Number(n) : hex && n >= 0n ? `0x${n.toString(16)}` : n.toString()));
        const [c] = parse(file([{ ...SESSION, files: { s: { traps: [['Write', ...written]] } } }])) as [SessionCase];
        const bytes = (c.files.get('s') as { bytes: Uint8Array }).bytes;
        const view = new DataView(bytes.buffer);
        expect(view.getBigUint64(0, true)).toBe(TRAP_WORDS.Write);
        args.forEach((n, k) => expect(view.getBigUint64(16 + 8 * k, true)).toBe(BigInt.asUintN(64, n)));
        expect(encodeTrapScript([])).toEqual(new Uint8Array(0));
      }),
    );
  });

  it('negative arguments are two\'s complement', () => {
    const [c] = parse(file([{ ...SESSION, files: { s: { traps: [['Exit', -5]] } } }])) as [SessionCase];
    const bytes = (c.files.get('s') as { bytes: Uint8Array }).bytes;
    expect(new DataView(bytes.buffer).getBigInt64(16, true)).toBe(-5n);
  });
});
