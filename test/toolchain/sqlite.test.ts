/**
 * The proof of issue 12: SQLite 3.53 (the amalgamation from better-sqlite3's
 * npm tarball, fetched at test time) and our shell (examples/sqlite/shell.c)
 * built with `zerovm cc`, against the same sources built by the host's gcc
 * and against Debian's sqlite3 CLI (3.40), on the same database and SQL:
 *
 * - a database in the read-only image (a tar mounted at '/', and a zapp),
 *   opened as `file:/data/app.db?immutable=1`, plainly, and with
 *   -readonly; queried with joins, aggregates, indexes, CTEs, window
 *   functions, JSON and FTS5 (test/toolchain/sqlite-data/queries.sql):
 *   byte-identical output to the native build and to host sqlite3;
 * - writes where a session can write: an in-memory database with temp
 *   tables, and a database on a random read/write channel aliased
 *   /data/rw.db, whose file after the session equals the native build's
 *   for the same statements, byte for byte and as host sqlite3's .dump;
 * - writing the read-only image fails with SQLite's own error.
 *
 * Every session case runs on every engine (test/engine-matrix.ts). The
 * SQLite builds are cached (test/toolchain/sqlite.ts); the first run
 * compiles the amalgamation twice (a few minutes for the nexe).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../engine-matrix.js';
import { ci, ROOT, runNexe, warnIfSkipped } from './helpers.js';
import { buildSqlite, sqliteVersion } from './sqlite.js';

const DATA = join(import.meta.dirname, 'sqlite-data');
const hostSqlite = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
const hostReason = hostSqlite.status === 0 ? null : 'host sqlite3 missing (Debian: sqlite3)';
if (hostReason !== null) {
  if (ci) throw new Error(hostReason);
  console.warn(`\n*** SQLite: comparisons with the host's sqlite3 SKIPPED: ${hostReason} ***\n`);
}

const skip = warnIfSkipped('SQLite under zerovm cc');
const engines = engineCases('SQLite under zerovm cc');
const QUERIES = readFileSync(join(DATA, 'queries.sql'), 'utf8');

/** Statements that write: a table, an index, a transaction, updates and deletes, a temp table, blobs; run twice on the same file, the second time changing what the first wrote. */
const WRITES = `PRAGMA journal_mode=MEMORY;
CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v INTEGER, note TEXT, data BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT OR REPLACE INTO kv SELECT 'key' || i, i * i + (SELECT count(*) FROM kv), CASE WHEN i % 7 = 0 THEN NULL ELSE 'note ' || (i % 13) END, zeroblob(i % 5) FROM n;
COMMIT;
CREATE INDEX IF NOT EXISTS kv_v ON kv(v);
UPDATE kv SET note = upper(note) WHERE v % 3 = 0;
DELETE FROM kv WHERE k LIKE 'key1%';
CREATE TEMP TABLE t AS SELECT note, count(*) AS n FROM kv GROUP BY note;
INSERT OR REPLACE INTO kv SELECT 'note:' || coalesce(note, '-'), n, NULL, NULL FROM t;
SELECT count(*), sum(v), max(length(data)) FROM kv;
SELECT * FROM kv WHERE k LIKE 'note:%' ORDER BY k;
PRAGMA integrity_check;
`;

const MEMORY = `CREATE TABLE m(a INTEGER PRIMARY KEY, b TEXT);
CREATE TEMP TABLE tm(x, y);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO m SELECT i, hex(i * 2654435761 % 4294967296) FROM n;
INSERT INTO tm SELECT substr(b, 1, 1), count(*) FROM m GROUP BY 1;
CREATE INDEX m_b ON m(b);
SELECT x, y FROM tm ORDER BY x;
SELECT a, b FROM m WHERE b BETWEEN 'A0' AND 'A1' ORDER BY b LIMIT 5;
SELECT count(*) FROM m JOIN tm ON tm.x = substr(m.b, 1, 1) WHERE tm.y > 300;
SELECT name FROM sqlite_temp_schema;
`;

function run(cmd: string, args: readonly string[], input = '', cwd?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 300_000, env: { ...process.env, TZ: 'UTC' }, ...(cwd ? { cwd } : {}) });
}

function zerovm(args: readonly string[], input = ''): SpawnSyncReturns<string> {
  return run(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), ...args], input);
}

describe.skipIf(skip)(`SQLite built with zerovm cc`, () => {
  let dir = '';
  let shell = '';
  let nativeShell = '';
  let db = '';
  let image = '';
  let zapp = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-sqlite-'));
    const nexe = buildSqlite('shell', 'nexe');
    const host = buildSqlite('shell', 'native');
    if (nexe.seconds !== null) console.info(`SQLite ${sqliteVersion()} shell built with zerovm cc in ${nexe.seconds.toFixed(1)} s`);
    if (host.seconds !== null) console.info(`SQLite ${sqliteVersion()} shell built with gcc in ${host.seconds.toFixed(1)} s`);
    shell = nexe.path;
    nativeShell = host.path;
    // The database, built by the native twin, in a tree that becomes the image.
    mkdirSync(join(dir, 'files', 'data'), { recursive: true });
    db = join(dir, 'files', 'data', 'app.db');
    const made = run(nativeShell, [db], readFileSync(join(ROOT, 'examples', 'sqlite', 'site.sql'), 'utf8'));
    if (made.status !== 0) throw new Error(`building the test database: ${made.stderr}`);
    image = join(dir, 'image.tar');
    const tar = run('tar', ['cf', image, '-C', join(dir, 'files'), '.']);
    if (tar.status !== 0) throw new Error(tar.stderr);
    zapp = join(dir, 'sqlite.zapp');
    const bundle = zerovm(['bundle', '-o', zapp, '--name', 'sqlite', '--program', shell, join(dir, 'files')]);
    if (bundle.status !== 0) throw new Error(bundle.stderr);
  }, 1_800_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the shell reports the amalgamation it was built from', () => {
    expect(run(nativeShell, [], 'SELECT sqlite_version();').stdout).toBe(`${sqliteVersion()}\n`);
  });

  it("the native twin and Debian's sqlite3 agree on the queries (so the comparisons below mean something)", () => {
    const want = run(nativeShell, ['-readonly', db], QUERIES);
    expect(want.stderr).toBe('');
    expect(want.stdout.split('\n').length).toBeGreaterThan(150);
    if (hostReason !== null) return;
    const host = run('sqlite3', ['-readonly', db], QUERIES);
    expect(host.stderr).toBe('');
    expect(host.stdout).toBe(want.stdout);
  });

  for (const e of engines) {
    describe.skipIf(e.skip)(`on the ${e.name} engine`, () => {
      for (const [name, args] of [
        ['file:/data/app.db?immutable=1', ['file:/data/app.db?immutable=1']],
        ['plain open of /data/app.db', ['/data/app.db']],
        ['-readonly /data/app.db', ['-readonly', '/data/app.db']],
      ] as const) {
        it(`the image's database, ${name}: output equals the native build's and host sqlite3's`, () => {
          const hostArgs = args.map((a) => a.replace('/data/app.db', db));
          const want = run(nativeShell, hostArgs, QUERIES);
          const got = runNexe(dir, shell, { args, input: QUERIES, image, engine: e.engine });
          expect(got.exitState).toBe('ok');
          expect(got.stderr).toBe('');
          expect(got.stdout).toBe(want.stdout);
          expect(got.code).toBe(0);
          if (hostReason === null) expect(got.stdout).toBe(run('sqlite3', hostArgs, QUERIES).stdout);
        });
      }

      it('writing to the read-only image fails with SQLite\'s error, as a read-only open does natively', () => {
        const sql = "SELECT count(*) FROM authors;\nINSERT INTO authors VALUES (99, 'x', NULL, NULL);\nSELECT count(*) FROM authors;\n";
        const want = run(nativeShell, ['-readonly', db], sql);
        expect(want.stderr).toBe('Error: near line 2: attempt to write a readonly database\n');
        for (const target of ['/data/app.db', 'file:/data/app.db?immutable=1']) {
          const got = runNexe(dir, shell, { args: [target], input: sql, image, engine: e.engine });
          expect(got.stdout).toBe(want.stdout);
          expect(got.stderr).toBe(want.stderr);
          expect(got.code).toBe(1);
        }
      });

      it('an in-memory database with temp tables (SQLITE_TEMP_STORE=3)', () => {
        const want = run(nativeShell, [], MEMORY);
        expect(want.stderr).toBe('');
        const got = runNexe(dir, shell, { input: MEMORY, engine: e.engine });
        expect(got.stderr).toBe('');
        expect(got.stdout).toBe(want.stdout);
        if (hostReason === null) expect(got.stdout).toBe(run('sqlite3', [':memory:'], MEMORY).stdout);
        // The same with SQLite's own allocator over one block (-heap, SQLITE_ENABLE_MEMSYS5).
        const heap = runNexe(dir, shell, { args: ['-heap', '16M'], input: MEMORY, engine: e.engine });
        expect(heap.stderr).toBe('');
        expect(heap.stdout).toBe(want.stdout);
      });

      it('a database on a random read/write channel at /data/rw.db: the file equals the native build\'s, twice written', () => {
        const mine = join(dir, `rw-${e.name}.db`);
        const theirs = join(dir, `rw-native-${e.name}.db`);
        rmSync(mine, { force: true });
        rmSync(theirs, { force: true });
        writeFileSync(mine, '');
        for (const round of [1, 2]) {
          const want = run(nativeShell, [theirs], WRITES);
          expect(want.stderr, `round ${round}`).toBe('');
          // Round 1 starts from an empty channel, round 2 from the database round 1 left.
          const got = runNexe(dir, shell, { args: ['/data/rw.db'], input: WRITES, image, engine: e.engine, channels: [{ path: mine, alias: '/data/rw.db', type: 3 }] });
          expect(got.exitState).toBe('ok');
          expect(got.stderr, `round ${round}`).toBe('');
          expect(got.stdout, `round ${round}`).toBe(want.stdout);
          expect(Buffer.compare(readFileSync(mine), readFileSync(theirs)), `round ${round}: the database files differ`).toBe(0);
        }
        const dump = (file: string) => run(hostReason === null ? 'sqlite3' : nativeShell, [file, hostReason === null ? '.dump' : 'SELECT * FROM kv ORDER BY k']).stdout;
        expect(dump(mine)).toBe(dump(theirs));
        expect(dump(mine)).toContain('kv_v');
      });

      it('without journal_mode=MEMORY a write fails (no file for the journal), and the channel is left as it was', () => {
        const mine = join(dir, `nojournal-${e.name}.db`);
        copyFileSync(db, mine);
        const before = readFileSync(mine);
        const got = runNexe(dir, shell, { args: ['/data/rw.db'], input: "INSERT INTO authors VALUES (99, 'x', NULL, NULL);\n", engine: e.engine, channels: [{ path: mine, alias: '/data/rw.db', type: 3 }] });
        expect(got.stderr).toMatch(/^Error: near line 1: unable to open database file\n$/);
        expect(got.code).toBe(1);
        expect(Buffer.compare(readFileSync(mine), before)).toBe(0);
      });

      it('zerovm run sqlite.zapp (the database in the zapp, queries on stdin)', () => {
        const want = run(nativeShell, [`file:${db}?immutable=1`], QUERIES);
        const got = zerovm(['run', '--engine', e.name, zapp, 'file:/data/app.db?immutable=1'], QUERIES);
        expect(got.stderr).toBe('');
        expect(got.stdout).toBe(want.stdout);
        expect(got.status).toBe(0);
      });

      it('zerovm run --channel /data/rw.db=FILE:rw sqlite.zapp (-cmd and SQL arguments)', () => {
        const mine = join(dir, `cli-${e.name}.db`);
        const theirs = join(dir, `cli-native-${e.name}.db`);
        rmSync(theirs, { force: true });
        writeFileSync(mine, '');
        const args = ['-cmd', 'PRAGMA journal_mode=MEMORY', 'CREATE TABLE t(x); INSERT INTO t VALUES (1), (2.5), (NULL), (\'three\')', 'SELECT x, typeof(x) FROM t'];
        const want = run(nativeShell, [theirs, ...args]);
        const got = zerovm(['run', '--engine', e.name, '--channel', `/data/rw.db=${mine}:rw`, zapp, '/data/rw.db', ...args]);
        expect(got.stderr).toBe('');
        expect(got.stdout).toBe(want.stdout);
        expect(got.stdout).toBe('memory\n1|integer\n2.5|real\n|null\nthree|text\n');
        expect(Buffer.compare(readFileSync(mine), readFileSync(theirs))).toBe(0);
      });
    });
  }
});

availabilityTests(engines);
