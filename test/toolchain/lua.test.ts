/**
 * The proof of the toolchain: Lua 5.2's stock interpreter, from Debian's
 * unmodified sources (librust-lua52-sys-dev ships them), built with
 * `zerovm cc` exactly as its Makefile's `generic` target builds it
 * (-O2 -DLUA_COMPAT_ALL, every .c but luac.c), then run on the scripts in
 * test/toolchain/lua/ from a read-only tar image mounted at '/'. The output
 * must equal the host's `lua5.2` on the same files. The same interpreter
 * and files bundled into a zapp (`zerovm bundle`, from the command line and
 * from a zapp.yaml) run with `zerovm run app.zapp script.lua` give the same
 * output. Every case runs on every engine (test/engine-matrix.ts).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ci, native, ROOT, runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';
const SCRIPTS = join(import.meta.dirname, 'lua');
const hostLua = spawnSync('lua5.2', ['-v'], { encoding: 'utf8' }).status === 0;

let skip = warnIfSkipped('Lua 5.2 under zerovm cc');
if (!skip && (!existsSync(LUA_SRC) || !hostLua)) {
  const reason = !existsSync(LUA_SRC) ? `Lua 5.2 sources missing at ${LUA_SRC} (Debian: librust-lua52-sys-dev)` : 'host lua5.2 missing (Debian: lua5.2)';
  if (ci) throw new Error(reason);
  console.warn(`\n*** Lua 5.2 under zerovm cc SKIPPED: ${reason} ***\n`);
  skip = true;
}

const engines = engineCases('Lua 5.2 under zerovm cc');
const INPUT = 'first line\nsecond, longer line\n\nlast\n';
const ENV = { LUA_TEST_VAR: 'from-nvram' };

/** `zerovm ARGS` through bin/zerovm.js, as users run it. */
function zerovm(args: readonly string[], input = ''): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), ...args], { input, encoding: 'utf8', timeout: 300_000 });
}

describe.skipIf(skip)('Lua 5.2 built with zerovm cc', () => {
  let dir = '';
  let files = '';
  let image = '';
  let lua = '';
  let zapp = '';
  let yamlZapp = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-lua-'));
    const sources = readdirSync(LUA_SRC)
      .filter((f) => f.endsWith('.c') && f !== 'luac.c')
      .map((f) => join(LUA_SRC, f));
    lua = join(dir, 'lua.nexe');
    zerovmCc(['-O2', '-Wall', '-DLUA_COMPAT_ALL', '-o', lua, ...sources, '-lm']);
    // The same tree for the host interpreter (cwd) and, as a tar, for the nexe.
    files = join(dir, 'files');
    mkdirSync(join(files, 'data'), { recursive: true });
    for (const f of readdirSync(SCRIPTS)) copyFileSync(join(SCRIPTS, f), join(files, f));
    writeFileSync(join(files, 'data', 'numbers.txt'), Array.from({ length: 100 }, (_, i) => String(i * 3)).join('\n') + '\n');
    image = join(dir, 'image.tar');
    const tar = spawnSync('tar', ['cf', image, '-C', files, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(tar.stderr);
    // A zapp from the command line: the interpreter, and the tree's contents at its root.
    zapp = join(dir, 'lua.zapp');
    const bundle = zerovm(['bundle', '-o', zapp, '--name', 'lua', '--version', '5.2', '--program', lua, files]);
    if (bundle.status !== 0) throw new Error(bundle.stderr);
    // A zapp from a zapp.yaml that names the script to run.
    const app = join(dir, 'app');
    cpSync(files, app, { recursive: true });
    copyFileSync(lua, join(app, 'lua.nexe'));
    writeFileSync(
      join(app, 'zapp.yaml'),
      ['meta:', '  name: lua-io', '  Version: "1.0"', 'execution:', '  groups:', '    - name: main', '      path: lua.nexe', '      args: io.lua', '      devices:', '      - name: stdin', '      - name: stdout', 'bundling:', '  - io.lua', '  - mod.lua', '  - data', ''].join('\n'),
    );
    yamlZapp = join(dir, 'lua-io.zapp');
    const fromYaml = zerovm(['bundle', '-o', yamlZapp, '--yaml', join(app, 'zapp.yaml')]);
    if (fromYaml.status !== 0) throw new Error(fromYaml.stderr);
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const host = (args: readonly string[]) => spawnSync('lua5.2', args, { cwd: files, input: INPUT, encoding: 'utf8', env: { ...ENV, TZ: 'UTC', LUA_PATH: './?.lua', LUA_INIT: '' } });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      for (const script of ['basics.lua', 'control.lua', 'io.lua']) {
        it(script, () => {
          const want = host([script]);
          const got = runNexe(dir, lua, { args: [script], input: INPUT, env: { ...ENV, LUA_PATH: './?.lua' }, image, engine: e.engine });
          expect(got.exitState).toBe('ok');
          expect(got.stderr).toBe(want.stderr);
          expect(got.stdout).toBe(want.stdout);
          expect(got.code).toBe(want.status);
        });
      }

      it('-e and an error exit status', () => {
        const want = native('lua5.2', ['-e', 'print(6*7, ...) os.exit(3)']);
        const got = runNexe(dir, lua, { args: ['-e', 'print(6*7, ...) os.exit(3)'], engine: e.engine });
        expect(got.stdout).toBe(want.stdout);
        expect(want.status).toBe(3);
        expect(got.code).toBe(3);
      });

      for (const script of ['basics.lua', 'io.lua']) {
        it(`zerovm run lua.zapp ${script}`, () => {
          const want = host([script]);
          const got = zerovm(['run', '--engine', e.name, '--env', `LUA_TEST_VAR=${ENV.LUA_TEST_VAR}`, '--env', 'LUA_PATH=./?.lua', zapp, script], INPUT);
          expect(got.stderr).toBe(want.stderr);
          expect(got.stdout).toBe(want.stdout);
          expect(got.status).toBe(want.status);
        });
      }

      it("zerovm run lua-io.zapp (from a zapp.yaml: the script is the zapp's argument)", () => {
        const want = host(['io.lua']);
        const got = zerovm(['run', '--engine', e.name, '--env', `LUA_TEST_VAR=${ENV.LUA_TEST_VAR}`, '--env', 'LUA_PATH=./?.lua', yamlZapp], INPUT);
        expect(got.stderr).toBe(want.stderr);
        expect(got.stdout).toBe(want.stdout);
        expect(got.status).toBe(want.status);
      });

      it('zerovm run --image image.tar lua.nexe io.lua', () => {
        const want = host(['io.lua']);
        const got = zerovm(['run', '--engine', e.name, '--env', `LUA_TEST_VAR=${ENV.LUA_TEST_VAR}`, '--env', 'LUA_PATH=./?.lua', '--image', image, lua, 'io.lua'], INPUT);
        expect(got.stderr).toBe(want.stderr);
        expect(got.stdout).toBe(want.stdout);
        expect(got.status).toBe(want.status);
      });
    });
  }

  it('a zapp that expects a device zerovm run does not provide is refused before running', () => {
    const app = join(dir, 'needs-input');
    mkdirSync(app, { recursive: true });
    copyFileSync(lua, join(app, 'lua.nexe'));
    writeFileSync(join(app, 'zapp.yaml'), 'meta:\n  name: x\nexecution:\n  groups:\n    - path: lua.nexe\n      devices:\n        - name: input\n');
    const out = join(dir, 'needs-input.zapp');
    expect(zerovm(['bundle', '-o', out, '--yaml', join(app, 'zapp.yaml')]).status).toBe(0);
    const got = zerovm(['run', out, '-e', 'print(1)']);
    expect(got.status).toBe(2);
    expect(got.stderr).toContain("expects a device 'input': give it with --channel /dev/input=PATH");
    const given = zerovm(['run', '--channel', `/dev/input=${image}`, out, '-e', 'print(1)']);
    expect(given.stdout).toBe('1\n');
  });
});

availabilityTests(engines);
