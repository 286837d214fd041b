/**
 * The proof of the toolchain: Lua 5.2's stock interpreter, from Debian's
 * unmodified sources (librust-lua52-sys-dev ships them), built with
 * `zerovm cc` exactly as its Makefile's `generic` target builds it
 * (-O2 -DLUA_COMPAT_ALL, every .c but luac.c), then run on the scripts in
 * test/toolchain/lua/ from a read-only tar image mounted at '/'. The output
 * must equal the host's `lua5.2` on the same files.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ci, native, runNexe, warnIfSkipped, zerovmCc } from './helpers.js';

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

describe.skipIf(skip)('Lua 5.2 built with zerovm cc', () => {
  let dir = '';
  let files = '';
  let image = '';
  let lua = '';
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
  }, 900_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const INPUT = 'first line\nsecond, longer line\n\nlast\n';
  for (const script of ['basics.lua', 'control.lua', 'io.lua']) {
    it(script, () => {
      const env = { LUA_TEST_VAR: 'from-nvram' };
      const want = spawnSync('lua5.2', [script], { cwd: files, input: INPUT, encoding: 'utf8', env: { ...env, TZ: 'UTC', LUA_PATH: './?.lua', LUA_INIT: '' } });
      const got = runNexe(dir, lua, { args: [script], input: INPUT, env: { ...env, LUA_PATH: './?.lua' }, image });
      expect(got.exitState).toBe('ok');
      expect(got.stderr).toBe(want.stderr);
      expect(got.stdout).toBe(want.stdout);
      expect(got.code).toBe(want.status);
    });
  }

  it('-e and an error exit status', () => {
    const want = native('lua5.2', ['-e', 'print(6*7, ...) os.exit(3)']);
    const got = runNexe(dir, lua, { args: ['-e', 'print(6*7, ...) os.exit(3)'] });
    expect(got.stdout).toBe(want.stdout);
    expect(want.status).toBe(3);
    expect(got.code).toBe(3);
  });
});
