/**
 * `zerovm conformance`: runs the conformance suite (conformance/) against
 * this implementation through its own command line, `node bin/zerovm.js
 * --engine ENGINE [options] MANIFEST` and `node bin/zerovm.js validate
 * --json ...`, or against any implementation named with --impl.
 *
 * Pipeline position: main.ts -> here -> src/conformance/cli.ts (the
 * runner's command line, shared with the stand-alone zerovm-conformance
 * package). Only this module knows where this project's command and suite
 * are: both relative to the package root (dist/cli/ -> ../.., and the same
 * from the command-line bundle in dist/bundle/, spec/runtime.md "Process start").
 */
import { fileURLToPath } from 'node:url';
import { main, type OwnImplementation } from '../conformance/cli.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/zerovm.js', import.meta.url));

const OWN: OwnImplementation = {
  /* --unsafe: the suite's -s cases run unvalidated code on purpose, on every engine (src/api/unvalidated.ts) */
  session: (engine) => [process.execPath, BIN, '--engine', engine, '--unsafe', '{options}', '{manifest}'],
  validate: [process.execPath, BIN, 'validate', '--json', '--hex', '{hex}', '--base', '{base}', '--policy', '{policy}', '--features={features}'],
};

export function runConformance(argv: readonly string[]): Promise<number> {
  return main(argv, { name: 'zerovm conformance', suiteRoot: `${PACKAGE_ROOT}conformance`, own: OWN });
}
