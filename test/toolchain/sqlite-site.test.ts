/**
 * examples/sqlite/: ZeroVM's classic read-only web site. site.c with SQLite
 * built by `zerovm cc`, the database from site.sql, bundled into a zapp
 * from examples/sqlite/zapp.yaml, and run through the CLI once per request
 * (`zerovm run site.zapp`, the request on stdin): the JSON on stdout equals
 * what the same program built by the host's gcc prints over the same
 * database, and parses as JSON. On every engine.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ROOT, warnIfSkipped } from './helpers.js';
import { buildSqlite } from './sqlite.js';

const skip = warnIfSkipped('the SQLite site example');
const engines = engineCases('the SQLite site example');
const EXAMPLE = join(ROOT, 'examples', 'sqlite');

const REQUESTS: readonly { request: string; status: number; rows?: number }[] = [
  { request: 'GET /authors HTTP/1.0', status: 0, rows: 12 },
  { request: '/books?author=3', status: 0, rows: 50 },
  { request: 'GET /search?q=sandbox*', status: 0, rows: 3 },
  { request: 'GET /search?q=%22byte+for+byte%22 HTTP/1.1', status: 0, rows: 1 },
  { request: '/countries', status: 0, rows: 4 },
  { request: '/books?author=999', status: 0, rows: 0 },
  { request: '/books', status: 1 },
  { request: '/search?q=%22unbalanced', status: 1 },
  { request: 'GET /admin HTTP/1.0', status: 1 },
];

function run(cmd: string, args: readonly string[], input: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 300_000 });
}

describe.skipIf(skip)('examples/sqlite: a read-only site, one query per session', () => {
  let dir = '';
  let zapp = '';
  let nativeSite = '';
  let db = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-sqlite-site-'));
    const nexe = buildSqlite('site', 'nexe').path;
    nativeSite = buildSqlite('site', 'native').path;
    const shell = buildSqlite('shell', 'native').path;
    const app = join(dir, 'app');
    mkdirSync(join(app, 'data'), { recursive: true });
    db = join(app, 'data', 'site.db');
    const made = run(shell, [db], readFileSync(join(EXAMPLE, 'site.sql'), 'utf8'));
    if (made.status !== 0) throw new Error(made.stderr);
    copyFileSync(nexe, join(app, 'site.nexe'));
    copyFileSync(join(EXAMPLE, 'zapp.yaml'), join(app, 'zapp.yaml'));
    zapp = join(dir, 'site.zapp');
    const bundle = run(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'bundle', '-o', zapp, '--yaml', join(app, 'zapp.yaml')], '');
    if (bundle.status !== 0) throw new Error(bundle.stderr);
  }, 1_800_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      for (const r of REQUESTS) {
        it(`${r.request} -> ${r.status === 0 ? `${r.rows} rows` : 'an error'}`, () => {
          const want = run(nativeSite, [db], `${r.request}\n`);
          const got = run(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'run', '--engine', e.name, zapp], `${r.request}\n`);
          expect(got.stderr).toBe('');
          expect(got.stdout).toBe(want.stdout);
          expect(got.status).toBe(r.status);
          const json: unknown = JSON.parse(got.stdout);
          if (r.status === 0) expect(json).toHaveLength(r.rows ?? -1);
          else expect(json).toHaveProperty('error');
        });
      }
    });
  }
});

availabilityTests(engines);
