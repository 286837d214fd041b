#!/usr/bin/env node
// The `zerovm` command. The TypeScript sources are compiled to dist/ by
// `npm install` (the package's prepare script) or `npm run build`, which
// also bundles the command line into dist/bundle/zerovm.cjs with a V8 code
// cache of it (scripts/build-cli-bundle.mjs). This file is CommonJS
// (bin/package.json) and compiles the bundle itself, with that cache: a
// process then neither loads fifty modules nor compiles their code again
// (spec/runtime.md, "Process start").
'use strict';
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { createRequire } = require('node:module');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'bundle', 'zerovm.cjs');

/**
 * Compiles and runs the bundle as Node's require would, with its code
 * cache when the cache was made from this very bundle (both start with the
 * same line, naming the bundle's content hash) by a V8 of this version on
 * this CPU architecture (the cache's second line): V8 checks neither the
 * architecture nor the source, and an x86-64 cache crashes V8 on arm64. Returns the bundle's
 * exports (`run(argv)`: the command line) and the compiled script (the
 * build makes the cache from it: scripts/warm-cli-code-cache.cjs).
 */
function loadCli(bundle = BUNDLE) {
  const source = readFileSync(bundle, 'utf8');
  const firstLine = source.slice(0, source.indexOf('\n') + 1);
  const stamp = firstLine.length > 0 ? `${firstLine}// ${process.arch} v8 ${process.versions.v8}\n` : '';
  let cachedData;
  try {
    const cache = readFileSync(`${bundle}.cache`);
    if (stamp.length > 0 && cache.subarray(0, stamp.length).toString('latin1') === stamp) cachedData = cache.subarray(stamp.length);
  } catch {
    /* no cache: V8 compiles as usual */
  }
  /* Node's CommonJS wrapper, on the first line so that line numbers stay the file's */
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { cli: module.exports, script, stamp };
}

module.exports = { loadCli, BUNDLE };

if (require.main === module) {
  let cli;
  try {
    cli = loadCli().cli;
  } catch (error) {
    if (error && error.code === 'ENOENT' && error.path === BUNDLE) {
      process.stderr.write('zerovm: not built yet; run `npm install` (or `npm run build`) in the package directory first\n');
      process.exit(2);
    }
    throw error;
  }
  cli.run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
