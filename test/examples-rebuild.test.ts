/**
 * The committed example binaries must be exactly what their sources build
 * to (`make -C examples`), so nobody ships a binary that differs from the
 * code a reader sees. Needs clang (>= 14) and GNU ld: skipped with a loud
 * reason when missing locally, a failure in CI (CI=true), where .ci/run
 * installs them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}
const toolsPresent = (has('clang-14') || has('clang')) && has('ld') && has('make');
const inCI = process.env.CI === 'true';
if (!toolsPresent && !inCI) {
  console.warn('\n*** SKIPPING example rebuild check: clang (>= 14), GNU ld or make is not installed (apt-get install clang-14 binutils make) ***\n');
}

describe.skipIf(!toolsPresent && !inCI)('examples/ rebuild from source', () => {
  it('has the tools (CI installs them in .ci/run)', () => {
    expect(toolsPresent, 'clang, ld and make must be installed in CI').toBe(true);
  });

  const examples = join(ROOT, 'examples');
  const nexes = readdirSync(examples).filter((f) => f.endsWith('.nexe'));

  it.runIf(toolsPresent)('every committed .nexe is byte-identical to a fresh build', () => {
    const work = mkdtempSync(join(tmpdir(), 'zerovm-examples-'));
    cpSync(examples, work, { recursive: true });
    execFileSync('make', ['-C', work, '-s', 'clean', 'all'], { stdio: 'pipe' });
    expect(nexes.length).toBeGreaterThan(0);
    for (const nexe of nexes) {
      const committed = readFileSync(join(examples, nexe));
      const rebuilt = readFileSync(join(work, nexe));
      expect(Buffer.compare(committed, rebuilt), `${nexe} differs from its rebuilt version; run make -C examples and commit`).toBe(0);
    }
  });
});
