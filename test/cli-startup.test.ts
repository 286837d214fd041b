/**
 * How `zerovm` starts (spec/runtime.md, "Process start"): bin/zerovm.js
 * compiles the command-line bundle that `npm run build` made
 * (scripts/build-cli-bundle.mjs) with the V8 code cache made with it, never
 * with a cache made for other code, and the bundle carries the opcode
 * tables compiled from this checkout's text tables. What the commands do
 * is the other CLI tests' business: they all run through this bundle.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { compileForms } from '../src/validator/forms.js';
import { serializeCompiledForms } from '../src/validator/forms-snapshot.js';
import { BIN, ROOT } from './cli.js';

const BUNDLE = join(ROOT, 'dist', 'bundle', 'zerovm.cjs');
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-startup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Node with no inherited NODE_OPTIONS: V8 takes a code cache only under the flags it was made with. */
function node(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 60_000 });
}

/** What loadCli(bundle) did with the code cache: V8's verdict, or 'unused' when none was given to it. */
function cacheVerdict(bin: string, bundle: string): string {
  const probe = `const { script } = require(${JSON.stringify(bin)}).loadCli(${JSON.stringify(bundle)}); process.stdout.write(script.cachedDataRejected === undefined ? 'unused' : script.cachedDataRejected ? 'rejected' : 'accepted')`;
  const r = node(['-e', probe]);
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('process start', () => {
  it('bin/zerovm.js compiles the bundle with the code cache the build made for it', () => {
    expect(cacheVerdict(BIN, BUNDLE)).toBe('accepted');
  });

  it("does not hand V8 the cache of another bundle of the same length (V8 would check only the length)", () => {
    const dir = join(tmp, 'changed');
    mkdirSync(dir);
    const source = readFileSync(BUNDLE, 'utf8');
    const changed = source.replace('zerovm bundle ', 'zerovm bundlE ');
    expect(changed.length).toBe(source.length);
    writeFileSync(join(dir, 'zerovm.cjs'), changed);
    cpSync(`${BUNDLE}.cache`, join(dir, 'zerovm.cjs.cache'));
    expect(cacheVerdict(BIN, join(dir, 'zerovm.cjs'))).toBe('unused');
    /* and without a cache it runs all the same */
    const r = node(['-e', `require(${JSON.stringify(BIN)}).loadCli(${JSON.stringify(join(dir, 'zerovm.cjs'))}).cli.run(['--version'])`]);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`, '']);
  });

  it('does not hand V8 a cache made on another CPU architecture (an x86-64 cache crashed V8 on arm64)', () => {
    const dir = join(tmp, 'other-arch');
    mkdirSync(dir);
    cpSync(BUNDLE, join(dir, 'zerovm.cjs'));
    const cache = readFileSync(`${BUNDLE}.cache`);
    const stampEnd = cache.indexOf(0x0a, cache.indexOf(0x0a) + 1) + 1;
    const stamp = cache.subarray(0, stampEnd).toString('latin1');
    expect(stamp).toContain(`// ${process.arch} v8 ${process.versions.v8}\n`);
    const other = stamp.replace(`// ${process.arch} `, `// ${process.arch === 'arm64' ? 'x64' : 'arm64'} `);
    writeFileSync(join(dir, 'zerovm.cjs.cache'), Buffer.concat([Buffer.from(other, 'latin1'), cache.subarray(stampEnd)]));
    expect(cacheVerdict(BIN, join(dir, 'zerovm.cjs'))).toBe('unused');
  });

  it('carries the opcode tables compiled from the text tables of this checkout', () => {
    const literal = /\bPRECOMPILED_FORMS = ('[^'\n]*'|"[^"\n]*");/.exec(readFileSync(BUNDLE, 'utf8'))?.[1];
    expect(literal).toBeDefined();
    /* the string literal as esbuild printed it, evaluated as JavaScript */
    expect(runInNewContext(literal!)).toBe(serializeCompiledForms(compileForms()));
  });

  it('says how to build when the bundle is missing, and exits 2', () => {
    const stage = join(tmp, 'unbuilt');
    cpSync(join(ROOT, 'bin'), join(stage, 'bin'), { recursive: true });
    const r = node([join(stage, 'bin', 'zerovm.js'), '--version']);
    expect([r.status, r.stdout, r.stderr]).toEqual([2, '', 'zerovm: not built yet; run `npm install` (or `npm run build`) in the package directory first\n']);
  });
});
