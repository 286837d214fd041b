// Makes dist/bundle/zerovm.cjs.cache (run by build-cli-bundle.mjs as a
// child process): loads the bundle as bin/zerovm.js does, runs what a
// `zerovm` process typically runs (a hello session on every engine this
// machine has, a validation, `zerovm run`), then saves V8's code cache,
// which by then holds the bytecode of every function those runs compiled.
// The commands' output is discarded; each may fail (no engine built: the
// addons need cmake and a C++ compiler), the cache is then smaller.
'use strict';
const { mkdtempSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { loadCli } = require('../bin/zerovm.js');

const ROOT = join(__dirname, '..');
const bundle = process.argv[2];
const hello = join(ROOT, 'examples', 'hello.nexe');

async function main() {
  const { cli, script, stamp } = loadCli(bundle);
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-warm-'));
  const manifest = join(tmp, 'hello.manifest');
  writeFileSync(
    manifest,
    [
      'Version = 20130611',
      `Program = ${hello}`,
      'Timeout = 10',
      'Memory = 33554432, 0',
      'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
      'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 999, 999',
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  const runs = [
    ['MANIFEST', [manifest]],
    ['MANIFEST --engine unicorn', ['--engine', 'unicorn', manifest]],
    ['validate', ['validate', '--policy', 'deterministic', hello]],
    ['run', ['run', hello]],
  ];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const statuses = [];
  for (const [name, argv] of runs) {
    process.stdout.write = process.stderr.write = () => true;
    let status;
    try {
      status = await cli.run(argv);
    } catch (error) {
      status = `threw ${error && error.message}`;
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    statuses.push(`${name}: ${status}`);
  }
  process.exitCode = 0;
  rmSync(tmp, { recursive: true, force: true });
  /* a rename, as for the bundle: never half a cache (until then the old one, whose stamp no longer matches, goes unused) */
  writeFileSync(`${bundle}.cache.${process.pid}.tmp`, Buffer.concat([Buffer.from(stamp, 'latin1'), script.createCachedData()]));
  renameSync(`${bundle}.cache.${process.pid}.tmp`, `${bundle}.cache`);
  process.stderr.write(`warmed by ${statuses.join(', ')}\n`);
}

main();
