/**
 * The Unicorn addon builds the libunicorn interposers
 * (native/src/unicorn/qemu_hooks.cc) for libunicorn 2.0.1 alone, and runs
 * without them on any other version (native/cmake/unicorn-interposers.cmake,
 * spec/runtime.md "The Unicorn engine"):
 *
 * - the version gate itself, through `cmake -P`: the header's version macros
 *   as Debian's 2.0.1 and other releases write them, and which versions turn
 *   the interposers on (2.0.1 exactly);
 * - a real build for another version: the project configured with a
 *   unicorn.pc that says 2.1.3 (the same library otherwise) compiles
 *   qemu_hooks_off.cc, exports none of libunicorn's internal names, and the
 *   CLI runs hello on it, reporting the interposers off; the addon built for
 *   2.0.1 exports them, and leaves them off when the library loaded at run
 *   time says another version;
 * - without pkg-config, the header's macros decide.
 *
 * Needs cmake, pkg-config with libunicorn-dev, nm (binutils), cc and the
 * C++ toolchain npm run build:native uses: skipped loudly without them, a
 * failure under CI=true. Builds in a temporary directory (10-20 s).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';
import { CI } from './engine-matrix.js';

const GATE = join(ROOT, 'native', 'cmake', 'unicorn-interposers.cmake');
const BUILT_ADDON = join(ROOT, 'native', 'build', 'Release', 'zerovm_unicorn.node');
/** One of the internal functions the interposers replace (qemu_hooks.cc). */
const INTERPOSED = 'tlb_set_page_with_attrs_x86_64';

const run = (command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number; out: string } => {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...options });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
};

const missing = [
  run('cmake', ['--version']).status === 0 ? null : 'cmake',
  run('pkg-config', ['--exists', 'unicorn']).status === 0 ? null : 'pkg-config and libunicorn-dev',
  run('nm', ['--version']).status === 0 ? null : 'nm (binutils)',
  run('cc', ['--version']).status === 0 ? null : 'cc',
].filter((m) => m !== null);
const cmakeMissing = run('cmake', ['--version']).status !== 0;
if (missing.length > 0 && !CI) console.warn(`\n*** libunicorn interposer build tests SKIPPED: ${missing.join(', ')} not installed ***\n`);

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-interposers-'));

/** A unicorn.h declaring its version the way 2.x does (UC_VERSION_* through UC_API_*). */
function header(major: number, minor: number, patch: number, extra = 255): string {
  return [
    `#define UC_API_MAJOR ${major}`,
    `#define UC_API_MINOR ${minor}`,
    `#define UC_API_PATCH ${patch}`,
    `#define UC_API_EXTRA ${extra}`,
    '#define UC_VERSION_MAJOR UC_API_MAJOR',
    '#define UC_VERSION_MINOR UC_API_MINOR',
    '#define UC_VERSION_PATCH UC_API_PATCH',
    '#define UC_VERSION_EXTRA UC_API_EXTRA',
    '',
  ].join('\n');
}

/** Exported dynamic symbols an addon defines. */
function exported(addon: string): string[] {
  const r = run('nm', ['-D', '--defined-only', addon]);
  expect(r.status, r.out).toBe(0);
  return r.out.split('\n').map((line) => line.split(' ').pop() ?? '');
}

describe.skipIf(cmakeMissing && !CI)('the libunicorn version gate (cmake -P)', () => {
  it('reads the version unicorn.h declares, and turns the interposers on for exactly 2.0.1', () => {
    const headers: Record<string, string> = {
      'debian-2.0.1': header(2, 0, 1),
      'plain-2.1.3': '#define UC_VERSION_MAJOR 2\n#define UC_VERSION_MINOR 1\n#define UC_VERSION_PATCH 3\n',
      'rc-2.0.1': header(2, 0, 1, 3),
      'release-2.0.2': header(2, 0, 2),
      'no-version': '#define UC_API_MAJOR 2\n',
    };
    for (const [name, text] of Object.entries(headers)) writeFileSync(join(tmp, `${name}.h`), text);
    const versions = ['2.0.1', '2.0.2', '2.0.10', '2.1.0', '2.0.1-rc3', '2.0.1.1', '2', '1.0.3', ''];
    const script = join(tmp, 'gate.cmake');
    writeFileSync(
      script,
      [
        `include("${GATE}")`,
        ...Object.keys(headers).map((name) => `zerovm_unicorn_header_version("${join(tmp, `${name}.h`)}" v)\nmessage("header ${name}=\${v}")`),
        `zerovm_unicorn_header_version("${join(tmp, 'absent.h')}" v)\nmessage("header absent=\${v}")`,
        ...versions.map((v) => `zerovm_unicorn_interposers("${v}" on why)\nmessage("gate ${v}=\${on}")`),
        '',
      ].join('\n'),
    );
    const r = run('cmake', ['-P', script]);
    expect(r.status, r.out).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('header '))).toEqual([
      'header debian-2.0.1=2.0.1',
      'header plain-2.1.3=2.1.3',
      'header rc-2.0.1=2.0.1-rc3',
      'header release-2.0.2=2.0.2',
      'header no-version=',
      'header absent=',
    ]);
    expect(lines.filter((l) => l.startsWith('gate '))).toEqual(versions.map((v) => `gate ${v}=${v === '2.0.1' ? 'TRUE' : 'FALSE'}`));
  });

  it.skipIf(!existsSync('/usr/include/unicorn/unicorn.h'))("reads this system's unicorn.h", () => {
    const script = join(tmp, 'system.cmake');
    writeFileSync(script, `include("${GATE}")\nzerovm_unicorn_header_version("/usr/include/unicorn/unicorn.h" v)\nmessage("\${v}")\n`);
    const r = run('cmake', ['-P', script]);
    const pkgConfig = run('pkg-config', ['--modversion', 'unicorn']);
    expect(r.out.trim()).toBe(pkgConfig.status === 0 ? pkgConfig.out.trim() : expect.stringMatching(/^2\.\d+\.\d+/));
  });
});

describe.skipIf(missing.length > 0 && !CI)('building the addon for a libunicorn other than 2.0.1', () => {
  it('a unicorn.pc that says 2.1.3 builds the addon without interposers, and the CLI runs hello on it', () => {
    /* the real unicorn.pc (same headers and library), only its Version changed */
    const pcDir = run('pkg-config', ['--variable=pcfiledir', 'unicorn']).out.trim();
    const pc = readFileSync(join(pcDir, 'unicorn.pc'), 'utf8');
    expect(pc).toMatch(/^Version:/m);
    const fakePc = join(tmp, 'pkgconfig');
    mkdirSync(fakePc);
    writeFileSync(join(fakePc, 'unicorn.pc'), pc.replace(/^Version:.*$/m, 'Version: 2.1.3'));
    const env = { ...process.env, PKG_CONFIG_PATH: fakePc };
    expect(run('pkg-config', ['--modversion', 'unicorn'], { env }).out.trim()).toBe('2.1.3');

    const build = join(tmp, 'build-2.1.3');
    const cmakeJs = join(ROOT, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    const r = run(process.execPath, [cmakeJs, 'compile', '-d', 'native', '-O', build, '-T', 'zerovm_unicorn'], { cwd: ROOT, env });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('zerovm: building zerovm_unicorn (libunicorn 2.1.3, interposers off: they replace internals of libunicorn 2.0.1 only, and this is 2.1.3');
    expect(r.out).toMatch(/qemu_hooks_off\.cc/);
    const addon = join(build, 'Release', 'zerovm_unicorn.node');
    expect(exported(addon)).not.toContain(INTERPOSED);

    /* the CLI as users run it, with this addon where the engine looks for it (native/build/Release above dist/) */
    const stage = join(tmp, 'stage');
    for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(stage, part), { recursive: true });
    mkdirSync(join(stage, 'native', 'build', 'Release'), { recursive: true });
    cpSync(addon, join(stage, 'native', 'build', 'Release', 'zerovm_unicorn.node'));
    const out = join(tmp, 'hello.out');
    const manifest = join(tmp, 'hello.manifest');
    writeFileSync(
      manifest,
      [
        'Version = 20130611',
        `Program = ${join(ROOT, 'examples', 'hello.nexe')}`,
        'Timeout = 10',
        'Memory = 33554432, 0',
        'Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0',
        `Channel = ${out}, /dev/stdout, 0, 0, 0, 0, 999, 999`,
        'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1, 1',
        '',
      ].join('\n'),
    );
    const session = spawnSync(process.execPath, [join(stage, 'bin', 'zerovm.js'), '--engine', 'unicorn', '-v', '1', manifest], { encoding: 'utf8', timeout: 60_000 });
    expect(session.stderr).toContain('zerovm: unicorn engine: built without the libunicorn interposers, which are for libunicorn 2.0.1 only (this build found 2.1.3)');
    expect(session.stderr).toMatch(/zerovm: unicorn engine: libunicorn 2\.\d+\.\d+, interposers off: built without/);
    expect([session.status, session.stdout.split('\n')[5]]).toEqual([0, 'ok']);
    expect(readFileSync(out, 'utf8')).toBe('hello, world\n');
  });

  it.skipIf(!existsSync(BUILT_ADDON) && !CI)('the addon npm run build:native made here exports the interposers, for the 2.0.1 it found', () => {
    const version = run('pkg-config', ['--modversion', 'unicorn']).out.trim();
    expect(exported(BUILT_ADDON).includes(INTERPOSED)).toBe(version === '2.0.1');
  });

  it.skipIf(!existsSync(BUILT_ADDON) && !CI)('built for 2.0.1, it leaves its repairs off when the library loaded says another version', () => {
    /* a libunicorn upgraded after the build, as uc_version reports it: a preloaded uc_version saying 2.1.0 */
    const shim = join(tmp, 'uc_version_2_1_0.so');
    const source = join(tmp, 'uc_version.c');
    writeFileSync(source, 'unsigned uc_version(unsigned *major, unsigned *minor) { if (major && minor) { *major = 2; *minor = 1; } return 0x020100ffu; }\n');
    const cc = run('cc', ['-shared', '-fPIC', '-o', shim, source]);
    expect(cc.status, cc.out).toBe(0);
    const probe = `const u = await import(${JSON.stringify(join(ROOT, 'dist', 'emulator', 'unicorn.js'))}); console.log(JSON.stringify([u.unicornRepairs(), u.describeUnicornEngine()]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: shim }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const [repairs, description] = JSON.parse(r.stdout) as [{ interposers: boolean; detail: string }, string];
    const detail = 'the loaded libunicorn is 2.1.0, not the 2.0.1 these repairs were built for (rebuild with npm run build:native)';
    expect(repairs).toEqual({ interposers: false, fastStores: false, preciseFaults: false, detail });
    expect(description).toBe(`libunicorn 2.1.0, interposers off: ${detail}`);
    expect(r.stderr).toContain(`zerovm: unicorn engine: ${detail}`);
  });

  it('without pkg-config, the header decides: 2.1.0 off, this system\'s own as it says', () => {
    const include = join(tmp, 'include-2.1.0');
    mkdirSync(join(include, 'unicorn'), { recursive: true });
    writeFileSync(join(include, 'unicorn', 'unicorn.h'), header(2, 1, 0));
    const configure = (name: string, extra: string[]): string => {
      const r = run('cmake', ['-S', join(ROOT, 'native'), '-B', join(tmp, name), '-DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON', ...extra]);
      expect(r.status, r.out).toBe(0);
      return r.out;
    };
    expect(configure('header-2.1.0', [`-DZEROVM_UNICORN_INCLUDE=${include}`])).toContain(
      'zerovm: building zerovm_unicorn (libunicorn 2.1.0, interposers off: they replace internals of libunicorn 2.0.1 only, and this is 2.1.0',
    );
    const version = run('pkg-config', ['--modversion', 'unicorn']).out.trim();
    expect(configure('header-system', [])).toContain(
      version === '2.0.1' ? 'zerovm: building zerovm_unicorn (libunicorn 2.0.1, interposers on: written for libunicorn 2.0.1)' : `libunicorn ${version}, interposers off`,
    );
  });
});
