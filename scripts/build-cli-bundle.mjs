// The `zerovm` command's bundle and its V8 code cache: part of
// `npm run build`, after tsc (spec/runtime.md, "Process start").
//
// A `zerovm MANIFEST` process is the unit of the original's command line,
// so its start counts (bench/startup.bench.ts). Once Node is up, four
// costs dominated: loading some fifty ES modules one by one (resolution,
// reads, ES module facades of the builtins), compiling the validator's
// opcode tables from their text, compiling the JavaScript, and running it
// cold. This script removes the first three:
//   - esbuild concatenates tsc's output (dist/, so the semantics are
//     exactly tsc's) from dist/cli/main.js into one CommonJS file,
//     dist/bundle/zerovm.cjs; each command's modules still initialise only
//     when main.js imports that command;
//   - src/validator/forms-precompiled.ts (null: compile on import) is
//     replaced by the tables this same build compiles;
//   - a child process loads the bundle as bin/zerovm.js does, runs a hello
//     session and a validation in it (output discarded), and saves V8's
//     code cache of everything compiled by then to zerovm.cjs.cache.
// The first line of the bundle names its content hash; the cache starts
// with the same line, so bin/zerovm.js never uses the cache of another
// bundle (V8 itself compares only the source length). A cache V8 rejects
// (another Node version, other V8 flags) only costs the time it saves.
//
// dist/bundle/ sits two levels below the package, as dist/cli/ does, so
// paths found from import.meta.url (the addons, the conformance suite, the
// toolchain) stay right.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'bundle');
const BUNDLE = join(OUT, 'zerovm.cjs');
/** The bundle's `import.meta.url`: a file: URL of the bundle, set by its first statement. */
const IMPORT_META_URL = '__zerovmBundleUrl';

const { compileForms } = await import(join(DIST, 'validator', 'forms.js'));
const { serializeCompiledForms } = await import(join(DIST, 'validator', 'forms-snapshot.js'));
const precompiled = serializeCompiledForms(compileForms());

/** @type {import('esbuild').Plugin} */
const precompiledForms = {
  name: 'zerovm-precompiled-forms',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]validator[\\/]forms-precompiled\.js$/ }, () => ({
      contents: `export const PRECOMPILED_FORMS = ${JSON.stringify(precompiled)};\n`,
      loader: 'js',
    }));
  },
};

mkdirSync(OUT, { recursive: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [join(DIST, 'cli', 'main.js')],
  bundle: true,
  write: false,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta.url': IMPORT_META_URL },
  banner: { js: `var ${IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;` },
  logLevel: 'silent',
  legalComments: 'none',
  plugins: [precompiledForms],
});
if (result.warnings.length > 0 || result.outputFiles.length !== 1) {
  for (const w of result.warnings) console.error(`build-cli-bundle: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`);
  throw new Error('build-cli-bundle: esbuild warned (an import.meta other than import.meta.url, a top-level await?): the bundle would not behave as dist/ does');
}
const body = result.outputFiles[0].text;
const hash = createHash('sha256').update(body).digest('hex');
/* replaced by a rename: a zerovm process starting meanwhile reads the old bundle or the new, never half of one */
writeFileSync(`${BUNDLE}.${process.pid}.tmp`, `// zerovm bundle ${hash}\n${body}`);
renameSync(`${BUNDLE}.${process.pid}.tmp`, BUNDLE);

/* The code cache, made by a child with no NODE_OPTIONS: V8 rejects a cache made under other flags. */
const env = { ...process.env };
delete env.NODE_OPTIONS;
const warm = spawnSync(process.execPath, [join(ROOT, 'scripts', 'warm-cli-code-cache.cjs'), BUNDLE], { env, encoding: 'utf8' });
const summary = warm.stderr.trim().split('\n').at(-1) ?? '';
if (warm.status !== 0) throw new Error(`build-cli-bundle: making the code cache failed (exit ${warm.status}):\n${warm.stderr}`);
const cache = readFileSync(`${BUNDLE}.cache`);
console.log(`build-cli-bundle: ${BUNDLE.slice(ROOT.length + 1)} (${(body.length / 1024).toFixed(0)} KiB), code cache ${(cache.length / 1024).toFixed(0)} KiB (${summary})`);
