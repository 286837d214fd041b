/**
 * The `zerovm` command line: dispatches to subcommands.
 *
 * Pipeline position: the outermost layer; every subcommand lives in its own
 * module in this folder and returns a process exit code (it never calls
 * process.exit, so buffered output is always flushed). Each is imported
 * only when it runs, so a command initialises only its own modules; in the
 * command-line bundle (bin/zerovm.js -> dist/bundle/zerovm.cjs) the same
 * holds (spec/runtime.md, "Process start").
 */
import { CliError } from './args.js';
import { VERSION } from './version.js';
import { existsSync } from 'node:fs';

const USAGE = `zerovm ${VERSION} — a TypeScript ZeroVM

usage:
  zerovm [-s [--unsafe]] [-F] [-t N] [-v N] [-P] [-Q] [-T trace] MANIFEST
                                         run a session (the original's command line; report on stdout)
  zerovm run [--memory N] [--timeout S] [--channel ALIAS=PATH[:ro|:wo|:rw]] [--env NAME=VALUE]
             [--report FILE] [--save-dir DIR] [--engine native|unicorn|auto] [--image FILE.tar]
             [--time SECONDS] [--skip-validation [--unsafe]]
             PROGRAM.nexe|APP.zapp [ARGS...]
                                         run a program or a zapp with the host's stdin/stdout/stderr; exits with its code
                                         (--image / a zapp's files: a read-only file system at '/')
  zerovm cc [gcc flags] [-c|-S|-E] [-o OUT] FILES.c/.S/.o/.a
                                         compile C to a validated nexe (gcc -mx32, sandboxing pass, newlib)
  zerovm ar [-]KEY[mods] ARCHIVE [OBJECTS.o...] | zerovm ranlib ARCHIVE...
                                         the host's ar/ranlib, refusing objects zerovm cc did not make (deterministic archives)
  zerovm bundle [-o APP.zapp] [--name N] [--version V] [--arg A]... --program PROG.nexe [FILE|DIR|DEST=PATH]...
  zerovm bundle [-o APP.zapp] --yaml zapp.yaml
                                         build a zapp: the program, its files and a zapp.yaml in one tar
  zerovm serve [--host 127.0.0.1] [--port 8080] [--store DIR] [--workers N] [--engine E]
               [--sysimage NAME=APP.zapp]... [--auth-token T] [--max-nodes N] [--max-body BYTES] [--max-output BYTES]
                                         ZeroCloud's API on one host: Swift objects and jobs (spec/serving.md)
  zerovm serve --nats URL[,URL...] [--nats-user U] [--nats-replicas R] [--pickup-timeout S] [...]
                                         the same API over a NATS JetStream cluster: objects and jobs there,
                                         sessions on zerovm workers (password in ZEROVM_NATS_PASSWORD)
  zerovm job JOB.json [--store DIR] [--account A] [--workers N] [--sysimage NAME=APP.zapp]... [--body FILE]
                                         run a job description without a server; print the HTTP response
  zerovm validate [options] PROGRAM.nexe   check a program against the sandbox rules
  zerovm validate --hex FILE | --raw FILE  check a code region (hex text or raw bytes)
  zerovm disasm [options] PROGRAM.nexe     annotated listing: bundles, superinstructions, errors
  zerovm worker --nats URL[,URL...] [--slots N] [--engine E] [--user U] [--name NAME] [--replicas R] [--pipe-host H] [--gang-wait S]
                                         [--nats-nkey SEEDFILE] [--nats-ca CA.pem [--nats-cert C.pem --nats-key K.pem]]
                                         run sessions for cluster front ends (NATS JetStream; password in
                                         ZEROVM_NATS_PASSWORD; SIGTERM drains; --heartbeat MS; spec/cluster.md)
  zerovm cluster status --nats URL[,URL...] [--user U] [--json]
                                         the cluster's workers and its queued and running sessions
  zerovm conformance [--engine E | --impl "CMD {manifest}"] [--filter AREA] [--junit FILE | --tap] [--jobs N]
                                         run the conformance suite (conformance/README.md; --help for all options)
  zerovm help | --help                     this text
  zerovm --version

validate/disasm options:
  --json                 machine-readable result (validate)
  --policy P             rule set: nacl (default: exactly what NaCl's validator accepts),
                         zerovm (exactly what ZeroVM 2015's validator accepts: no VEX, no rdtsc),
                         deterministic (zerovm, and cpuid rejected: what sessions and zerovm cc apply);
                         none accepts what can leave the sandbox (spec/validator.md, "Where we differ")
  --deterministic        the same as --policy deterministic
  --features LIST        emulate a CPU: 'all', 'none', or e.g. 'SSE,SSE2' or '-AVX,-AVX2'
  --base ADDRESS         address of the first byte of a --hex/--raw region (default 0x20000)
  --allow-sysv-abi       accept EI_OSABI 0 as well as 123 (NaCl)

exit status: validate/disasm 0 valid, 1 invalid, 2 unusable input (unreadable file, malformed ELF, bad option);
run: the program's exit code; MANIFEST: 0 when the session ran, else the original's errno (14 bad manifest, 2 missing program, 8 invalid program, ...)
`;

/**
 * The original's command line starts with one of its options or names a
 * manifest: an existing file, or a path (a word with a '/', whose absence
 * the session reports in the original's words). Any other word is a
 * mistyped command (`zerovm validate.`), not a manifest, dots or not.
 */
function looksLikeSessionCommandLine(first: string): boolean {
  return (first.startsWith('-') && !first.startsWith('--')) || first.startsWith('--engine') || first === '--unsafe' || first.includes('/') || existsSync(first);
}

export async function run(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return await (await import('./validate-command.js')).runValidate(rest);
      case 'disasm':
        return await (await import('./validate-command.js')).runDisasm(rest);
      case 'run':
        return (await import('./run-command.js')).runRun(rest);
      case 'conformance':
        return await (await import('./conformance-command.js')).runConformance(rest);
      case 'cc':
        return await (await import('./cc-command.js')).runCc(rest);
      case 'serve':
        return await (await import('./serve-command.js')).runServe(rest);
      case 'job':
        return await (await import('./serve-command.js')).runJob(rest);
      case 'bundle':
        return (await import('./bundle-command.js')).runBundle(rest);
      case 'ar':
        return (await import('./ar-command.js')).runAr(rest);
      case 'ranlib':
        return (await import('./ar-command.js')).runRanlib(rest);
      case 'worker':
        return await (await import('./worker-command.js')).runWorker(rest);
      case 'cluster':
        return await (await import('./cluster-command.js')).runCluster(rest);
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
        if (looksLikeSessionCommandLine(command)) return await (await import('./session-command.js')).runSessionCommand(argv);
        process.stderr.write(`zerovm: unknown command '${command}' (and no file of that name to run as a manifest)\n\n${USAGE}`);
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
