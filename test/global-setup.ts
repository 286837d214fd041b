/**
 * Builds dist/ once before the tests, as `npm run build` does (tsc, then the
 * command-line bundle and its code cache), so end-to-end tests run the real
 * `zerovm` command (bin/zerovm.js -> dist/bundle/zerovm.cjs) exactly as
 * users do.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [join(root, 'scripts', 'build-cli-bundle.mjs')], { stdio: 'inherit' });
}
