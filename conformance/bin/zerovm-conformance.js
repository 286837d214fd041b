#!/usr/bin/env node
// The stand-alone conformance runner (package zerovm-conformance): runs the
// suite in this package against any ZeroVM implementation given with --impl.
// The runner is src/conformance/ of zerovm-ts, compiled into dist/ when the
// package is packed; in a zerovm-ts checkout the main build
// (dist/conformance/) serves as well.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const candidates = [new URL('../dist/cli.js', import.meta.url), new URL('../../dist/conformance/cli.js', import.meta.url)];
const cli = candidates.find((url) => existsSync(fileURLToPath(url)));
if (cli === undefined) {
  process.stderr.write('zerovm-conformance: the runner is not built; in a zerovm-ts checkout run `npm run build` (or `npm pack` in conformance/)\n');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2), { name: 'zerovm-conformance', suiteRoot: fileURLToPath(new URL('..', import.meta.url)) });
