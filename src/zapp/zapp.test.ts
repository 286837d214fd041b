import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTar, writeTar } from './tar.js';
import { formatYaml, parseYaml, YamlError, type YamlValue } from './yaml.js';
import { buildZapp, formatZappYaml, openZapp, parseZappYaml, ZappError, type ZappManifest } from './zapp.js';

const enc = new TextEncoder();

describe('the zapp.yaml YAML subset', () => {
  it("reads zpm's own layout (sequence at the key's indentation, unquoted and quoted scalars, comments)", () => {
    const doc = parseYaml(`---
execution:
  groups:
    - path: file://python2.7:python   # a comment
      args: foo.py
      name: foo
      devices:
      - name: python2.7
      - name: 'it''s'
meta:
  name: "foo"
  Version: 0.10
help:
  args: [ ]
bundling:
  - "*.py"
  - a.txt
  - [x, "y, z"]
`);
    expect(doc).toEqual({
      execution: { groups: [{ path: 'file://python2.7:python', args: 'foo.py', name: 'foo', devices: [{ name: 'python2.7' }, { name: "it's" }] }] },
      meta: { name: 'foo', Version: '0.10' },
      help: { args: [] },
      bundling: ['*.py', 'a.txt', ['x', 'y, z']],
    });
  });

  it('refuses what it does not support, naming the line', () => {
    expect(() => parseYaml('a: &x 1\nb: *x\n')).toThrow(/line 1: '&'/);
    expect(() => parseYaml('a: |\n  text\n')).toThrow(/line 1: '\|'/);
    expect(() => parseYaml('&anchor\n')).toThrow(YamlError);
    expect(() => parseYaml('a:\n\tb: 1\n')).toThrow(/line 2: tabs/);
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/line 2: key 'a' appears twice/);
    expect(() => parseYaml('a: "open\n')).toThrow(/unterminated/);
    expect(() => parseYaml('a:\n  b: 1\n c: 2\n')).toThrow(/line 3/);
  });

  const scalar = fc.string({ unit: 'binary', maxLength: 20 });
  const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}$/);
  const tree: fc.Arbitrary<YamlValue> = fc.letrec<{ node: YamlValue }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(key, tie('node'), { minKeys: 1, maxKeys: 4 }),
    ),
  })).node;

  it('formatYaml output reads back as the same tree (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(key, tree, { minKeys: 1, maxKeys: 4 }), (doc) => {
        expect(parseYaml(formatYaml(doc))).toEqual(doc);
      }),
      { numRuns: 300 },
    );
  });
});

const MANIFEST: ZappManifest = { name: 'hello', version: '1.0', program: 'bin/hello.nexe', args: ['--greet', 'two words'], devices: ['stdin', 'stdout', 'input'], bundling: ['bin/hello.nexe', 'data/x.txt'] };

describe('zapps', () => {
  it('zapp.yaml round-trips', () => {
    expect(parseZappYaml(formatZappYaml(MANIFEST))).toEqual(MANIFEST);
  });

  it("reads zpm's string args and Version, and refuses zpm's file://DEVICE:NAME program and several groups", () => {
    const m = parseZappYaml('meta:\n  name: x\n  Version: "2"\nexecution:\n  groups:\n    - path: x.nexe\n      args: a  b\tc\n');
    expect(m).toMatchObject({ name: 'x', version: '2', program: 'x.nexe', args: ['a', 'b', 'c'], devices: [], bundling: [] });
    expect(() => parseZappYaml('meta:\n  name: x\nexecution:\n  groups:\n    - path: file://python2.7:python\n')).toThrow(/member of the zapp/);
    expect(() => parseZappYaml('meta:\n  name: x\nexecution:\n  groups:\n    - path: a\n    - path: b\n')).toThrow(/2 groups/);
    expect(() => parseZappYaml('meta:\n  version: "1"\nexecution:\n  groups:\n    - path: a\n')).toThrow(/meta.name must be a string/);
    expect(() => parseZappYaml('meta:\n  name: x\nexecution:\n  groups:\n    - path: ../a\n')).toThrow(ZappError);
  });

  it('build then open gives back the manifest, the program and the files, with parent directories', () => {
    const files = [
      { path: 'bin/hello.nexe', type: 'file' as const, data: enc.encode('\x7fELF...') },
      { path: 'data/x.txt', type: 'file' as const, data: enc.encode('x\n') },
    ];
    const bytes = buildZapp(MANIFEST, files);
    expect(readTar(bytes).map((e) => e.path)).toEqual(['zapp.yaml', 'bin', 'bin/hello.nexe', 'data', 'data/x.txt']);
    const zapp = openZapp(bytes);
    expect(zapp.manifest).toEqual(MANIFEST);
    expect(new TextDecoder().decode(zapp.program)).toBe('\x7fELF...');
    expect(() => buildZapp({ ...MANIFEST, program: 'other.nexe' }, files)).toThrow(/not among/);
  });

  it('says what is wrong with a file that is not a zapp', () => {
    expect(() => openZapp(enc.encode('\x7fELF'.padEnd(600, '\0')), 'x.zapp')).toThrow(/x.zapp is not a readable tar archive/);
    expect(() => openZapp(writeTar([{ path: 'a', type: 'file', data: new Uint8Array(0) }]), 'x.zapp')).toThrow(/has no zapp.yaml \(members: a\)/);
    const noProgram = writeTar([{ path: 'zapp.yaml', type: 'file', data: enc.encode(formatZappYaml(MANIFEST)) }]);
    expect(() => openZapp(noProgram, 'x.zapp')).toThrow(/program 'bin\/hello.nexe'.*is not in the zapp/);
  });
});
