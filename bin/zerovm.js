#!/usr/bin/env node
// The `zerovm` command. The TypeScript sources are compiled to dist/ by
// `npm install` (the package's prepare script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('zerovm: not built yet; run `npm install` (or `npm run build`) in the package directory first\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
