/**
 * Starts a worker thread from a module of src/jobs, compiled or not.
 *
 * Where: src/jobs (pool.ts starts its threads here; tests start theirs).
 * Compiled (dist/), the module is the .js file beside its caller. Run from
 * the TypeScript sources (tests, `tsx`), there is no .js file: the thread
 * then starts with a bootstrap that registers tsx (a development
 * dependency, found in the nearest node_modules) and imports the .ts file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `relative` in `dir` or the nearest parent that has it. */
function findUp(dir: string, relative: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, relative))) return join(at, relative);
    if (dirname(at) === at) return undefined;
  }
}

/** tsx's ESM registration module, as its package.json exports it. */
function tsxApi(from: string): string {
  const manifest = findUp(from, join('node_modules', 'tsx', 'package.json'));
  if (manifest === undefined) throw new Error('running src/jobs from its TypeScript sources needs tsx (npm install), or run the compiled dist/');
  const exported = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api']!.import.default;
  return pathToFileURL(join(dirname(manifest), exported)).href;
}

/** A Worker running `module` (a .js URL; its .ts source when only that exists). */
export function startThread(module: URL, options: WorkerOptions = {}): Worker {
  const path = fileURLToPath(module);
  const source = path.replace(/\.js$/, '.ts');
  if (existsSync(path) || !existsSync(source)) return new Worker(module, options);
  const code = `import(${JSON.stringify(tsxApi(dirname(source)))}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(source).href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
