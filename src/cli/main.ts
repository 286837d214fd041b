/**
 * The `zerovm` command line: dispatches to subcommands.
 *
 * Pipeline position: the outermost layer; every subcommand lives in its own
 * module in this folder and returns a process exit code (it never calls
 * process.exit, so buffered output is always flushed).
 */
import { runValidate, runDisasm } from './validate-command.js';
import { CliError } from './args.js';
import { VERSION } from './version.js';

const USAGE = `zerovm ${VERSION} — a TypeScript ZeroVM

usage:
  zerovm validate [options] PROGRAM.nexe   check a program against the sandbox rules
  zerovm validate --hex FILE | --raw FILE  check a code region (hex text or raw bytes)
  zerovm disasm [options] PROGRAM.nexe     annotated listing: bundles, superinstructions, errors
  zerovm help | --help                     this text
  zerovm --version

validate/disasm options:
  --json                 machine-readable result (validate)
  --deterministic        ZeroVM's policy: also reject machine-dependent instructions (rdtsc, cpuid)
  --features LIST        emulate a CPU: 'all', 'none', or e.g. 'SSE,SSE2' or '-AVX,-AVX2'
  --base ADDRESS         address of the first byte of a --hex/--raw region (default 0x20000)
  --allow-sysv-abi       accept EI_OSABI 0 as well as 123 (NaCl)

exit status: 0 valid, 1 invalid, 2 unusable input (unreadable file, malformed ELF, bad option)
`;

export async function run(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return await runValidate(rest);
      case 'disasm':
        return await runDisasm(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      default:
        process.stderr.write(`zerovm: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`zerovm ${command ?? ''}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
