/**
 * The conformance suite as data: what must hold for conformance/ whatever
 * implementation runs it.
 *  - the generated case files (validator rules, ELF files) equal a fresh
 *    generation from their sources (conformance/tools/generate.ts);
 *  - the committed programs are byte-identical to a fresh build of their
 *    sources (needs clang >= 14, GNU ld and make: skipped loudly locally,
 *    a failure in CI);
 *  - every case names a spec section that exists, every program and file
 *    it refers to exists, and the spec links back to every area;
 *  - the stand-alone package: `npm pack` makes a tarball whose bin, once
 *    installed outside the repository, runs the suite against our
 *    implementation.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateAll, staleFiles } from '../conformance/tools/generate.js';
import { loadSuite } from '../src/conformance/loader.js';
import { nativeEngine } from '../src/engines/native.js';
import { readProgramImage, textRegion } from '../src/runtime/program-image.js';
import { BIN, ROOT } from './cli.js';
import { NACL_VALIDATOR, ORIGINAL_VALIDATOR, originalValidatorsUnavailable, REFERENCE } from './original-zerovm.js';

const SUITE = join(ROOT, 'conformance');
const ci = process.env.CI === 'true' || process.env.CI === '1';
const cases = loadSuite(SUITE);

describe('generated case files', () => {
  it('cases/validator/rules.json and cases/elf/ equal a fresh generation (npx tsx conformance/tools/generate.ts)', () => {
    const generated = generateAll();
    for (const file of generated) {
      const committed = readFileSync(join(SUITE, file.path));
      expect(Buffer.compare(committed, Buffer.from(file.bytes)), `${file.path} is out of date: run npx tsx conformance/tools/generate.ts`).toBe(0);
    }
    expect(staleFiles(generated)).toEqual([]);
  });

  it('has one validator case per line of test/validator-rules.txt and test/validator-rules-zerovm.txt', () => {
    const lines = ['validator-rules.txt', 'validator-rules-zerovm.txt'].flatMap((name) =>
      readFileSync(join(ROOT, 'test', name), 'utf8')
        .split('\n')
        .filter((l) => l.trim().length > 0 && !l.trim().startsWith('#')),
    );
    expect(cases.filter((c) => c.kind === 'validator')).toHaveLength(lines.length);
    expect(new Set(cases.filter((c) => c.kind === 'validator').map((c) => c.policy))).toEqual(new Set(['nacl', 'zerovm', 'deterministic']));
  });
});

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}
const toolsPresent = (has('clang-14') || has('clang')) && has('ld') && has('make');
if (!toolsPresent && !ci) console.warn('\n*** SKIPPING conformance program rebuild check: clang (>= 14), GNU ld or make is missing (apt-get install clang-14 binutils make) ***\n');

describe.skipIf(!toolsPresent && !ci)('conformance/programs rebuild from source', () => {
  it('every committed .nexe is byte-identical to a fresh build (make -C conformance/programs)', () => {
    expect(toolsPresent, 'CI installs clang, ld and make in .ci/run').toBe(true);
    const work = mkdtempSync(join(tmpdir(), 'zerovm-conformance-programs-'));
    cpSync(join(SUITE, 'programs'), work, { recursive: true });
    execFileSync('make', ['-C', work, '-s', 'clean', 'all', `ABI=${join(ROOT, 'examples')}`], { stdio: 'pipe' });
    const nexes = readdirSync(join(SUITE, 'programs')).filter((f) => f.endsWith('.nexe'));
    expect(nexes.length).toBeGreaterThanOrEqual(6);
    for (const nexe of nexes) {
      const same = Buffer.compare(readFileSync(join(SUITE, 'programs', nexe)), readFileSync(join(work, nexe))) === 0;
      expect(same, `${nexe} differs from its rebuilt version: run make -C conformance/programs and commit`).toBe(true);
    }
  });
});

const validatorsUnavailable = originalValidatorsUnavailable();
if (validatorsUnavailable !== null && existsSync(REFERENCE)) console.warn(`\n*** SKIPPING the programs' check under the original validators: ${validatorsUnavailable} ***\n`);

describe.skipIf(validatorsUnavailable !== null)('the programs validate under both original validators', () => {
  /* invalid.nexe and unsafe.nexe are meant to fail */
  const programs = [
    ...readdirSync(join(SUITE, 'programs')).filter((f) => f.endsWith('.nexe') && f !== 'invalid.nexe').map((f) => join(SUITE, 'programs', f)),
    ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.nexe') && f !== 'unsafe.nexe').map((f) => join(ROOT, 'examples', f)),
  ];
  it.each(programs.map((p) => [p.slice(ROOT.length + 1), p]))('%s: NaCl\'s ncval and ZeroVM 2015\'s validator accept its text', (_name, path) => {
    const bytes = readFileSync(path);
    const text = join(mkdtempSync(join(tmpdir(), 'zerovm-program-text-')), 'text.bin');
    writeFileSync(text, textRegion(bytes, readProgramImage(bytes)));
    const nacl = spawnSync(NACL_VALIDATOR, ['--raw', text, '--base', '20000'], { encoding: 'utf8' });
    expect(nacl.status, nacl.stdout).toBe(0);
    const original = spawnSync(ORIGINAL_VALIDATOR, [text, '--base', '0x20000'], { encoding: 'utf8' });
    expect(original.status, original.stdout).toBe(0);
  });
});

describe('references', () => {
  const specs: Record<string, string> = {
    'runtime.md': readFileSync(join(ROOT, 'spec', 'runtime.md'), 'utf8'),
    'validator.md': readFileSync(join(ROOT, 'spec', 'validator.md'), 'utf8'),
  };

  it('every case names a spec section, and every runtime.md / validator.md anchor it names exists', () => {
    const missing: string[] = [];
    for (const c of cases) {
      expect(c.spec.length, `${c.area}/${c.id}`).toBeGreaterThan(0);
      for (const m of c.spec.matchAll(/(runtime\.md|validator\.md)#([a-z0-9-]+)/g)) {
        const doc = specs[m[1] as string] as string;
        if (!doc.includes(`<a id="${m[2] as string}"></a>`)) missing.push(`${c.area}/${c.id}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every program and file a case names exists in the suite', () => {
    const missing: string[] = [];
    for (const c of cases) {
      if (c.kind !== 'session') continue;
      const program = c.program;
      /* two manifest cases name a missing program on purpose */
      if (program !== undefined && !program.includes('absent') && !existsSync(join(SUITE, program))) missing.push(`${c.area}/${c.id}: ${program}`);
      for (const source of c.files.values()) if (source.kind === 'path' && !existsSync(join(SUITE, source.path))) missing.push(`${c.area}/${c.id}: ${source.path}`);
    }
    expect(missing).toEqual([]);
  });

  it('the area table of conformance/README.md gives each area\'s number of cases', () => {
    const readme = readFileSync(join(SUITE, 'README.md'), 'utf8');
    const table = new Map([...readme.matchAll(/^\| `([a-z-]+)` \| (\d+) \|/gm)].map((m) => [m[1] as string, Number(m[2])]));
    const counts = new Map<string, number>();
    for (const c of cases) counts.set(c.area, (counts.get(c.area) ?? 0) + 1);
    expect(table).toEqual(counts);
    const extensions = cases.filter((c) => c.profile === 'zerovm-ts').length;
    expect(readme).toContain(`Of these, ${extensions} cases have the profile \`zerovm-ts\``);
  });

  it('spec/ links to every area', () => {
    const text = specs['runtime.md']! + specs['validator.md']!;
    const areas = [...new Set(cases.map((c) => c.area))];
    expect(areas.filter((area) => !text.includes(`../conformance/cases/${area}/`))).toEqual([]);
  });
});

const nativeUnavailable = nativeEngine.unavailableReason();

describe('the stand-alone package', () => {
  it.skipIf(nativeUnavailable !== null && !ci)('npm pack makes a tarball whose bin runs the suite from outside the repository', () => {
    const work = mkdtempSync(join(tmpdir(), 'zerovm-conformance-package-'));
    const npm = (args: string[], cwd: string): string => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    npm(['pack', '--pack-destination', work], SUITE);
    const tarball = readdirSync(work).find((f) => /^zerovm-conformance-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    expect(existsSync(join(SUITE, 'dist')), 'postpack removes the compiled runner').toBe(false);
    const listing = execFileSync('tar', ['tzf', join(work, tarball as string)], { encoding: 'utf8' }).split('\n');
    for (const path of ['package/bin/zerovm-conformance.js', 'package/dist/cli.js', 'package/programs/driver.nexe', 'package/programs/driver.S', 'package/cases/trap/trap.json', 'package/README.md']) {
      expect(listing, path).toContain(path);
    }
    expect(listing.filter((p) => p.endsWith('.test.js') || p.includes('/tools/'))).toEqual([]);

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{ "name": "probe", "version": "1.0.0", "private": true }\n');
    npm(['install', '--offline', '--no-audit', '--no-fund', join(work, tarball as string)], project);
    const bin = join(project, 'node_modules', '.bin', 'zerovm-conformance');
    /* --unsafe: zerovm-ts runs the suite's -s case natively only when told it may (spec/runtime.md, Command lines) */
    const run = spawnSync(bin, ['--impl', `${process.execPath} ${BIN} --unsafe {manifest}`, '--filter', 'cli,state,trap', '--quiet', '--work-dir', join(work, 'cases')], {
      cwd: project,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/all \d+ run cases passed/);
    const help = spawnSync(bin, ['--help'], { cwd: project, encoding: 'utf8' });
    expect(help.stdout).toMatch(/^usage: zerovm-conformance /);
  }, 600_000);
});
